"""The gRPC server bootstrap every service uses: interceptors (tracing, error mapping),
standard health service driven by real readiness, reflection, and graceful shutdown."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from types import FrameType
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from precis_common.errors import InvalidArgument, PrecisError, Unavailable

log = logging.getLogger(__name__)

WORKSPACE_METADATA_KEY = "x-precis-workspace"
# gRPC's default maximum message size (4 MiB) is kept; event limits are far below it.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def status_for(error: PrecisError) -> status_pb2.Status:
    """The google.rpc.Status (with BadRequest field violations) for a domain error."""
    details = []
    if isinstance(error, InvalidArgument) and error.violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in error.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad_request)
        details.append(packed)
    return status_pb2.Status(code=error.code.value[0], message=error.message, details=details)


def _abort(context: grpc.ServicerContext, error: PrecisError) -> None:
    context.abort_with_status(rpc_status.to_status(status_for(error)))


class ErrorMappingInterceptor(grpc.ServerInterceptor):
    """Maps domain errors to their status codes with details; anything unexpected becomes
    INTERNAL with a generic message (logged with its trace id) and never kills the server."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if handler.unary_unary:
            inner_uu = handler.unary_unary

            def unary_unary(request: Any, context: grpc.ServicerContext) -> Any:
                try:
                    return inner_uu(request, context)
                except PrecisError as exc:
                    _abort(context, exc)
                except Exception as exc:  # noqa: BLE001 - last resort: INTERNAL, never a dead server
                    _internal(context, method, exc)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            inner_us = handler.unary_stream

            def unary_stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                try:
                    yield from inner_us(request, context)
                except PrecisError as exc:
                    _abort(context, exc)
                except Exception as exc:  # noqa: BLE001 - last resort: INTERNAL, never a dead server
                    _internal(context, method, exc)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, handler.request_deserializer, handler.response_serializer
            )
        return handler


def _internal(context: grpc.ServicerContext, method: str, exc: Exception) -> None:
    # context.abort() unwinds the handler with a plain Exception after setting the status;
    # such an exception is the servicer's deliberate answer, not a bug.
    if isinstance(exc, grpc.RpcError) or _aborted(context):
        raise exc
    log.exception("unexpected error in %s", method)
    context.abort_with_status(
        rpc_status.to_status(status_pb2.Status(code=code_pb2.INTERNAL, message="internal error"))
    )


def _aborted(context: grpc.ServicerContext) -> bool:
    code = context.code()
    return code is not None and code != grpc.StatusCode.OK


def workspace_of(context: grpc.ServicerContext) -> str:
    """The caller's workspace, from metadata set by the gateway from the API key."""
    for key, value in context.invocation_metadata() or ():
        if key == WORKSPACE_METADATA_KEY and isinstance(value, str):
            if 0 < len(value) <= 64 and all(c.isalnum() or c in "-_" for c in value):
                return value
            break
    raise InvalidArgument.field(
        f"metadata.{WORKSPACE_METADATA_KEY}",
        "a workspace id (1-64 letters, digits, - or _) is required",
    )


class GrpcServer:
    """One process's gRPC server: register servicers, start, report health, stop gracefully."""

    def __init__(
        self,
        *,
        name: str,
        host: str,
        port: int,
        max_workers: int = 16,
        interceptors: Iterable[grpc.ServerInterceptor] = (),
    ) -> None:
        self.name = name
        self._address = f"{host}:{port}"
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"{name}-grpc"),
            interceptors=[*interceptors, ErrorMappingInterceptor()],
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.so_reuseport", 0),
            ],
        )
        self.health = health.HealthServicer(experimental_non_blocking=True)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._service_names: list[str] = [health.SERVICE_NAME, reflection.SERVICE_NAME]
        self.port = 0
        self._stopped = threading.Event()
        self._readiness_thread: threading.Thread | None = None

    def add(
        self, register: Callable[[Any, grpc.Server], None], servicer: Any, full_name: str
    ) -> None:
        register(servicer, self.server)
        self._service_names.append(full_name)

    def start(self) -> int:
        reflection.enable_server_reflection(self._service_names, self.server)
        self.port = self.server.add_insecure_port(self._address)
        if self.port == 0:
            raise Unavailable(f"cannot bind gRPC server to {self._address}")
        self.server.start()
        self.set_serving(False)
        log.info("%s gRPC listening on port %s", self.name, self.port)
        return self.port

    def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for service in ["", *self._service_names[2:]]:
            self.health.set(service, status)

    def watch_readiness(self, probe: Callable[[], bool], interval: float = 5.0) -> None:
        """Drive the health status from a real check (database reachable, ...) until stopped."""
        self.set_serving(probe())

        def loop() -> None:
            while not self._stopped.wait(interval):
                self.set_serving(probe())

        self._readiness_thread = threading.Thread(
            target=loop, name=f"{self.name}-readiness", daemon=True
        )
        self._readiness_thread.start()

    def stop(self, grace: float = 10.0) -> None:
        """Stop taking calls, let in-flight ones finish for `grace` seconds, then stop."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()

    def wait(self) -> None:
        self.server.wait_for_termination()

    def install_signal_handlers(
        self, on_stop: Callable[[], None] | None = None, grace: float = 10.0
    ) -> None:
        """SIGTERM/SIGINT: graceful stop (from a thread: signal handlers must return quickly)."""

        def handle(signum: int, _frame: FrameType | None) -> None:
            log.info("%s received signal %s, shutting down", self.name, signum)

            def shutdown() -> None:
                if on_stop is not None:
                    on_stop()
                self.stop(grace)

            threading.Thread(target=shutdown, name=f"{self.name}-shutdown").start()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
