"""gRPC transport of the measurement service: request validation (every error names its field)
and conversion to and from the contract."""

from __future__ import annotations

import base64
import binascii
import bisect
import logging
import math
import re
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import grpc
import numpy as np
from sqlalchemy import select

import precis_uplift as uplift
from precis.measurement.v1 import measurement_pb2 as pb
from precis.measurement.v1 import measurement_pb2_grpc
from precis.profile.v1 import profile_pb2, profile_pb2_grpc
from precis.segmentation.v1 import segmentation_pb2, segmentation_pb2_grpc
from precis_common.db import Database
from precis_common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
    Violation,
)
from precis_common.feed import to_timestamp
from precis_common.grpc_client import workspace_metadata
from precis_common.grpc_server import workspace_of
from precis_common.identifiers import PiiHasher
from precis_common.privacy import stored_key
from precis_common.privacy_service import SubjectPrivacyServicer
from precis_measurement import attribution, messages, power, stats
from precis_measurement.campaigns import (
    HOLDOUT,
    CampaignRow,
    Campaigns,
    Enroller,
    bucket_of,
    new_campaign,
    valid_time_zone,
)
from precis_measurement.privacy import MeasurementPrivacy
from precis_measurement.report import (
    CampaignSubjects,
    build_report,
    campaign_outcomes,
    campaign_subjects,
)
from precis_measurement.store import ms_identities, ms_uplift

log = logging.getLogger(__name__)

SERVICE_NAME = "measurement"
MAX_ANALYZE_ARMS = 20
MAX_OBSERVATIONS = 1_000_000
MAX_JOURNEYS = 100_000
MAX_TOUCHPOINTS = 1000
MAX_CHANNEL = 128
MAX_RECORDED = 10_000
MAX_SUBJECTS_PAGE = 10_000
DEFAULT_SUBJECTS_PAGE = 1000
# Pages of the targeting model's scores read from segmentation (its maximum).
MODEL_SCORES_PAGE = 10_000
T = TypeVar("T")

METRIC_TYPES = {
    pb.METRIC_TYPE_PROPORTION: stats.MetricType.PROPORTION,
    pb.METRIC_TYPE_MEAN: stats.MetricType.MEAN,
    pb.METRIC_TYPE_RATIO: stats.MetricType.RATIO,
}
_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_\.\[\]-]*)")


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def refused(exc: ValueError, default_field: str) -> InvalidArgument:
    """The libraries' ValueError as INVALID_ARGUMENT; their messages start with the field."""
    text = str(exc)
    found = _FIELD.match(text)
    field = found.group(1) if found and (found.group(1) in text.split()[0]) else default_field
    if not any(ch in field for ch in "._[") and field not in _KNOWN_FIELDS:
        field = default_field
    return InvalidArgument(f"{field}: {text}", [Violation(field, text)])


_KNOWN_FIELDS = {
    "arms",
    "baseline",
    "alpha",
    "power",
    "treatment_arms",
    "control_share",
    "variance_reduction",
    "daily_units",
    "relative_mde",
    "total_units",
    "standard_deviation",
    "metric_type",
    "confidence_level",
    "sequential_mixture_variance",
    "half_life",
    "first_touch_weight",
    "last_touch_weight",
    "revenue",
    "expected_share",
}


