"""REST shapes of campaign measurement (效果评估): campaigns, assignments, reports, and the pure
statistics (analysis of arms' sufficient statistics, power planning, uplift evaluation,
attribution, send times). Names of enums are the contract's without their prefix, in lower case
(`conversion_rate`, `email`, `running`); durations are in hours or days as their names say.
Values the service cannot estimate (zero variance, empty arms) are 0 and a warning says why:
nothing here is ever NaN or infinite."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MetricName = Literal[
    "conversion_rate", "revenue_per_user", "average_order_value", "repurchase_rate"
]
ChannelName = Literal["email", "sms", "push", "ads", "onsite"]
CampaignStatusName = Literal["scheduled", "running", "ended"]
MetricTypeName = Literal["proportion", "mean", "ratio"]
TestName = Literal["welch_t", "delta_method", "two_proportion_z", "unspecified"]
AttributionModelName = Literal[
    "first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley"
]


class ArmBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arm_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9_]+$",
        description='Short id, unique in the campaign; "holdout" is reserved.',
        examples=["discount_10"],
    )
    description: str = Field(default="", max_length=500, description="What the arm sends.")
    weight: float = Field(
        gt=0,
        description=(
            "Relative weight among the arms; the contacted audience is split in proportion "
            "(weights that do not sum to 1 are normalized, and the response says so)."
        ),
    )


class CampaignBody(BaseModel):
    """A campaign to create. Arms, holdout share and target segment are fixed once created."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Spring bottles",
                    "segment_id": "seg-8f2c",
                    "channel": "email",
                    "arms": [
                        {"arm_id": "discount_10", "weight": 0.5},
                        {"arm_id": "free_shipping", "weight": 0.5},
                    ],
                    "holdout_share": 0.1,
                    "end_time": "2026-12-31T00:00:00Z",
                    "secondary_metrics": ["revenue_per_user"],
                    "cost_per_send": 0.02,
                    "fixed_cost": 500,
                    "currency": "CNY",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    segment_id: str = Field(min_length=1, max_length=64, description="The target segment.")
    channel: ChannelName = Field(
        description="The channel; only members with its consent purpose granted are assigned."
    )
    arms: list[ArmBody] = Field(min_length=1, max_length=10)
    holdout_share: float = Field(
        ge=0, le=0.5, description="Share held out and not contacted (0 measures no lift)."
    )
    start_time: datetime | None = Field(default=None, description="Default: now.")
    end_time: datetime = Field(description="When assignment stops.")
    primary_metric: MetricName = "conversion_rate"
    secondary_metrics: list[MetricName] = Field(default_factory=list, max_length=3)
    conversion_event: str = Field(default="Order Completed", min_length=1, max_length=200)
    revenue_property: str = Field(default="revenue", min_length=1, max_length=200)
    attribution_window_hours: float = Field(
        default=168, ge=1, le=2160, description="Conversions this long after assignment count."
    )
    cost_per_send: float = Field(default=0, ge=0)
    fixed_cost: float = Field(default=0, ge=0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    pre_period_days: float = Field(
        default=28, gt=0, le=365, description="Pre-period before the start used by CUPED."
    )
    min_cell_size: int = Field(
        default=10, ge=1, le=100_000, description="Smaller cells are suppressed in reports."
    )
    targeting_model_id: str = Field(default="", max_length=64)
    send_time_optimization: bool = Field(
        default=False,
        description="Assignments carry each person's next best time to send (`send_at`).",
    )
    time_zone: str = Field(default="", max_length=64, description="IANA zone of send times.")
    external_assignment: bool = Field(
        default=False,
        description=(
            "The sender randomizes and records assignments (POST .../assignments); the segment "
            "is not enrolled."
        ),
    )


class CampaignUpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    end_time: datetime | None = Field(
        default=None, description="A past end time stops a running campaign now."
    )
    cost_per_send: float | None = Field(default=None, ge=0)
    fixed_cost: float | None = Field(default=None, ge=0)


class Arm(BaseModel):
    arm_id: str
    description: str
    weight: float


class Campaign(BaseModel):
    campaign_id: str
    name: str
    description: str
    segment_id: str
    channel: ChannelName
    arms: list[Arm]
    holdout_share: float
    start_time: datetime
    end_time: datetime
    primary_metric: MetricName
    secondary_metrics: list[MetricName]
    conversion_event: str
    revenue_property: str
    attribution_window_hours: float
    cost_per_send: float
    fixed_cost: float
    currency: str
    pre_period_days: float
    min_cell_size: int
    targeting_model_id: str
    send_time_optimization: bool
    time_zone: str
    external_assignment: bool
    status: CampaignStatusName
    created_at: datetime
    updated_at: datetime


class CreatedCampaign(BaseModel):
    campaign: Campaign
    warnings: list[str] = Field(
        description="Caveats: weights normalized, no holdout, overlapping campaigns."
    )


class CampaignPage(BaseModel):
    campaigns: list[Campaign]
    next_cursor: str | None


class Assignment(BaseModel):
    campaign_id: str
    profile_id: str
    arm_id: str = Field(description='The arm; "holdout" for the holdout (do not contact).')
    holdout: bool
    bucket: int = Field(description="The hash bucket (0..9999) the arm came from.")
    assigned_at: datetime
    send_at: datetime | None = Field(
        description="With send-time optimization: when to send to this person."
    )


class CampaignSubject(BaseModel):
    """One assigned subject and what it did within the attribution window, counted as the
    campaign's report counts it."""

    profile_id: str = Field(description="The profile (after merges: the surviving profile).")
    arm_id: str = Field(description='The arm; "holdout" for the holdout.')
    holdout: bool
    assigned_at: datetime
    conversions: int = Field(description="Conversions attributed to the campaign.")
    revenue: float = Field(description="Their revenue.")
    outcome: float = Field(
        description=(
            "What uplift evaluation compares: the revenue when the primary metric is "
            "revenue_per_user, otherwise 1 if the subject converted and 0 if not."
        )
    )


class CampaignSubjects(BaseModel):
    """One page of a campaign's subjects, by profile id."""

    campaign_id: str
    subjects: list[CampaignSubject]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
    total_subjects: int = Field(description="Subjects in the whole campaign (every page).")
    primary_metric: MetricName = Field(description="The campaign's primary metric (the outcome).")


class RecordedAssignmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identifier_type: str = Field(
        min_length=1,
        max_length=80,
        description="`user_id`, `email`, `phone`, ..., `external:<namespace>`, or `profile_id`.",
        examples=["user_id"],
    )
    value: str = Field(min_length=1, max_length=1024)
    arm_id: str = Field(min_length=1, max_length=64, description='An arm, or "holdout".')
    assigned_at: datetime


class RecordAssignmentsBody(BaseModel):
    """Assignments the sender made (campaigns with `external_assignment`)."""

    model_config = ConfigDict(extra="forbid")

    assignments: list[RecordedAssignmentBody] = Field(min_length=1, max_length=10_000)


class RecordedAssignments(BaseModel):
    recorded: int = Field(description="Assignments recorded now.")
    unchanged: int = Field(description="Profiles already assigned: left as they were.")
    conflicting: int = Field(description="Of those, already assigned to another arm.")


class Interval(BaseModel):
    lower: float
    upper: float


class Estimate(BaseModel):
    value: float
    interval: Interval


class Cuped(BaseModel):
    theta: float
    variance_reduction: float
    absolute_lift: Estimate
    relative_lift: Estimate
    p_value: float


class Sequential(BaseModel):
    p_value: float
    absolute_lift_interval: Interval
    can_stop: bool
    mixture_variance: float


class Lift(BaseModel):
    arm: str
    control_arm: str
    metric: MetricName | None
    test: TestName
    control_value: float
    treatment_value: float
    absolute_lift: Estimate
    relative_lift: Estimate
    p_value: float
    holm_p_value: float
    bh_p_value: float
    significant: bool
    cuped: Cuped | None
    sequential: Sequential | None
    chance_to_win: float


class SrmArm(BaseModel):
    arm: str
    observed: int
    expected_share: float
    expected: float


class Srm(BaseModel):
    chi_square: float
    degrees_of_freedom: int
    p_value: float
    mismatch: bool
    arms: list[SrmArm]


class ArmResult(BaseModel):
    arm_id: str
    holdout: bool
    suppressed: bool
    subjects: int
    sends: int
    converters: int
    conversions: int
    conversion_rate: float
    revenue: float
    revenue_per_user: float
    average_order_value: float
    repurchasers: int
    repurchase_rate: float
    cost: float


class ArmImpact(BaseModel):
    arm_id: str
    incremental_conversions: Estimate
    incremental_revenue: Estimate
    cost: float
    roi: float
    cost_per_incremental_conversion: float


class LiftPoint(BaseModel):
    arm_id: str
    time: datetime
    subjects: int
    relative_lift: Estimate


class UpliftAtFraction(BaseModel):
    fraction: float
    uplift: float
    treated: int
    control: int


class UpliftCurvePoint(BaseModel):
    fraction: float
    qini: float
    uplift_gain: float
    random: float
    qini_random: float


class UpliftDecile(BaseModel):
    decile: int
    treated: int
    control: int
    treated_mean: float
    control_mean: float
    uplift: float
    cumulative_gain: float


class UpliftEvaluation(BaseModel):
    qini_coefficient: float
    auuc: float
    random_auuc: float
    uplift_at_k: list[UpliftAtFraction]
    curve: list[UpliftCurvePoint]
    deciles: list[UpliftDecile]
    treated: int
    control: int
    unmatched_scores: int = Field(
        default=0, description="Scores of people not assigned in the campaign, left out."
    )


class ChannelCredit(BaseModel):
    channel: str
    conversions: float
    revenue: float
    share: float
    removal_effect: float


class ModelAttribution(BaseModel):
    model: AttributionModelName
    credits: list[ChannelCredit]


class Attribution(BaseModel):
    results: list[ModelAttribution]
    journeys: int
    conversions: int
    revenue: float


class Overlap(BaseModel):
    campaign_id: str
    subjects: int


class CampaignReport(BaseModel):
    campaign: Campaign
    as_of: datetime
    confidence_level: float
    arms: list[ArmResult]
    lifts: list[Lift]
    impacts: list[ArmImpact]
    srm: Srm | None
    cumulative_lift: list[LiftPoint]
    warnings: list[str]
    uplift: UpliftEvaluation | None
    attribution: Attribution | None
    excluded_without_consent: int
    overlaps: list[Overlap]


class ProfileScore(BaseModel):
    """A person's score: by `profile_id`, or by an identifier (`identifier_type`, `value`)."""

    model_config = ConfigDict(extra="forbid")

    profile_id: str | None = Field(default=None, min_length=1, max_length=64)
    identifier_type: str | None = Field(
        default=None, min_length=1, max_length=80, examples=["user_id"]
    )
    value: str | None = Field(default=None, min_length=1, max_length=1024)
    score: float

    @model_validator(mode="after")
    def _one_person(self) -> ProfileScore:
        if (self.profile_id is None) == (self.identifier_type is None or self.value is None):
            raise ValueError("give profile_id, or identifier_type and value")
        return self


class CampaignUpliftBody(BaseModel):
    """Scores of a campaign's subjects (from any model) to evaluate against its outcomes; none
    to evaluate the current scores of the campaign's targeting model."""

    model_config = ConfigDict(extra="forbid")

    scores: list[ProfileScore] = Field(
        default_factory=list,
        max_length=1_000_000,
        description=(
            "A score per profile. Empty or absent: the current scores of the campaign's "
            "`targeting_model_id` (422 on `scores` when the campaign has none)."
        ),
    )
    fractions: list[float] = Field(default_factory=list, max_length=20)
    curve_points: int = Field(default=20, ge=2, le=1000)


class UpliftObservation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: float
    treated: bool
    outcome: float


class UpliftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    observations: list[UpliftObservation] = Field(min_length=1, max_length=1_000_000)
    fractions: list[float] = Field(default_factory=list, max_length=20)
    curve_points: int = Field(default=20, ge=2, le=1000)


class ArmStatisticsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    control: bool = False
    n: int = Field(ge=0)
    sum: float
    sum_squares: float = 0
    pre_sum: float = 0
    pre_sum_squares: float = 0
    sum_products: float = 0
    denominator_sum: float = 0
    denominator_sum_squares: float = 0
    numerator_denominator_sum_products: float = 0
    expected_share: float = Field(default=0, ge=0, le=1)


class AnalyzeBody(BaseModel):
    """Sufficient statistics of each arm of a test run anywhere."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "metric_type": "proportion",
                    "arms": [
                        {"name": "control", "control": True, "n": 5000, "sum": 410},
                        {"name": "new_subject_line", "n": 5000, "sum": 468},
                    ],
                }
            ]
        },
    )

    metric_type: MetricTypeName
    arms: list[ArmStatisticsBody] = Field(min_length=2, max_length=20)
    confidence_level: float = Field(default=0.95, ge=0.8, le=0.999)
    cuped: bool = False
    sequential_mixture_variance: float = Field(default=0, ge=0)


class ArmSummary(BaseModel):
    name: str
    n: int
    mean: float
    variance: float
    standard_error: float
    interval: Interval
    cuped_mean: float


class Analysis(BaseModel):
    arms: list[ArmSummary]
    lifts: list[Lift]
    srm: Srm
    warnings: list[str]


class PowerBody(BaseModel):
    """Give a baseline, then relative_mde (solve for size) or total_units (solve for effect)."""

    model_config = ConfigDict(extra="forbid")

    metric_type: Literal["proportion", "mean"]
    baseline: float
    standard_deviation: float = Field(default=0, ge=0)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    power: float = Field(default=0.8, gt=0, lt=1)
    treatment_arms: int = Field(default=1, ge=1, le=20)
    control_share: float = Field(default=0, ge=0, lt=1)
    variance_reduction: float = Field(default=0, ge=0, le=0.99)
    daily_units: float = Field(default=0, ge=0)
    relative_mde: float | None = Field(default=None, gt=0)
    total_units: int | None = Field(default=None, gt=0)


class PowerPlan(BaseModel):
    control_units: int
    treatment_units_per_arm: int
    total_units: int
    absolute_mde: float
    relative_mde: float
    duration_days: float
    warnings: list[str]


class TouchpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=128)
    time: datetime | None = None


class JourneyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    touchpoints: list[TouchpointBody] = Field(default_factory=list, max_length=1000)
    converted: bool = False
    revenue: float = Field(default=0, ge=0)
    conversion_time: datetime | None = None


class AttributionBody(BaseModel):
    """Journeys to attribute, or a period of stored conversions."""

    model_config = ConfigDict(extra="forbid")

    journeys: list[JourneyBody] = Field(default_factory=list, max_length=100_000)
    start: datetime | None = None
    end: datetime | None = None
    conversion_event: str = Field(default="", max_length=200)
    lookback_days: float = Field(default=30, gt=0, le=365)
    channel_field: Literal["campaign.source", "campaign.medium"] = "campaign.source"
    models: list[AttributionModelName] = Field(default_factory=list, max_length=7)
    half_life_days: float = Field(default=7, gt=0, le=365)
    first_touch_weight: float = Field(default=0.4, ge=0, le=1)
    last_touch_weight: float = Field(default=0.4, ge=0, le=1)


class SendTimesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile_ids: list[str] = Field(min_length=1, max_length=1000)
    channel: ChannelName | None = None
    time_zone: str = Field(default="", max_length=64)


class SendTime(BaseModel):
    profile_id: str
    best_hour: int
    best_weekday: int = Field(description="1 = Monday .. 7 = Sunday.")
    engagement_events: int
    fallback: bool
    hourly_share: list[float]
    weekday_share: list[float]


class SendTimes(BaseModel):
    send_times: list[SendTime]
    workspace_best_hour: int
    workspace_best_weekday: int
