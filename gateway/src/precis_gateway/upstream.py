"""The services behind the gateway: their channels, and one way to call them (deadline,
workspace metadata, errors mapped to HTTP)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from precis_common.grpc_client import open_channel, workspace_metadata
from precis_gateway.errors import from_rpc_error

Response = TypeVar("Response")


@dataclass
class Channels:
    """One channel per service; channels connect lazily and reconnect by themselves."""

    ingestion: grpc.Channel
    profile: grpc.Channel
    consent: grpc.Channel
    segmentation: grpc.Channel
    recommendation: grpc.Channel
    measurement: grpc.Channel

    @classmethod
    def open(
        cls,
        *,
        ingestion_target: str,
        profile_target: str,
        consent_target: str,
        segmentation_target: str,
        recommendation_target: str,
        measurement_target: str,
        interceptors: Iterable[grpc.UnaryUnaryClientInterceptor] = (),
    ) -> Channels:
        interceptors = list(interceptors)
        return cls(
            ingestion=open_channel(ingestion_target, interceptors=interceptors),
            profile=open_channel(profile_target, interceptors=interceptors),
            consent=open_channel(consent_target, interceptors=interceptors),
            segmentation=open_channel(segmentation_target, interceptors=interceptors),
            recommendation=open_channel(recommendation_target, interceptors=interceptors),
            measurement=open_channel(measurement_target, interceptors=interceptors),
        )

    def close(self) -> None:
        self.ingestion.close()
        self.profile.close()
        self.consent.close()
        self.segmentation.close()
        self.recommendation.close()
        self.measurement.close()


def call(
    method: Callable[..., Response],
    request: Any,
    *,
    service: str,
    workspace: str,
    deadline: float,
    fields: Mapping[str, str] | None = None,
    metadata: Sequence[tuple[str, str]] = (),
) -> Response:
    """Call a unary RPC on behalf of `workspace`; a failure becomes the matching ApiError.
    `fields` renames field paths of the service's request to the REST request's, where the
    two differ (see ApiError.with_fields); `metadata` is sent after the workspace's."""
    try:
        return method(
            request, timeout=deadline, metadata=(*workspace_metadata(workspace), *metadata)
        )
    except grpc.RpcError as exc:
        raise from_rpc_error(exc, service).with_fields(fields or {}) from None
