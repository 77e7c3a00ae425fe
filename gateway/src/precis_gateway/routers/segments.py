"""Audiences (用户分群): segments defined by rules, sized, previewed, materialized and released per
channel on consent, through the segmentation service. The models and jobs that generate segments
(RFM cells, clustering, predictive, lookalike) are in families.py."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, cast

import grpc
import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from precis.common.v1 import privacy_pb2
from precis.segmentation.v1 import segmentation_pb2 as pb
from precis_common.grpc_client import workspace_metadata
from precis_common.identifiers import MAX_IDENTIFIER_LENGTH
from precis_gateway.audit import PURPOSE_HEADER, UNSPECIFIED, access_notes
from precis_gateway.consent_views import shown_subject
from precis_gateway.deps import CallerDep, SegmentationStub, SettingsDep, WorkspaceDep, requires
from precis_gateway.disclosure import ShownCounts, disclose, disclose_together
from precis_gateway.errors import ApiError, ErrorDetail, from_rpc_error
from precis_gateway.models import (
    MAX_SEGMENT_ID,
    ChannelName,
    EstimateBody,
    PreviewBody,
    PreviewProfile,
    ProfileSegment,
    ProfileSegments,
    RefreshBody,
    Segment,
    SegmentBody,
    SegmentDeleted,
    SegmentEstimate,
    SegmentFamilyName,
    SegmentMember,
    SegmentMembers,
    SegmentPage,
    SegmentPatch,
    SegmentPreview,
    SegmentRefresh,
)
from precis_gateway.profile_views import identifier_from_path
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.scopes import Caller, Scope
from precis_gateway.upstream import call

log = logging.getLogger(__name__)

SERVICE = "segmentation"
CHANNELS: dict[str, int] = {
    "email": pb.CHANNEL_EMAIL,
    "sms": pb.CHANNEL_SMS,
    "push": pb.CHANNEL_PUSH,
    "ads": pb.CHANNEL_ADS,
    "onsite": pb.CHANNEL_ONSITE,
}
FAMILIES: dict[str, int] = {
    "rule": pb.SEGMENT_FAMILY_RULE,
    "rfm": pb.SEGMENT_FAMILY_RFM,
    "cluster": pb.SEGMENT_FAMILY_CLUSTER,
    "predictive": pb.SEGMENT_FAMILY_PREDICTIVE,
    "lookalike": pb.SEGMENT_FAMILY_LOOKALIKE,
}
FAMILY_NAMES = {v: k for k, v in FAMILIES.items()}
# The service names a refused rule by its request field and the JSON path inside it
# (`rule_json.all[0].value`); the REST body's field is `rule`.
RULE_FIELDS = {"rule_json": "rule"}
# An export is read this far before the response starts: one that ends within it is sent whole,
# with its row and suppressed counts in headers; a longer one is streamed without them.
EXPORT_BUFFER_BYTES = 1024 * 1024
# The whole export stream must finish within this (the usual deadline is for one answer).
EXPORT_DEADLINE_SECONDS = 300.0
# Materializing evaluates the rule over the whole workspace.
MATERIALIZE_DEADLINE_SECONDS = 60.0
ROW_COUNT_HEADER = "X-Precis-Row-Count"
SUPPRESSED_COUNT_HEADER = "X-Precis-Suppressed-Count"
WITHHELD_COUNTS_HEADER = "X-Precis-Withheld-Counts"
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

router = APIRouter(
    prefix="/v1/segments",
    tags=["segments"],
    responses=error_responses(401, 403, 422, *UPSTREAM_ERRORS),
)
# ListProfileSegments lives under the person it is about, next to the profile routes; included
# before the profiles router, whose GET /{identifier_type}/{value:path} would take the path.
profile_router = APIRouter(
    prefix="/v1/profiles",
    tags=["segments"],
    responses=error_responses(401, 403, 422, *UPSTREAM_ERRORS),
)

SegmentId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_SEGMENT_ID,
        description="The segment's id.",
        examples=["seg_4f1c2a9e0b7d35c8e6a1"],
    ),
]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=1024, description="`next_cursor` of the previous page."),
]
ChannelQuery = Annotated[
    ChannelName | None,
    Query(
        description=(
            "The channel the members are released for; only members with its consent purpose "
            "granted are: email (marketing_email), sms (marketing_sms), push (marketing_push), "
            "ads (ads_targeting), onsite (personalization). Without it, members with analytics "
            "granted are released, for analysis and measurement only, never for contact."
        ),
        examples=["email"],
    ),
]


class CsvResponse(Response):
    """A CSV file (for the OpenAPI document; exports are streamed)."""

    media_type = "text/csv"


def _time(message: Any, name: str) -> datetime | None:
    return getattr(message, name).ToDatetime(tzinfo=UTC) if message.HasField(name) else None


def segment_view(segment: pb.Segment, caller: Caller, k: int) -> Segment:
    # Each size stands alone: segments overlap, so no total is shown that they would add up to.
    shown = disclose({"member_count": segment.member_count}, caller, k=k)
    return _segment(segment, shown["member_count"], shown.suppressed)


def _segment(segment: pb.Segment, member_count: int | None, suppressed: list[str]) -> Segment:
    return Segment(
        segment_id=segment.segment_id,
        name=segment.name,
        description=segment.description,
        rule=orjson.loads(segment.rule_json) if segment.rule_json else {},
        family=cast(SegmentFamilyName, FAMILY_NAMES.get(segment.family, "rule")),
        version=segment.version,
        refresh_interval_seconds=segment.refresh_interval_seconds,
        member_count=member_count,
        refreshed_at=_time(segment, "refreshed_at"),
        created_at=segment.created_at.ToDatetime(tzinfo=UTC),
        updated_at=segment.updated_at.ToDatetime(tzinfo=UTC),
        origin=segment.origin or None,
        suppressed_counts=suppressed,
    )


def _target(body: EstimateBody | PreviewBody) -> dict[str, Any]:
    """The request's `target` oneof: a rule or a saved segment, exactly one."""
    if (body.rule is None) == (body.segment_id is None):
        raise ApiError.invalid(
            [ErrorDetail(field="rule", reason="give exactly one of rule and segment_id")]
        )
    if body.rule is not None:
        return {"rule_json": orjson.dumps(body.rule)}
    return {"segment_id": body.segment_id}


