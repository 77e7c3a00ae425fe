"""One router per resource."""

from __future__ import annotations

from typing import Any

from precis_gateway.errors import ErrorBody


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer, all with the one error body."""
    descriptions = {
        401: "Missing or unknown API key.",
        403: "The API key lacks the scope this route requires (`forbidden`).",
        404: "Not found.",
        409: (
            "Conflict: the name is taken (`already_exists`), or the resource changed since it "
            "was read (`aborted`: read it again and retry)."
        ),
        412: "The request cannot be carried out in the resource's current state.",
        413: "The request body is over the size limit.",
        422: "The request is invalid; `details` name the fields.",
        501: "Not implemented by the service yet.",
        502: "A service behind the gateway failed.",
        503: "A service behind the gateway is unavailable; retry after `Retry-After` seconds.",
        504: "A service behind the gateway did not answer in time.",
    }
    return {s: {"model": ErrorBody, "description": descriptions[s]} for s in statuses}


UPSTREAM_ERRORS = (502, 503, 504)