def library(default_field: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except ValueError as exc:
        raise refused(exc, default_field) from exc


def confidence(value: float, field: str = "confidence_level") -> float:
    if value == 0:
        return 0.95
    if not math.isfinite(value) or not 0.8 <= value <= 0.999:
        raise InvalidArgument.field(field, "must be between 0.8 and 0.999 (0 means 0.95)")
    return value


def campaign_message(row: CampaignRow, now: datetime) -> pb.Campaign:
    message = pb.Campaign(
        campaign_id=row.campaign_id,
        name=row.name,
        description=row.description,
        segment_id=row.segment_id,
        channel=row.channel,  # type: ignore[arg-type]
        arms=[
            pb.Arm(arm_id=a.arm_id, description=a.description, weight=a.weight) for a in row.arms
        ],
        holdout_share=row.holdout_share,
        start_time=to_timestamp(row.start_time),
        end_time=to_timestamp(row.end_time),
        primary_metric=row.primary_metric,  # type: ignore[arg-type]
        secondary_metrics=list(row.secondary_metrics),  # type: ignore[arg-type]
        conversion_event=row.conversion_event,
        revenue_property=row.revenue_property,
        cost_per_send=row.cost_per_send,
        fixed_cost=row.fixed_cost,
        currency=row.currency,
        min_cell_size=row.min_cell_size,
        targeting_model_id=row.targeting_model_id,
        status=row.status(now),  # type: ignore[arg-type]
        created_at=to_timestamp(row.created_at),
        updated_at=to_timestamp(row.updated_at),
        send_time_optimization=row.send_time_optimization,
        time_zone=row.time_zone,
        external_assignment=row.external_assignment,
    )
    message.attribution_window.FromTimedelta(row.attribution_window)
    message.pre_period.FromTimedelta(row.pre_period)
    return message


def arm_statistics(
    arms: Sequence[pb.ArmStatistics], metric: stats.MetricType, cuped: bool
) -> list[stats.ArmStatistics]:
    if not 2 <= len(arms) <= MAX_ANALYZE_ARMS:
        raise InvalidArgument.field("arms", f"give 2..{MAX_ANALYZE_ARMS} arms")
    violations: list[Violation] = []
    names: set[str] = set()
    controls = 0
    out = []
    for i, arm in enumerate(arms):
        at = f"arms[{i}]"
        if not arm.name or len(arm.name) > 64:
            violations.append(Violation(f"{at}.name", "must be 1..64 characters"))
        elif arm.name in names:
            violations.append(Violation(f"{at}.name", f"{arm.name!r} names another arm too"))
        names.add(arm.name)
        controls += arm.control
        if arm.n < 0:
            violations.append(Violation(f"{at}.n", "cannot be negative"))
        for name in (
            "sum",
            "sum_squares",
            "pre_sum",
            "pre_sum_squares",
            "sum_products",
            "denominator_sum",
            "denominator_sum_squares",
            "numerator_denominator_sum_products",
            "expected_share",
        ):
            if not math.isfinite(getattr(arm, name)):
                violations.append(Violation(f"{at}.{name}", "must be a finite number"))
        ratio = metric is stats.MetricType.RATIO
        out.append(
            stats.ArmStatistics(
                name=arm.name,
                n=arm.n,
                sum=arm.sum,
                sum_squares=arm.sum_squares,
                control=arm.control,
                pre_sum=arm.pre_sum if cuped else None,
                pre_sum_squares=arm.pre_sum_squares if cuped else None,
                sum_products=arm.sum_products if cuped else None,
                denominator_sum=arm.denominator_sum if ratio else None,
                denominator_sum_squares=arm.denominator_sum_squares if ratio else None,
                numerator_denominator_sum_products=(
                    arm.numerator_denominator_sum_products if ratio else None
                ),
                expected_share=arm.expected_share or None,
            )
        )
    if controls != 1:
        violations.append(Violation("arms", f"exactly one arm must be the control, not {controls}"))
    if violations:
        raise InvalidArgument("invalid arms", violations)
    return out


def journeys_of(messages_: Sequence[pb.Journey]) -> list[attribution.Journey]:
    if len(messages_) > MAX_JOURNEYS:
        raise InvalidArgument.field("journeys", f"at most {MAX_JOURNEYS} journeys per request")
    out = []
    for i, journey in enumerate(messages_):
        at = f"journeys[{i}]"
        if len(journey.touchpoints) > MAX_TOUCHPOINTS:
            raise InvalidArgument.field(f"{at}.touchpoints", f"at most {MAX_TOUCHPOINTS}")
        if not math.isfinite(journey.revenue) or journey.revenue < 0:
            raise InvalidArgument.field(f"{at}.revenue", "must be a finite number >= 0")
        touches = []
        previous: datetime | None = None
        for j, touch in enumerate(journey.touchpoints):
            if not touch.channel or len(touch.channel) > MAX_CHANNEL:
                raise InvalidArgument.field(
                    f"{at}.touchpoints[{j}].channel", f"must be 1..{MAX_CHANNEL} characters"
                )
            when = _utc(touch.time.ToDatetime()) if touch.HasField("time") else None
            if when is not None and previous is not None and when < previous:
                raise InvalidArgument.field(
                    f"{at}.touchpoints[{j}].time", "touches must be in time order"
                )
            previous = when or previous
            touches.append(
                attribution.Touchpoint(touch.channel, when or datetime.min.replace(tzinfo=UTC))
            )
        out.append(
            attribution.Journey(
                touchpoints=tuple(touches),
                converted=journey.converted,
                revenue=journey.revenue,
                conversion_time=(
                    _utc(journey.conversion_time.ToDatetime())
                    if journey.HasField("conversion_time")
                    else None
                ),
            )
        )
    return out


def _duration(message: Any) -> timedelta:
    return timedelta(seconds=message.seconds, microseconds=message.nanos // 1000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def subjects_token(as_of: datetime, last_profile_id: str) -> str:
    """The continuation of a subjects listing: the first page's time (later pages count as of
    it, so their totals and outcomes agree) and the last profile id shown."""
    micros = (as_of - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"s1|{micros}|{last_profile_id}".encode()).decode()


def subjects_after(token: str) -> tuple[datetime, str]:
    try:
        version, micros, after = base64.urlsafe_b64decode(token.encode()).decode().split("|", 2)
        as_of = _EPOCH + timedelta(microseconds=int(micros))
    except (ValueError, UnicodeDecodeError, binascii.Error, OverflowError, OSError):
        version, after = "", ""
    if version != "s1" or not after:
        raise InvalidArgument.field("page_token", "is not a token this service gave")
    return as_of, after


class MeasurementServicer(measurement_pb2_grpc.MeasurementServiceServicer):
    def __init__(
        self,
        database: Database,
        hasher: PiiHasher,
        campaigns: Campaigns,
        enroller: Enroller,
        profile_channel: grpc.Channel,
        segmentation_channel: grpc.Channel,
        *,
        send_times: Any = None,
        render_page: Callable[[pb.CampaignReport], bytes] | None = None,
        deadline_s: float = 5.0,
    ) -> None:
        self.db = database
        self.hasher = hasher
        self.campaigns = campaigns
        self.enroller = enroller
        self.profiles = profile_pb2_grpc.ProfileServiceStub(profile_channel)
        self.segments = segmentation_pb2_grpc.SegmentationServiceStub(segmentation_channel)
        # The subjects of the listing being paged through: (workspace, campaign, as of) -> them.
        self._listing: tuple[tuple[str, str, datetime], CampaignSubjects] | None = None
        self._listing_lock = threading.Lock()
        self.send_times = send_times
        self.render_page = render_page
        self.deadline_s = deadline_s

    # ---- campaigns -------------------------------------------------------------------------

    def _campaign_id(self, value: str) -> str:
        if not value or len(value) > 64:
            raise InvalidArgument.field("campaign_id", "must be 1..64 characters")
        return value

    def CreateCampaign(
        self, request: pb.CreateCampaignRequest, context: grpc.ServicerContext
    ) -> pb.CreateCampaignResponse:
        workspace = workspace_of(context)
        if not request.HasField("campaign"):
            raise InvalidArgument.field("campaign", "give the campaign")
        now = datetime.now(UTC)
        row, warnings = new_campaign(request.campaign, now)
        try:
            self.segments.GetSegment(
                segmentation_pb2.GetSegmentRequest(segment_id=row["segment_id"]),
                timeout=self.deadline_s,
                metadata=workspace_metadata(workspace),
            )
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            if code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise InvalidArgument.field(
                    "campaign.segment_id", f"no segment {row['segment_id']!r} in this workspace"
                ) from exc
            raise Unavailable("the segmentation service does not answer; try again") from exc
        created, overlaps = self.campaigns.create(workspace, row)
        self.enroller.kick()
        return pb.CreateCampaignResponse(
            campaign=campaign_message(created, now), warnings=[*warnings, *overlaps]
        )

    def GetCampaign(
        self, request: pb.GetCampaignRequest, context: grpc.ServicerContext
    ) -> pb.GetCampaignResponse:
        workspace = workspace_of(context)
        row = self.campaigns.get(workspace, self._campaign_id(request.campaign_id))
        return pb.GetCampaignResponse(campaign=campaign_message(row, datetime.now(UTC)))

    def ListCampaigns(
        self, request: pb.ListCampaignsRequest, context: grpc.ServicerContext
    ) -> pb.ListCampaignsResponse:
        workspace = workspace_of(context)
        if not 0 <= request.page_size <= 500:
            raise InvalidArgument.field("page_size", "must be between 1 and 500 (0 means 50)")
        if request.status not in pb.CampaignStatus.values():
            raise InvalidArgument.field("status", "unknown status")
        offset = 0
        if request.page_token:
            if not request.page_token.isdigit() or len(request.page_token) > 12:
                raise InvalidArgument.field("page_token", "is not a token this service gave")
            offset = int(request.page_token)
        limit = request.page_size or 50
        now = datetime.now(UTC)
        rows, more = self.campaigns.page(
            workspace, status=request.status, now=now, offset=offset, limit=limit
        )
        return pb.ListCampaignsResponse(
            campaigns=[campaign_message(r, now) for r in rows],
            next_page_token=str(offset + limit) if more else "",
        )

    def UpdateCampaign(
        self, request: pb.UpdateCampaignRequest, context: grpc.ServicerContext
    ) -> pb.UpdateCampaignResponse:
        workspace = workspace_of(context)
        current = self.campaigns.get(workspace, self._campaign_id(request.campaign_id))
        now = datetime.now(UTC)
        values: dict[str, Any] = {}
        violations: list[Violation] = []
        if request.HasField("name"):
            if not 1 <= len(request.name.strip()) <= 200:
                violations.append(Violation("name", "must be 1..200 characters"))
            values["name"] = request.name.strip()
        if request.HasField("description"):
            if len(request.description) > 5000:
                violations.append(Violation("description", "at most 5000 characters"))
            values["description"] = request.description
        for name in ("cost_per_send", "fixed_cost"):
            if request.HasField(name):
                value = getattr(request, name)
                if not math.isfinite(value) or value < 0:
                    violations.append(Violation(name, "must be a number >= 0"))
                values[name] = value
        if request.HasField("end_time"):
            end = _utc(request.end_time.ToDatetime())
            status = current.status(now)
            if status == pb.CAMPAIGN_STATUS_ENDED:
                violations.append(Violation("end_time", "the campaign has ended"))
            elif end <= current.start_time:
                violations.append(Violation("end_time", "must be after start_time"))
            elif end - current.start_time > timedelta(days=366):
                violations.append(Violation("end_time", "a campaign runs at most 366 days"))
            else:
                # Ending a running campaign early stops it now: assignment never reopens.
                values["end_time"] = max(end, now) if status == pb.CAMPAIGN_STATUS_RUNNING else end
        if violations:
            raise InvalidArgument("invalid update", violations)
        if values:
            values["updated_at"] = now
        row = self.campaigns.update(workspace, current.campaign_id, values)
        return pb.UpdateCampaignResponse(campaign=campaign_message(row, now))

    def _profile_id(self, workspace: str, request: Any, at: str = "") -> str:
        which = request.WhichOneof("profile")
        if which is None:
            raise InvalidArgument.field(f"{at}profile", "give an identifier or the profile_id")
        if which == "profile_id":
            if not request.profile_id or len(request.profile_id) > 64:
                raise InvalidArgument.field(f"{at}profile_id", "must be 1..64 characters")
            return str(request.profile_id)
        kind, value = stored_key(
            self.hasher, workspace, request.identifier, field=f"{at}identifier"
        )
        with self.db.read() as session:
            found = session.execute(
                select(ms_identities.c.profile_id).where(
                    ms_identities.c.workspace_id == workspace,
                    ms_identities.c.kind == kind,
                    ms_identities.c.value == value,
                )
            ).scalar_one_or_none()
        if found:
            return str(found)
        try:
            answer = self.profiles.GetProfile(
                profile_pb2.GetProfileRequest(identifier=request.identifier),
                timeout=self.deadline_s,
                metadata=workspace_metadata(workspace),
            )
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            if code == grpc.StatusCode.NOT_FOUND:
                if at:
                    raise InvalidArgument.field(
                        f"{at}identifier", "no profile has this identifier"
                    ) from exc
                raise NotFound("no profile has this identifier") from exc
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgument.field(f"{at}identifier", exc.details() or "invalid") from exc
            raise Unavailable("the profile service does not answer; try again") from exc
        return answer.profile.profile_id

    def GetAssignment(
        self, request: pb.GetAssignmentRequest, context: grpc.ServicerContext
    ) -> pb.GetAssignmentResponse:
        workspace = workspace_of(context)
        campaign = self.campaigns.get(workspace, self._campaign_id(request.campaign_id))
        profile_id = self._profile_id(workspace, request)
        row = self.campaigns.assignment(workspace, campaign.campaign_id, profile_id)
        if row is None:
            now = datetime.now(UTC)
            if campaign.status(now) == pb.CAMPAIGN_STATUS_SCHEDULED:
                raise FailedPrecondition("the campaign has not started: nobody is assigned yet")
            if campaign.external_assignment:
                raise NotFound(f"the sender recorded no assignment of profile {profile_id}")
            raise NotFound(
                f"profile {profile_id} is not in the campaign's audience: not a member of segment "
                f"{campaign.segment_id} released on its channel (consent) at the latest enrollment"
            )
        response = pb.GetAssignmentResponse(
            arm_id=row.arm_id,
            holdout=row.arm_id == HOLDOUT,
            bucket=row.bucket,
            profile_id=profile_id,
            assigned_at=to_timestamp(_utc(row.assigned_at)),
        )
        if campaign.send_time_optimization and row.arm_id != HOLDOUT and self.send_times:
            send_at = self.send_times.next_send_at(
                workspace, profile_id, campaign.channel, campaign.time_zone
            )
            if send_at is not None:
                response.send_at.CopyFrom(to_timestamp(send_at))
        return response

    def RecordAssignments(
        self, request: pb.RecordAssignmentsRequest, context: grpc.ServicerContext
    ) -> pb.RecordAssignmentsResponse:
        """Assignments the sender made; validated whole before anything is written, so a refused
        request records nothing. The first assignment of a profile stays (a retry changes
        nothing; a different arm is counted as conflicting and left alone)."""
        workspace = workspace_of(context)
        campaign = self.campaigns.get(workspace, self._campaign_id(request.campaign_id))
        if not campaign.external_assignment:
            raise FailedPrecondition(
                "the campaign assigns its audience itself (create it with external_assignment)"
            )
        if not 1 <= len(request.assignments) <= MAX_RECORDED:
            raise InvalidArgument.field("assignments", f"give 1..{MAX_RECORDED} assignments")
        now = datetime.now(UTC)
        arms = {a.arm_id for a in campaign.arms} | {HOLDOUT}
        violations: list[Violation] = []
        rows: dict[str, dict[str, Any]] = {}
        for i, item in enumerate(request.assignments):
            at = f"assignments[{i}]."
            if item.arm_id not in arms:
                violations.append(
                    Violation(
                        f"{at}arm_id", f"not an arm of the campaign ({', '.join(sorted(arms))})"
                    )
                )
            if not item.HasField("assigned_at"):
                violations.append(Violation(f"{at}assigned_at", "give when it was assigned"))
                continue
            when = _utc(item.assigned_at.ToDatetime())
            if when > now + timedelta(minutes=5):
                violations.append(Violation(f"{at}assigned_at", "is in the future"))
            elif when < campaign.start_time:
                violations.append(Violation(f"{at}assigned_at", "is before the campaign's start"))
            try:
                pid = self._profile_id(workspace, item, at)
            except InvalidArgument as exc:
                violations.extend(exc.violations)
                continue
            if pid in rows:
                violations.append(Violation(f"{at}profile", "the same profile is given twice"))
                continue
            rows[pid] = {
                "workspace_id": workspace,
                "campaign_id": campaign.campaign_id,
                "profile_id": pid,
                "arm_id": item.arm_id,
                "bucket": bucket_of(workspace, campaign.campaign_id, pid),
                "assigned_at": when,
            }
        if violations:
            raise InvalidArgument("invalid assignments", violations[:100])
        recorded, unchanged, conflicting = self.campaigns.record(
            workspace, campaign.campaign_id, list(rows.values())
        )
        return pb.RecordAssignmentsResponse(
            recorded=recorded, unchanged=unchanged, conflicting=conflicting
        )

    def ListCampaignSubjects(
        self, request: pb.ListCampaignSubjectsRequest, context: grpc.ServicerContext
    ) -> pb.ListCampaignSubjectsResponse:
        workspace = workspace_of(context)
        campaign = self.campaigns.get(workspace, self._campaign_id(request.campaign_id))
        if not 0 <= request.page_size <= MAX_SUBJECTS_PAGE:
            raise InvalidArgument.field(
                "page_size",
                f"must be between 1 and {MAX_SUBJECTS_PAGE} (0 means {DEFAULT_SUBJECTS_PAGE})",
            )
        size = request.page_size or DEFAULT_SUBJECTS_PAGE
        now = datetime.now(UTC)
        as_of, after = subjects_after(request.page_token) if request.page_token else (now, "")
        as_of = min(as_of, now)
        # The subjects are counted once per listing (load_subjects is the report's own
        # counting, vectorized) and the latest listing is kept, so the pages of a trainer
        # paging through a large campaign slice one computation; another replica, or a listing
        # evicted by another, counts again, as of the same time, so the pages still agree:
        # pages after the first count as of the first page's time.
        key = (workspace, campaign.campaign_id, as_of)
        with self._listing_lock:
            cached = self._listing
        if cached is not None and cached[0] == key:
            found = cached[1]
        else:
            found = campaign_subjects(self.db, campaign, as_of)
            with self._listing_lock:
                self._listing = (key, found)
        start = bisect.bisect_right(found.profile_ids, after) if after else 0
        stop = min(start + size, len(found.profile_ids))
        response = pb.ListCampaignSubjectsResponse(
            total_subjects=len(found.profile_ids),
            primary_metric=campaign.primary_metric,  # type: ignore[arg-type]
        )
        for i in range(start, stop):
            response.subjects.append(
                pb.CampaignSubject(
                    profile_id=found.profile_ids[i],
                    arm_id=found.arm_ids[i],
                    holdout=bool(found.holdout[i]),
                    assigned_at=to_timestamp(
                        datetime.fromtimestamp(float(found.assigned_at[i]), UTC)
                    ),
                    conversions=int(found.conversions[i]),
                    revenue=float(found.revenue[i]),
                    outcome=float(found.outcome[i]),
                )
            )
        if stop < len(found.profile_ids):
            response.next_page_token = subjects_token(as_of, found.profile_ids[stop - 1])
        return response

    # ---- reports ---------------------------------------------------------------------------

    def _report(self, context: grpc.ServicerContext, request: Any) -> pb.CampaignReport:
        workspace = workspace_of(context)
        campaign = self.campaigns.get(workspace, self._campaign_id(request.campaign_id))
        level = confidence(request.confidence_level)
        now = datetime.now(UTC)
        as_of = _utc(request.as_of.ToDatetime()) if request.HasField("as_of") else now
        as_of = min(as_of, now)
        report = build_report(self.db, campaign, as_of, level)
        report.campaign.CopyFrom(campaign_message(campaign, now))
        error = self.enroller.errors.get((workspace, campaign.campaign_id))
        if error:
            report.warnings.append(f"the latest enrollment failed ({error}): assignment is behind")
        return report

    def GetCampaignReport(
        self, request: pb.GetCampaignReportRequest, context: grpc.ServicerContext
    ) -> pb.GetCampaignReportResponse:
        return pb.GetCampaignReportResponse(report=self._report(context, request))

    def GetCampaignReportPage(
        self, request: pb.GetCampaignReportPageRequest, context: grpc.ServicerContext
    ) -> pb.GetCampaignReportPageResponse:
        report = self._report(context, request)
        if self.render_page is None:
            raise FailedPrecondition("this build has no report page renderer")
        return pb.GetCampaignReportPageResponse(
            html=self.render_page(report), content_type="text/html; charset=utf-8"
        )

    # ---- pure statistics -------------------------------------------------------------------

    def Analyze(
        self, request: pb.AnalyzeRequest, context: grpc.ServicerContext
    ) -> pb.AnalyzeResponse:
        workspace_of(context)
        metric = METRIC_TYPES.get(request.metric_type)
        if metric is None:
            raise InvalidArgument.field("metric_type", "choose proportion, mean or ratio")
        level = confidence(request.confidence_level)
        if (
            not math.isfinite(request.sequential_mixture_variance)
            or request.sequential_mixture_variance < 0
        ):
            raise InvalidArgument.field(
                "sequential_mixture_variance", "must be a number >= 0 (0 picks one)"
            )
        arms = arm_statistics(request.arms, metric, request.cuped)
        result = library(
            "arms",
            lambda: stats.analyze(
                metric,
                arms,
                confidence_level=level,
                cuped=request.cuped,
                sequential_mixture_variance=request.sequential_mixture_variance,
            ),
        )
        response = pb.AnalyzeResponse(
            arms=[messages.arm_summary(s) for s in result.arms],
            lifts=[messages.lift(r) for r in result.lifts],
            srm=messages.srm(result.srm),
        )
        warnings = [*result.warnings, *result.srm.warnings]
        for lift in result.lifts:
            warnings.extend(f"arm {lift.arm}: {w}" for w in lift.warnings)
        response.warnings.extend(warnings)
        return response

    def PlanPower(
        self, request: pb.PlanPowerRequest, context: grpc.ServicerContext
    ) -> pb.PlanPowerResponse:
        workspace_of(context)
        metric = METRIC_TYPES.get(request.metric_type)
        if metric is None:
            raise InvalidArgument.field("metric_type", "choose proportion or mean")
        target = request.WhichOneof("target")
        if target is None:
            raise InvalidArgument.field("target", "give relative_mde or total_units")
        plan = library(
            "target",
            lambda: power.plan_power(
                power.PowerPlanRequest(
                    metric_type=metric,
                    baseline=request.baseline,
                    standard_deviation=request.standard_deviation,
                    alpha=request.alpha,
                    power=request.power,
                    treatment_arms=request.treatment_arms,
                    control_share=request.control_share,
                    variance_reduction=request.variance_reduction,
                    daily_units=request.daily_units,
                    relative_mde=request.relative_mde if target == "relative_mde" else None,
                    total_units=request.total_units if target == "total_units" else None,
                )
            ),
        )
        return pb.PlanPowerResponse(
            control_units=plan.control_units,
            treatment_units_per_arm=plan.treatment_units_per_arm,
            total_units=plan.total_units,
            absolute_mde=messages.number(plan.absolute_mde),
            relative_mde=messages.number(plan.relative_mde),
            duration_days=messages.number(plan.duration_days),
            warnings=list(plan.warnings),
        )

    def EvaluateUplift(
        self, request: pb.EvaluateUpliftRequest, context: grpc.ServicerContext
    ) -> pb.EvaluateUpliftResponse:
        workspace = workspace_of(context)
        fractions = list(request.fractions) or list(uplift.DEFAULT_FRACTIONS)
        for i, f in enumerate(fractions):
            if not math.isfinite(f) or not 0 < f <= 1:
                raise InvalidArgument.field(f"fractions[{i}]", "must be in (0, 1]")
        points = request.curve_points or uplift.DEFAULT_CURVE_POINTS
        if not 2 <= points <= uplift.MAX_CURVE_POINTS:
            raise InvalidArgument.field("curve_points", "must be between 2 and 1000 (0 means 20)")
        campaign: CampaignRow | None = None
        unmatched = 0
        if request.observations:
            if len(request.observations) > MAX_OBSERVATIONS:
                raise InvalidArgument.field("observations", f"at most {MAX_OBSERVATIONS}")
            scores = np.array([o.score for o in request.observations], dtype=np.float64)
            treated = np.array([o.treated for o in request.observations], dtype=bool)
            outcome = np.array([o.outcome for o in request.observations], dtype=np.float64)
            for name, values in (("score", scores), ("outcome", outcome)):
                bad = np.flatnonzero(~np.isfinite(values))
                if bad.size:
                    raise InvalidArgument.field(
                        f"observations[{int(bad[0])}].{name}", "must be a finite number"
                    )
        elif request.campaign_id:
            campaign = self.campaigns.get(workspace, self._campaign_id(request.campaign_id))
            if len(request.scores) > MAX_OBSERVATIONS:
                raise InvalidArgument.field("scores", f"at most {MAX_OBSERVATIONS}")
            if not request.scores and not campaign.targeting_model_id:
                raise InvalidArgument.field(
                    "scores",
                    "give a score per profile, or create the campaign with a targeting_model_id",
                )
            given = self._scores(workspace, request.scores) if request.scores else None
            pids, treated_all, outcome_all = campaign_outcomes(self.db, campaign, datetime.now(UTC))
            if given is None:
                given, scored = self._model_scores(workspace, campaign.targeting_model_id, pids)
            else:
                scored = len(request.scores)
            keep = np.array([p in given for p in pids], dtype=bool)
            scores = np.array([given[p] for p, k in zip(pids, keep, strict=True) if k])
            treated, outcome = treated_all[keep], outcome_all[keep]
            unmatched = scored - int(keep.sum())
            if not keep.any():
                if request.scores:
                    raise FailedPrecondition(
                        "none of the scored profiles is assigned in the campaign"
                    )
                raise FailedPrecondition(
                    f"targeting model {campaign.targeting_model_id} scores none of the "
                    "campaign's subjects"
                )
        else:
            raise InvalidArgument.field("observations", "give observations or a campaign_id")
        result = library(
            "observations",
            lambda: uplift.evaluate_uplift(
                scores, treated, outcome, fractions=fractions, curve_points=points
            ),
        )
        response = messages.uplift_response(result)
        if campaign is not None:
            response.unmatched_scores = unmatched
            with self.db.write() as session:
                table = ms_uplift
                session.execute(
                    table.delete().where(
                        table.c.workspace_id == workspace,
                        table.c.campaign_id == campaign.campaign_id,
                    )
                )
                session.execute(
                    table.insert().values(
                        workspace_id=workspace,
                        campaign_id=campaign.campaign_id,
                        evaluation=response.SerializeToString(),
                        evaluated_at=datetime.now(UTC),
                    )
                )
        return response

    def _model_scores(
        self, workspace: str, model_id: str, subjects: Sequence[str]
    ) -> tuple[dict[str, float], int]:
        """The current scores of a targeting model, from segmentation, every page: (the scores
        of the campaign's subjects, how many scores were read). Only the subjects' scores are
        kept, so memory follows the campaign, not the model's whole population."""
        wanted = set(subjects)
        found: dict[str, float] = {}
        scored, token = 0, ""
        while True:
            try:
                page = self.segments.ListModelScores(
                    segmentation_pb2.ListModelScoresRequest(
                        model_id=model_id, page_size=MODEL_SCORES_PAGE, page_token=token
                    ),
                    timeout=self.deadline_s,
                    metadata=workspace_metadata(workspace),
                )
            except grpc.RpcError as exc:
                code = exc.code() if hasattr(exc, "code") else None
                if code in (
                    grpc.StatusCode.NOT_FOUND,
                    grpc.StatusCode.FAILED_PRECONDITION,
                    grpc.StatusCode.INVALID_ARGUMENT,
                ):
                    raise FailedPrecondition(
                        f"the campaign's targeting model {model_id} has no scores to evaluate "
                        f"({exc.details() or getattr(code, 'name', code)}); give the scores"
                    ) from exc
                # Anything else is the dependency failing: retryable, never INTERNAL here.
                raise Unavailable("the segmentation service does not answer; try again") from exc
            for item in page.scores:
                scored += 1
                # A non-finite score cannot rank anyone: left out, counted as unmatched.
                if item.profile_id in wanted and math.isfinite(item.score):
                    found[item.profile_id] = item.score
            token = page.next_page_token
            if not token:
                return found, scored

    def _scores(self, workspace: str, scores: Sequence[pb.ProfileScore]) -> dict[str, float]:
        """Profile id -> score; identifiers are resolved through the identities this service
        holds (from the profile_changes feed), in bulk. Unknown identifiers are left out."""
        given: dict[str, float] = {}
        wanted: dict[tuple[str, str], float] = {}
        for i, s in enumerate(scores):
            if not math.isfinite(s.score):
                raise InvalidArgument.field(f"scores[{i}].score", "must be a finite number")
            if s.profile_id:
                if len(s.profile_id) > 64:
                    raise InvalidArgument.field(f"scores[{i}].profile_id", "at most 64 characters")
                given[s.profile_id] = s.score
            elif s.HasField("identifier"):
                key = stored_key(
                    self.hasher, workspace, s.identifier, field=f"scores[{i}].identifier"
                )
                wanted[key] = s.score
            else:
                raise InvalidArgument.field(f"scores[{i}]", "give the profile_id or an identifier")
        by_kind: dict[str, list[str]] = {}
        for kind, value in wanted:
            by_kind.setdefault(kind, []).append(value)
        i_ = ms_identities.c
        with self.db.read() as session:
            for kind, values in by_kind.items():
                for start in range(0, len(values), 500):
                    for value, pid in session.execute(
                        select(i_.value, i_.profile_id).where(
                            i_.workspace_id == workspace,
                            i_.kind == kind,
                            i_.value.in_(values[start : start + 500]),
                        )
                    ):
                        given.setdefault(pid, wanted[(kind, value)])
        return given

    def ComputeAttribution(
        self, request: pb.ComputeAttributionRequest, context: grpc.ServicerContext
    ) -> pb.ComputeAttributionResponse:
        workspace = workspace_of(context)
        models = []
        for i, m in enumerate(request.models):
            if m == 0 or m not in pb.AttributionModel.values():
                raise InvalidArgument.field(f"models[{i}]", "unknown attribution model")
            models.append(attribution.AttributionModel(m))
        half_life = (
            _duration(request.half_life) if request.HasField("half_life") else timedelta(0)
        ) or timedelta(days=7)
        first = request.first_touch_weight or 0.4
        last = request.last_touch_weight or 0.4
        for name, value in (("first_touch_weight", first), ("last_touch_weight", last)):
            if not math.isfinite(value) or not 0 <= value <= 1:
                raise InvalidArgument.field(name, "must be between 0 and 1 (0 means 0.4)")
        if first + last > 1:
            raise InvalidArgument.field("last_touch_weight", "first + last must not exceed 1")
        if half_life <= timedelta(0):
            raise InvalidArgument.field("half_life", "must be positive (0 means 7 days)")
        if request.journeys:
            journeys = journeys_of(request.journeys)
        else:
            journeys = self._stored_journeys(workspace, request)
        result = library(
            "journeys",
            lambda: attribution.compute_attribution(
                journeys,
                models=models,
                half_life=half_life,
                first_touch_weight=first,
                last_touch_weight=last,
            ),
        )
        return messages.attribution_response(result)

    def _stored_journeys(
        self, workspace: str, request: pb.ComputeAttributionRequest
    ) -> list[attribution.Journey]:
        from precis_measurement.journeys import stored_journeys

        if not request.HasField("start") or not request.HasField("end"):
            raise InvalidArgument.field("start", "give start and end (or journeys)")
        start, end = _utc(request.start.ToDatetime()), _utc(request.end.ToDatetime())
        if end <= start:
            raise InvalidArgument.field("end", "must be after start")
        if end - start > timedelta(days=366):
            raise InvalidArgument.field("end", "at most 366 days after start")
        lookback = (
            _duration(request.lookback) if request.HasField("lookback") else timedelta(0)
        ) or timedelta(days=30)
        if not timedelta(0) < lookback <= timedelta(days=365):
            raise InvalidArgument.field("lookback", "must be 1 second..365 days (0 means 30)")
        field = request.channel_field or "campaign.source"
        if field not in ("campaign.source", "campaign.medium"):
            raise InvalidArgument.field(
                "channel_field", 'must be "campaign.source" or "campaign.medium"'
            )
        if len(request.conversion_event) > 200:
            raise InvalidArgument.field("conversion_event", "at most 200 characters")
        return stored_journeys(
            self.db,
            workspace,
            start=start,
            end=end,
            conversion_event=request.conversion_event or "Order Completed",
            lookback=lookback,
            by_medium=field == "campaign.medium",
            limit=MAX_JOURNEYS,
        )

    def GetBestSendTimes(
        self, request: pb.GetBestSendTimesRequest, context: grpc.ServicerContext
    ) -> pb.GetBestSendTimesResponse:
        workspace = workspace_of(context)
        if not 1 <= len(request.profile_ids) <= 1000:
            raise InvalidArgument.field("profile_ids", "give 1..1000 profile ids")
        for i, pid in enumerate(request.profile_ids):
            if not pid or len(pid) > 64:
                raise InvalidArgument.field(f"profile_ids[{i}]", "must be 1..64 characters")
        if request.channel not in segmentation_pb2.Channel.values():
            raise InvalidArgument.field("channel", "unknown channel")
        zone = valid_time_zone(request.time_zone, "time_zone")
        if self.send_times is None:
            raise FailedPrecondition("send-time optimization is not available in this build")
        return self.send_times.best(workspace, list(request.profile_ids), request.channel, zone)


class MeasurementPrivacyServicer(SubjectPrivacyServicer):
    def __init__(self, privacy: MeasurementPrivacy, hasher: PiiHasher) -> None:
        super().__init__(SERVICE_NAME, privacy, hasher)