@router.post(
    "",
    status_code=201,
    summary="Create a segment",
    description=(
        "Validates and compiles the rule (a refused rule is a 422 naming the JSON path inside "
        "`rule`, for example `rule.all[0].value`) and saves the segment at version 1. With "
        "`materialize` the membership is computed now and members enter (published on the "
        "membership feed); otherwise on the first refresh. A taken name is a 409."
    ),
    responses=error_responses(409, 412),
    dependencies=[requires(Scope.SEGMENTS_WRITE)],
)
def create_segment(
    body: SegmentBody,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
) -> Segment:
    response = call(
        stub.CreateSegment,
        pb.CreateSegmentRequest(
            name=body.name,
            description=body.description,
            rule_json=orjson.dumps(body.rule),
            refresh_interval_seconds=body.refresh_interval_seconds,
            materialize=body.materialize,
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, MATERIALIZE_DEADLINE_SECONDS),
        fields=RULE_FIELDS,
    )
    return segment_view(response.segment, caller, settings.gateway_small_cell_k)


@router.get(
    "",
    summary="List segments",
    description="The workspace's segments by name, with cursor pagination.",
    dependencies=[requires(Scope.SEGMENTS_READ)],
)
def list_segments(
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
    family: Annotated[
        SegmentFamilyName | None, Query(description="Only segments of this family.")
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=500, description="Segments per page.")] = 50,
    cursor: Cursor = None,
) -> SegmentPage:
    response = call(
        stub.ListSegments,
        pb.ListSegmentsRequest(
            family=FAMILIES[family] if family else 0,  # type: ignore[arg-type]
            page_size=page_size,
            page_token=cursor or "",
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields={"page_token": "cursor"},
    )
    k = settings.gateway_small_cell_k
    return SegmentPage(
        segments=[segment_view(s, caller, k) for s in response.segments],
        next_cursor=response.next_page_token or None,
    )


@router.post(
    "/estimate",
    summary="Estimate a segment's size",
    description=(
        "How many profiles a rule (or a saved segment's rule) matches now, out of the "
        "workspace's live profiles, without materializing anything; with `channel`, also how "
        "many of them are releasable on it (503 while the service's consent state is not "
        "current). For keys without privacy:admin the counts follow the small-cell rule, the "
        "three treated as parts of the workspace so that no small difference between them can "
        "be worked out."
    ),
    responses=error_responses(404),
    dependencies=[requires(Scope.SEGMENTS_READ)],
)
def estimate_segment(
    body: EstimateBody,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
) -> SegmentEstimate:
    response = call(
        stub.EstimateSegmentSize,
        pb.EstimateSegmentSizeRequest(
            **_target(body),
            channel=CHANNELS[body.channel] if body.channel else 0,  # type: ignore[arg-type]
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields=RULE_FIELDS,
    )
    releasable = response.releasable_count if body.channel else None
    shown = _estimate_counts(
        response.total_profiles,
        response.matched_count,
        releasable,
        caller,
        settings.gateway_small_cell_k,
    )
    return SegmentEstimate(
        matched_count=shown["matched_count"],
        total_profiles=shown["total_profiles"],
        releasable_count=shown["releasable_count"],
        channel=body.channel,
        exact=response.exact,
        suppressed_counts=shown.suppressed,
    )


def _estimate_counts(
    total: int, matched: int, releasable: int | None, caller: Caller, k: int
) -> ShownCounts:
    """The estimate's counts as `caller` may see them. They nest (releasable within matched
    within the workspace), so the workspace is partitioned into releasable, matched but not
    releasable, and not matched; `disclose` protects those parts, and matched, the sum of the
    first two, is shown only when that gives away no withheld part."""
    parts = {"total_profiles": total}
    if releasable is None:
        parts |= {"matched_count": matched, "unmatched": max(total - matched, 0)}
        shown = disclose(parts, caller, k=k, total="total_profiles")
        counts = {
            "matched_count": shown["matched_count"],
            "total_profiles": shown["total_profiles"],
        }
        return ShownCounts(
            counts | {"releasable_count": None}, [n for n, c in counts.items() if c is None]
        )
    parts |= {
        "releasable_count": releasable,
        "unreleasable": max(matched - releasable, 0),
        "unmatched": max(total - matched, 0),
    }
    shown = disclose(parts, caller, k=k, total="total_profiles")
    matched_shown = (
        shown["releasable_count"] is not None
        and shown["unreleasable"] is not None
        and (shown["unmatched"] is not None or shown["total_profiles"] is None)
    )
    counts = {
        "matched_count": matched if matched_shown else None,
        "total_profiles": shown["total_profiles"],
        "releasable_count": shown["releasable_count"],
    }
    return ShownCounts(counts, [n for n, c in counts.items() if c is None])


@router.post(
    "/preview",
    summary="Preview a segment",
    description=(
        "A random sample of the profiles a rule (or a saved segment's rule) matches now, with "
        "their identifiers (email and phone masked) and the traits the rule refers to, to check "
        "a rule before saving it. The same `seed` on the same data gives the same sample. It "
        "shows people, so it needs profiles:read (not segments:read) and is recorded in the "
        "audit log with the declared purpose."
    ),
    responses=error_responses(404),
    dependencies=[requires(Scope.PROFILES_READ)],
)
def preview_segment(
    body: PreviewBody,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
) -> SegmentPreview:
    response = call(
        stub.PreviewSegment,
        pb.PreviewSegmentRequest(**_target(body), sample_size=body.sample_size, seed=body.seed),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields=RULE_FIELDS,
    )
    shown = disclose(
        {"matched_count": response.matched_count}, caller, k=settings.gateway_small_cell_k
    )
    return SegmentPreview(
        profiles=[
            PreviewProfile(
                profile_id=p.profile_id,
                identifiers=shown_subject(
                    privacy_pb2.DataSubject(identifiers=p.identifiers)
                ).identifiers,
                traits=orjson.loads(p.traits_json) if p.traits_json else {},
            )
            for p in response.profiles
        ],
        matched_count=shown["matched_count"],
        suppressed_counts=shown.suppressed,
    )


@router.get(
    "/{segment_id}",
    summary="Get a segment",
    responses=error_responses(404),
    dependencies=[requires(Scope.SEGMENTS_READ)],
)
def get_segment(
    segment_id: SegmentId,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
) -> Segment:
    response = call(
        stub.GetSegment,
        pb.GetSegmentRequest(segment_id=segment_id),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return segment_view(response.segment, caller, settings.gateway_small_cell_k)


@router.patch(
    "/{segment_id}",
    summary="Change a segment",
    description=(
        "Changes the fields given; the others keep their value. A new rule is validated like "
        "at creation (422 naming the JSON path inside `rule`), bumps `version`, and a "
        "materialized segment is recomputed at once (entries and exits published). With "
        "`expected_version` the change is made only if the segment is still at that version "
        "(409 `aborted` otherwise: read it again and retry), as `If-Match` would."
    ),
    responses=error_responses(404, 409),
    dependencies=[requires(Scope.SEGMENTS_WRITE)],
)
def update_segment(
    segment_id: SegmentId,
    body: SegmentPatch,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
) -> Segment:
    request = pb.UpdateSegmentRequest(
        segment_id=segment_id, expected_version=body.expected_version or 0
    )
    if body.name is not None:
        request.name = body.name
    if body.description is not None:
        request.description = body.description
    if body.rule is not None:
        request.rule_json = orjson.dumps(body.rule)
    if body.refresh_interval_seconds is not None:
        request.refresh_interval_seconds = body.refresh_interval_seconds
    response = call(
        stub.UpdateSegment,
        request,
        service=SERVICE,
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, MATERIALIZE_DEADLINE_SECONDS),
        fields=RULE_FIELDS,
    )
    return segment_view(response.segment, caller, settings.gateway_small_cell_k)


@router.delete(
    "/{segment_id}",
    summary="Delete a segment",
    description=(
        "Deletes the segment; every member exits (published on the membership feed). Deleting "
        "a segment that is already gone answers `exited_count` 0. A segment another segment's "
        "rule refers to cannot be deleted (412 naming those segments): change them first."
    ),
    responses=error_responses(412),
    dependencies=[requires(Scope.SEGMENTS_WRITE)],
)
def delete_segment(
    segment_id: SegmentId,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
) -> SegmentDeleted:
    response = call(
        stub.DeleteSegment,
        pb.DeleteSegmentRequest(segment_id=segment_id),
        service=SERVICE,
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, MATERIALIZE_DEADLINE_SECONDS),
    )
    shown = disclose(
        {"exited_count": response.exited_count}, caller, k=settings.gateway_small_cell_k
    )
    return SegmentDeleted(exited_count=shown["exited_count"], suppressed_counts=shown.suppressed)


@router.post(
    "/{segment_id}/refresh",
    summary="Materialize or refresh a segment",
    description=(
        "Computes the membership (the first time) or brings it up to date, and publishes who "
        "entered and exited on the membership feed. The service keeps materialized segments "
        "current as profiles change; a refresh catches what moves with the clock alone "
        "(relative windows). `full` recomputes from scratch."
    ),
    responses=error_responses(404),
    dependencies=[requires(Scope.SEGMENTS_WRITE)],
)
def refresh_segment(
    segment_id: SegmentId,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
    body: RefreshBody | None = None,
) -> SegmentRefresh:
    response = call(
        stub.RefreshSegment,
        pb.RefreshSegmentRequest(segment_id=segment_id, full=body is not None and body.full),
        service=SERVICE,
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, MATERIALIZE_DEADLINE_SECONDS),
    )
    # The new size is the old one plus those who entered minus those who exited: the three are
    # withheld together when any is small (the old size was shown before).
    shown = disclose_together(
        {
            "segment.member_count": response.segment.member_count,
            "entered_count": response.entered_count,
            "exited_count": response.exited_count,
        },
        caller,
        k=settings.gateway_small_cell_k,
    )
    member_count = shown["segment.member_count"]
    return SegmentRefresh(
        segment=_segment(
            response.segment, member_count, ["member_count"] if member_count is None else []
        ),
        entered_count=shown["entered_count"],
        exited_count=shown["exited_count"],
        full=response.full,
        suppressed_counts=shown.suppressed,
    )


