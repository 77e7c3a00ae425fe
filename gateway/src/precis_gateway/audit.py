"""The audit log at the edge: every route that reads, exports, updates or erases a person's data
records who did it (the API key's id), when, through which operation and for which declared
purpose, in the consent service's audit log.

How: `AUDITED_ROUTES` maps (method, route template) to the action, where the subject is found
and the default purpose. `audit_access`, a dependency app.py adds to the routers that hold such
routes, validates the `X-Precis-Purpose` header and notes the access while the route runs;
`AuditMiddleware` turns the note into an event once the response was a success (2xx) and hands
it to the `AuditBatcher`, a thread that sends RecordAuditEvents in batches, retried with backoff
while the consent service is unavailable. The request itself never waits for the audit log and
never fails because of it.

Bounded memory: at most `gateway_audit_max_pending` events wait. When consent stays away long
enough to fill that, new events are dropped, counted (`AuditBatcher.dropped`) and logged at
ERROR; requests go on being served. Events still waiting at shutdown get one last attempt and
are logged as lost if it fails. Each event carries an id of its own, so a batch retried after an
answer was lost is stored once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import grpc
import orjson
from fastapi import Header, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from precis.common.v1 import privacy_pb2
from precis.consent.v1 import consent_pb2 as pb
from precis.consent.v1 import consent_pb2_grpc
from precis_common.grpc_client import workspace_metadata
from precis_common.privacy import ACCESS_PURPOSE, DSR_RESOURCE
from precis_gateway.consent_views import subject_proto
from precis_gateway.deps import CallerDep, route_scope_checks
from precis_gateway.errors import ApiError, ErrorDetail, current_trace_id
from precis_gateway.models import ConsentSubject
from precis_gateway.profile_views import identifier_from_path

log = logging.getLogger(__name__)

PURPOSE_HEADER = "X-Precis-Purpose"
SERVICE_NAME = "gateway"
UNSPECIFIED = "unspecified"  # the default purpose of an access when no header declares one
DSR_PURPOSE = "data_subject_request"
SCOPE_KEY = "precis.audit"  # where the middleware leaves the request's AuditSlot in the scope
MAX_RESPONSE_BYTES = 1024 * 1024  # response bodies read for the audit (ids, counts) stop here
DROP_LOG_INTERVAL_S = 10.0
INITIAL_BACKOFF_S = 0.1

# Retrying cannot help these: the batch is split to find and drop the event at fault.
_REFUSED = {grpc.StatusCode.INVALID_ARGUMENT}


# ---- which routes are audited, and how ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Access:
    """What one request tells about the access: its path and query parameters, its body, the
    response's JSON (for routes that read it; None otherwise or when it was too large), and what
    the route noted itself (`access_notes`: the rows a streamed export wrote)."""

    path: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes = b""
    response: Any = None
    noted: Mapping[str, Any] = field(default_factory=dict)


def _path_subject(access: Access) -> privacy_pb2.DataSubject:
    identifier = identifier_from_path(access.path["identifier_type"], access.path["value"])
    subject = privacy_pb2.DataSubject(identifiers=[identifier])
    if isinstance(access.response, dict) and isinstance(access.response.get("profile_id"), str):
        subject.profile_id = access.response["profile_id"]  # the profile it resolved to
    return subject


def _assignment_subject(access: Access) -> privacy_pb2.DataSubject:
    """A campaign assignment's person: by identifier, or `profile_id/<id>` for the profile."""
    if access.path["identifier_type"] == "profile_id":
        return privacy_pb2.DataSubject(profile_id=access.path["value"])
    return _path_subject(access)


def _profile_subject(access: Access) -> privacy_pb2.DataSubject:
    return privacy_pb2.DataSubject(profile_id=access.path["profile_id"])


def _body_subject(access: Access) -> privacy_pb2.DataSubject:
    given = ConsentSubject.model_validate(orjson.loads(access.body)["subject"])
    subject, _ = subject_proto(given, proto_field="subject", rest_field="subject")
    return subject


def _no_subject(_access: Access) -> None:
    return None


def _no_resource(_access: Access) -> str:
    return ""


def _one(_access: Access) -> int:
    return 1


def _always(_access: Access) -> bool:
    return True


def _segment_release(access: Access) -> str:
    """A segment's members released on a channel: `segment:<id>:<channel>`, `analytics` when no
    channel was named (released for analysis only)."""
    return f"segment:{access.path['segment_id']}:{access.query.get('channel') or 'analytics'}"


