"""The PrivacyService of a service whose data about a person is found by the person's stored
identifiers and profile id (segmentation, recommendation): the transport is the same, only the
store behind it differs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import grpc
import orjson

from precis.common.v1 import privacy_pb2, privacy_pb2_grpc
from precis_common.errors import InvalidArgument
from precis_common.feed import to_timestamp
from precis_common.grpc_server import workspace_of
from precis_common.identifiers import PiiHasher
from precis_common.privacy import stored_key
from precis_common.retention import RetentionScope
from precis_common.retention import response as retention_response


class SubjectStore(Protocol):
    def export(
        self, workspace_id: str, keys: Sequence[tuple[str, str]], profile_id: str
    ) -> dict[str, Any]: ...

    def erase(
        self, workspace_id: str, keys: Sequence[tuple[str, str]], profile_id: str
    ) -> dict[str, int]: ...

    def expire(self, scope: RetentionScope) -> tuple[dict[str, int], bool] | None: ...


class SubjectPrivacyServicer(privacy_pb2_grpc.PrivacyServiceServicer):
    def __init__(self, service: str, store: SubjectStore, hasher: PiiHasher) -> None:
        self._service = service
        self._store = store
        self._hasher = hasher

    def _subject(self, request: Any, context: grpc.ServicerContext) -> tuple[str, list[Any], str]:
        workspace = workspace_of(context)
        subject = request.subject
        if not subject.identifiers and not subject.profile_id:
            raise InvalidArgument.field("subject", "give at least one identifier or the profile_id")
        keys = [
            stored_key(self._hasher, workspace, identifier, field=f"subject.identifiers[{i}]")
            for i, identifier in enumerate(subject.identifiers)
        ]
        return workspace, keys, subject.profile_id

    def ExportSubject(
        self, request: privacy_pb2.ExportSubjectRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.ExportSubjectResponse:
        workspace, keys, profile_id = self._subject(request, context)
        bundle = self._store.export(workspace, keys, profile_id)
        return privacy_pb2.ExportSubjectResponse(
            service=self._service, bundle_json=orjson.dumps(bundle)
        )

    def EraseSubject(
        self, request: privacy_pb2.EraseSubjectRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.EraseSubjectResponse:
        workspace, keys, profile_id = self._subject(request, context)
        counts = self._store.erase(workspace, keys, profile_id)
        return privacy_pb2.EraseSubjectResponse(
            service=self._service,
            erased=[privacy_pb2.ErasedRows(table=t, rows=n) for t, n in sorted(counts.items())],
            erased_at=to_timestamp(datetime.now(UTC)),
        )

    def ApplyRetention(
        self, request: privacy_pb2.ApplyRetentionRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.ApplyRetentionResponse:
        scope = RetentionScope.from_request(request)
        result = self._store.expire(scope)
        if result is None:
            return retention_response(self._service, None)
        counts, more = result
        return retention_response(self._service, counts, more)
