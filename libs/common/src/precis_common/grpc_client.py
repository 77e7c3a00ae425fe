"""Client channels to other Precis services: tracing, retries of idempotent calls, workspace."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import grpc

from precis_common.grpc_server import MAX_MESSAGE_BYTES, WORKSPACE_METADATA_KEY

# Every Precis RPC is either read-only or idempotent (writes dedupe by message_id, consent
# writes by request_id, which the gateway always sets), so UNAVAILABLE is retried for all of
# them; deadlines are set per call by the caller.
_RETRIED_SERVICES = (
    "precis.common.v1.FeedService",
    "precis.common.v1.PrivacyService",
    "precis.consent.v1.ConsentService",
    "precis.ingestion.v1.IngestionService",
    "precis.profile.v1.ProfileService",
)


def _service_config(services: Sequence[str]) -> str:
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{"service": s} for s in services],
                    "retryPolicy": {
                        "maxAttempts": 3,
                        "initialBackoff": "0.05s",
                        "maxBackoff": "0.5s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


def open_channel(
    target: str,
    *,
    interceptors: Iterable[Any] = (),
    retried_services: Sequence[str] = _RETRIED_SERVICES,
) -> grpc.Channel:
    channel = grpc.insecure_channel(
        target,
        options=[
            ("grpc.enable_retries", 1),
            ("grpc.service_config", _service_config(retried_services)),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    interceptors = list(interceptors)
    if not interceptors:
        return channel
    # OpenTelemetry's client interceptor speaks its own interceptor protocol (unary and
    # streaming in one object), installed with its grpcext helper rather than grpc's.
    from opentelemetry.instrumentation.grpc import grpcext

    intercepted: grpc.Channel = grpcext.intercept_channel(channel, *interceptors)
    return intercepted


def workspace_metadata(workspace_id: str) -> tuple[tuple[str, str], ...]:
    return ((WORKSPACE_METADATA_KEY, workspace_id),)


# Who acts, as a non-secret id (the gateway sends "key:" and a prefix of the API key's SHA-256
# digest); services that keep an audit trail record it (data-subject requests' requested_by).
PRINCIPAL_METADATA_KEY = "x-precis-principal"


def principal_metadata(principal: str) -> tuple[tuple[str, str], ...]:
    return ((PRINCIPAL_METADATA_KEY, principal),)