def _listed(key: str) -> Callable[[Access], int]:
    """The record count of a page: the length of the response's ``key`` list (the profiles,
    members or subjects it showed)."""

    def count(access: Access) -> int:
        if isinstance(access.response, dict):
            return len(access.response.get(key) or ())
        return 0

    return count


def _preview_resource(access: Access) -> str:
    body = orjson.loads(access.body) if access.body else {}
    segment_id = body.get("segment_id") if isinstance(body, dict) else None
    return f"segment:{segment_id}:preview" if isinstance(segment_id, str) else "segment_preview"


def _rows_written(access: Access) -> int:
    return int(access.noted.get("row_count", 0))


@dataclass(frozen=True, slots=True)
class AuditedRoute:
    action: int  # a pb.AuditAction
    default_purpose: str = UNSPECIFIED
    subject: Callable[[Access], privacy_pb2.DataSubject | None] = _no_subject
    resource: Callable[[Access], str] = _no_resource
    record_count: Callable[[Access], int] = _one
    applies: Callable[[Access], bool] = _always  # decided from the path and query only
    reads_body: bool = False
    reads_response: bool = False


READ, EXPORT, ERASE, UPDATE = (
    pb.AUDIT_ACTION_READ,
    pb.AUDIT_ACTION_EXPORT,
    pb.AUDIT_ACTION_ERASE,
    pb.AUDIT_ACTION_UPDATE,
)
_PERSON = "/{identifier_type}/{value}"

# (HTTP method, route template) -> how its accesses are recorded. Not audited, on purpose:
# POST /v1/consent/check (a yes/no per purpose, asked on the request path of every send, not a
# read of the record), POST /v1/privacy/exports (opening a request exports nothing: the consent
# service records the export when the bundle is made, and reading it is audited below), the
# data-subject request list and the suppression check (they show no personal data), event
# collection, workspace configuration, and GET /v1/audit-log itself.
AUDITED_ROUTES: dict[tuple[str, str], AuditedRoute] = {
    ("GET", "/v1/profiles"): AuditedRoute(
        READ, resource=lambda _: "profiles", record_count=_listed("profiles"), reads_response=True
    ),
    ("GET", f"/v1/profiles{_PERSON}"): AuditedRoute(
        READ, subject=_path_subject, reads_response=True
    ),
    ("GET", f"/v1/profiles{_PERSON}/events"): AuditedRoute(READ, subject=_path_subject),
    ("GET", f"/v1/profiles{_PERSON}/merges"): AuditedRoute(READ, subject=_path_subject),
    ("PUT", f"/v1/profiles{_PERSON}/tags/{{tag}}"): AuditedRoute(
        UPDATE, subject=_path_subject, reads_response=True
    ),
    ("DELETE", f"/v1/profiles{_PERSON}/tags/{{tag}}"): AuditedRoute(
        UPDATE, subject=_path_subject, reads_response=True
    ),
    ("POST", "/v1/profiles/{profile_id}/unmerge"): AuditedRoute(UPDATE, subject=_profile_subject),
    ("GET", "/v1/tags/{tag}/profiles"): AuditedRoute(
        READ,
        resource=lambda a: f"tag:{a.path['tag']}",
        record_count=_listed("profiles"),
        reads_response=True,
    ),
    # Which segments a person is in: profiling of that person.
    ("GET", f"/v1/profiles{_PERSON}/segments"): AuditedRoute(
        READ, subject=_path_subject, reads_response=True
    ),
    # A person's recommendations: personalized from their behaviour, when they allow it.
    ("GET", f"/v1/profiles{_PERSON}/recommendations"): AuditedRoute(
        READ, default_purpose="personalization", subject=_path_subject, reads_response=True
    ),
    # A person's arm in a campaign (and, with send-time optimization, when to contact them).
    ("GET", "/v1/campaigns/{campaign_id}/assignments/{identifier_type}/{value}"): AuditedRoute(
        READ, default_purpose="campaign_delivery", subject=_assignment_subject, reads_response=True
    ),
    # A campaign's subjects, a page at a time: each profile's arm and outcomes.
    ("GET", "/v1/campaigns/{campaign_id}/subjects"): AuditedRoute(
        READ,
        resource=lambda a: f"campaign:{a.path['campaign_id']}:subjects",
        record_count=_listed("subjects"),
        reads_response=True,
    ),
    # Releasing a segment's members for a channel: the page's members, or the rows the CSV
    # export wrote (counted as they stream; an export cut short records what went out).
    ("GET", "/v1/segments/{segment_id}/members"): AuditedRoute(
        READ, resource=_segment_release, record_count=_listed("members"), reads_response=True
    ),
    ("GET", "/v1/segments/{segment_id}/export"): AuditedRoute(
        EXPORT, resource=_segment_release, record_count=_rows_written
    ),
    # A sample of matching profiles with their identifiers (masked) and traits.
    ("POST", "/v1/segments/preview"): AuditedRoute(
        READ,
        resource=_preview_resource,
        record_count=_listed("profiles"),
        reads_body=True,
        reads_response=True,
    ),
    ("POST", "/v1/consent"): AuditedRoute(UPDATE, subject=_body_subject, reads_body=True),
    ("GET", f"/v1/consent{_PERSON}"): AuditedRoute(READ, subject=_path_subject),
    ("GET", f"/v1/consent{_PERSON}/history"): AuditedRoute(READ, subject=_path_subject),
    ("GET", f"/v1/consent{_PERSON}/minor"): AuditedRoute(READ, subject=_path_subject),
    ("PUT", f"/v1/consent{_PERSON}/minor"): AuditedRoute(UPDATE, subject=_path_subject),
    # Reading a completed export's bundle; the consent service links the event to the request's
    # subject. Recorded whenever the bundle is asked for, ready or not.
    ("GET", "/v1/privacy/requests/{request_id}"): AuditedRoute(
        EXPORT,
        default_purpose=DSR_PURPOSE,
        resource=lambda a: DSR_RESOURCE + a.path["request_id"],
        applies=lambda a: a.query.get("include_bundle", "").lower() in ("true", "1", "yes", "on"),
    ),
    # The person's identifiers are on the suppression list from this moment, so the event names
    # the request rather than the person.
    ("POST", "/v1/privacy/erasures"): AuditedRoute(
        ERASE,
        default_purpose=DSR_PURPOSE,
        resource=lambda a: DSR_RESOURCE + str(a.response["request_id"]),
        reads_response=True,
    ),
}