@router.get(
    "/{segment_id}/members",
    summary="List a segment's members for a channel",
    description=(
        "The materialized members that may be reached on `channel` (its consent purpose "
        "granted, not a minor without a guardian's consent, not on the suppression list), by "
        "profile id with cursor pagination, with how many are withheld. Releasing members is a "
        "use of personal data: it needs segments:export and each page is recorded in the audit "
        "log (resource `segment:<id>:<channel>`, the declared purpose from X-Precis-Purpose). "
        "503 while the service's consent state is not current: members are never released on "
        "stale consent."
    ),
    responses=error_responses(404),
    dependencies=[requires(Scope.SEGMENTS_EXPORT)],
)
def list_segment_members(
    segment_id: SegmentId,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
    channel: ChannelQuery = None,
    page_size: Annotated[int, Query(ge=1, le=5000, description="Members per page.")] = 500,
    cursor: Cursor = None,
) -> SegmentMembers:
    response = call(
        stub.ListSegmentMembers,
        pb.ListSegmentMembersRequest(
            segment_id=segment_id,
            channel=CHANNELS[channel] if channel else 0,  # type: ignore[arg-type]
            page_size=page_size,
            page_token=cursor or "",
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields={"page_token": "cursor"},
    )
    total, suppressed = response.total_count, response.suppressed_count
    # Releasable and withheld members partition the segment.
    shown = disclose(
        {
            "total_count": total,
            "releasable_count": max(total - suppressed, 0),
            "suppressed_count": suppressed,
        },
        caller,
        k=settings.gateway_small_cell_k,
        total="total_count",
    )
    return SegmentMembers(
        segment_id=segment_id,
        channel=channel,
        members=[
            SegmentMember(profile_id=m.profile_id, entered_at=m.entered_at.ToDatetime(tzinfo=UTC))
            for m in response.members
        ],
        next_cursor=response.next_page_token or None,
        total_count=shown["total_count"],
        releasable_count=shown["releasable_count"],
        suppressed_count=shown["suppressed_count"],
        refreshed_at=_time(response, "refreshed_at"),
        suppressed_counts=shown.suppressed,
    )


@router.get(
    "/{segment_id}/export",
    summary="Export a segment's members for a channel as CSV",
    description=(
        "The members releasable on `channel` (as for the members route) as a CSV file "
        "(RFC 4180, UTF-8, header row first), with the `columns` asked for. Needs "
        "segments:export; recorded in the audit log as an export (resource "
        "`segment:<id>:<channel>`, the rows written, the declared purpose from "
        "X-Precis-Purpose, which the service is given too).\n\n"
        "How many members were withheld is known only once the service has read them all, "
        "at the end of its stream, after the response has started. So the gateway reads up to "
        f"{EXPORT_BUFFER_BYTES // 1024} KiB of the export before answering: an export that "
        f"ends within that is sent whole with `{ROW_COUNT_HEADER}` and "
        f"`{SUPPRESSED_COUNT_HEADER}` headers (for keys without privacy:admin a small "
        f"suppressed count is left out and `{WITHHELD_COUNTS_HEADER}: suppressed_count` says "
        "so); a longer one is streamed without them, and the members route's "
        "`suppressed_count` gives the number. Errors found before the response starts (404, "
        "422, 503 on stale consent) have the usual error body; a failure while streaming "
        "breaks the connection off, so a truncated file is never taken for a whole one."
    ),
    response_class=CsvResponse,
    responses={
        200: {
            "description": "The CSV file.",
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "profile_id,user_id,trait:city\r\np_8d1e,c-10442,Shanghai\r\n",
                }
            },
            "headers": {
                ROW_COUNT_HEADER: {
                    "description": "Data rows, when the export was sent whole.",
                    "schema": {"type": "integer"},
                },
                SUPPRESSED_COUNT_HEADER: {
                    "description": (
                        "Members left out for lack of consent, when the export was sent whole "
                        "and the count is not withheld by the small-cell rule."
                    ),
                    "schema": {"type": "integer"},
                },
                WITHHELD_COUNTS_HEADER: {
                    "description": "`suppressed_count` when the small-cell rule withheld it.",
                    "schema": {"type": "string"},
                },
            },
        },
        **error_responses(404),
    },
    dependencies=[requires(Scope.SEGMENTS_EXPORT)],
)
def export_segment(
    request: Request,
    segment_id: SegmentId,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
    channel: ChannelQuery = None,
    columns: Annotated[
        str | None,
        Query(
            max_length=4096,
            description=(
                "Comma-separated columns, in order: profile_id, user_id, anonymous_id, "
                "email_hash, phone_hash, entered_at, or trait:<name>. Default: "
                "profile_id,user_id. A refused column is named by its position "
                "(`columns[2]`)."
            ),
            examples=["profile_id,user_id,trait:city"],
        ),
    ] = None,
) -> Response:
    # Already validated by audit_access, which runs first for this router.
    purpose = request.headers.get(PURPOSE_HEADER) or UNSPECIFIED
    stream = stub.ExportSegment(
        pb.ExportSegmentRequest(
            segment_id=segment_id,
            channel=CHANNELS[channel] if channel else 0,  # type: ignore[arg-type]
            columns=[c.strip() for c in (columns or "").split(",") if c.strip()],
            purpose=purpose,
        ),
        timeout=max(settings.gateway_deadline_seconds, EXPORT_DEADLINE_SECONDS),
        metadata=workspace_metadata(workspace),
    )
    notes = access_notes(request)
    head: list[bytes] = []
    size = 0
    last: pb.ExportSegmentResponse | None = None
    try:
        for chunk in stream:
            notes["row_count"] = chunk.row_count
            if chunk.last:
                last = chunk
                break
            head.append(chunk.csv)
            size += len(chunk.csv)
            if size >= EXPORT_BUFFER_BYTES:
                break
    except grpc.RpcError as exc:
        raise from_rpc_error(exc, SERVICE) from None
    filename = f"{_FILENAME_UNSAFE.sub('_', segment_id)}-{channel or 'analytics'}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if last is not None:
        shown = disclose(
            {"suppressed_count": last.suppressed_count}, caller, k=settings.gateway_small_cell_k
        )
        headers[ROW_COUNT_HEADER] = str(last.row_count)
        if shown["suppressed_count"] is None:
            headers[WITHHELD_COUNTS_HEADER] = ",".join(shown.suppressed)
        else:
            headers[SUPPRESSED_COUNT_HEADER] = str(shown["suppressed_count"])
        return Response(b"".join(head), media_type=CsvResponse.media_type, headers=headers)
    return StreamingResponse(
        _rest_of(stream, head, notes), media_type=CsvResponse.media_type, headers=headers
    )


