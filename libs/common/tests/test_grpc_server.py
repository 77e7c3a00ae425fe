"""The shared server bootstrap: domain errors become statuses with field details, a servicer's
own abort() keeps its code, bugs become INTERNAL without killing the server, and health follows
readiness."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from precis.common.v1 import privacy_pb2, privacy_pb2_grpc
from precis_common.errors import InvalidArgument, NotFound
from precis_common.grpc_server import GrpcServer


class Behaving(privacy_pb2_grpc.PrivacyServiceServicer):
    def ExportSubject(
        self, request: privacy_pb2.ExportSubjectRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.ExportSubjectResponse:
        profile_id = request.subject.profile_id
        if profile_id == "invalid":
            raise InvalidArgument.field("subject.profile_id", "must be a uuid")
        if profile_id == "missing":
            raise NotFound("no such subject")
        if profile_id == "abort":
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "not yours")
        if profile_id == "bug":
            raise KeyError("oops")
        return privacy_pb2.ExportSubjectResponse(service="ok")


@pytest.fixture
def server() -> Iterator[GrpcServer]:
    srv = GrpcServer(name="t", host="127.0.0.1", port=0)
    srv.add(
        privacy_pb2_grpc.add_PrivacyServiceServicer_to_server,
        Behaving(),
        "precis.common.v1.PrivacyService",
    )
    srv.start()
    yield srv
    srv.stop(0)


def call(server: GrpcServer, profile_id: str) -> grpc.RpcError:
    stub = privacy_pb2_grpc.PrivacyServiceStub(grpc.insecure_channel(f"127.0.0.1:{server.port}"))
    with pytest.raises(grpc.RpcError) as err:
        stub.ExportSubject(
            privacy_pb2.ExportSubjectRequest(subject=privacy_pb2.DataSubject(profile_id=profile_id))
        )
    return err.value


def test_domain_errors_map_to_codes_with_field_details(server: GrpcServer) -> None:
    err = call(server, "invalid")
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(err)
    bad = error_details_pb2.BadRequest()
    assert status is not None and status.details[0].Unpack(bad)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("subject.profile_id", "must be a uuid")
    ]
    assert call(server, "missing").code() == grpc.StatusCode.NOT_FOUND


def test_abort_keeps_its_code_and_bugs_become_internal(server: GrpcServer) -> None:
    assert call(server, "abort").code() == grpc.StatusCode.PERMISSION_DENIED
    bug = call(server, "bug")
    assert bug.code() == grpc.StatusCode.INTERNAL and "oops" not in (bug.details() or "")
    stub = privacy_pb2_grpc.PrivacyServiceStub(grpc.insecure_channel(f"127.0.0.1:{server.port}"))
    assert stub.ExportSubject(privacy_pb2.ExportSubjectRequest()).service == "ok"  # still serving


def test_health_follows_readiness_and_shutdown(server: GrpcServer) -> None:
    health = health_pb2_grpc.HealthStub(grpc.insecure_channel(f"127.0.0.1:{server.port}"))
    serving = health_pb2.HealthCheckResponse.SERVING
    assert health.Check(health_pb2.HealthCheckRequest()).status != serving  # started, not ready
    ready = {"db": True}
    server.watch_readiness(lambda: ready["db"], interval=0.05)
    assert health.Check(health_pb2.HealthCheckRequest()).status == serving
    ready["db"] = False
    import time

    deadline = time.monotonic() + 5
    while (
        time.monotonic() < deadline
        and health.Check(health_pb2.HealthCheckRequest()).status == serving
    ):
        time.sleep(0.05)
    assert (
        health.Check(health_pb2.HealthCheckRequest()).status
        == health_pb2.HealthCheckResponse.NOT_SERVING
    )
