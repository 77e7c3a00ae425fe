"""The gateway's one error body, and the faithful mapping of gRPC statuses onto HTTP.

Every failure a client can see, whether raised here, by FastAPI or Starlette (validation,
unknown route, wrong method) or by a service behind the gateway, leaves as
{"error": {"code", "message", "details": [{"field", "reason"}], "trace_id"}}.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from precis_common.errors import InvalidArgument

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    """One refused field."""

    field: str = Field(
        description="Path of the offending field, e.g. `batch[3].timestamp` or `identifier_type`.",
        examples=["timestamp"],
    )
    reason: str = Field(
        description="Why it was refused.",
        examples=["must be an RFC 3339 time with a timezone offset"],
    )


class Error(BaseModel):
    code: str = Field(
        description=(
            "Stable machine-readable code: invalid_argument, not_found, already_exists, "
            "aborted (a concurrent change won: read again and retry), "
            "failed_precondition, unauthenticated, forbidden (the API key lacks the route's "
            "scope), permission_denied (a service refused), payload_too_large, "
            "resource_exhausted, method_not_allowed, unavailable, deadline_exceeded, "
            "unimplemented, bad_gateway, internal."
        ),
        examples=["invalid_argument"],
    )
    message: str = Field(description="Human-readable summary.", examples=["invalid request"])
    details: list[ErrorDetail] = Field(
        default_factory=list, description="Field-level reasons, when the input was at fault."
    )
    trace_id: str | None = Field(
        default=None,
        description=(
            "W3C trace id of the request (32 hex digits); quote it when reporting a problem."
        ),
        examples=["4bf92f3577b34da6a3ce929d0e0e4736"],
    )


class ErrorBody(BaseModel):
    """The body of every non-2xx response."""

    model_config = ConfigDict(title="ErrorBody")

    error: Error


class ApiError(Exception):
    """An error meant for the client, carried up to the one exception handler."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[ErrorDetail] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = dict(headers or {})

    @classmethod
    def invalid(cls, details: Sequence[ErrorDetail], message: str | None = None) -> ApiError:
        summary = (
            message or "; ".join(f"{d.field}: {d.reason}" for d in details) or "invalid request"
        )
        return cls(422, "invalid_argument", summary, details)

    @classmethod
    def from_domain(cls, exc: InvalidArgument) -> ApiError:
        return cls.invalid(
            [ErrorDetail(field=v.field, reason=v.description) for v in exc.violations], exc.message
        )

    def with_fields(self, renames: Mapping[str, str]) -> ApiError:
        """The same error with field paths of the service's request renamed to those of the REST
        request they came from, where the gateway reshaped it (`subject.identifiers[2]` ->
        `subject.email`); the longest matching prefix wins, other fields are kept."""
        if not self.details or not renames:
            return self
        details = [
            ErrorDetail(field=rename_field(d.field, renames), reason=d.reason) for d in self.details
        ]
        if [d.field for d in details] == [d.field for d in self.details]:
            return self
        message = "; ".join(f"{d.field}: {d.reason}" for d in details)
        return ApiError(self.status, self.code, message, details, self.headers)


def rename_field(field: str, renames: Mapping[str, str]) -> str:
    """`field` with its longest prefix found in `renames` replaced (a prefix ends where the path
    does, or at a `.` or `[`)."""
    for prefix in sorted(renames, key=len, reverse=True):
        if field == prefix or field.startswith((prefix + ".", prefix + "[")):
            replacement = renames[prefix]
            rest = field[len(prefix) :]
            if not replacement:
                return rest.removeprefix(".") or field
            return replacement + rest
    return field


