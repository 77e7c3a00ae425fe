"""The measurement service over gRPC, on SQLite and PostgreSQL: campaigns and their validation,
deterministic assignment of the consented audience, exposures and conversions from the
profile_changes feed, the report (checked against an independent computation on the raw
per-subject data), the pure statistics RPCs, merges, deletions, privacy and retention."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import numpy as np
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from scipy import stats as scipy_stats

sys.path.insert(0, str(Path(__file__).parent))

from measurement_support import WORKSPACE, Service, event, running_service, upserted

from precis.common.v1 import privacy_pb2
from precis.measurement.v1 import measurement_pb2 as pb
from precis.profile.v1 import profile_pb2
from precis.segmentation.v1 import segmentation_pb2
from precis_common.feed import to_timestamp
from precis_measurement.campaigns import HOLDOUT, ArmSpec, Split, bucket_of

NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(days=10)
ENROLLED = START + timedelta(hours=1)
SEGMENT = "seg-buyers"
N_MEMBERS = 1200
WITHHELD = {f"p{i:05}" for i in range(0, N_MEMBERS, 40)}  # 30 without email consent
RATES = {"a": 0.16, "b": 0.10, HOLDOUT: 0.10}


@pytest.fixture
def service(database_url_factory: Any, tmp_path: Path) -> Iterator[Service]:
    with running_service(database_url_factory, tmp_path) as running:
        yield running


def violations(error: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    found: dict[str, str] = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found.update({v.field: v.description for v in bad.field_violations})
    return found


def assert_finite(message: Any) -> None:
    """No NaN or Infinity anywhere in a message (as its JSON form would carry them)."""
    text = json_format.MessageToJson(message)
    assert "NaN" not in text and "Infinity" not in text


def campaign_message(**fields: Any) -> pb.Campaign:
    values: dict[str, Any] = {
        "name": "Spring bottles",
        "segment_id": SEGMENT,
        "channel": segmentation_pb2.CHANNEL_EMAIL,
        "arms": [pb.Arm(arm_id="a", weight=0.5), pb.Arm(arm_id="b", weight=0.5)],
        "holdout_share": 0.2,
        "start_time": to_timestamp(START),
        "end_time": to_timestamp(NOW + timedelta(days=10)),
        "secondary_metrics": [pb.METRIC_REVENUE_PER_USER, pb.METRIC_AVERAGE_ORDER_VALUE],
        "cost_per_send": 0.05,
        "fixed_cost": 100.0,
        "currency": "CNY",
    }
    values.update(fields)
    message = pb.Campaign(**values)
    if "attribution_window" not in fields:
        message.attribution_window.FromTimedelta(timedelta(days=3))
    return message


def members() -> list[str]:
    return [f"p{i:05}" for i in range(N_MEMBERS)]


def simulate(service: Service, campaign_id: str, seed: int = 3) -> dict[str, Any]:
    """Sends to every contacted subject, conversions by arm rate (more likely for subjects who
    bought in the pre-period), some outside the window; returns the ground truth."""
    rng = np.random.default_rng(seed)
    campaign = service.app.campaigns.get(WORKSPACE, campaign_id)
    truth: dict[str, Any] = {"orders": {}, "revenue": {}, "arm": {}}
    changes = []
    for pid in members():
        if pid in WITHHELD:
            continue
        arm = campaign.split.arm_of(bucket_of(WORKSPACE, campaign_id, pid))
        truth["arm"][pid] = arm
        events = []
        pre_buyer = rng.random() < 0.3
        if pre_buyer:
            events.append(
                event(
                    "Order Completed",
                    {"revenue": 40.0},
                    START - timedelta(days=5),
                    f"{pid}-pre",
                )
            )
        if arm != HOLDOUT:
            events.append(
                event(
                    "Email Sent",
                    {"campaign_id": campaign_id},
                    ENROLLED + timedelta(minutes=5),
                    f"{pid}-sent",
                )
            )
        rate = RATES[arm] * (1.8 if pre_buyer else 0.7)
        orders, revenue = 0, 0.0
        for k in range(2):
            if rng.random() < rate:
                amount = float(np.round(rng.gamma(4.0, 15.0), 2))
                events.append(
                    event(
                        "Order Completed",
                        {"revenue": amount, "currency": "CNY"},
                        ENROLLED + timedelta(hours=2 + 20 * k),
                        f"{pid}-o{k}",
                    )
                )
                orders += 1
                revenue += amount
        # After the 3-day window: never counted.
        events.append(
            event("Order Completed", {"revenue": 99.0}, ENROLLED + timedelta(days=4), f"{pid}-late")
        )
        truth["orders"][pid] = orders
        truth["revenue"][pid] = revenue
        changes.append(upserted(pid, events))
    service.producers.publish(changes)
    service.settle()
    return truth


def create(service: Service, **fields: Any) -> pb.CreateCampaignResponse:
    return service.call(
        "CreateCampaign", pb.CreateCampaignRequest(campaign=campaign_message(**fields))
    )


def enroll(service: Service, campaign_id: str, at: datetime = ENROLLED) -> int:
    campaign = service.app.campaigns.get(WORKSPACE, campaign_id)
    return service.app.enroller.enroll(campaign, now=at)


def test_a_campaign_from_enrollment_to_report(service: Service) -> None:
    service.producers.segments.members[(WORKSPACE, SEGMENT)] = members()
    service.producers.segments.withheld = set(WITHHELD)
    created = create(service)
    campaign = created.campaign
    assert campaign.status == pb.CAMPAIGN_STATUS_RUNNING
    assert campaign.conversion_event == "Order Completed" and campaign.min_cell_size == 10
    assert campaign.pre_period.ToTimedelta() == timedelta(days=28)
    assert created.warnings == []

    assert enroll(service, campaign.campaign_id) == N_MEMBERS - len(WITHHELD)
    # A second pass assigns nobody twice and keeps the first time.
    enroll(service, campaign.campaign_id, ENROLLED + timedelta(hours=1))
    split = Split.of(0.2, [ArmSpec("a", "", 0.5), ArmSpec("b", "", 0.5)])
    for pid in ("p00001", "p00503", "p01199"):
        answer = service.call(
            "GetAssignment",
            pb.GetAssignmentRequest(campaign_id=campaign.campaign_id, profile_id=pid),
        )
        bucket = bucket_of(WORKSPACE, campaign.campaign_id, pid)
        assert (answer.arm_id, answer.bucket) == (split.arm_of(bucket), bucket)
        assert answer.holdout == (answer.arm_id == HOLDOUT)
        assert answer.assigned_at.ToDatetime(tzinfo=UTC) == ENROLLED
    with pytest.raises(grpc.RpcError) as refused:
        service.call(
            "GetAssignment",
            pb.GetAssignmentRequest(campaign_id=campaign.campaign_id, profile_id="p00040"),
        )
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND  # withheld for consent

    truth = simulate(service, campaign.campaign_id)
    report = service.call(
        "GetCampaignReport", pb.GetCampaignReportRequest(campaign_id=campaign.campaign_id)
    ).report
    assert report.excluded_without_consent == len(WITHHELD)
    assert [a.arm_id for a in report.arms] == ["a", "b", HOLDOUT]
    by_arm = {a.arm_id: a for a in report.arms}
    outcomes: dict[str, dict[str, np.ndarray]] = {}
    for arm in ("a", "b", HOLDOUT):
        pids = [p for p, x in truth["arm"].items() if x == arm]
        orders = np.array([truth["orders"][p] for p in pids], dtype=float)
        revenue = np.array([truth["revenue"][p] for p in pids])
        outcomes[arm] = {"converted": (orders > 0).astype(float), "revenue": revenue}
        result = by_arm[arm]
        assert result.subjects == len(pids)
        assert result.converters == int((orders > 0).sum())
        assert result.conversions == int(orders.sum())
        assert result.repurchasers == int((orders >= 2).sum())
        assert result.revenue == pytest.approx(revenue.sum())
        assert result.sends == (0 if arm == HOLDOUT else len(pids))
    # Every arm against the holdout, primary then secondary metrics; p-values as scipy's Welch
    # test on the raw per-subject outcomes.
    assert [(lf.arm, lf.metric) for lf in report.lifts] == [
        ("a", pb.METRIC_CONVERSION_RATE),
        ("b", pb.METRIC_CONVERSION_RATE),
        ("a", pb.METRIC_REVENUE_PER_USER),
        ("b", pb.METRIC_REVENUE_PER_USER),
        ("a", pb.METRIC_AVERAGE_ORDER_VALUE),
        ("b", pb.METRIC_AVERAGE_ORDER_VALUE),
    ]
    for lift in report.lifts[:4]:
        key = "converted" if lift.metric == pb.METRIC_CONVERSION_RATE else "revenue"
        expected = scipy_stats.ttest_ind(
            outcomes[lift.arm][key], outcomes[HOLDOUT][key], equal_var=False
        )
        assert lift.p_value == pytest.approx(expected.pvalue, rel=1e-6)
        assert lift.test == pb.STATISTICAL_TEST_WELCH_T
        assert lift.cuped.theta > 0 and 0 <= lift.cuped.variance_reduction < 1
    # The pre-period buyers convert more, so CUPED removes variance. Theta is pooled over all
    # arms, so on one arm pair it can fit no better than no adjustment (reported as 0): the arms
    # are a random draw here (the campaign id is random), and one pair did so in ~1 run of 10.
    assert max(lf.cuped.variance_reduction for lf in report.lifts[:4]) > 0.01
    assert report.lifts[4].test == pb.STATISTICAL_TEST_DELTA_METHOD
    raw = [lf.p_value for lf in report.lifts]
    holm = sorted(raw)
    assert min(lf.holm_p_value for lf in report.lifts) == pytest.approx(min(1.0, holm[0] * 6))
    assert all(lf.holm_p_value >= lf.bh_p_value >= lf.p_value - 1e-12 for lf in report.lifts)
    # Money: incremental conversions = lift in rate x arm subjects; cost = sends + fixed share.
    impact = {i.arm_id: i for i in report.impacts}
    a = by_arm["a"]
    lift_a = report.lifts[0].absolute_lift.value
    assert impact["a"].incremental_conversions.value == pytest.approx(lift_a * a.subjects)
    contacted = by_arm["a"].subjects + by_arm["b"].subjects
    assert a.cost == pytest.approx(a.sends * 0.05 + 100.0 * a.subjects / contacted)
    assert impact["a"].roi == pytest.approx(
        (impact["a"].incremental_revenue.value - a.cost) / a.cost
    )
    # The campaign id is random, so the arm sizes are a random draw: the check is flagged at
    # p < 0.001 by design, one run in a thousand; this test asserts far less than that.
    assert report.srm.p_value > 1e-6 and report.srm.degrees_of_freedom == 2
    assert [s.expected_share for s in report.srm.arms] == pytest.approx([0.4, 0.4, 0.2])
    # Daily cumulative lift since the start, for both arms, with always-valid intervals.
    points = [p for p in report.cumulative_lift if p.arm_id == "a"]
    assert 3 <= len(points) <= 11
    assert points[-1].subjects == a.subjects
    last = points[-1].relative_lift
    assert last.interval.lower <= last.value <= last.interval.upper
    # Attribution of the window's conversions: the campaign's sends are e-mail touches.
    assert report.attribution.journeys == len(truth["arm"])
    channels = {c.channel for r in report.attribution.results for c in r.credits}
    assert channels == {"email"}


def test_bad_campaigns_are_refused_naming_each_field(service: Service) -> None:
    service.producers.segments.members[(WORKSPACE, SEGMENT)] = members()
    with pytest.raises(grpc.RpcError) as bad:
        create(
            service,
            name="",
            channel=0,
            arms=[
                pb.Arm(arm_id="holdout", weight=1),
                pb.Arm(arm_id="B!", weight=float("nan")),
                pb.Arm(arm_id="c", weight=-1),
            ],
            holdout_share=0.7,
            currency="yuan",
            secondary_metrics=[pb.METRIC_CONVERSION_RATE],
            time_zone="Mars/Olympus",
        )
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = violations(bad.value)
    for field in (
        "campaign.name",
        "campaign.channel",
        "campaign.arms[0].arm_id",
        "campaign.arms[1].arm_id",
        "campaign.arms[1].weight",
        "campaign.arms[2].weight",
        "campaign.holdout_share",
        "campaign.currency",
        "campaign.secondary_metrics[0]",
        "campaign.time_zone",
    ):
        assert field in found, field
    with pytest.raises(grpc.RpcError) as missing:
        create(service, segment_id="nope")
    assert violations(missing.value) == {
        "campaign.segment_id": "no segment 'nope' in this workspace"
    }
    window = campaign_message()
    window.attribution_window.FromTimedelta(timedelta(minutes=5))
    with pytest.raises(grpc.RpcError) as short:
        service.call("CreateCampaign", pb.CreateCampaignRequest(campaign=window))
    assert "campaign.attribution_window" in violations(short.value)
    # Weights that do not sum to 1 are relative weights, said so; no holdout is allowed, said so.
    created = create(
        service,
        arms=[pb.Arm(arm_id="a", weight=1), pb.Arm(arm_id="b", weight=3)],
        holdout_share=0,
    )
    assert any("relative weights (a 25.0%, b 75.0%" in w for w in created.warnings)
    assert any("no holdout" in w for w in created.warnings)
    # A second campaign on the same segment and channel is allowed and flagged.
    second = create(service, name="Overlapping")
    assert any(created.campaign.campaign_id in w for w in second.warnings)
    nothing = service.call(
        "GetCampaignReport",
        pb.GetCampaignReportRequest(campaign_id=created.campaign.campaign_id),
    ).report
    assert any("no holdout" in w for w in nothing.warnings)
    assert any("no subject" in w for w in nothing.warnings)
    assert not nothing.lifts
    with pytest.raises(grpc.RpcError) as unknown:
        service.call("GetCampaign", pb.GetCampaignRequest(campaign_id="missing"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_small_arms_are_suppressed_and_reports_never_carry_nan(service: Service) -> None:
    service.producers.segments.members[(WORKSPACE, SEGMENT)] = members()[:40]
    created = create(service, min_cell_size=30)
    enroll(service, created.campaign.campaign_id)
    report = service.call(
        "GetCampaignReport", pb.GetCampaignReportRequest(campaign_id=created.campaign.campaign_id)
    ).report
    holdout = next(a for a in report.arms if a.holdout)
    assert holdout.suppressed and holdout.subjects == 0
    assert any("minimum cell size" in w for w in report.warnings)
    assert not report.lifts
    assert_finite(report)


def test_merges_keep_one_assignment_and_deletions_erase(service: Service) -> None:
    service.producers.segments.members[(WORKSPACE, SEGMENT)] = members()[:100]
    created = create(service)
    cid = created.campaign.campaign_id
    enroll(service, cid)
    service.producers.publish(
        [
            upserted(
                "p00001",
                [event("Order Completed", {"revenue": 5}, ENROLLED + timedelta(hours=1), "m1")],
            ),
            upserted(
                "p00002",
                [event("Order Completed", {"revenue": 7}, ENROLLED + timedelta(hours=1), "m2")],
            ),
        ]
    )
    service.settle()
    service.producers.publish(
        [
            profile_pb2.ProfileChange(
                kind=profile_pb2.PROFILE_CHANGE_KIND_MERGED,
                profile_id="p00001",
                other_profile_ids=["p00002"],
            )
        ]
    )
    service.settle()
    report = service.call("GetCampaignReport", pb.GetCampaignReportRequest(campaign_id=cid)).report
    assert sum(a.subjects for a in report.arms) == 99
    assert sum(a.revenue for a in report.arms) == pytest.approx(12.0)
    service.producers.publish(
        [
            profile_pb2.ProfileChange(
                kind=profile_pb2.PROFILE_CHANGE_KIND_DELETED, profile_id="p00001"
            )
        ]
    )
    service.settle()
    report = service.call("GetCampaignReport", pb.GetCampaignReportRequest(campaign_id=cid)).report
    assert sum(a.subjects for a in report.arms) == 98
    assert sum(a.revenue for a in report.arms) == 0


def test_privacy_export_erase_and_retention(service: Service) -> None:
    import orjson

    from precis.common.v1 import privacy_pb2_grpc, types_pb2

    service.producers.segments.members[(WORKSPACE, SEGMENT)] = members()[:20]
    cid = create(service).campaign.campaign_id
    enroll(service, cid)
    service.producers.publish(
        [
            upserted(
                "p00003",
                [
                    event("Email Opened", {"campaign_id": cid}, ENROLLED, "e1"),
                    event("Order Completed", {"revenue": 12}, ENROLLED + timedelta(hours=1), "e2"),
                    event("Page Viewed", {"utm_source": "WeChat"}, ENROLLED, "e3"),
                ],
                user_id="zoe",
            )
        ]
    )
    service.settle()
    privacy = privacy_pb2_grpc.PrivacyServiceStub(service.channel)
    subject = privacy_pb2.DataSubject(
        identifiers=[types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_USER_ID, value="zoe")]
    )
    meta = (("x-precis-workspace", WORKSPACE),)
    bundle = orjson.loads(
        privacy.ExportSubject(
            privacy_pb2.ExportSubjectRequest(subject=subject), metadata=meta
        ).bundle_json
    )
    [profile] = bundle["profiles"]
    assert profile["profile_id"] == "p00003"
    assert len(profile["ms_assignments"]) == 1 and len(profile["ms_conversions"]) == 1
    assert profile["ms_touches"][0]["source"] == "wechat"
    assert profile["ms_exposures"][0]["kind"] == "opened"
    erased = privacy.EraseSubject(privacy_pb2.EraseSubjectRequest(subject=subject), metadata=meta)
    counts = {e.table: e.rows for e in erased.erased}
    assert counts["ms_assignments"] == 1 and counts["ms_conversions"] == 1
    again = orjson.loads(
        privacy.ExportSubject(
            privacy_pb2.ExportSubjectRequest(subject=subject), metadata=meta
        ).bundle_json
    )
    assert again == {"profiles": []}
    expired = privacy.ApplyRetention(
        privacy_pb2.ApplyRetentionRequest(
            data_kind="campaign_assignments", default_cutoff=to_timestamp(NOW)
        ),
        metadata=meta,
    )
    assert expired.held and {e.table: e.rows for e in expired.erased} == {"ms_assignments": 19}


def test_analyze_matches_scipy_and_refuses_bad_input(service: Service) -> None:
    rng = np.random.default_rng(5)
    control = rng.normal(10, 3, 400)
    treatment = rng.normal(10.8, 4, 380)
    arms = [
        pb.ArmStatistics(
            name="control", control=True, n=400, sum=control.sum(), sum_squares=(control**2).sum()
        ),
        pb.ArmStatistics(
            name="treatment", n=380, sum=treatment.sum(), sum_squares=(treatment**2).sum()
        ),
    ]
    answer = service.call("Analyze", pb.AnalyzeRequest(metric_type=pb.METRIC_TYPE_MEAN, arms=arms))
    expected = scipy_stats.ttest_ind(treatment, control, equal_var=False)
    assert answer.lifts[0].p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert answer.arms[1].mean == pytest.approx(treatment.mean())
    with pytest.raises(grpc.RpcError) as bad:
        service.call(
            "Analyze",
            pb.AnalyzeRequest(
                metric_type=pb.METRIC_TYPE_MEAN,
                arms=[
                    pb.ArmStatistics(name="x", n=-1, sum=float("inf")),
                    pb.ArmStatistics(name="x"),
                ],
            ),
        )
    found = violations(bad.value)
    assert {"arms[0].n", "arms[0].sum", "arms[1].name", "arms"} <= set(found)
    # Zero variance: an answer without NaN, never an error.
    flat = service.call(
        "Analyze",
        pb.AnalyzeRequest(
            metric_type=pb.METRIC_TYPE_PROPORTION,
            arms=[
                pb.ArmStatistics(name="c", control=True, n=100, sum=0),
                pb.ArmStatistics(name="t", n=100, sum=0),
            ],
        ),
    )
    assert_finite(flat)
    assert any("no variance" in w or "undefined" in w for w in flat.warnings)
    # Arm names in any script reach the warnings intact.
    empty = service.call(
        "Analyze",
        pb.AnalyzeRequest(
            metric_type=pb.METRIC_TYPE_MEAN,
            arms=[
                pb.ArmStatistics(name="对照组", control=True, n=0, sum=0),
                pb.ArmStatistics(name="实验组", n=5, sum=10, sum_squares=30),
            ],
        ),
    )
    assert any("对照组" in w for w in empty.warnings)
    assert_finite(empty)
    plan = service.call(
        "PlanPower",
        pb.PlanPowerRequest(metric_type=pb.METRIC_TYPE_PROPORTION, baseline=0.1, relative_mde=0.1),
    )
    assert 14_000 < plan.control_units < 15_500  # ~14,750 per arm at alpha .05, power .8
    with pytest.raises(grpc.RpcError) as no_target:
        service.call(
            "PlanPower", pb.PlanPowerRequest(metric_type=pb.METRIC_TYPE_PROPORTION, baseline=0.1)
        )
    assert "target" in violations(no_target.value)


def test_uplift_and_attribution_rpcs(service: Service) -> None:
    observations = [
        pb.UpliftObservation(score=s, treated=t, outcome=o)
        for s, t, o in [
            (0.9, True, 1),
            (0.8, False, 0),
            (0.7, True, 1),
            (0.2, False, 1),
            (0.1, True, 0),
        ]
    ]
    uplift = service.call("EvaluateUplift", pb.EvaluateUpliftRequest(observations=observations))
    assert uplift.treated == 3 and uplift.control == 2 and len(uplift.curve) == 20
    assert len(uplift.deciles) == 10 or len(uplift.deciles) <= 5
    journeys = [
        pb.Journey(
            touchpoints=[pb.Touchpoint(channel="email"), pb.Touchpoint(channel="search")],
            converted=True,
            revenue=10,
        ),
        pb.Journey(touchpoints=[pb.Touchpoint(channel="search")], converted=False),
    ]
    result = service.call(
        "ComputeAttribution",
        pb.ComputeAttributionRequest(journeys=journeys, models=[pb.ATTRIBUTION_MODEL_LINEAR]),
    )
    assert {c.channel: c.conversions for c in result.results[0].credits} == {
        "email": 0.5,
        "search": 0.5,
    }
    with pytest.raises(grpc.RpcError) as bad:
        service.call(
            "ComputeAttribution",
            pb.ComputeAttributionRequest(journeys=[pb.Journey(revenue=-1)]),
        )
    assert "journeys[0].revenue" in violations(bad.value)


def test_assignments_recorded_by_the_sender(service: Service) -> None:
    service.producers.segments.members[(WORKSPACE, SEGMENT)] = members()[:10]
    cid = create(
        service, external_assignment=True, holdout_share=0.5, min_cell_size=1
    ).campaign.campaign_id
    service.producers.publish([upserted(f"p{i:05}") for i in range(6)])
    service.settle()
    # The enroller leaves external campaigns alone.
    service.app.enroller.run_once()
    assert service.producers.segments.listed == 0

    def item(pid: str, arm: str, **fields: Any) -> pb.ExternalAssignment:
        values: dict[str, Any] = {"arm_id": arm, "assigned_at": to_timestamp(ENROLLED)}
        values.update(fields)
        return pb.ExternalAssignment(profile_id=pid, **values)

    with pytest.raises(grpc.RpcError) as bad:
        service.call(
            "RecordAssignments",
            pb.RecordAssignmentsRequest(
                campaign_id=cid,
                assignments=[
                    item("p00000", "a"),
                    item("p00001", "z"),
                    item("p00002", "b", assigned_at=to_timestamp(NOW + timedelta(days=2))),
                    item("p00000", "b"),
                ],
            ),
        )
    assert set(violations(bad.value)) == {
        "assignments[1].arm_id",
        "assignments[2].assigned_at",
        "assignments[3].profile",
    }
    # Nothing of a refused request was written.
    with pytest.raises(grpc.RpcError):
        service.call("GetAssignment", pb.GetAssignmentRequest(campaign_id=cid, profile_id="p00000"))
    by_user = pb.ExternalAssignment(
        identifier=upserted("p00004").state.identifiers[0],
        arm_id=HOLDOUT,
        assigned_at=to_timestamp(ENROLLED),
    )
    first = service.call(
        "RecordAssignments",
        pb.RecordAssignmentsRequest(
            campaign_id=cid, assignments=[item("p00000", "a"), item("p00001", HOLDOUT), by_user]
        ),
    )
    assert (first.recorded, first.unchanged, first.conflicting) == (3, 0, 0)
    again = service.call(
        "RecordAssignments",
        pb.RecordAssignmentsRequest(
            campaign_id=cid, assignments=[item("p00000", "a"), item("p00001", "b")]
        ),
    )
    assert (again.recorded, again.unchanged, again.conflicting) == (0, 2, 1)
    answer = service.call(
        "GetAssignment", pb.GetAssignmentRequest(campaign_id=cid, profile_id="p00004")
    )
    assert answer.holdout and answer.assigned_at.ToDatetime(tzinfo=UTC) == ENROLLED
    report = service.call("GetCampaignReport", pb.GetCampaignReportRequest(campaign_id=cid)).report
    assert {a.arm_id: a.subjects for a in report.arms} == {"a": 1, "b": 0, HOLDOUT: 2}
    # A campaign that enrolls its audience takes no recorded assignments.
    own = create(service).campaign.campaign_id
    with pytest.raises(grpc.RpcError) as refused:
        service.call(
            "RecordAssignments",
            pb.RecordAssignmentsRequest(campaign_id=own, assignments=[item("p00000", "a")]),
        )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_send_times_and_send_at(service: Service) -> None:
    """A person who opens e-mail around 09:00 Shanghai time gets that hour; one with no history
    gets the workspace's; a campaign with send-time optimization hands out the next such time."""
    service.producers.segments.members[(WORKSPACE, SEGMENT)] = ["p00001", "p00002", "p00003"]
    base = (NOW - timedelta(days=20)).replace(hour=1, minute=10)  # 09:10 in Asia/Shanghai
    opens = [
        event("Email Opened", {"campaign_id": "old"}, base + timedelta(days=d), f"o1-{d}")
        for d in range(8)
    ]
    evening = [
        event(
            "Email Link Clicked",
            {"campaign_id": "old"},
            base + timedelta(days=d, hours=12),
            f"o2-{d}",
        )
        for d in range(12)
    ]
    service.producers.publish([upserted("p00001", opens), upserted("p00002", evening)])
    service.settle()
    answer = service.call(
        "GetBestSendTimes",
        pb.GetBestSendTimesRequest(
            profile_ids=["p00001", "p00002", "p00003"],
            channel=segmentation_pb2.CHANNEL_EMAIL,
            time_zone="Asia/Shanghai",
        ),
    )
    first, second, third = answer.send_times
    assert (first.best_hour, first.engagement_events, first.fallback) == (9, 8, False)
    assert (second.best_hour, second.engagement_events) == (21, 12)
    assert third.fallback and third.engagement_events == 0
    assert third.best_hour == answer.workspace_best_hour
    assert sum(first.hourly_share) == pytest.approx(1.0) and len(first.weekday_share) == 7
    with pytest.raises(grpc.RpcError) as bad:
        service.call(
            "GetBestSendTimes",
            pb.GetBestSendTimesRequest(profile_ids=["p00001"], time_zone="Mars/Base"),
        )
    assert "time_zone" in violations(bad.value)

    cid = create(
        service, send_time_optimization=True, time_zone="Asia/Shanghai", holdout_share=0.0
    ).campaign.campaign_id
    enroll(service, cid, NOW - timedelta(minutes=1))
    assignment = service.call(
        "GetAssignment", pb.GetAssignmentRequest(campaign_id=cid, profile_id="p00001")
    )
    send_at = assignment.send_at.ToDatetime(tzinfo=UTC)
    assert send_at > NOW - timedelta(minutes=1)
    local = send_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert local.hour == 9 and local.isoweekday() == first.best_weekday
    assert send_at - datetime.now(UTC) <= timedelta(days=7)