def _rest_of(stream: Any, head: list[bytes], notes: dict[str, Any]) -> Iterator[bytes]:
    """The chunks read already, then the rest of the stream as it comes (read in a worker
    thread: Starlette iterates a plain iterator in its thread pool)."""
    try:
        yield from head
        for chunk in stream:
            notes["row_count"] = chunk.row_count
            if chunk.csv:
                yield chunk.csv
    except grpc.RpcError as exc:
        # The status line has gone out: breaking the body off is the only way to say the file
        # is incomplete.
        log.warning("export cut short by the segmentation service: %s", exc.code())
        raise
    finally:
        # The client went away, or the stream is done: either way, stop it. The call is a
        # grpc.Call, or a generator when a client interceptor (tracing) wraps the stream.
        stop = getattr(stream, "cancel", None) or getattr(stream, "close", None)
        if stop is not None:
            stop()


@profile_router.get(
    "/{identifier_type}/{value}/segments",
    summary="The segments a profile is in",
    description=(
        "The materialized segments the profile an identifier belongs to is a member of, with "
        "when it entered each. Email and phone are given in clear and hashed before lookup. "
        "Membership says how a person is profiled, so this is a read of that person's data: it "
        "needs profiles:read (segments:read covers definitions and sizes only) and is recorded "
        "in the audit log."
    ),
    responses=error_responses(404),
    dependencies=[requires(Scope.PROFILES_READ)],
)
def list_profile_segments(
    workspace: WorkspaceDep,
    stub: SegmentationStub,
    settings: SettingsDep,
    identifier_type: Annotated[
        str,
        Path(
            description="user_id, anonymous_id, email, phone, device_id or external:<namespace>.",
            examples=["user_id"],
        ),
    ],
    value: Annotated[
        str,
        Path(min_length=1, max_length=MAX_IDENTIFIER_LENGTH, description="The identifier's value."),
    ],
) -> ProfileSegments:
    response = call(
        stub.ListProfileSegments,
        pb.ListProfileSegmentsRequest(identifier=identifier_from_path(identifier_type, value)),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields={"identifier": "value", "identifier.value": "value"},
    )
    return ProfileSegments(
        profile_id=response.profile_id,
        segments=[
            ProfileSegment(
                segment_id=s.segment_id, name=s.name, entered_at=s.entered_at.ToDatetime(tzinfo=UTC)
            )
            for s in response.segments
        ],
    )
