"""Domain errors and their one mapping to gRPC status codes with field-level details.

Domain code raises these; the server interceptor turns them into statuses carrying a
google.rpc.BadRequest detail, and the gateway turns those into its single error body.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import grpc


@dataclass(frozen=True, slots=True)
class Violation:
    """One refused field: its path and the reason."""

    field: str
    description: str


class PrecisError(Exception):
    """Base of errors that callers are meant to see."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(PrecisError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, message: str, violations: Iterable[Violation] = ()) -> None:
        super().__init__(message)
        self.violations = list(violations)

    @classmethod
    def field(cls, field: str, description: str) -> InvalidArgument:
        return cls(f"{field}: {description}", [Violation(field, description)])


class NotFound(PrecisError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(PrecisError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(PrecisError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unauthenticated(PrecisError):
    code = grpc.StatusCode.UNAUTHENTICATED


class Unavailable(PrecisError):
    code = grpc.StatusCode.UNAVAILABLE


class ResourceExhausted(PrecisError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