# ---- noting an access while the route runs -----------------------------------------------------


@dataclass
class PendingAccess:
    """An access noted while its route ran, to be recorded if the response is a success."""

    route: AuditedRoute
    operation: str
    workspace: str
    key_id: str
    purpose: str
    occurred_at: datetime
    trace_id: str
    path: dict[str, str]
    query: dict[str, str]
    body: bytes
    noted: dict[str, Any] = field(default_factory=dict)

    def event(self, response: Any) -> pb.AuditEvent:
        access = Access(self.path, self.query, self.body, response, self.noted)
        out = pb.AuditEvent(
            audit_event_id=str(uuid.uuid4()),
            principal=self.key_id,
            api_key_id=self.key_id,
            service=SERVICE_NAME,
            operation=self.operation,
            action=self.route.action,  # type: ignore[arg-type]  # proto enums are ints
            purpose=self.purpose,
            resource=self.route.resource(access),
            record_count=self.route.record_count(access),
            trace_id=self.trace_id,
        )
        out.occurred_at.FromDatetime(self.occurred_at)
        subject = self.route.subject(access)
        if subject is not None:
            out.subject.CopyFrom(subject)
        return out


@dataclass
class AuditSlot:
    """Per request, in the ASGI scope: the noted access and what the response showed."""

    pending: PendingAccess | None = None
    status: int = 0
    response: bytearray | None = None  # collected only for routes that read it

    def response_json(self) -> Any:
        if self.response is None:
            return None
        try:
            return orjson.loads(bytes(self.response))
        except orjson.JSONDecodeError:
            return None


async def audit_access(
    request: Request,
    caller: CallerDep,
    purpose: Annotated[
        str | None,
        Header(
            alias=PURPOSE_HEADER,
            description=(
                "Why this access to personal data happens, recorded in the audit log: a consent "
                "purpose such as `marketing_email` or an operational one such as "
                "`customer_support` (1-64 characters of a-z, 0-9 and _). Without it the access "
                "is recorded with the route's default purpose (`unspecified`, or "
                "`data_subject_request` for data-subject requests)."
            ),
            examples=["customer_support"],
        ),
    ] = None,
) -> None:
    """Validate the declared purpose and note the access if the route is audited."""
    # Added at router level, this runs before the route's own scope check: a key without the
    # scope is refused (403) before its header is judged (422).
    for check in route_scope_checks(request.scope.get("route")):
        check.check(caller)
    if purpose is not None and not ACCESS_PURPOSE.match(purpose):
        raise ApiError.invalid(
            [ErrorDetail(field=PURPOSE_HEADER, reason="must be 1-64 characters of a-z, 0-9 and _")]
        )
    slot = request.scope.get(SCOPE_KEY)
    route = request.scope.get("route")
    template = getattr(route, "path_format", None)
    if not isinstance(slot, AuditSlot) or template is None:
        return
    audited = AUDITED_ROUTES.get((request.method, template))
    if audited is None:
        return
    path = {k: str(v) for k, v in request.path_params.items()}
    query = dict(request.query_params)
    if not audited.applies(Access(path, query)):
        return
    slot.pending = PendingAccess(
        route=audited,
        operation=f"{request.method} {template}",
        workspace=caller.workspace,
        key_id=caller.key_id,
        purpose=purpose or audited.default_purpose,
        occurred_at=datetime.now(UTC),
        trace_id=current_trace_id() or "",
        path=path,
        query=query,
        # Already read by FastAPI for the route's body model: this is the cached copy.
        body=await request.body() if audited.reads_body else b"",
    )
    if audited.reads_response:
        slot.response = bytearray()