def test_attribution_from_stored_events(service: Service) -> None:
    """Journeys built from stored touches (UTM sources of events and campaign sends) before each
    conversion, with non-converting paths for Markov."""
    t0 = NOW - timedelta(days=3)
    service.producers.publish(
        [
            upserted(
                "p00001",
                [
                    event("Page Viewed", {"utm_source": "WeChat"}, t0, "a1"),
                    event("Email Sent", {"campaign_id": "c1"}, t0 + timedelta(hours=1), "a2"),
                    event("Order Completed", {"revenue": 30}, t0 + timedelta(hours=2), "a3"),
                ],
            ),
            upserted(
                "p00002",
                [
                    event("Page Viewed", {"utm_source": "baidu"}, t0, "b1"),
                    event("Order Completed", {"revenue": 10}, t0 + timedelta(hours=1), "b2"),
                ],
            ),
            upserted("p00003", [event("Page Viewed", {"utm_source": "baidu"}, t0, "c1")]),
        ]
    )
    service.settle()
    request = pb.ComputeAttributionRequest(
        start=to_timestamp(t0 - timedelta(days=1)),
        end=to_timestamp(NOW),
        models=[pb.ATTRIBUTION_MODEL_LAST_TOUCH, pb.ATTRIBUTION_MODEL_LINEAR],
    )
    result = service.call("ComputeAttribution", request)
    assert (result.journeys, result.conversions, result.revenue) == (3, 2, 40.0)
    last = {c.channel: (c.conversions, c.revenue) for c in result.results[0].credits}
    assert last == {"email": (1.0, 30.0), "baidu": (1.0, 10.0), "wechat": (0.0, 0.0)}
    linear = {c.channel: c.conversions for c in result.results[1].credits}
    assert linear == {"baidu": 1.0, "wechat": 0.5, "email": 0.5}
    with pytest.raises(grpc.RpcError) as bad:
        service.call(
            "ComputeAttribution",
            pb.ComputeAttributionRequest(channel_field="context.page.referrer"),
        )
    assert "channel_field" in violations(bad.value) or "start" in violations(bad.value)