# gRPC status -> (HTTP status, error code). Anything not listed is the dependency failing: 502.
_GRPC_TO_HTTP: dict[Any, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (422, "invalid_argument"),
    grpc.StatusCode.NOT_FOUND: (404, "not_found"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "already_exists"),
    # Optimistic concurrency: the resource is not at the version the caller read.
    grpc.StatusCode.ABORTED: (409, "aborted"),
    grpc.StatusCode.FAILED_PRECONDITION: (412, "failed_precondition"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "unauthenticated"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "permission_denied"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "resource_exhausted"),
    grpc.StatusCode.UNAVAILABLE: (503, "unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "deadline_exceeded"),
    grpc.StatusCode.UNIMPLEMENTED: (501, "unimplemented"),
}
# Codes whose service message is written for the caller; the others are replaced by a summary
# so that internals of a failing service do not leak to clients.
_FORWARDED_MESSAGES = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAUTHENTICATED,
}


def field_violations(exc: grpc.RpcError) -> list[ErrorDetail]:
    """The google.rpc.BadRequest field violations a service attached to its status."""
    try:
        status = rpc_status.from_call(exc)
    except ValueError:  # trailers disagree with the call's code: treat as no details
        return []
    if status is None:
        return []
    details: list[ErrorDetail] = []
    for packed in status.details:
        if packed.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            packed.Unpack(bad_request)
            details.extend(
                ErrorDetail(field=v.field, reason=v.description)
                for v in bad_request.field_violations
            )
    return details


def from_rpc_error(exc: grpc.RpcError, service: str) -> ApiError:
    """The HTTP error for a failed call to `service`."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    status, name = _GRPC_TO_HTTP.get(code, (502, "bad_gateway"))
    headers = {"Retry-After": "1"} if status == 503 else {}
    if code in _FORWARDED_MESSAGES:
        message = exc.details() or f"{service} refused the request"
    elif code == grpc.StatusCode.UNAVAILABLE:
        message = f"the {service} service is unavailable; retry shortly"
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        message = f"the {service} service did not answer in time"
    elif code == grpc.StatusCode.UNIMPLEMENTED:
        message = f"the {service} service does not implement this yet"
    else:
        log.warning("%s call failed: %s %s", service, code, exc.details())
        message = f"the {service} service failed ({getattr(code, 'name', code)})"
    details = field_violations(exc) if code == grpc.StatusCode.INVALID_ARGUMENT else []
    return ApiError(status, name, message, details, headers)


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def error_response(
    status: int,
    code: str,
    message: str,
    details: Iterable[ErrorDetail] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(
        error=Error(code=code, message=message, details=list(details), trace_id=current_trace_id())
    )
    return JSONResponse(
        body.model_dump(mode="json"), status_code=status, headers=dict(headers or {})
    )


def field_path(loc: Iterable[int | str], prefix: str = "") -> str:
    """("batch", 3, "timestamp") -> "batch[3].timestamp"."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def pydantic_details(
    errors: Iterable[Any], prefix: str = "", aliases: Mapping[str, str] | None = None
) -> list[ErrorDetail]:
    """Pydantic/FastAPI validation errors as details; where a parameter lives (body, query,
    path) is dropped from the path: field names are unique across them here. `aliases` turns
    alternative spellings back into the documented field names (sentAt -> sent_at)."""
    details = []
    for error in errors:
        loc = list(error.get("loc", ()))
        if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
            loc = loc[1:]
        if aliases and loc and isinstance(loc[0], str):
            loc[0] = aliases.get(loc[0], loc[0])
        reason = (
            "is required" if error.get("type") == "missing" else str(error.get("msg", "is invalid"))
        )
        details.append(
            ErrorDetail(field=field_path(loc, prefix) or prefix or "body", reason=reason)
        )
    return details


_HTTP_CODES = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "already_exists",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "resource_exhausted",
    501: "unimplemented",
    503: "unavailable",
}


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = pydantic_details(exc.errors())
    return error_response(
        422, "invalid_argument", "; ".join(f"{d.field}: {d.reason}" for d in details), details
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(
        exc.status_code, "internal" if exc.status_code >= 500 else "invalid_argument"
    )
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 404 and message == "Not Found":
        message = "no such route"
    return error_response(exc.status_code, code, message, headers=exc.headers)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    # A bug in the gateway itself (dependency failures arrive as ApiError); Starlette re-raises
    # it after this response so that the server logs the traceback.
    log.error("unexpected error: %r", exc)
    return error_response(500, "internal", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
