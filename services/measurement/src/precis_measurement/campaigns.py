"""Campaigns: validation of what a marketer sends, the stored campaign, deterministic assignment,
and enrollment of a running campaign's audience.

Assignment: bucket = the first 8 bytes of SHA-256("workspace\\0campaign\\0profile") modulo 10,000.
Buckets below holdout_share × 10,000 are the holdout; the rest are split among the arms in
proportion to their weights (cumulative boundaries rounded to whole buckets). It depends on
nothing but the three ids, so every replica, restart and re-run gives the same arm, and the
expected share of each arm (for the sample-ratio check) is its exact number of buckets / 10,000.

Enrollment ("logged when first evaluated"): while a campaign runs, its segment's members that
segmentation releases on the campaign's channel (consent honoured there) are assigned and
logged with the time; members withheld for consent are counted, never assigned. It happens when
the campaign starts and then at least every PRECIS_MEASUREMENT_ENROLL_SECONDS, so members who
enter the segment later join the campaign; members who leave it stay assigned (intent to treat:
leaving must not take them out of the comparison).
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc
from sqlalchemy import select, update

from precis.measurement.v1 import measurement_pb2 as pb
from precis.segmentation.v1 import segmentation_pb2, segmentation_pb2_grpc
from precis_common.db import Database, insert_ignoring_duplicates
from precis_common.errors import FailedPrecondition, InvalidArgument, NotFound, Violation
from precis_common.grpc_client import workspace_metadata
from precis_measurement.readmodel import DEFAULT_CONVERSION_EVENT
from precis_measurement.store import ms_assignments, ms_campaigns

log = logging.getLogger(__name__)

BUCKETS = 10_000
HOLDOUT = "holdout"
ARM_ID = re.compile(r"^[a-z0-9_]{1,64}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_ARMS = 10
MAX_DESCRIPTION = 5000
DEFAULT_WINDOW = timedelta(days=7)
MIN_WINDOW, MAX_WINDOW = timedelta(hours=1), timedelta(days=90)
DEFAULT_PRE_PERIOD, MAX_PRE_PERIOD = timedelta(days=28), timedelta(days=365)
MAX_DURATION = timedelta(days=366)
DEFAULT_MIN_CELL = 10
DEFAULT_CURRENCY = "USD"
PAGE = 5000
CONVERSION_EVENTS_TTL = 30.0


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def bucket_of(workspace_id: str, campaign_id: str, profile_id: str) -> int:
    digest = hashlib.sha256(f"{workspace_id}\0{campaign_id}\0{profile_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


@dataclass(frozen=True, slots=True)
class ArmSpec:
    arm_id: str
    description: str
    weight: float


@dataclass(frozen=True, slots=True)
class Split:
    """Bucket ranges: the holdout is [0, holdout_end); arm i is [bounds[i], bounds[i+1])."""

    holdout_end: int
    arm_ids: tuple[str, ...]
    bounds: tuple[int, ...]

    @classmethod
    def of(cls, holdout_share: float, arms: Sequence[ArmSpec]) -> Split:
        holdout_end = round(holdout_share * BUCKETS)
        total = sum(a.weight for a in arms)
        span = BUCKETS - holdout_end
        bounds = [holdout_end]
        cumulative = 0.0
        for arm in arms:
            cumulative += arm.weight
            bounds.append(holdout_end + round(span * cumulative / total))
        bounds[-1] = BUCKETS
        return cls(holdout_end, tuple(a.arm_id for a in arms), tuple(bounds))

    def arm_of(self, bucket: int) -> str:
        if bucket < self.holdout_end:
            return HOLDOUT
        for i, arm_id in enumerate(self.arm_ids):
            if bucket < self.bounds[i + 1]:
                return arm_id
        return self.arm_ids[-1]

    def expected_shares(self) -> dict[str, float]:
        shares = {
            arm_id: (self.bounds[i + 1] - self.bounds[i]) / BUCKETS
            for i, arm_id in enumerate(self.arm_ids)
        }
        shares[HOLDOUT] = self.holdout_end / BUCKETS
        return shares


@dataclass(frozen=True)
class CampaignRow:
    """A stored campaign, as the report and the enroller use it."""

    workspace_id: str
    campaign_id: str
    name: str
    description: str
    segment_id: str
    channel: int
    arms: tuple[ArmSpec, ...]
    holdout_share: float
    start_time: datetime
    end_time: datetime
    primary_metric: int
    secondary_metrics: tuple[int, ...]
    conversion_event: str
    revenue_property: str
    attribution_window: timedelta
    cost_per_send: float
    fixed_cost: float
    currency: str
    pre_period: timedelta
    min_cell_size: int
    targeting_model_id: str
    send_time_optimization: bool
    time_zone: str
    external_assignment: bool
    created_at: datetime
    updated_at: datetime
    enrolled_at: datetime | None
    segment_members: int
    excluded_without_consent: int
    split: Split = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "split", Split.of(self.holdout_share, self.arms))

    @classmethod
    def from_row(cls, row: Any) -> CampaignRow:
        return cls(
            workspace_id=row.workspace_id,
            campaign_id=row.campaign_id,
            name=row.name,
            description=row.description,
            segment_id=row.segment_id,
            channel=int(row.channel),
            arms=tuple(
                ArmSpec(a["arm_id"], a["description"], float(a["weight"])) for a in row.arms
            ),
            holdout_share=float(row.holdout_share),
            start_time=_utc(row.start_time),
            end_time=_utc(row.end_time),
            primary_metric=int(row.primary_metric),
            secondary_metrics=tuple(int(m) for m in row.secondary_metrics),
            conversion_event=row.conversion_event,
            revenue_property=row.revenue_property,
            attribution_window=timedelta(seconds=int(row.attribution_window_seconds)),
            cost_per_send=float(row.cost_per_send),
            fixed_cost=float(row.fixed_cost),
            currency=row.currency,
            pre_period=timedelta(seconds=int(row.pre_period_seconds)),
            min_cell_size=int(row.min_cell_size),
            targeting_model_id=row.targeting_model_id,
            send_time_optimization=bool(row.send_time_optimization),
            time_zone=row.time_zone,
            external_assignment=bool(row.external_assignment),
            created_at=_utc(row.created_at),
            updated_at=_utc(row.updated_at),
            enrolled_at=_utc(row.enrolled_at) if row.enrolled_at is not None else None,
            segment_members=int(row.segment_members or 0),
            excluded_without_consent=int(row.excluded_without_consent or 0),
        )

    def status(self, now: datetime) -> int:
        if now < self.start_time:
            return pb.CAMPAIGN_STATUS_SCHEDULED
        if now < self.end_time:
            return pb.CAMPAIGN_STATUS_RUNNING
        return pb.CAMPAIGN_STATUS_ENDED

    @property
    def metrics(self) -> tuple[int, ...]:
        return (self.primary_metric, *self.secondary_metrics)


def _duration(message: Any) -> timedelta:
    return timedelta(seconds=message.seconds, microseconds=message.nanos // 1000)


def valid_time_zone(name: str, field_name: str) -> str:
    if not name:
        return ""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidArgument.field(field_name, f"unknown IANA time zone {name[:64]!r}") from exc
    return name


def new_campaign(message: pb.Campaign, now: datetime) -> tuple[dict[str, Any], list[str]]:
    """The row of a campaign to create, defaults filled in, and the caveats to tell the caller.
    Every problem is reported at once, each naming its field."""
    at = "campaign"
    violations: list[Violation] = []
    warnings: list[str] = []

    def bad(name: str, reason: str) -> None:
        violations.append(Violation(f"{at}.{name}", reason))

    if not 1 <= len(message.name.strip()) <= 200:
        bad("name", "must be 1..200 characters")
    if len(message.description) > MAX_DESCRIPTION:
        bad("description", f"at most {MAX_DESCRIPTION} characters")
    if not 1 <= len(message.segment_id) <= 64:
        bad("segment_id", "give the target segment's id")
    if message.channel == 0:
        bad("channel", "give the channel the campaign reaches people on (email, sms, push, ...)")
    elif message.channel not in segmentation_pb2.Channel.values():
        bad("channel", "unknown channel")
    arms: list[ArmSpec] = []
    if not 1 <= len(message.arms) <= MAX_ARMS:
        bad("arms", f"give 1..{MAX_ARMS} arms")
    seen: set[str] = set()
    for i, arm in enumerate(message.arms):
        if not ARM_ID.match(arm.arm_id):
            bad(f"arms[{i}].arm_id", "must be 1..64 characters of a-z, 0-9 and _")
        elif arm.arm_id == HOLDOUT:
            bad(f"arms[{i}].arm_id", '"holdout" is reserved for the holdout')
        elif arm.arm_id in seen:
            bad(f"arms[{i}].arm_id", f"{arm.arm_id!r} is used by another arm")
        seen.add(arm.arm_id)
        if not math.isfinite(arm.weight) or arm.weight <= 0:
            bad(f"arms[{i}].weight", "must be a number > 0 (weights are relative)")
        if len(arm.description) > 500:
            bad(f"arms[{i}].description", "at most 500 characters")
        arms.append(ArmSpec(arm.arm_id, arm.description, arm.weight))
    if not math.isfinite(message.holdout_share) or not 0 <= message.holdout_share <= 0.5:
        bad("holdout_share", "must be between 0 and 0.5")
    start = _utc(message.start_time.ToDatetime()) if message.HasField("start_time") else now
    if not message.HasField("end_time"):
        bad("end_time", "give when the campaign stops assigning")
        end = start
    else:
        end = _utc(message.end_time.ToDatetime())
        if end <= start:
            bad("end_time", "must be after start_time")
        elif end - start > MAX_DURATION:
            bad("end_time", "a campaign runs at most 366 days")
        elif end <= now:
            bad("end_time", "must be in the future")
    primary = message.primary_metric or pb.METRIC_CONVERSION_RATE
    if primary not in pb.Metric.values():
        bad("primary_metric", "unknown metric")
    secondary: list[int] = []
    for i, metric in enumerate(message.secondary_metrics):
        if metric == 0 or metric not in pb.Metric.values():
            bad(f"secondary_metrics[{i}]", "unknown metric")
        elif metric == primary or metric in secondary:
            bad(f"secondary_metrics[{i}]", "repeats a metric already reported")
        else:
            secondary.append(metric)
    conversion_event = message.conversion_event or DEFAULT_CONVERSION_EVENT
    if len(conversion_event) > 200:
        bad("conversion_event", "at most 200 characters")
    revenue_property = message.revenue_property or "revenue"
    if len(revenue_property) > 200:
        bad("revenue_property", "at most 200 characters")
    window = (
        _duration(message.attribution_window)
        if message.HasField("attribution_window")
        else DEFAULT_WINDOW
    )
    if not MIN_WINDOW <= window <= MAX_WINDOW:
        bad("attribution_window", "must be between 1 hour and 90 days")
    for name in ("cost_per_send", "fixed_cost"):
        value = getattr(message, name)
        if not math.isfinite(value) or value < 0:
            bad(name, "must be a number >= 0")
    currency = message.currency or DEFAULT_CURRENCY
    if not CURRENCY.match(currency):
        bad("currency", "must be an ISO 4217 code such as CNY or EUR")
    pre_period = (
        _duration(message.pre_period) if message.HasField("pre_period") else timedelta(0)
    ) or DEFAULT_PRE_PERIOD
    if not timedelta(0) < pre_period <= MAX_PRE_PERIOD:
        bad("pre_period", "must be between 0 and 365 days (0 means 28 days)")
    min_cell = message.min_cell_size or DEFAULT_MIN_CELL
    if not 1 <= min_cell <= 100_000:
        bad("min_cell_size", "must be between 1 and 100000 (0 means 10)")
    if len(message.targeting_model_id) > 64:
        bad("targeting_model_id", "at most 64 characters")
    try:
        time_zone = valid_time_zone(message.time_zone, f"{at}.time_zone")
    except InvalidArgument as exc:
        violations.extend(exc.violations)
        time_zone = ""
    if violations:
        raise InvalidArgument("invalid campaign", violations)
    total = sum(a.weight for a in arms)
    if len(arms) > 1 and abs(total - 1.0) > 1e-9:
        shares = ", ".join(f"{a.arm_id} {a.weight / total:.1%}" for a in arms)
        warnings.append(
            f"arm weights sum to {total:g}, not 1: they are used as relative weights "
            f"({shares} of the contacted audience)"
        )
    if message.holdout_share == 0:
        warnings.append("no holdout: the report cannot measure lift, incrementality or ROI")
    row = {
        "campaign_id": uuid.uuid4().hex,
        "name": message.name.strip(),
        "description": message.description,
        "segment_id": message.segment_id,
        "channel": int(message.channel),
        "arms": [
            {"arm_id": a.arm_id, "description": a.description, "weight": a.weight} for a in arms
        ],
        "holdout_share": float(message.holdout_share),
        "start_time": start,
        "end_time": end,
        "primary_metric": int(primary),
        "secondary_metrics": secondary,
        "conversion_event": conversion_event,
        "revenue_property": revenue_property,
        "attribution_window_seconds": int(window.total_seconds()),
        "cost_per_send": float(message.cost_per_send),
        "fixed_cost": float(message.fixed_cost),
        "currency": currency,
        "pre_period_seconds": int(pre_period.total_seconds()),
        "min_cell_size": int(min_cell),
        "targeting_model_id": message.targeting_model_id,
        "send_time_optimization": bool(message.send_time_optimization),
        "time_zone": time_zone,
        "external_assignment": bool(message.external_assignment),
        "created_at": now,
        "updated_at": now,
        "enrolled_at": None,
        "segment_members": 0,
        "excluded_without_consent": 0,
    }
    return row, warnings


class Campaigns:
    """The stored campaigns of every workspace."""

    def __init__(self, database: Database) -> None:
        self.db = database
        # workspace -> (events, when read): another replica may create a campaign naming a new
        # event, so the cache is read again after CONVERSION_EVENTS_TTL seconds.
        self._conversion_events: dict[str, tuple[frozenset[str], float]] = {}
        self._lock = threading.Lock()

    def create(self, workspace_id: str, row: dict[str, Any]) -> tuple[CampaignRow, list[str]]:
        """Stores the campaign; the caveats about campaigns overlapping it (same segment and
        channel, overlapping times: allowed, their subjects may be in both)."""
        with self.db.write() as session:
            session.execute(ms_campaigns.insert().values(workspace_id=workspace_id, **row))
            c = ms_campaigns.c
            others = session.execute(
                select(c.campaign_id, c.name).where(
                    c.workspace_id == workspace_id,
                    c.campaign_id != row["campaign_id"],
                    c.segment_id == row["segment_id"],
                    c.channel == row["channel"],
                    c.start_time < row["end_time"],
                    c.end_time > row["start_time"],
                )
            ).all()
        with self._lock:
            self._conversion_events.pop(workspace_id, None)
        warnings = [
            f"overlaps campaign {o.campaign_id} ({o.name!r}) on the same segment and channel: "
            "subjects may be in both, and each report counts them"
            for o in others
        ]
        return self.get(workspace_id, row["campaign_id"]), warnings

    def get(self, workspace_id: str, campaign_id: str) -> CampaignRow:
        with self.db.read() as session:
            row = session.execute(
                select(ms_campaigns).where(
                    ms_campaigns.c.workspace_id == workspace_id,
                    ms_campaigns.c.campaign_id == campaign_id,
                )
            ).one_or_none()
        if row is None:
            raise NotFound(f"no campaign {campaign_id!r}")
        return CampaignRow.from_row(row)

    def page(
        self, workspace_id: str, *, status: int, now: datetime, offset: int, limit: int
    ) -> tuple[list[CampaignRow], bool]:
        c = ms_campaigns.c
        query = select(ms_campaigns).where(c.workspace_id == workspace_id)
        if status == pb.CAMPAIGN_STATUS_SCHEDULED:
            query = query.where(c.start_time > now)
        elif status == pb.CAMPAIGN_STATUS_RUNNING:
            query = query.where(c.start_time <= now, c.end_time > now)
        elif status == pb.CAMPAIGN_STATUS_ENDED:
            query = query.where(c.end_time <= now)
        query = query.order_by(c.created_at.desc(), c.campaign_id).offset(offset).limit(limit + 1)
        with self.db.read() as session:
            rows = session.execute(query).all()
        return [CampaignRow.from_row(r) for r in rows[:limit]], len(rows) > limit

    def update(self, workspace_id: str, campaign_id: str, values: dict[str, Any]) -> CampaignRow:
        if values:
            with self.db.write() as session:
                session.execute(
                    update(ms_campaigns)
                    .where(
                        ms_campaigns.c.workspace_id == workspace_id,
                        ms_campaigns.c.campaign_id == campaign_id,
                    )
                    .values(**values)
                )
        return self.get(workspace_id, campaign_id)

    def running(self, now: datetime) -> list[CampaignRow]:
        c = ms_campaigns.c
        with self.db.read() as session:
            rows = session.execute(
                select(ms_campaigns).where(
                    c.start_time <= now, c.end_time > now, c.external_assignment.is_(False)
                )
            ).all()
        return [CampaignRow.from_row(r) for r in rows]

    def conversion_events(self, workspace_id: str) -> frozenset[str]:
        """The events stored as conversions in a workspace: "Order Completed" and every
        campaign's conversion event (cached for CONVERSION_EVENTS_TTL seconds; a campaign
        created on this replica clears the cache at once)."""
        with self._lock:
            cached = self._conversion_events.get(workspace_id)
        if cached is not None and time.monotonic() - cached[1] < CONVERSION_EVENTS_TTL:
            return cached[0]
        with self.db.read() as session:
            names = session.execute(
                select(ms_campaigns.c.conversion_event)
                .where(ms_campaigns.c.workspace_id == workspace_id)
                .distinct()
            ).scalars()
            events = frozenset({DEFAULT_CONVERSION_EVENT, *names})
        with self._lock:
            self._conversion_events[workspace_id] = (events, time.monotonic())
        return events

    def record(
        self, workspace_id: str, campaign_id: str, rows: list[dict[str, Any]]
    ) -> tuple[int, int, int]:
        """Stores assignments the sender made; (recorded, unchanged, conflicting)."""
        a = ms_assignments.c
        with self.db.write() as session:
            existing: dict[str, str] = {}
            pids = [r["profile_id"] for r in rows]
            for start in range(0, len(pids), 500):
                for pid, arm_id in session.execute(
                    select(a.profile_id, a.arm_id).where(
                        a.workspace_id == workspace_id,
                        a.campaign_id == campaign_id,
                        a.profile_id.in_(pids[start : start + 500]),
                    )
                ):
                    existing[pid] = arm_id
            new = [r for r in rows if r["profile_id"] not in existing]
            insert_ignoring_duplicates(
                session, ms_assignments, new, ("workspace_id", "campaign_id", "profile_id")
            )
        conflicting = sum(
            1
            for r in rows
            if r["profile_id"] in existing and existing[r["profile_id"]] != r["arm_id"]
        )
        return len(new), len(rows) - len(new), conflicting

    def assignment(self, workspace_id: str, campaign_id: str, profile_id: str) -> Any | None:
        a = ms_assignments.c
        with self.db.read() as session:
            return session.execute(
                select(ms_assignments).where(
                    a.workspace_id == workspace_id,
                    a.campaign_id == campaign_id,
                    a.profile_id == profile_id,
                )
            ).one_or_none()


class Enroller:
    """Assigns the audience of running campaigns (see the module docstring), in a thread."""

    def __init__(
        self,
        campaigns: Campaigns,
        segmentation_channel: grpc.Channel,
        *,
        interval_s: float,
        deadline_s: float = 5.0,
    ) -> None:
        self.campaigns = campaigns
        self.segments = segmentation_pb2_grpc.SegmentationServiceStub(segmentation_channel)
        self.interval_s = interval_s
        self.deadline_s = deadline_s
        self.errors: dict[tuple[str, str], str] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def enroll(self, campaign: CampaignRow, now: datetime | None = None) -> int:
        """One enrollment pass of a campaign; the assignments it logged (new or not)."""
        now = now or datetime.now(UTC)
        if campaign.status(now) != pb.CAMPAIGN_STATUS_RUNNING:
            raise FailedPrecondition("the campaign is not running: only running campaigns enroll")
        if campaign.external_assignment:
            raise FailedPrecondition("the campaign's sender records its assignments")
        key = (campaign.workspace_id, campaign.campaign_id)
        token, released, total = "", 0, 0
        while True:
            try:
                page = self.segments.ListSegmentMembers(
                    segmentation_pb2.ListSegmentMembersRequest(
                        segment_id=campaign.segment_id,
                        channel=campaign.channel,  # type: ignore[arg-type]
                        page_size=PAGE,
                        page_token=token,
                    ),
                    timeout=self.deadline_s,
                    metadata=workspace_metadata(campaign.workspace_id),
                )
            except grpc.RpcError as exc:
                code = exc.code() if hasattr(exc, "code") else None
                self.errors[key] = f"{getattr(code, 'name', code)}: {exc.details() or ''}"
                log.warning("enrollment of %s failed: %s", campaign.campaign_id, self.errors[key])
                raise
            total = int(page.total_count)
            rows = []
            for member in page.members:
                bucket = bucket_of(campaign.workspace_id, campaign.campaign_id, member.profile_id)
                rows.append(
                    {
                        "workspace_id": campaign.workspace_id,
                        "campaign_id": campaign.campaign_id,
                        "profile_id": member.profile_id,
                        "arm_id": campaign.split.arm_of(bucket),
                        "bucket": bucket,
                        "assigned_at": now,
                    }
                )
            released += len(rows)
            token = page.next_page_token
            with self.campaigns.db.write() as session:
                insert_ignoring_duplicates(
                    session, ms_assignments, rows, ("workspace_id", "campaign_id", "profile_id")
                )
                if not token:
                    # The counts commit with the last page, so once a pass's last assignments
                    # are visible its counts are too (earlier pages of a long pass show first).
                    session.execute(
                        update(ms_campaigns)
                        .where(
                            ms_campaigns.c.workspace_id == campaign.workspace_id,
                            ms_campaigns.c.campaign_id == campaign.campaign_id,
                        )
                        .values(
                            enrolled_at=now,
                            segment_members=total,
                            excluded_without_consent=max(total - released, 0),
                        )
                    )
            if not token:
                break
        self.errors.pop(key, None)
        return released

    def run_once(self) -> None:
        now = datetime.now(UTC)
        for campaign in self.campaigns.running(now):
            try:
                self.enroll(campaign, now)
            except grpc.RpcError:
                continue
            except Exception:
                log.exception("enrollment of %s failed", campaign.campaign_id)

    def kick(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="enroller", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("enrollment pass failed")
            self._wake.wait(self.interval_s)
            self._wake.clear()