def small_campaign(
    service: Service, n: int, seed: int, **fields: Any
) -> tuple[str, dict[str, Any]]:
    """A running campaign over `n` members, enrolled, with conversions in and out of the
    window; returns its id and each subject's true orders and revenue in the window."""
    pids = [f"q{i:03}" for i in range(n)]
    service.producers.segments.members[(WORKSPACE, SEGMENT)] = pids
    cid = create(service, min_cell_size=1, **fields).campaign.campaign_id
    assert enroll(service, cid) == n
    rng = np.random.default_rng(seed)
    truth: dict[str, Any] = {"orders": {}, "revenue": {}}
    changes = []
    for pid in pids:
        events = [
            # Before the start (the CUPED covariate) and after the 3-day window: never counted.
            event("Order Completed", {"revenue": 7.0}, START - timedelta(days=2), f"{pid}-pre"),
            event("Order Completed", {"revenue": 9.0}, ENROLLED + timedelta(days=4), f"{pid}-late"),
        ]
        orders = int(rng.integers(0, 3))
        revenue = 0.0
        for k in range(orders):
            amount = float(np.round(rng.uniform(5, 50), 2))
            events.append(
                event(
                    "Order Completed",
                    {"revenue": amount},
                    ENROLLED + timedelta(hours=3 + k),
                    f"{pid}-o{k}",
                )
            )
            revenue += amount
        truth["orders"][pid], truth["revenue"][pid] = orders, revenue
        changes.append(upserted(pid, events))
    service.producers.publish(changes)
    service.settle()
    return cid, truth


