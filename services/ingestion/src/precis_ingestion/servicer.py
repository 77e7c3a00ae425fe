"""gRPC transport of the ingestion service: proto in, domain call, proto out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import grpc
import orjson
from google.protobuf.json_format import MessageToDict

from precis.common.v1 import privacy_pb2, privacy_pb2_grpc, types_pb2
from precis.consent.v1 import consent_pb2
from precis.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from precis_common.consent_check import ConsentChecker
from precis_common.errors import FailedPrecondition, InvalidArgument
from precis_common.feed import to_timestamp
from precis_common.grpc_server import workspace_of
from precis_common.identifiers import PiiHasher
from precis_common.privacy import subject_values
from precis_common.retention import RetentionScope
from precis_common.retention import response as retention_response
from precis_ingestion import consent_context, enforcement
from precis_ingestion.enforcement import KEEP, MINIMIZE
from precis_ingestion.ingestor import EventStore, decode
from precis_ingestion.store import consent_captures, events
from precis_ingestion.suppression import REASON as SUPPRESSED_REASON
from precis_ingestion.suppression import SuppressionList
from precis_ingestion.validation import (
    IDENTIFY,
    TRACK,
    Accepted,
    check_batch_limits,
    validate_event,
)

ACCEPTED = ingestion_pb2.EVENT_STATUS_ACCEPTED
DUPLICATE = ingestion_pb2.EVENT_STATUS_DUPLICATE
REJECTED = ingestion_pb2.EVENT_STATUS_REJECTED


class IngestionServicer(ingestion_pb2_grpc.IngestionServiceServicer):
    def __init__(
        self,
        store: EventStore,
        hasher: PiiHasher,
        suppression: SuppressionList | None = None,
        checker: ConsentChecker | None = None,
        policy: Callable[[str], str] = lambda _: KEEP,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._suppression = suppression
        self._checker = checker
        self._policy = policy

    def _consented(self, workspace: str, item: Accepted) -> bool:
        """Apply the workspace's analytics policy to an accepted event: False to drop it (a
        minimized event is changed in place and kept)."""
        policy = self._policy(workspace)
        if policy == KEEP or self._checker is None:
            return True
        stated = consent_context.stated_analytics(item.consent)
        if enforcement.allowed(self._checker, workspace, item.stored, stated=stated):
            return True
        if policy == MINIMIZE:
            enforcement.minimize(item.stored)
            return True
        return False

    def _single(
        self, event: ingestion_pb2.Event, context: grpc.ServicerContext, expected: int
    ) -> ingestion_pb2.EventResult:
        workspace = workspace_of(context)
        accepted = validate_event(
            event,
            workspace_id=workspace,
            hasher=self._hasher,
            received_at=datetime.now(UTC),
            expected_type=expected,
        )
        if self._suppression is not None:
            [field] = self._suppression.refused(workspace, [accepted.stored])
            if field is not None:
                raise InvalidArgument.field(field, SUPPRESSED_REASON)
        captures = [accepted.consent] if accepted.consent is not None else []
        if not self._consented(workspace, accepted):
            # The consent the event stated still reaches the ledger (consent_context.py).
            self._store.store(workspace, [], captures)
            raise FailedPrecondition(f"consent: {enforcement.DROP_REASON}")
        result = self._store.store(workspace, [accepted], captures)
        message_id = accepted.stored.message_id
        return ingestion_pb2.EventResult(
            index=0,
            message_id=message_id,
            status=ACCEPTED if message_id in result.inserted else DUPLICATE,
        )

    def Track(
        self, request: ingestion_pb2.TrackRequest, context: grpc.ServicerContext
    ) -> ingestion_pb2.TrackResponse:
        return ingestion_pb2.TrackResponse(result=self._single(request.event, context, TRACK))

    def Identify(
        self, request: ingestion_pb2.IdentifyRequest, context: grpc.ServicerContext
    ) -> ingestion_pb2.IdentifyResponse:
        return ingestion_pb2.IdentifyResponse(result=self._single(request.event, context, IDENTIFY))

    def Batch(
        self, request: ingestion_pb2.BatchRequest, context: grpc.ServicerContext
    ) -> ingestion_pb2.BatchResponse:
        workspace = workspace_of(context)
        check_batch_limits(request)
        received_at = datetime.now(UTC)
        results: list[ingestion_pb2.EventResult] = []
        accepted: list[tuple[int, Accepted]] = []
        for index, event in enumerate(request.events):
            try:
                item = validate_event(
                    event,
                    workspace_id=workspace,
                    hasher=self._hasher,
                    received_at=received_at,
                    prefix=f"batch[{index}]",
                )
            except InvalidArgument as exc:
                results.append(
                    ingestion_pb2.EventResult(
                        index=index,
                        message_id=event.message_id,
                        status=REJECTED,
                        violations=[
                            types_pb2.FieldViolation(field=v.field, description=v.description)
                            for v in exc.violations
                        ],
                    )
                )
                continue
            accepted.append((index, item))
            results.append(
                ingestion_pb2.EventResult(index=index, message_id=item.stored.message_id)
            )
        if self._suppression is not None and accepted:
            refused = self._suppression.refused(workspace, [a.stored for _, a in accepted])
            kept: list[tuple[int, Accepted]] = []
            for (index, item), field in zip(accepted, refused, strict=True):
                if field is None:
                    kept.append((index, item))
                    continue
                results[index].status = REJECTED
                results[index].violations.append(
                    types_pb2.FieldViolation(
                        field=f"batch[{index}].{field}", description=SUPPRESSED_REASON
                    )
                )
            accepted = kept
        captures = [item.consent for _, item in accepted if item.consent is not None]
        consented: list[tuple[int, Accepted]] = []
        for index, item in accepted:
            if self._consented(workspace, item):
                consented.append((index, item))
                continue
            results[index].status = REJECTED
            results[index].violations.append(
                types_pb2.FieldViolation(
                    field=f"batch[{index}].consent", description=enforcement.DROP_REASON
                )
            )
        accepted = consented
        stored = self._store.store(workspace, [a for _, a in accepted], captures)
        seen: set[str] = set()
        for index, item in accepted:
            message_id = item.stored.message_id
            fresh = message_id in stored.inserted and message_id not in seen
            seen.add(message_id)
            results[index].status = ACCEPTED if fresh else DUPLICATE
        counts = {
            s: sum(1 for r in results if r.status == s) for s in (ACCEPTED, DUPLICATE, REJECTED)
        }
        return ingestion_pb2.BatchResponse(
            results=results,
            accepted=counts[ACCEPTED],
            duplicates=counts[DUPLICATE],
            rejected=counts[REJECTED],
        )

    def ReadEvents(
        self, request: ingestion_pb2.ReadEventsRequest, context: grpc.ServicerContext
    ) -> Iterator[ingestion_pb2.ReadEventsResponse]:
        workspace = workspace_of(context)
        start = (
            request.start.ToDatetime(tzinfo=UTC)
            if request.HasField("start")
            else datetime(1970, 1, 1, tzinfo=UTC)
        )
        end = (
            request.end.ToDatetime(tzinfo=UTC)
            if request.HasField("end")
            else datetime.now(UTC) + timedelta(days=2)
        )
        if end <= start:
            raise InvalidArgument.field("end", "must be after start")
        if request.limit < 0:
            raise InvalidArgument.field("limit", "must be >= 0")
        payloads = self._store.replay(workspace, start, end, request.limit)
        for i in range(0, len(payloads), 500):
            yield ingestion_pb2.ReadEventsResponse(
                events=[decode(p) for p in payloads[i : i + 500]]
            )


class IngestionPrivacyServicer(privacy_pb2_grpc.PrivacyServiceServicer):
    """Export and erasure of a subject's raw events and the consent its events stated (matched
    by user id, anonymous id, and the keyed hashes of email and phone)."""

    def __init__(self, store: EventStore, hasher: PiiHasher) -> None:
        self._store = store
        self._hasher = hasher

    def ExportSubject(
        self, request: privacy_pb2.ExportSubjectRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.ExportSubjectResponse:
        workspace = workspace_of(context)
        values = subject_values(self._hasher, workspace, list(request.subject.identifiers))
        events = []
        for payload in self._store.subject_rows(workspace, values):
            stored = decode(payload)
            doc = MessageToDict(stored, preserving_proto_field_name=True)
            for key in ("properties_json", "traits_json", "context_json"):
                doc.pop(key, None)
                raw = getattr(stored, key)
                doc[key.removesuffix("_json")] = orjson.loads(raw) if raw else {}
            events.append(doc)
        captures = [
            MessageToDict(
                consent_pb2.RecordConsentRequest.FromString(payload),
                preserving_proto_field_name=True,
            )
            for payload in self._store.subject_rows(workspace, values, consent_captures)
        ]
        return privacy_pb2.ExportSubjectResponse(
            service="ingestion",
            bundle_json=orjson.dumps({"events": events, "consent_captures": captures}),
        )

    def ApplyRetention(
        self, request: privacy_pb2.ApplyRetentionRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.ApplyRetentionResponse:
        """raw_events: events by event time. consent_ledger: the consent captures (copies of
        what events stated, on their way to the ledger) by the time they were received."""
        scope = RetentionScope.from_request(request)
        held = {
            "raw_events": (events, events.c.event_time),
            "consent_ledger": (consent_captures, consent_captures.c.created_at),
        }
        if scope.data_kind not in held:
            return retention_response("ingestion", None)
        table, time = held[scope.data_kind]
        condition = scope.expired(table.c.workspace_id, time)
        if condition is None:
            return retention_response("ingestion", {table.name: 0})
        deleted, more = self._store.expire(table, condition, scope.max_rows)
        return retention_response("ingestion", {table.name: deleted}, more)

    def EraseSubject(
        self, request: privacy_pb2.EraseSubjectRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.EraseSubjectResponse:
        workspace = workspace_of(context)
        values = subject_values(self._hasher, workspace, list(request.subject.identifiers))
        rows = self._store.erase_subject(workspace, values)
        return privacy_pb2.EraseSubjectResponse(
            service="ingestion",
            erased=[privacy_pb2.ErasedRows(table=t, rows=n) for t, n in rows.items()],
            erased_at=to_timestamp(datetime.now(UTC)),
        )