def access_notes(request: Request) -> dict[str, Any]:
    """Where a route notes facts about its access that only it knows (the rows a streamed
    export wrote, updated as it streams); a dictionary of no consequence when the request is not
    audited."""
    slot = request.scope.get(SCOPE_KEY)
    if isinstance(slot, AuditSlot) and slot.pending is not None:
        return slot.pending.noted
    return {}


# ---- recording after a successful response -----------------------------------------------------


class AuditMiddleware:
    """Records the access a route noted once its response turned out a success (2xx)."""

    def __init__(self, app: ASGIApp, batcher: AuditBatcher) -> None:
        self.app = app
        self.batcher = batcher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        slot = AuditSlot()
        scope[SCOPE_KEY] = slot

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                slot.status = int(message["status"])
            elif message["type"] == "http.response.body" and slot.response is not None:
                chunk = message.get("body", b"")
                if len(slot.response) + len(chunk) > MAX_RESPONSE_BYTES:
                    slot.response = None  # too large to look into: recorded without it
                else:
                    slot.response.extend(chunk)
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            # Also when a streamed body broke off after a 2xx start: what went out was accessed.
            self._record(slot)

    def _record(self, slot: AuditSlot) -> None:
        pending = slot.pending
        if pending is None or not 200 <= slot.status < 300:
            return
        try:
            event = pending.event(slot.response_json())
        except (ApiError, KeyError, TypeError, ValueError) as exc:
            # The response has gone out; an access that cannot be described is still logged.
            log.error("audit: cannot describe %s (%r); not recorded", pending.operation, exc)
            return
        self.batcher.submit(pending.workspace, event)


# ---- sending to the consent service -------------------------------------------------------------

# Sends one workspace's events (RecordAuditEvents); raises grpc.RpcError on failure. `deadline`
# is the most the call may take, in seconds.
SendBatch = Callable[[str, Sequence[pb.AuditEvent], float], None]


def consent_sender(stub: consent_pb2_grpc.ConsentServiceStub) -> SendBatch:
    """Sends a batch to the consent service's audit log."""

    def send(workspace: str, events: Sequence[pb.AuditEvent], deadline: float) -> None:
        stub.RecordAuditEvents(
            pb.RecordAuditEventsRequest(events=events),
            timeout=deadline,
            metadata=workspace_metadata(workspace),
        )

    return send


@dataclass
class _Counters:
    sent: int = 0
    dropped: int = 0
    refused: int = 0
    failed_attempts: int = 0
    last_drop_log: float = field(default=-DROP_LOG_INTERVAL_S)