def test_campaign_subjects_page_through_what_the_report_counts(service: Service) -> None:
    cid, truth = small_campaign(service, 23, seed=5)
    campaign = service.app.campaigns.get(WORKSPACE, cid)
    listed: list[pb.CampaignSubject] = []
    token, pages = "", 0
    while True:
        page = service.call(
            "ListCampaignSubjects",
            pb.ListCampaignSubjectsRequest(campaign_id=cid, page_size=2, page_token=token),
        )
        pages += 1
        assert page.total_subjects == 23 and page.primary_metric == pb.METRIC_CONVERSION_RATE
        assert len(page.subjects) == (2 if page.next_page_token else 1)
        listed.extend(page.subjects)
        token = page.next_page_token
        if not token:
            break
    assert pages == 12
    # Every subject once, in profile id order.
    assert [s.profile_id for s in listed] == sorted(truth["orders"])
    for s in listed:
        arm = campaign.split.arm_of(bucket_of(WORKSPACE, cid, s.profile_id))
        assert (s.arm_id, s.holdout) == (arm, arm == HOLDOUT)
        assert s.assigned_at.ToDatetime(tzinfo=UTC) == ENROLLED
        assert s.conversions == truth["orders"][s.profile_id]
        assert s.revenue == pytest.approx(truth["revenue"][s.profile_id])
        assert s.outcome == float(s.conversions > 0)
    # Summed per arm they are the report's numbers.
    report = service.call("GetCampaignReport", pb.GetCampaignReportRequest(campaign_id=cid)).report
    assert len({s.arm_id for s in listed}) >= 2
    for arm_result in report.arms:
        mine = [s for s in listed if s.arm_id == arm_result.arm_id]
        assert arm_result.subjects == len(mine)
        assert arm_result.converters == sum(s.conversions > 0 for s in mine)
        assert arm_result.conversions == sum(s.conversions for s in mine)
        assert arm_result.revenue == pytest.approx(sum(s.revenue for s in mine))
    # One page by default; the outcome is the revenue when the primary metric is revenue.
    by_revenue = create(
        service,
        min_cell_size=1,
        primary_metric=pb.METRIC_REVENUE_PER_USER,
        secondary_metrics=[],
    ).campaign.campaign_id
    enroll(service, by_revenue)
    whole = service.call(
        "ListCampaignSubjects", pb.ListCampaignSubjectsRequest(campaign_id=by_revenue)
    )
    assert whole.next_page_token == "" and len(whole.subjects) == 23
    assert whole.primary_metric == pb.METRIC_REVENUE_PER_USER
    assert [s.outcome for s in whole.subjects] == pytest.approx(
        [truth["revenue"][s.profile_id] for s in whole.subjects]
    )

    for bad in ("nope", "czE=", listed[3].profile_id):
        with pytest.raises(grpc.RpcError) as refused:
            service.call(
                "ListCampaignSubjects",
                pb.ListCampaignSubjectsRequest(campaign_id=cid, page_token=bad),
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(violations(refused.value)) == {"page_token"}
    for size in (-1, 10_001):
        with pytest.raises(grpc.RpcError) as refused:
            service.call(
                "ListCampaignSubjects",
                pb.ListCampaignSubjectsRequest(campaign_id=cid, page_size=size),
            )
        assert set(violations(refused.value)) == {"page_size"}
    with pytest.raises(grpc.RpcError) as missing:
        service.call("ListCampaignSubjects", pb.ListCampaignSubjectsRequest(campaign_id="nope"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_uplift_of_a_campaign_reads_its_targeting_models_scores(service: Service) -> None:
    cid, truth = small_campaign(service, 40, seed=8, targeting_model_id="model-1")
    rng = np.random.default_rng(2)
    scores = {pid: float(rng.random()) for pid in truth["orders"]}
    # Scores of profiles outside the campaign are read and counted as unmatched.
    outside = {"a-other": 0.5, "zz-other": 0.9, "zz-third": 0.1}
    segments = service.producers.segments
    segments.model_scores[(WORKSPACE, "model-1")] = {**scores, **outside}
    segments.score_page_limit = 7  # 43 scores: seven pages
    stored = service.call("EvaluateUplift", pb.EvaluateUpliftRequest(campaign_id=cid))
    assert segments.score_pages == 7
    given = service.call(
        "EvaluateUplift",
        pb.EvaluateUpliftRequest(
            campaign_id=cid,
            scores=[
                pb.ProfileScore(profile_id=p, score=s) for p, s in {**scores, **outside}.items()
            ],
        ),
    )
    assert stored.unmatched_scores == 3 and stored.treated + stored.control == 40
    assert stored.treated > 0 and stored.control > 0 and len(stored.curve) == 20
    assert stored == given
    # Another ranking gives another evaluation, so the equality above says the model's scores
    # were the ones used.
    segments.model_scores[(WORKSPACE, "model-1")] = {p: -s for p, s in scores.items()}
    reversed_ = service.call("EvaluateUplift", pb.EvaluateUpliftRequest(campaign_id=cid))
    assert reversed_.unmatched_scores == 0
    assert reversed_.qini_coefficient != pytest.approx(stored.qini_coefficient)

    def refused(campaign_id: str) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as error:
            service.call("EvaluateUplift", pb.EvaluateUpliftRequest(campaign_id=campaign_id))
        return error.value

    no_model = create(service).campaign.campaign_id
    error = refused(no_model)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(error)) == {"scores"}
    unknown = create(service, targeting_model_id="model-gone").campaign.campaign_id
    error = refused(unknown)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "model-gone" in (error.details() or "")
    segments.unscored.add("model-1")
    error = refused(cid)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "model-1" in (error.details() or "")
    segments.unscored.clear()
    segments.fail = True
    assert refused(cid).code() == grpc.StatusCode.UNAVAILABLE
