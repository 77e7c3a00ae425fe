"""Campaign measurement over REST, end to end with the real measurement service behind the
gateway (SQLite and PostgreSQL), fed by stand-in profile and segmentation producers: campaigns
and their validation, scopes, a person's assignment (audited), the report as JSON and as a page,
uplift evaluation of a campaign (scores given or the targeting model's), the campaign's subjects
(audited), and the pure statistics routes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from gateway_support import AUTH, WORKSPACE, MakeClient, assert_error
from scipy import stats as scipy_stats

sys.path.insert(0, str(Path(__file__).parents[2] / "services" / "measurement" / "tests"))

from measurement_support import Service, event, running_service, upserted

from precis.consent.v1 import consent_pb2
from precis_client import PrecisClient
from precis_measurement.campaigns import HOLDOUT, bucket_of

READER = {"X-API-Key": "test-key-campaigns-reader-0123456789"}
SEGMENTS_ONLY = {"X-API-Key": "test-key-campaigns-segments-0123456789"}
ANALYST = {"X-API-Key": "test-key-campaigns-analyst-0123456789"}
KEYS: dict[str, Any] = {
    "test-key-for-ws-test-0123456789": WORKSPACE,
    READER["X-API-Key"]: {"workspace": WORKSPACE, "scopes": ["campaigns:read"]},
    # The subjects listing is each person's data: profiles:read, not campaigns:read.
    ANALYST["X-API-Key"]: {"workspace": WORKSPACE, "scopes": ["profiles:read"]},
    SEGMENTS_ONLY["X-API-Key"]: {"workspace": WORKSPACE, "scopes": ["segments:read"]},
}
NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(days=6)
ENROLLED = START + timedelta(hours=2)
MEMBERS = [f"p{i:04}" for i in range(600)]


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def measurement(database_url_factory: Any, tmp_path: Path) -> Iterator[Service]:
    with running_service(database_url_factory, tmp_path) as service:
        service.producers.segments.members[(WORKSPACE, "seg-all")] = MEMBERS
        service.producers.segments.withheld = {"p0000", "p0001"}
        yield service


@pytest.fixture
def live(make_client: MakeClient, measurement: Service) -> TestClient:
    return make_client(
        gateway_measurement_target=f"127.0.0.1:{measurement.app.port}", gateway_api_keys=KEYS
    )


def campaign_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Autumn <b>bottles</b>",
        "segment_id": "seg-all",
        "channel": "email",
        "arms": [{"arm_id": "discount", "weight": 1}],
        "holdout_share": 0.5,
        "start_time": START.isoformat(),
        "end_time": (NOW + timedelta(days=7)).isoformat(),
        "secondary_metrics": ["revenue_per_user"],
        "attribution_window_hours": 72,
        "cost_per_send": 0.1,
        "currency": "CNY",
    }
    body.update(fields)
    return body


def test_scopes_and_refusals(live: TestClient) -> None:
    assert_error(live.get("/v1/campaigns", headers=SEGMENTS_ONLY), 403, "forbidden")
    assert_error(live.post("/v1/campaigns", json=campaign_body(), headers=READER), 403, "forbidden")
    assert ok(live.get("/v1/campaigns", headers=READER)) == {"campaigns": [], "next_cursor": None}
    assert_error(
        live.post(
            "/v1/campaigns",
            json=campaign_body(arms=[{"arm_id": "Bad Id", "weight": 0}], holdout_share=0.9),
            headers=AUTH,
        ),
        422,
        "invalid_argument",
        "arms[0].arm_id",
        "arms[0].weight",
        "holdout_share",
    )
    # What only the service can judge comes back under the body's own field names.
    assert_error(
        live.post("/v1/campaigns", json=campaign_body(segment_id="seg-none"), headers=AUTH),
        422,
        "invalid_argument",
        "segment_id",
    )
    assert_error(
        live.post(
            "/v1/campaigns",
            json=campaign_body(arms=[{"arm_id": "holdout", "weight": 1}]),
            headers=AUTH,
        ),
        422,
        "invalid_argument",
        "arms[0].arm_id",
    )
    assert_error(
        live.get("/v1/campaigns?state=running", headers=AUTH), 422, "invalid_argument", "state"
    )
    assert_error(live.get("/v1/campaigns/nope", headers=AUTH), 404, "not_found")


def test_a_campaign_through_the_gateway(live: TestClient, measurement: Service) -> None:
    created = ok(live.post("/v1/campaigns", json=campaign_body(), headers=AUTH), 201)
    campaign = created["campaign"]
    cid = campaign["campaign_id"]
    assert campaign["status"] == "running" and campaign["attribution_window_hours"] == 72
    assert campaign["pre_period_days"] == 28 and campaign["currency"] == "CNY"
    campaign_row = measurement.app.campaigns.get(WORKSPACE, cid)
    assert measurement.app.enroller.enroll(campaign_row, now=ENROLLED) == len(MEMBERS) - 2

    rng = np.random.default_rng(11)
    outcome: dict[str, dict[str, list[float]]] = {"discount": {}, HOLDOUT: {}}
    changes = []
    for pid in MEMBERS[2:]:
        arm = campaign_row.split.arm_of(bucket_of(WORKSPACE, cid, pid))
        bought = rng.random() < (0.3 if arm == "discount" else 0.15)
        revenue = float(np.round(rng.uniform(20, 80), 2)) if bought else 0.0
        events = []
        if arm != HOLDOUT:
            events.append(event("Email Sent", {"campaign_id": cid}, ENROLLED, f"{pid}-s"))
            events.append(
                event(
                    "Email Opened",
                    {"campaign_id": cid},
                    ENROLLED.replace(hour=9) + timedelta(days=1),
                    f"{pid}-o",
                )
            )
        if bought:
            events.append(
                event(
                    "Order Completed",
                    {"revenue": revenue},
                    ENROLLED + timedelta(hours=5),
                    f"{pid}-b",
                )
            )
        outcome[arm].setdefault("converted", []).append(float(bought))
        outcome[arm].setdefault("revenue", []).append(revenue)
        changes.append(upserted(pid, events, user_id=f"u-{pid}"))
    measurement.producers.publish(changes, workspace=WORKSPACE)
    measurement.settle()

    report = ok(live.get(f"/v1/campaigns/{cid}/report", headers=READER))
    assert report["excluded_without_consent"] == 2
    arms = {a["arm_id"]: a for a in report["arms"]}
    assert arms["discount"]["subjects"] == len(outcome["discount"]["converted"])
    assert arms["discount"]["sends"] == arms["discount"]["subjects"]
    conversion = report["lifts"][0]
    assert (conversion["arm"], conversion["metric"], conversion["test"]) == (
        "discount",
        "conversion_rate",
        "welch_t",
    )
    expected = scipy_stats.ttest_ind(
        outcome["discount"]["converted"], outcome[HOLDOUT]["converted"], equal_var=False
    )
    assert conversion["p_value"] == pytest.approx(expected.pvalue, rel=1e-6)
    assert conversion["absolute_lift"]["interval"]["lower"] > 0  # 30% against 15%
    assert report["impacts"][0]["incremental_conversions"]["value"] > 0
    assert report["srm"]["mismatch"] is False
    assert report["cumulative_lift"] and report["uplift"] is None

    # A person's arm, by identifier and by profile id; audited as a read of that person.
    pid = MEMBERS[10]
    by_user = ok(live.get(f"/v1/campaigns/{cid}/assignments/user_id/u-{pid}", headers=READER))
    by_profile = ok(live.get(f"/v1/campaigns/{cid}/assignments/profile_id/{pid}", headers=AUTH))
    assert by_user == by_profile and by_user["profile_id"] == pid
    assert by_user["arm_id"] == campaign_row.split.arm_of(bucket_of(WORKSPACE, cid, pid))
    assert_error(
        live.get(f"/v1/campaigns/{cid}/assignments/profile_id/p0000", headers=AUTH),
        404,
        "not_found",
    )

    # Scores evaluated against the campaign's outcomes land in the report.
    scores = {p: float(rng.random()) for p in MEMBERS[2:]}
    uplift = ok(
        live.post(
            f"/v1/campaigns/{cid}/uplift-evaluations",
            json={"scores": [{"profile_id": p, "score": s} for p, s in scores.items()]},
            headers=AUTH,
        )
    )
    assert uplift["treated"] + uplift["control"] == len(MEMBERS) - 2
    again = ok(live.get(f"/v1/campaigns/{cid}/report", headers=READER))
    assert again["uplift"]["qini_coefficient"] == pytest.approx(uplift["qini_coefficient"])

    page = live.get(f"/v1/campaigns/{cid}/report.html", headers=READER)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "Autumn &lt;b&gt;bottles&lt;/b&gt;" in page.text and "<b>bottles" not in page.text
    assert 'data-chart="conversion-by-arm"' in page.text

    # The SDK reaches the same routes.
    sdk = PrecisClient("http://testserver", AUTH["X-API-Key"], transport=live._transport)
    assert sdk.get_campaign(cid)["name"] == "Autumn <b>bottles</b>"
    assert sdk.campaign_assignment(cid, "profile_id", pid)["arm_id"] == by_user["arm_id"]
    times = sdk.best_send_times([MEMBERS[10], MEMBERS[11]], channel="email")
    assert len(times["send_times"]) == 2
    stopped = sdk.update_campaign(cid, end_time=NOW - timedelta(days=1))
    assert stopped["status"] == "ended"


def test_statistics_routes(live: TestClient) -> None:
    analysis = ok(
        live.post(
            "/v1/measurement/analyze",
            json={
                "metric_type": "proportion",
                "arms": [
                    {"name": "control", "control": True, "n": 5000, "sum": 410},
                    {"name": "subject_b", "n": 5000, "sum": 468},
                ],
            },
            headers=READER,
        )
    )
    assert analysis["lifts"][0]["arm"] == "subject_b" and 0 < analysis["lifts"][0]["p_value"] < 1
    assert_error(
        live.post(
            "/v1/measurement/analyze",
            json={
                "metric_type": "proportion",
                "arms": [{"name": "a", "n": 10, "sum": 1}, {"name": "b", "n": 10, "sum": 1}],
            },
            headers=READER,
        ),
        422,
        "invalid_argument",
        "arms",
    )
    plan = ok(
        live.post(
            "/v1/measurement/power",
            json={"metric_type": "proportion", "baseline": 0.05, "relative_mde": 0.2},
            headers=READER,
        )
    )
    assert plan["total_units"] == plan["control_units"] + plan["treatment_units_per_arm"]
    attribution = ok(
        live.post(
            "/v1/measurement/attribution",
            json={
                "journeys": [
                    {
                        "touchpoints": [{"channel": "email"}, {"channel": "wechat"}],
                        "converted": True,
                        "revenue": 30,
                    },
                    {"touchpoints": [{"channel": "wechat"}]},
                ],
                "models": ["first_touch", "markov"],
            },
            headers=READER,
        )
    )
    first = attribution["results"][0]
    assert first["model"] == "first_touch" and first["credits"][0]["channel"] == "email"
    uplift = ok(
        live.post(
            "/v1/measurement/uplift",
            json={
                "observations": [
                    {"score": 0.9, "treated": True, "outcome": 1},
                    {"score": 0.5, "treated": False, "outcome": 0},
                ]
            },
            headers=READER,
        )
    )
    assert uplift["treated"] == 1 and uplift["control"] == 1


def test_assignments_recorded_through_the_gateway(live: TestClient, measurement: Service) -> None:
    measurement.producers.publish(
        [upserted(pid, user_id=f"u-{pid}") for pid in MEMBERS[:4]], workspace=WORKSPACE
    )
    measurement.settle()
    created = ok(
        live.post(
            "/v1/campaigns",
            json=campaign_body(external_assignment=True, min_cell_size=1),
            headers=AUTH,
        ),
        201,
    )
    cid = created["campaign"]["campaign_id"]
    assert created["campaign"]["external_assignment"] is True
    at = ENROLLED.isoformat()
    assert_error(
        live.post(
            f"/v1/campaigns/{cid}/assignments",
            json={
                "assignments": [
                    {
                        "identifier_type": "user_id",
                        "value": "u-p0000",
                        "arm_id": "discount",
                        "assigned_at": at,
                    },
                    {
                        "identifier_type": "user_id",
                        "value": "nobody",
                        "arm_id": "discount",
                        "assigned_at": at,
                    },
                    {
                        "identifier_type": "profile_id",
                        "value": "p0002",
                        "arm_id": "nope",
                        "assigned_at": at,
                    },
                ]
            },
            headers=AUTH,
        ),
        422,
        "invalid_argument",
        "assignments[1].value",
        "assignments[2].arm_id",
    )
    recorded = ok(
        live.post(
            f"/v1/campaigns/{cid}/assignments",
            json={
                "assignments": [
                    {
                        "identifier_type": "user_id",
                        "value": "u-p0000",
                        "arm_id": "discount",
                        "assigned_at": at,
                    },
                    {
                        "identifier_type": "profile_id",
                        "value": "p0002",
                        "arm_id": "holdout",
                        "assigned_at": at,
                    },
                ]
            },
            headers=AUTH,
        )
    )
    assert recorded == {"recorded": 2, "unchanged": 0, "conflicting": 0}
    arm = ok(live.get(f"/v1/campaigns/{cid}/assignments/user_id/u-p0000", headers=READER))
    assert (arm["profile_id"], arm["arm_id"]) == ("p0000", "discount")
    report = ok(live.get(f"/v1/campaigns/{cid}/report", headers=READER))
    assert {a["arm_id"]: a["subjects"] for a in report["arms"]} == {"discount": 1, "holdout": 1}


def test_campaign_subjects_and_the_targeting_models_scores(
    live: TestClient, measurement: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    audited: list[consent_pb2.AuditEvent] = []

    def submit(workspace: str, event: consent_pb2.AuditEvent) -> bool:
        assert workspace == WORKSPACE
        audited.append(event)
        return True

    # The events as the gateway hands them to the consent service.
    monkeypatch.setattr(live.app.state.audit, "submit", submit)  # type: ignore[attr-defined]
    body = campaign_body(targeting_model_id="model-7", min_cell_size=1)
    cid = ok(live.post("/v1/campaigns", json=body, headers=AUTH), 201)["campaign"]["campaign_id"]
    row = measurement.app.campaigns.get(WORKSPACE, cid)
    assert measurement.app.enroller.enroll(row, now=ENROLLED) == len(MEMBERS) - 2
    bought = {pid: 10.0 + i for i, pid in enumerate(MEMBERS[2::3])}
    measurement.producers.publish(
        [
            upserted(
                pid,
                [event("Order Completed", {"revenue": r}, ENROLLED + timedelta(hours=1), pid)],
            )
            for pid, r in bought.items()
        ],
        workspace=WORKSPACE,
    )
    measurement.settle()

    # Every subject once, by profile id, a page at a time; each page audited.
    subjects: list[dict[str, Any]] = []
    params: dict[str, Any] = {"page_size": 250}
    pages = 0
    while True:
        page = ok(
            live.get(
                f"/v1/campaigns/{cid}/subjects",
                params=params,
                headers={**ANALYST, "X-Precis-Purpose": "model_training"},
            )
        )
        pages += 1
        assert page["total_subjects"] == len(MEMBERS) - 2
        assert page["primary_metric"] == "conversion_rate" and page["campaign_id"] == cid
        subjects += page["subjects"]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert pages == 3
    assert [s["profile_id"] for s in subjects] == MEMBERS[2:]
    for s in subjects:
        assert s["arm_id"] == row.split.arm_of(bucket_of(WORKSPACE, cid, s["profile_id"]))
        assert s["holdout"] == (s["arm_id"] == HOLDOUT)
        assert (s["conversions"], s["revenue"]) == (
            (1, bought[s["profile_id"]]) if s["profile_id"] in bought else (0, 0.0)
        )
        assert s["outcome"] == float(s["profile_id"] in bought)
    report = ok(live.get(f"/v1/campaigns/{cid}/report", headers=READER))
    for arm in report["arms"]:
        mine = [s for s in subjects if s["arm_id"] == arm["arm_id"]]
        assert arm["subjects"] == len(mine)
        assert arm["converters"] == sum(s["conversions"] > 0 for s in mine)
        assert arm["revenue"] == pytest.approx(sum(s["revenue"] for s in mine))
    listed = [e for e in audited if e.resource == f"campaign:{cid}:subjects"]
    assert [e.record_count for e in listed] == [250, 250, 98]
    assert all(e.action == consent_pb2.AUDIT_ACTION_READ for e in listed)
    assert {e.purpose for e in listed} == {"model_training"}

    assert_error(
        live.get(f"/v1/campaigns/{cid}/subjects?cursor=nope", headers=ANALYST),
        422,
        "invalid_argument",
        "cursor",
    )
    assert_error(
        live.get(f"/v1/campaigns/{cid}/subjects?page_size=0", headers=ANALYST),
        422,
        "invalid_argument",
        "page_size",
    )
    assert_error(live.get("/v1/campaigns/nope/subjects", headers=ANALYST), 404, "not_found")
    # campaigns:read reads reports, not every subject's outcome.
    assert_error(live.get(f"/v1/campaigns/{cid}/subjects", headers=READER), 403, "forbidden")
    assert_error(live.get(f"/v1/campaigns/{cid}/subjects", headers=SEGMENTS_ONLY), 403, "forbidden")

    # Without scores, the targeting model's current scores are evaluated: the same result as
    # giving them.
    rng = np.random.default_rng(4)
    scores = {pid: float(rng.random()) for pid in MEMBERS}  # p0000, p0001: not subjects
    measurement.producers.segments.model_scores[(WORKSPACE, "model-7")] = scores
    stored = ok(live.post(f"/v1/campaigns/{cid}/uplift-evaluations", json={}, headers=AUTH))
    given = ok(
        live.post(
            f"/v1/campaigns/{cid}/uplift-evaluations",
            json={"scores": [{"profile_id": p, "score": s} for p, s in scores.items()]},
            headers=AUTH,
        )
    )
    assert stored == given and stored["unmatched_scores"] == 2
    assert stored["treated"] + stored["control"] == len(MEMBERS) - 2
    without_model = ok(live.post("/v1/campaigns", json=campaign_body(), headers=AUTH), 201)
    assert_error(
        live.post(
            f"/v1/campaigns/{without_model['campaign']['campaign_id']}/uplift-evaluations",
            json={"scores": []},
            headers=AUTH,
        ),
        422,
        "invalid_argument",
        "scores",
    )
    unknown = campaign_body(targeting_model_id="model-gone")
    gone = ok(live.post("/v1/campaigns", json=unknown, headers=AUTH), 201)["campaign"]
    refused = assert_error(
        live.post(f"/v1/campaigns/{gone['campaign_id']}/uplift-evaluations", json={}, headers=AUTH),
        412,
        "failed_precondition",
    )
    assert "model-gone" in refused["message"]

    # The SDK reaches the same routes.
    sdk = PrecisClient("http://testserver", AUTH["X-API-Key"], transport=live._transport)
    assert list(sdk.iter_campaign_subjects(cid, page_size=100)) == subjects
    first = sdk.campaign_subjects(cid, page_size=5)
    assert first["subjects"] == subjects[:5] and first["next_cursor"]
    assert sdk.evaluate_campaign_uplift(cid) == stored