class AuditBatcher:
    """A background thread sending audit events in batches of up to `batch_size` per workspace,
    at least every `flush_interval` seconds, retrying with exponential backoff (up to
    `max_backoff` seconds) while the consent service is unavailable. At most `max_pending`
    events wait; beyond that new ones are dropped, counted and logged (submit never blocks)."""

    def __init__(
        self,
        send: SendBatch,
        *,
        batch_size: int,
        flush_interval: float,
        max_pending: int,
        max_backoff: float,
        deadline: float,
    ) -> None:
        self._send = send
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_pending = max_pending
        self._max_backoff = max_backoff
        self._deadline = deadline
        self._queues: dict[str, deque[pb.AuditEvent]] = {}
        self._pending = 0
        self._counters = _Counters()
        self._lock = threading.Condition()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def sent(self) -> int:
        return self._counters.sent

    @property
    def dropped(self) -> int:
        """Events lost: dropped at the bound, refused by the consent service, or unsent at
        shutdown."""
        return self._counters.dropped

    @property
    def failed_attempts(self) -> int:
        return self._counters.failed_attempts

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-batcher", daemon=True)
        self._thread.start()

    def submit(self, workspace: str, event: pb.AuditEvent) -> bool:
        """Queue one event; False if it was dropped because the queue is full."""
        with self._lock:
            if self._pending >= self._max_pending or self._closing.is_set():
                self._drop_locked(1, "the audit queue is full (the consent service is away)")
                return False
            self._queues.setdefault(workspace, deque()).append(event)
            self._pending += 1
            if self._pending >= self._batch_size:
                self._lock.notify()
        return True

    def close(self, timeout: float) -> None:
        """Stop taking events, make one last attempt to send those waiting (within `timeout`
        seconds), and log what is lost."""
        self._closing.set()
        with self._lock:
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            if self._pending:
                self._drop_locked(self._pending, "unsent at shutdown", always=True)
                self._queues.clear()
                self._pending = 0

    # ---- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = INITIAL_BACKOFF_S
        while not self._closing.is_set():
            with self._lock:
                if self._pending < self._batch_size and not self._closing.is_set():
                    self._lock.wait(self._flush_interval)
            while not self._closing.is_set():
                batch = self._take()
                if batch is None:
                    break
                if self._deliver(*batch, deadline=self._deadline):
                    backoff = INITIAL_BACKOFF_S
                    continue
                self._closing.wait(backoff)  # woken at once by close()
                backoff = min(backoff * 2, self._max_backoff)
        self._last_attempt()

    def _last_attempt(self) -> None:
        # One try per batch, no backoff: shutdown must not hang on an absent consent service.
        while True:
            batch = self._take()
            if batch is None or not self._deliver(*batch, deadline=min(self._deadline, 2.0)):
                return

    def _take(self) -> tuple[str, list[pb.AuditEvent]] | None:
        """The oldest workspace's next batch, taken off the queue (put back if it fails)."""
        with self._lock:
            if not self._queues:
                return None
            workspace = next(iter(self._queues))
            queue = self._queues.pop(workspace)
            batch = [queue.popleft() for _ in range(min(self._batch_size, len(queue)))]
            if queue:
                self._queues[workspace] = queue  # to the back: workspaces take turns
            self._pending -= len(batch)
            return workspace, batch

    def _put_back(self, workspace: str, batch: list[pb.AuditEvent]) -> None:
        with self._lock:
            queue = self._queues.pop(workspace, deque())
            queue.extendleft(reversed(batch))
            # First in line again, ahead of workspaces that queued later.
            self._queues = {workspace: queue, **self._queues}
            self._pending += len(batch)

    def _deliver(self, workspace: str, batch: list[pb.AuditEvent], *, deadline: float) -> bool:
        """Send one batch; on failure it goes back to the head of the queue (False)."""
        try:
            self._send(workspace, batch, deadline)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            if code in _REFUSED:
                return self._isolate(workspace, batch, deadline)
            # Back in the queue before the attempt is counted, so that whoever sees the count
            # also sees the batch pending (the audit test waits on the count, then reads it).
            self._put_back(workspace, batch)
            self._counters.failed_attempts += 1
            log.warning(
                "audit: %d events for %s not sent (%s); retrying",
                len(batch),
                workspace,
                getattr(code, "name", code),
            )
            return False
        self._counters.sent += len(batch)
        return True

    def _isolate(self, workspace: str, batch: list[pb.AuditEvent], deadline: float) -> bool:
        """A batch the consent service refused: send its events one by one and drop only those
        refused (a gateway bug, never the caller's input; logged with the reason). If the
        service goes away meanwhile, the rest goes back to the queue (False)."""
        for i, event in enumerate(batch):
            try:
                self._send(workspace, [event], deadline)
            except grpc.RpcError as exc:
                if (exc.code() if hasattr(exc, "code") else None) not in _REFUSED:
                    self._put_back(workspace, batch[i:])
                    self._counters.failed_attempts += 1
                    return False
                details = exc.details() if hasattr(exc, "details") else str(exc)
                log.error("audit: event of %s refused: %s", event.operation, details)
                with self._lock:
                    self._drop_locked(1, "refused by the consent service", always=True)
                continue
            self._counters.sent += 1
        return True

    def _drop_locked(self, count: int, why: str, *, always: bool = False) -> None:
        self._counters.dropped += count
        now = time.monotonic()
        if always or now - self._counters.last_drop_log >= DROP_LOG_INTERVAL_S:
            self._counters.last_drop_log = now
            log.error(
                "audit: %d event(s) dropped: %s; %d dropped since start",
                count,
                why,
                self._counters.dropped,
            )
