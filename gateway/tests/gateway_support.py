"""Helpers for the gateway tests: constants, the error-body assertion, reading what ingestion
stored, and a fake profile service."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from fastapi.testclient import TestClient

from precis.common.v1 import feed_pb2, feed_pb2_grpc, types_pb2
from precis.ingestion.v1 import ingestion_pb2
from precis.profile.v1 import profile_pb2, profile_pb2_grpc
from precis_common.errors import NotFound, PrecisError
from precis_common.grpc_client import open_channel
from precis_common.grpc_server import GrpcServer, workspace_of
from precis_ingestion.app import IngestionApp

WORKSPACE = "ws_test"
OTHER_WORKSPACE = "ws_other"
KEY = "test-key-for-ws-test-0123456789"
OTHER_KEY = "test-key-for-ws-other-0123456789"
AUTH = {"X-API-Key": KEY}


def stored_events(ingestion: IngestionApp) -> list[tuple[str, ingestion_pb2.StoredEvent]]:
    """Everything on ingestion's "events" feed, as (workspace, event), read over gRPC."""
    channel = open_channel(f"127.0.0.1:{ingestion.port}")
    try:
        stub = feed_pb2_grpc.FeedServiceStub(channel)
        found = []
        for response in stub.ReadFeed(
            feed_pb2.ReadFeedRequest(feed="events", after_seq=0, max_entries=5000), timeout=10
        ):
            for entry in response.entries:
                event = ingestion_pb2.StoredEvent()
                event.ParseFromString(entry.payload)
                found.append((entry.workspace_id, event))
        return found
    finally:
        channel.close()


# What the make_client fixture returns: settings overrides in, a started TestClient out.
MakeClient = Callable[..., TestClient]


@dataclass
class FakeProfiles(profile_pb2_grpc.ProfileServiceServicer):
    """A stand-in for the profile service: profiles keyed by (workspace, type, namespace, value)."""

    profiles: dict[tuple[str, int, str, str], profile_pb2.Profile] = field(default_factory=dict)
    delay: float = 0.0
    fail_with: tuple[Any, str] | None = None
    raise_error: Exception | None = None
    calls: list[tuple[str, str, Any]] = field(default_factory=list)

    def add(
        self, workspace: str, identifier: types_pb2.Identifier, profile: profile_pb2.Profile
    ) -> None:
        key = (workspace, identifier.type, identifier.namespace, identifier.value)
        self.profiles[key] = profile

    def _enter(self, name: str, request: Any, context: grpc.ServicerContext) -> str:
        workspace = workspace_of(context)
        self.calls.append((name, workspace, request))
        if self.delay:
            time.sleep(self.delay)
        if self.raise_error is not None:
            raise self.raise_error
        if self.fail_with is not None:
            # Raised as a domain error with that code rather than context.abort(): the shared
            # error-mapping interceptor turns an abort() into INTERNAL (see the report).
            code, message = self.fail_with
            raise type("Failure", (PrecisError,), {"code": code})(message)
        return workspace

    def GetProfile(self, request: Any, context: grpc.ServicerContext) -> Any:
        workspace = self._enter("GetProfile", request, context)
        i = request.identifier
        profile = self.profiles.get((workspace, i.type, i.namespace, i.value))
        if profile is None:
            raise NotFound("no profile has this identifier")
        return profile_pb2.GetProfileResponse(profile=profile)

    def ListProfiles(self, request: Any, context: grpc.ServicerContext) -> Any:
        workspace = self._enter("ListProfiles", request, context)
        mine = [p for key, p in self.profiles.items() if key[0] == workspace]
        offset = int(request.page_token or 0)
        size = request.page_size or 50
        page = mine[offset : offset + size]
        more = offset + size < len(mine)
        return profile_pb2.ListProfilesResponse(
            profiles=page, next_page_token=str(offset + size) if more else "", total_count=len(mine)
        )


@dataclass
class ProfileServer:
    servicer: FakeProfiles
    server: GrpcServer

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"


def assert_error(response: Any, status: int, code: str, *fields: str) -> dict[str, Any]:
    """The one error body: code, message, details naming `fields`, and a trace id."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details", "trace_id"}
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    for detail in error["details"]:
        assert set(detail) == {"field", "reason"}
        assert detail["reason"]
    assert [d["field"] for d in error["details"]] == list(fields)
    assert error["trace_id"] is None or len(error["trace_id"]) == 32
    return error
