"""Request size limit: bodies over the limit are refused with 413 before anything parses them.

Content-Length is checked up front; bodies sent without one (chunked) are counted as they
stream in, and the read fails as soon as the count passes the limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from precis_gateway.errors import ApiError, error_response


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413, "payload_too_large", f"the request body exceeds the limit of {limit} bytes"
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0:
                    response = error_response(
                        400, "invalid_argument", "invalid Content-Length header"
                    )
                    await response(scope, receive, send)
                    return
                if declared > self.limit:
                    error = _too_large(self.limit)
                    response = error_response(error.status, error.code, error.message)
                    await response(scope, receive, send)
                    return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Raised inside the route's body read, so the error handler answers it.
                    raise _too_large(self.limit)
            return message

        await self.app(scope, counting_receive, send)
