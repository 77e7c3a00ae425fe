"""Campaign measurement (效果评估) through the measurement service: campaigns with arms and a
holdout, a person's assignment, the report as JSON and as a page with charts, uplift evaluation of
a campaign's scores, and the pure statistics (analysis of arms' sufficient statistics, power
planning, uplift of given observations, attribution, best send times).

Scopes: `campaigns:read` for everything that reads, except the listing of a campaign's subjects
(each person's arm and outcomes: `profiles:read`), `campaigns:write` to create and change
campaigns and to record an uplift evaluation in a campaign's report. A person's assignment and
the listing of a campaign's subjects are reads of personal data and are audited. Unknown query
parameters are refused by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse

from precis.measurement.v1 import measurement_pb2 as pb
from precis.segmentation.v1 import segmentation_pb2
from precis_common.feed import to_timestamp
from precis_common.identifiers import MAX_IDENTIFIER_LENGTH
from precis_gateway import measurement_models as m
from precis_gateway.deps import (
    MeasurementStub,
    SettingsDep,
    WorkspaceDep,
    documented_query_only,
    requires,
)
from precis_gateway.errors import ApiError, ErrorDetail
from precis_gateway.profile_views import identifier_from_path
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.scopes import Scope
from precis_gateway.upstream import call

SERVICE = "measurement"

METRICS: dict[str, int] = {
    "conversion_rate": pb.METRIC_CONVERSION_RATE,
    "revenue_per_user": pb.METRIC_REVENUE_PER_USER,
    "average_order_value": pb.METRIC_AVERAGE_ORDER_VALUE,
    "repurchase_rate": pb.METRIC_REPURCHASE_RATE,
}
METRIC_NAMES = {v: k for k, v in METRICS.items()}
CHANNELS: dict[str, int] = {
    "email": segmentation_pb2.CHANNEL_EMAIL,
    "sms": segmentation_pb2.CHANNEL_SMS,
    "push": segmentation_pb2.CHANNEL_PUSH,
    "ads": segmentation_pb2.CHANNEL_ADS,
    "onsite": segmentation_pb2.CHANNEL_ONSITE,
}
CHANNEL_NAMES = {v: k for k, v in CHANNELS.items()}
STATUSES: dict[str, int] = {
    "scheduled": pb.CAMPAIGN_STATUS_SCHEDULED,
    "running": pb.CAMPAIGN_STATUS_RUNNING,
    "ended": pb.CAMPAIGN_STATUS_ENDED,
}
STATUS_NAMES = {v: k for k, v in STATUSES.items()}
METRIC_TYPES: dict[str, int] = {
    "proportion": pb.METRIC_TYPE_PROPORTION,
    "mean": pb.METRIC_TYPE_MEAN,
    "ratio": pb.METRIC_TYPE_RATIO,
}
TESTS = {
    pb.STATISTICAL_TEST_WELCH_T: "welch_t",
    pb.STATISTICAL_TEST_DELTA_METHOD: "delta_method",
    pb.STATISTICAL_TEST_TWO_PROPORTION_Z: "two_proportion_z",
}
MODELS: dict[str, int] = {
    "first_touch": pb.ATTRIBUTION_MODEL_FIRST_TOUCH,
    "last_touch": pb.ATTRIBUTION_MODEL_LAST_TOUCH,
    "linear": pb.ATTRIBUTION_MODEL_LINEAR,
    "time_decay": pb.ATTRIBUTION_MODEL_TIME_DECAY,
    "position_based": pb.ATTRIBUTION_MODEL_POSITION_BASED,
    "markov": pb.ATTRIBUTION_MODEL_MARKOV,
    "shapley": pb.ATTRIBUTION_MODEL_SHAPLEY,
}
MODEL_NAMES = {v: k for k, v in MODELS.items()}
# The report page is self-contained: it may load nothing, run no script and send nothing.
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'"
# The service's field paths that the REST body names differently.
CAMPAIGN_FIELDS = {
    "campaign.attribution_window": "attribution_window_hours",
    "campaign.pre_period": "pre_period_days",
}

_responses = error_responses(401, 403, 404, 422, *UPSTREAM_ERRORS)
router = APIRouter(
    tags=["campaigns"], responses=_responses, dependencies=[Depends(documented_query_only)]
)

CampaignId = Annotated[
    str, Path(min_length=1, max_length=64, description="The campaign's id.", examples=["c0ffee"])
]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="`next_cursor` of the previous page."),
]
SubjectsCursor = Annotated[
    str | None,
    Query(min_length=1, max_length=256, description="`next_cursor` of the previous page."),
]
AsOf = Annotated[datetime | None, Query(description="Include data up to this time (default: now).")]
Level = Annotated[
    float, Query(ge=0.8, le=0.999, description="Confidence level of intervals and tests.")
]


# ---- views ---------------------------------------------------------------------------------


def _time(message: Any, name: str) -> datetime | None:
    return getattr(message, name).ToDatetime(tzinfo=UTC) if message.HasField(name) else None


def campaign_view(c: pb.Campaign) -> m.Campaign:
    return m.Campaign(
        campaign_id=c.campaign_id,
        name=c.name,
        description=c.description,
        segment_id=c.segment_id,
        channel=CHANNEL_NAMES.get(c.channel, "email"),  # type: ignore[arg-type]
        arms=[m.Arm(arm_id=a.arm_id, description=a.description, weight=a.weight) for a in c.arms],
        holdout_share=c.holdout_share,
        start_time=c.start_time.ToDatetime(tzinfo=UTC),
        end_time=c.end_time.ToDatetime(tzinfo=UTC),
        primary_metric=METRIC_NAMES.get(c.primary_metric, "conversion_rate"),  # type: ignore[arg-type]
        secondary_metrics=[METRIC_NAMES[x] for x in c.secondary_metrics if x in METRIC_NAMES],  # type: ignore[misc]
        conversion_event=c.conversion_event,
        revenue_property=c.revenue_property,
        attribution_window_hours=c.attribution_window.ToTimedelta() / timedelta(hours=1),
        cost_per_send=c.cost_per_send,
        fixed_cost=c.fixed_cost,
        currency=c.currency,
        pre_period_days=c.pre_period.ToTimedelta() / timedelta(days=1),
        min_cell_size=c.min_cell_size,
        targeting_model_id=c.targeting_model_id,
        send_time_optimization=c.send_time_optimization,
        time_zone=c.time_zone,
        external_assignment=c.external_assignment,
        status=STATUS_NAMES.get(c.status, "scheduled"),  # type: ignore[arg-type]
        created_at=c.created_at.ToDatetime(tzinfo=UTC),
        updated_at=c.updated_at.ToDatetime(tzinfo=UTC),
    )


def _interval(i: pb.ConfidenceInterval) -> m.Interval:
    return m.Interval(lower=i.lower, upper=i.upper)


def _estimate(e: pb.Estimate) -> m.Estimate:
    return m.Estimate(value=e.value, interval=_interval(e.interval))


def lift_view(lift: pb.LiftResult) -> m.Lift:
    return m.Lift(
        arm=lift.arm,
        control_arm=lift.control_arm,
        metric=METRIC_NAMES.get(lift.metric),  # type: ignore[arg-type]
        test=TESTS.get(lift.test, "unspecified"),  # type: ignore[arg-type]
        control_value=lift.control_value,
        treatment_value=lift.treatment_value,
        absolute_lift=_estimate(lift.absolute_lift),
        relative_lift=_estimate(lift.relative_lift),
        p_value=lift.p_value,
        holm_p_value=lift.holm_p_value,
        bh_p_value=lift.bh_p_value,
        significant=lift.significant,
        cuped=m.Cuped(
            theta=lift.cuped.theta,
            variance_reduction=lift.cuped.variance_reduction,
            absolute_lift=_estimate(lift.cuped.absolute_lift),
            relative_lift=_estimate(lift.cuped.relative_lift),
            p_value=lift.cuped.p_value,
        )
        if lift.HasField("cuped")
        else None,
        sequential=m.Sequential(
            p_value=lift.sequential.p_value,
            absolute_lift_interval=_interval(lift.sequential.absolute_lift_interval),
            can_stop=lift.sequential.can_stop,
            mixture_variance=lift.sequential.mixture_variance,
        )
        if lift.HasField("sequential")
        else None,
        chance_to_win=lift.chance_to_win,
    )


def srm_view(s: pb.SrmCheck) -> m.Srm:
    return m.Srm(
        chi_square=s.chi_square,
        degrees_of_freedom=s.degrees_of_freedom,
        p_value=s.p_value,
        mismatch=s.mismatch,
        arms=[
            m.SrmArm(
                arm=a.arm, observed=a.observed, expected_share=a.expected_share, expected=a.expected
            )
            for a in s.arms
        ],
    )


def uplift_view(u: pb.EvaluateUpliftResponse) -> m.UpliftEvaluation:
    return m.UpliftEvaluation(
        qini_coefficient=u.qini_coefficient,
        auuc=u.auuc,
        random_auuc=u.random_auuc,
        uplift_at_k=[
            m.UpliftAtFraction(
                fraction=x.fraction, uplift=x.uplift, treated=x.treated, control=x.control
            )
            for x in u.uplift_at_k
        ],
        curve=[
            m.UpliftCurvePoint(
                fraction=p.fraction,
                qini=p.qini,
                uplift_gain=p.uplift_gain,
                random=p.random,
                qini_random=p.qini_random,
            )
            for p in u.curve
        ],
        deciles=[
            m.UpliftDecile(
                decile=d.decile,
                treated=d.treated,
                control=d.control,
                treated_mean=d.treated_mean,
                control_mean=d.control_mean,
                uplift=d.uplift,
                cumulative_gain=d.cumulative_gain,
            )
            for d in u.deciles
        ],
        treated=u.treated,
        control=u.control,
        unmatched_scores=u.unmatched_scores,
    )


def attribution_view(a: pb.ComputeAttributionResponse) -> m.Attribution:
    return m.Attribution(
        results=[
            m.ModelAttribution(
                model=MODEL_NAMES.get(r.model, "linear"),  # type: ignore[arg-type]
                credits=[
                    m.ChannelCredit(
                        channel=c.channel,
                        conversions=c.conversions,
                        revenue=c.revenue,
                        share=c.share,
                        removal_effect=c.removal_effect,
                    )
                    for c in r.credits
                ],
            )
            for r in a.results
        ],
        journeys=a.journeys,
        conversions=a.conversions,
        revenue=a.revenue,
    )


def report_view(r: pb.CampaignReport) -> m.CampaignReport:
    return m.CampaignReport(
        campaign=campaign_view(r.campaign),
        as_of=r.as_of.ToDatetime(tzinfo=UTC),
        confidence_level=r.confidence_level,
        arms=[
            m.ArmResult(
                arm_id=a.arm_id,
                holdout=a.holdout,
                suppressed=a.suppressed,
                subjects=a.subjects,
                sends=a.sends,
                converters=a.converters,
                conversions=a.conversions,
                conversion_rate=a.conversion_rate,
                revenue=a.revenue,
                revenue_per_user=a.revenue_per_user,
                average_order_value=a.average_order_value,
                repurchasers=a.repurchasers,
                repurchase_rate=a.repurchase_rate,
                cost=a.cost,
            )
            for a in r.arms
        ],
        lifts=[lift_view(x) for x in r.lifts],
        impacts=[
            m.ArmImpact(
                arm_id=i.arm_id,
                incremental_conversions=_estimate(i.incremental_conversions),
                incremental_revenue=_estimate(i.incremental_revenue),
                cost=i.cost,
                roi=i.roi,
                cost_per_incremental_conversion=i.cost_per_incremental_conversion,
            )
            for i in r.impacts
        ],
        srm=srm_view(r.srm) if r.HasField("srm") else None,
        cumulative_lift=[
            m.LiftPoint(
                arm_id=p.arm_id,
                time=p.time.ToDatetime(tzinfo=UTC),
                subjects=p.subjects,
                relative_lift=_estimate(p.relative_lift),
            )
            for p in r.cumulative_lift
        ],
        warnings=list(r.warnings),
        uplift=uplift_view(r.uplift) if r.HasField("uplift") else None,
        attribution=attribution_view(r.attribution) if r.HasField("attribution") else None,
        excluded_without_consent=r.excluded_without_consent,
        overlaps=[m.Overlap(campaign_id=o.campaign_id, subjects=o.subjects) for o in r.overlaps],
    )


# ---- campaigns -------------------------------------------------------------------------------


@router.post(
    "/v1/campaigns",
    status_code=201,
    summary="Create a campaign",
    description=(
        "A campaign reaches a segment on a channel, split into arms and a holdout that is not "
        "contacted. While it runs, the segment's members whose consent allows the channel are "
        "assigned to an arm by a deterministic hash of (workspace, campaign, profile) and the "
        "assignment is logged; members without that consent are counted, never assigned. "
        "Overlapping campaigns on the same segment and channel are allowed and flagged in "
        "`warnings`."
    ),
    dependencies=[requires(Scope.CAMPAIGNS_WRITE)],
)
def create_campaign(
    body: m.CampaignBody, workspace: WorkspaceDep, stub: MeasurementStub, settings: SettingsDep
) -> m.CreatedCampaign:
    campaign = pb.Campaign(
        name=body.name,
        description=body.description,
        segment_id=body.segment_id,
        channel=CHANNELS[body.channel],  # type: ignore[arg-type]
        arms=[
            pb.Arm(arm_id=a.arm_id, description=a.description, weight=a.weight) for a in body.arms
        ],
        holdout_share=body.holdout_share,
        end_time=to_timestamp(body.end_time),
        primary_metric=METRICS[body.primary_metric],  # type: ignore[arg-type]
        secondary_metrics=[METRICS[x] for x in body.secondary_metrics],  # type: ignore[misc]
        conversion_event=body.conversion_event,
        revenue_property=body.revenue_property,
        cost_per_send=body.cost_per_send,
        fixed_cost=body.fixed_cost,
        currency=body.currency,
        min_cell_size=body.min_cell_size,
        targeting_model_id=body.targeting_model_id,
        send_time_optimization=body.send_time_optimization,
        time_zone=body.time_zone,
        external_assignment=body.external_assignment,
    )
    if body.start_time is not None:
        campaign.start_time.CopyFrom(to_timestamp(body.start_time))
    campaign.attribution_window.FromTimedelta(timedelta(hours=body.attribution_window_hours))
    campaign.pre_period.FromTimedelta(timedelta(days=body.pre_period_days))
    response = call(
        stub.CreateCampaign,
        pb.CreateCampaignRequest(campaign=campaign),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields={**CAMPAIGN_FIELDS, **{f"campaign.{k}": k for k in type(body).model_fields}},
    )
    return m.CreatedCampaign(
        campaign=campaign_view(response.campaign), warnings=list(response.warnings)
    )


@router.get(
    "/v1/campaigns",
    summary="List campaigns",
    description="The workspace's campaigns, newest first.",
    dependencies=[requires(Scope.CAMPAIGNS_READ)],
)
def list_campaigns(
    workspace: WorkspaceDep,
    stub: MeasurementStub,
    settings: SettingsDep,
    status: Annotated[m.CampaignStatusName | None, Query(description="Only this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Cursor = None,
) -> m.CampaignPage:
    response = call(
        stub.ListCampaigns,
        pb.ListCampaignsRequest(
            status=STATUSES[status] if status else 0,  # type: ignore[arg-type]
            page_size=limit,
            page_token=cursor or "",
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields={"page_token": "cursor", "page_size": "limit"},
    )
    return m.CampaignPage(
        campaigns=[campaign_view(c) for c in response.campaigns],
        next_cursor=response.next_page_token or None,
    )


@router.get(
    "/v1/campaigns/{campaign_id}",
    summary="Get a campaign",
    dependencies=[requires(Scope.CAMPAIGNS_READ)],
)
def get_campaign(
    campaign_id: CampaignId, workspace: WorkspaceDep, stub: MeasurementStub, settings: SettingsDep
) -> m.Campaign:
    response = call(
        stub.GetCampaign,
        pb.GetCampaignRequest(campaign_id=campaign_id),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return campaign_view(response.campaign)


@router.patch(
    "/v1/campaigns/{campaign_id}",
    summary="Change a campaign",
    description=(
        "Name, description, end time and costs; arms, holdout share and segment never change. "
        "An end time in the past stops a running campaign now."
    ),
    dependencies=[requires(Scope.CAMPAIGNS_WRITE)],
)
def update_campaign(
    campaign_id: CampaignId,
    body: m.CampaignUpdateBody,
    workspace: WorkspaceDep,
    stub: MeasurementStub,
    settings: SettingsDep,
) -> m.Campaign:
    request = pb.UpdateCampaignRequest(campaign_id=campaign_id)
    for name in ("name", "description", "cost_per_send", "fixed_cost"):
        value = getattr(body, name)
        if value is not None:
            setattr(request, name, value)
    if body.end_time is not None:
        request.end_time.CopyFrom(to_timestamp(body.end_time))
    response = call(
        stub.UpdateCampaign,
        request,
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return campaign_view(response.campaign)


@router.get(
    "/v1/campaigns/{campaign_id}/assignments/{identifier_type}/{value}",
    summary="A person's arm in a campaign",
    description=(
        "The arm (or `holdout`: do not contact) of the person with this identifier "
        "(`profile_id` names the profile itself), as logged when the audience was enrolled, "
        "and, with send-time optimization, when to send. 404 when the person is not in the "
        "campaign's audience."
    ),
    dependencies=[requires(Scope.CAMPAIGNS_READ)],
)
def get_assignment(
    campaign_id: CampaignId,
    identifier_type: Annotated[str, Path(min_length=1, max_length=80)],
    value: Annotated[str, Path(min_length=1, max_length=MAX_IDENTIFIER_LENGTH)],
    workspace: WorkspaceDep,
    stub: MeasurementStub,
    settings: SettingsDep,
) -> m.Assignment:
    request = pb.GetAssignmentRequest(campaign_id=campaign_id)
    if identifier_type == "profile_id":
        request.profile_id = value
    else:
        request.identifier.CopyFrom(identifier_from_path(identifier_type, value))
    response = call(
        stub.GetAssignment,
        request,
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields={"identifier": "value", "profile_id": "value"},
    )
    return m.Assignment(
        campaign_id=campaign_id,
        profile_id=response.profile_id,
        arm_id=response.arm_id,
        holdout=response.holdout,
        bucket=response.bucket,
        assigned_at=response.assigned_at.ToDatetime(tzinfo=UTC),
        send_at=_time(response, "send_at"),
    )


@router.post(
    "/v1/campaigns/{campaign_id}/assignments",
    summary="Record assignments the sender made",
    description=(
        "For campaigns with `external_assignment` (randomized by an e-mail service provider, or "
        "an experiment run elsewhere): each person's arm and when it was assigned, up to 10,000 "
        "per request. A request with any invalid item records nothing (422 naming "
        "`assignments[i].<field>`); a person already assigned keeps the first assignment, so a "
        "retry changes nothing."
    ),
    dependencies=[requires(Scope.CAMPAIGNS_WRITE)],
)
def record_assignments(
    campaign_id: CampaignId,
    body: m.RecordAssignmentsBody,
    workspace: WorkspaceDep,
    stub: MeasurementStub,
    settings: SettingsDep,
) -> m.RecordedAssignments:
    request = pb.RecordAssignmentsRequest(campaign_id=campaign_id)
    fields: dict[str, str] = {}
    for i, item in enumerate(body.assignments):
        message = request.assignments.add(arm_id=item.arm_id)
        message.assigned_at.CopyFrom(to_timestamp(item.assigned_at))
        if item.identifier_type == "profile_id":
            message.profile_id = item.value
        else:
            try:
                message.identifier.CopyFrom(identifier_from_path(item.identifier_type, item.value))
            except ApiError as exc:
                raise exc.with_fields(
                    {"identifier_type": f"assignments[{i}].identifier_type"}
                ) from None
        for service_field in ("identifier", "profile_id", "profile"):
            fields[f"assignments[{i}].{service_field}"] = f"assignments[{i}].value"
    response = call(
        stub.RecordAssignments,
        request,
        service=SERVICE,
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, 60.0),
        fields=fields,
    )
    return m.RecordedAssignments(
        recorded=response.recorded, unchanged=response.unchanged, conflicting=response.conflicting
    )


@router.get(
    "/v1/campaigns/{campaign_id}/subjects",
    summary="A campaign's subjects with their outcomes",
    description=(
        "Every assigned subject by profile id, with cursor pagination: its arm (or `holdout`), "
        "when it was assigned, and its conversions, revenue and outcome in the attribution "
        "window, counted as the report counts them (summed per arm they are the report's "
        "numbers): what an uplift model is trained on. Pages after the first count as of the "
        "first page's time. Each page is recorded in the audit log (resource "
        "`campaign:<id>:subjects`, the declared purpose from X-Precis-Purpose). Each "
        "person's data rather than a campaign's aggregates, so its scope is profiles:read, "
        "not campaigns:read (which reads reports, whose small cells are withheld)."
    ),
    dependencies=[requires(Scope.PROFILES_READ)],
)
def list_campaign_subjects(
    campaign_id: CampaignId,
    workspace: WorkspaceDep,
    stub: MeasurementStub,
    settings: SettingsDep,
    page_size: Annotated[int, Query(ge=1, le=10_000, description="Subjects per page.")] = 1000,
    cursor: SubjectsCursor = None,
) -> m.CampaignSubjects:
    response = call(
        stub.ListCampaignSubjects,
        pb.ListCampaignSubjectsRequest(
            campaign_id=campaign_id, page_size=page_size, page_token=cursor or ""
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, 60.0),
        fields={"page_token": "cursor"},
    )
    return m.CampaignSubjects(
        campaign_id=campaign_id,
        subjects=[
            m.CampaignSubject(
                profile_id=s.profile_id,
                arm_id=s.arm_id,
                holdout=s.holdout,
                assigned_at=s.assigned_at.ToDatetime(tzinfo=UTC),
                conversions=s.conversions,
                revenue=s.revenue,
                outcome=s.outcome,
            )
            for s in response.subjects
        ],
        next_cursor=response.next_page_token or None,
        total_subjects=response.total_subjects,
        primary_metric=METRIC_NAMES.get(response.primary_metric, "conversion_rate"),  # type: ignore[arg-type]
    )


def _report_request(request: Any, campaign_id: str, as_of: datetime | None, level: float) -> Any:
    request.campaign_id = campaign_id
    request.confidence_level = level
    if as_of is not None:
        if as_of.tzinfo is None:
            raise ApiError.invalid(
                [ErrorDetail(field="as_of", reason="give a time zone (for example Z)")]
            )
        request.as_of.CopyFrom(to_timestamp(as_of))
    return request


@router.get(
    "/v1/campaigns/{campaign_id}/report",
    summary="A campaign's report",
    description=(
        "Per arm: subjects, sends, converters, conversions, revenue, rates and cost; every arm "
        "against the holdout on the primary and secondary metrics (Welch t-test, delta method "
        "for ratios, CUPED, always-valid sequential interval, Holm and Benjamini-Hochberg "
        "across arms and metrics, chance to win); incremental conversions and revenue, ROI; "
        "the sample-ratio-mismatch check; daily cumulative lift; attribution across channels; "
        "the latest uplift evaluation; and plain-language warnings."
    ),
    dependencies=[requires(Scope.CAMPAIGNS_READ)],
)
def get_report(
    campaign_id: CampaignId,
    workspace: WorkspaceDep,
    stub: MeasurementStub,
    settings: SettingsDep,
    as_of: AsOf = None,
    confidence_level: Level = 0.95,
) -> m.CampaignReport:
    response = call(
        stub.GetCampaignReport,
        _report_request(pb.GetCampaignReportRequest(), campaign_id, as_of, confidence_level),
        service=SERVICE,
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, 60.0),
    )
    return report_view(response.report)


@router.get(
    "/v1/campaigns/{campaign_id}/report.html",
    summary="A campaign's report as a page with charts",
    description=(
        "The report as one self-contained HTML page (no external resources): conversion by arm "
        "with intervals, cumulative lift over time, lift and gain by decile, the Qini curve and "
        "attribution by channel."
    ),
    response_class=HTMLResponse,
    dependencies=[requires(Scope.CAMPAIGNS_READ)],
)
def get_report_page(
    campaign_id: CampaignId,
    workspace: WorkspaceDep,
    stub: MeasurementStub,
    settings: SettingsDep,
    as_of: AsOf = None,
    confidence_level: Level = 0.95,
) -> HTMLResponse:
    response = call(
        stub.GetCampaignReportPage,
        _report_request(pb.GetCampaignReportPageRequest(), campaign_id, as_of, confidence_level),
        service=SERVICE,
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, 60.0),
    )
    return HTMLResponse(
        response.html,
        media_type="text/html",
        headers={"Content-Security-Policy": PAGE_POLICY},
    )


@router.post(
    "/v1/campaigns/{campaign_id}/uplift-evaluations",
    summary="Evaluate scores against a campaign's outcomes",
    description=(
        "How well these scores rank the campaign's subjects by uplift (treated = any arm, "
        "control = the holdout, outcome = the primary metric): Qini, AUUC, uplift at k, curves "
        "and deciles. Without `scores` the current scores of the campaign's targeting model "
        "(`targeting_model_id`) are evaluated: 422 on `scores` when the campaign has none, 412 "
        "when the model is unknown or has no scores yet. Scores of profiles not assigned in "
        "the campaign are counted in `unmatched_scores`. The result is kept and shown in the "
        "campaign's report."
    ),
    responses=error_responses(412),
    dependencies=[requires(Scope.CAMPAIGNS_WRITE)],
)
def evaluate_campaign_uplift(
    campaign_id: CampaignId,
    body: m.CampaignUpliftBody,
    workspace: WorkspaceDep,
    stub: MeasurementStub,
    settings: SettingsDep,
) -> m.UpliftEvaluation:
    request = pb.EvaluateUpliftRequest(
        campaign_id=campaign_id, fractions=body.fractions, curve_points=body.curve_points
    )
    for i, s in enumerate(body.scores):
        score = request.scores.add(score=s.score)
        if s.profile_id is not None:
            score.profile_id = s.profile_id
        else:
            try:
                score.identifier.CopyFrom(
                    identifier_from_path(s.identifier_type or "", s.value or "")
                )
            except ApiError as exc:
                raise exc.with_fields({"identifier_type": f"scores[{i}].identifier_type"}) from None
    response = call(
        stub.EvaluateUplift,
        request,
        service=SERVICE,
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, 60.0),
    )
    return uplift_view(response)


# ---- pure statistics -------------------------------------------------------------------------


@router.post(
    "/v1/measurement/analyze",
    summary="Analyze a test from its arms' sufficient statistics",
    description=(
        "Compares every arm with the control from n, sums and sums of squares (and pre-period "
        "sums for CUPED, denominators for ratio metrics): for tests run anywhere."
    ),
    dependencies=[requires(Scope.CAMPAIGNS_READ)],
)
def analyze(
    body: m.AnalyzeBody, workspace: WorkspaceDep, stub: MeasurementStub, settings: SettingsDep
) -> m.Analysis:
    request = pb.AnalyzeRequest(
        metric_type=METRIC_TYPES[body.metric_type],  # type: ignore[arg-type]
        arms=[pb.ArmStatistics(**a.model_dump()) for a in body.arms],
        confidence_level=body.confidence_level,
        cuped=body.cuped,
        sequential_mixture_variance=body.sequential_mixture_variance,
    )
    response = call(
        stub.Analyze,
        request,
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return m.Analysis(
        arms=[
            m.ArmSummary(
                name=a.name,
                n=a.n,
                mean=a.mean,
                variance=a.variance,
                standard_error=a.standard_error,
                interval=_interval(a.interval),
                cuped_mean=a.cuped_mean,
            )
            for a in response.arms
        ],
        lifts=[lift_view(x) for x in response.lifts],
        srm=srm_view(response.srm),
        warnings=list(response.warnings),
    )


@router.post(
    "/v1/measurement/power",
    summary="Plan a test's size or minimum detectable effect",
    dependencies=[requires(Scope.CAMPAIGNS_READ)],
)
def plan_power(
    body: m.PowerBody, workspace: WorkspaceDep, stub: MeasurementStub, settings: SettingsDep
) -> m.PowerPlan:
    request = pb.PlanPowerRequest(
        metric_type=METRIC_TYPES[body.metric_type],  # type: ignore[arg-type]
        baseline=body.baseline,
        standard_deviation=body.standard_deviation,
        alpha=body.alpha,
        power=body.power,
        treatment_arms=body.treatment_arms,
        control_share=body.control_share,
        variance_reduction=body.variance_reduction,
        daily_units=body.daily_units,
    )
    if (body.relative_mde is None) == (body.total_units is None):
        raise ApiError.invalid(
            [
                ErrorDetail(
                    field="relative_mde", reason="give exactly one of relative_mde and total_units"
                )
            ]
        )
    if body.relative_mde is not None:
        request.relative_mde = body.relative_mde
    else:
        request.total_units = body.total_units or 0
    response = call(
        stub.PlanPower,
        request,
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return m.PowerPlan(
        control_units=response.control_units,
        treatment_units_per_arm=response.treatment_units_per_arm,
        total_units=response.total_units,
        absolute_mde=response.absolute_mde,
        relative_mde=response.relative_mde,
        duration_days=response.duration_days,
        warnings=list(response.warnings),
    )


@router.post(
    "/v1/measurement/uplift",
    summary="Evaluate uplift scores on observations",
    dependencies=[requires(Scope.CAMPAIGNS_READ)],
)
def evaluate_uplift(
    body: m.UpliftBody, workspace: WorkspaceDep, stub: MeasurementStub, settings: SettingsDep
) -> m.UpliftEvaluation:
    response = call(
        stub.EvaluateUplift,
        pb.EvaluateUpliftRequest(
            observations=[
                pb.UpliftObservation(score=o.score, treated=o.treated, outcome=o.outcome)
                for o in body.observations
            ],
            fractions=body.fractions,
            curve_points=body.curve_points,
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, 60.0),
    )
    return uplift_view(response)


@router.post(
    "/v1/measurement/attribution",
    summary="Multi-touch attribution",
    description=(
        "Credits conversions to channels under first touch, last touch, linear, time decay, "
        "position based, Markov removal effect and Shapley. Give `journeys`, or a period "
        "(`start`, `end`) whose stored conversions and touches (UTM sources of events, and "
        "campaign messages sent) are used."
    ),
    dependencies=[requires(Scope.CAMPAIGNS_READ)],
)
def compute_attribution(
    body: m.AttributionBody, workspace: WorkspaceDep, stub: MeasurementStub, settings: SettingsDep
) -> m.Attribution:
    request = pb.ComputeAttributionRequest(
        conversion_event=body.conversion_event,
        channel_field=body.channel_field,
        models=[MODELS[x] for x in body.models],  # type: ignore[misc]
        first_touch_weight=body.first_touch_weight,
        last_touch_weight=body.last_touch_weight,
    )
    request.lookback.FromTimedelta(timedelta(days=body.lookback_days))
    request.half_life.FromTimedelta(timedelta(days=body.half_life_days))
    for name in ("start", "end"):
        value = getattr(body, name)
        if value is not None:
            getattr(request, name).CopyFrom(to_timestamp(value))
    for journey in body.journeys:
        message = request.journeys.add(converted=journey.converted, revenue=journey.revenue)
        if journey.conversion_time is not None:
            message.conversion_time.CopyFrom(to_timestamp(journey.conversion_time))
        for touch in journey.touchpoints:
            point = message.touchpoints.add(channel=touch.channel)
            if touch.time is not None:
                point.time.CopyFrom(to_timestamp(touch.time))
    response = call(
        stub.ComputeAttribution,
        request,
        service=SERVICE,
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, 60.0),
        fields={"lookback": "lookback_days", "half_life": "half_life_days"},
    )
    return attribution_view(response)


@router.post(
    "/v1/measurement/send-times",
    summary="Best hour and weekday to send to each person",
    description=(
        "From each person's opens and clicks (of the channel, when given), shrunk toward the "
        "workspace's pattern when their history is thin."
    ),
    dependencies=[requires(Scope.CAMPAIGNS_READ)],
)
def best_send_times(
    body: m.SendTimesBody, workspace: WorkspaceDep, stub: MeasurementStub, settings: SettingsDep
) -> m.SendTimes:
    response = call(
        stub.GetBestSendTimes,
        pb.GetBestSendTimesRequest(
            profile_ids=body.profile_ids,
            channel=CHANNELS[body.channel] if body.channel else 0,  # type: ignore[arg-type]
            time_zone=body.time_zone,
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, 30.0),
    )
    return m.SendTimes(
        send_times=[
            m.SendTime(
                profile_id=s.profile_id,
                best_hour=s.best_hour,
                best_weekday=s.best_weekday,
                engagement_events=s.engagement_events,
                fallback=s.fallback,
                hourly_share=list(s.hourly_share),
                weekday_share=list(s.weekday_share),
            )
            for s in response.send_times
        ],
        workspace_best_hour=response.workspace_best_hour,
        workspace_best_weekday=response.workspace_best_weekday,
    )
