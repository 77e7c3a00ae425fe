"""The one exception the SDK raises, parsed from the gateway's error body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Used when a response does not carry the gateway's error body (a proxy in between, a crash):
# the code is then derived from the HTTP status so callers can still branch on it.
_CODE_BY_STATUS = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "already_exists",
    413: "payload_too_large",
    422: "invalid_argument",
    429: "resource_exhausted",
    500: "internal",
    501: "unimplemented",
    502: "bad_gateway",
    503: "unavailable",
    504: "deadline_exceeded",
}


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One refused field: ``field`` is a path such as ``batch[3].timestamp``."""

    field: str
    reason: str


class PrecisError(Exception):
    """A request the gateway refused, or one that never got an answer.

    ``status`` is the HTTP status, or None when no response arrived (connection refused,
    timeout); ``code`` is the gateway's stable machine-readable code (``invalid_argument``,
    ``not_found``, ``unavailable``...), ``connection_error`` or ``timeout`` without a response.
    """

    def __init__(
        self,
        status: int | None,
        code: str,
        message: str,
        details: tuple[ErrorDetail, ...] = (),
        *,
        trace_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.trace_id = trace_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        head = f"{self.status} {self.code}" if self.status is not None else self.code
        text = f"{head}: {self.message}"
        if self.details:
            text += " (" + "; ".join(f"{d.field}: {d.reason}" for d in self.details) + ")"
        if self.trace_id:
            text += f" [trace_id={self.trace_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"PrecisError(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, details={self.details!r})"
        )


def parse_error_details(raw: object) -> tuple[ErrorDetail, ...]:
    """Reads ``[{"field", "reason"}]``, tolerating missing or malformed entries."""
    if not isinstance(raw, list):
        return ()
    details = []
    for item in raw:
        if isinstance(item, Mapping):
            details.append(ErrorDetail(str(item.get("field", "")), str(item.get("reason", ""))))
    return tuple(details)


def error_from_response(
    status: int, body: object, text: str, retry_after: float | None
) -> PrecisError:
    """Builds the exception for a non-2xx response, whatever its body looks like."""
    error: Any = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping) and isinstance(error.get("code"), str):
        trace_id = error.get("trace_id")
        return PrecisError(
            status,
            error["code"],
            str(error.get("message", "")),
            parse_error_details(error.get("details")),
            trace_id=trace_id if isinstance(trace_id, str) else None,
            retry_after=retry_after,
        )
    code = _CODE_BY_STATUS.get(status, f"http_{status}")
    message = text.strip()[:500] or f"HTTP {status}"
    return PrecisError(status, code, message, retry_after=retry_after)
