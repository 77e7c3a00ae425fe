"""The built-in audience families over REST with the real segmentation service behind the gateway
(SQLite and PostgreSQL): RFM cells saved as segments, a clustering job polled to success, a
predictive model polled to success with its lift table and an audience made from it, a
lookalike audience; scopes; refused parameters named by field; unknown models and jobs. The
Python client's audience methods run against the same stack.

The workspace is written straight into the service's read model, as its profile consumer would
(what services/segmentation/tests/test_families_service.py does): loyal buyers order every few
weeks, occasional ones once or twice a year."""

from __future__ import annotations

import csv
import io
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gateway_support import AUTH, KEY, WORKSPACE, MakeClient, assert_error
from segmentation_producers import Segmentation, running_segmentation
from sqlalchemy import insert

from precis.segmentation.v1 import segmentation_pb2 as pb
from precis_client import PrecisClient, PrecisError
from precis_gateway.routers.families import model_view
from precis_gateway.scopes import Caller, Scope
from precis_segmentation.store import seg_event_facts, seg_profiles

ANALYST = {"X-API-Key": "test-key-family-analyst-0123456789"}  # segments:read
EDITOR = {"X-API-Key": "test-key-family-editor-0123456789"}  # segments:read and write
KEYS: dict[str, Any] = {
    KEY: WORKSPACE,  # full access, privacy:admin included: exact counts
    ANALYST["X-API-Key"]: {"workspace": WORKSPACE, "scopes": ["segments:read"]},
    EDITOR["X-API-Key"]: {"workspace": WORKSPACE, "scopes": ["segments:read", "segments:write"]},
}
ORDER = "Order Completed"
NOW = datetime.now(UTC)
PROFILES = 400
# Every third profile is a loyal buyer (an RFM champion); the others hibernate.
LOYAL = {f"p{i:04d}" for i in range(0, PROFILES, 3)}


def synthetic(count: int, seed: int = 3) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rng = random.Random(seed)
    profiles: dict[str, Any] = {}
    facts: list[dict[str, Any]] = []
    for i in range(count):
        pid = f"p{i:04d}"
        loyal = i % 3 == 0
        gap = rng.uniform(10, 25) if loyal else rng.uniform(120, 300)
        at, n = NOW - timedelta(days=400), 0
        while at < NOW - timedelta(days=1):
            revenue = rng.uniform(40, 90) if loyal else rng.uniform(5, 30)
            facts.append(
                {
                    "workspace_id": WORKSPACE,
                    "profile_id": pid,
                    "event": ORDER,
                    "occurred_at": at,
                    "properties": {"revenue": revenue},
                    "revenue": revenue,
                    "quantity": None,
                    "message_id": f"{pid}-{n}",
                }
            )
            at += timedelta(days=gap * rng.uniform(0.7, 1.3))
            n += 1
        cell = "champions" if loyal else "hibernating"
        profiles[pid] = {"rfm_cell": cell, "revenue": 50.0 if loyal else 10.0}
    return profiles, facts


def load(segmentation: Segmentation, count: int) -> None:
    profiles, facts = synthetic(count)
    with segmentation.app.database.write() as session:
        session.execute(
            insert(seg_profiles),
            [
                {
                    "workspace_id": WORKSPACE,
                    "profile_id": pid,
                    "traits": {},
                    "computed": computed,
                    "updated_at": NOW,
                }
                for pid, computed in profiles.items()
            ],
        )
        for start in range(0, len(facts), 5000):
            session.execute(insert(seg_event_facts), facts[start : start + 5000])


@pytest.fixture
def segmentation(
    database_url_factory: Callable[[str], str], tmp_path: Path
) -> Iterator[Segmentation]:
    with running_segmentation(database_url_factory, tmp_path / "segmentation") as running:
        load(running, PROFILES)
        running.settle()  # the consent state is current: estimates for a channel are answered
        yield running


@pytest.fixture
def client(make_client: MakeClient, segmentation: Segmentation) -> TestClient:
    return make_client(gateway_segmentation_target=segmentation.target, gateway_api_keys=KEYS)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def finished(client: TestClient, url: str, timeout: float = 120.0) -> dict[str, Any]:
    """Poll a job or model until it has succeeded or failed."""
    deadline = time.monotonic() + timeout
    while True:
        found = ok(client.get(url, headers=AUTH))
        if found["state"] in ("succeeded", "failed"):
            return found
        assert time.monotonic() < deadline, f"{url} still {found['state']}"
        time.sleep(0.1)


def test_rfm_cells_become_segments_and_clusters_are_found(client: TestClient) -> None:
    cells = ok(client.get("/v1/segments/rfm-cells", headers=ANALYST))
    by_name = {c["name"]: c for c in cells["cells"]}
    assert len(by_name) == 11
    assert (by_name["champions"]["profile_count"], by_name["hibernating"]["profile_count"]) == (
        len(LOYAL),
        PROFILES - len(LOYAL),
    )
    assert cells["profiles_with_orders"] == PROFILES and cells["suppressed_counts"] == []
    assert by_name["champions"]["share"] == pytest.approx(len(LOYAL) / PROFILES)
    assert by_name["champions"]["segment_id"] is None and by_name["champions"]["rule"]
    assert by_name["lost"]["profile_count"] == 0 and by_name["lost"]["share"] == 0

    created = ok(
        client.post("/v1/segments/rfm-cells", json={"create_segments": True}, headers=EDITOR)
    )
    champions = {c["name"]: c for c in created["cells"]}["champions"]
    segment = ok(client.get(f"/v1/segments/{champions['segment_id']}", headers=ANALYST))
    assert (segment["family"], segment["origin"], segment["member_count"]) == (
        "rfm",
        "rfm:champions",
        len(LOYAL),
    )
    again = ok(client.post("/v1/segments/rfm-cells", json={"create_segments": True}, headers=AUTH))
    assert [c["segment_id"] for c in again["cells"]] == [c["segment_id"] for c in created["cells"]]
    listed = ok(client.get("/v1/segments", params={"family": "rfm"}, headers=AUTH))["segments"]
    assert len(listed) == 11

    job = ok(
        client.post(
            "/v1/clustering-jobs",
            json={"k_min": 2, "k_max": 4, "seed": 1, "create_segments": True},
            headers=EDITOR,
        ),
        202,
    )
    # Queued when started; a free worker may have picked it up before the answer was read.
    assert job["state"] in ("queued", "running") and job["parameters"]["k_max"] == 4
    assert job["clusters"] == [] and job["chosen_k"] is None and job["finished_at"] is None
    done = finished(client, f"/v1/clustering-jobs/{job['job_id']}")
    assert done["state"] == "succeeded", done["error"]
    assert [s["k"] for s in done["silhouettes"]] == [2, 3, 4]
    assert done["chosen_k"] == max(done["silhouettes"], key=lambda s: s["silhouette"])["k"]
    assert sum(c["size"] for c in done["clusters"]) == done["profile_count"] == PROFILES
    assert done["finished_at"] and done["error"] is None
    for cluster in done["clusters"]:
        assert cluster["description"] and cluster["features"]
        made = ok(client.get(f"/v1/segments/{cluster['segment_id']}", headers=AUTH))
        assert (made["family"], made["member_count"]) == ("cluster", cluster["size"])
    assert ok(client.get(f"/v1/clustering-jobs/{job['job_id']}", headers=ANALYST)) == done


def test_a_predictive_model_its_audience_and_a_lookalike(client: TestClient) -> None:
    model = ok(
        client.post(
            "/v1/predictive-models",
            json={"kind": "propensity", "horizon_days": 30, "seed": 2, "name": "buys in 30d"},
            headers=EDITOR,
        ),
        202,
    )
    assert model["state"] in ("queued", "running")
    assert (model["version"], model["kind"]) == (1, "propensity")
    assert model["parameters"]["target_event"] == ORDER and model["parameters"]["cutoff"]
    assert (model["auc"], model["deciles"], model["error"]) == (None, [], None)
    url = f"/v1/predictive-models/{model['model_id']}"
    trained = finished(client, url)
    assert trained["state"] == "succeeded", trained["error"]
    assert trained["auc"] > 0.8 and trained["progress"] == 1
    deciles = trained["deciles"]
    assert [d["decile"] for d in deciles] == list(range(1, 11))
    assert deciles[0]["lift"] > 1.5 and deciles[-1]["cumulative_capture"] == pytest.approx(1)
    assert sum(d["profile_count"] for d in deciles) == trained["test_rows"]
    assert trained["training_rows"] + trained["test_rows"] == PROFILES
    assert sum(trained["feature_importances"].values()) == pytest.approx(1.0)
    assert ok(client.get(url, headers=ANALYST))["auc"] == trained["auc"]

    audience = ok(
        client.post(
            f"{url}/audiences", json={"name": "Likely buyers", "top_fraction": 0.25}, headers=EDITOR
        ),
        201,
    )
    segment = audience["segment"]
    assert (segment["family"], segment["origin"], segment["member_count"]) == (
        "predictive",
        f"predictive:{model['model_id']}",
        PROFILES // 4,
    )
    assert segment["rule"]["score"]["model"] == model["model_id"]
    assert segment["rule"]["score"]["op"] == ">="
    assert audience["expected_lift"] > 1.5 and 0 < audience["expected_rate"] <= 1

    # A second version of the same model; the list is newest first, in pages.
    second = ok(
        client.post(
            "/v1/predictive-models",
            json={"horizon_days": 30, "seed": 3, "name": "buys in 30d"},
            headers=AUTH,
        ),
        202,
    )
    assert second["version"] == 2
    page = ok(client.get("/v1/predictive-models", params={"page_size": 1}, headers=ANALYST))
    assert [m["model_id"] for m in page["models"]] == [second["model_id"]]
    rest = ok(
        client.get(
            "/v1/predictive-models",
            params={"page_size": 1, "cursor": page["next_cursor"]},
            headers=ANALYST,
        )
    )
    assert [m["model_id"] for m in rest["models"]] == [model["model_id"]]
    assert ok(client.get("/v1/predictive-models?kind=churn", headers=AUTH))["models"] == []
    finished(client, f"/v1/predictive-models/{second['model_id']}")

    seed = ok(
        client.post(
            "/v1/segments",
            json={
                "name": "Champions",
                "rule": {"field": "computed.rfm_cell", "op": "=", "value": "champions"},
                "materialize": True,
            },
            headers=AUTH,
        ),
        201,
    )
    lookalike = ok(
        client.post(
            f"/v1/segments/{seed['segment_id']}/lookalikes",
            json={"name": "Like champions", "size": 50, "seed": 4},
            headers=EDITOR,
        ),
        201,
    )
    assert (lookalike["segment"]["family"], lookalike["segment"]["member_count"]) == (
        "lookalike",
        50,
    )
    quality = lookalike["quality"]
    assert quality["holdout_size"] > 0 and 0 <= quality["similarity_cutoff"] <= 1
    assert quality["lift_over_random"] > 0 and lookalike["suppressed_counts"] == []


def test_scopes_and_refused_parameters(client: TestClient) -> None:
    for method, path, body in (
        ("POST", "/v1/segments/rfm-cells", {"create_segments": True}),
        ("POST", "/v1/clustering-jobs", {}),
        ("POST", "/v1/predictive-models", {}),
        ("POST", "/v1/predictive-models/pm_x/audiences", {"name": "x", "top_fraction": 0.1}),
        ("POST", "/v1/segments/seg_x/lookalikes", {"name": "x", "size": 10}),
    ):
        error = assert_error(
            client.request(method, path, json=body, headers=ANALYST), 403, "forbidden"
        )
        assert "segments:write" in error["message"], path
    assert_error(
        client.get("/v1/segments/rfm-cells", headers={"X-API-Key": "nope"}), 401, "unauthenticated"
    )

    def refused(path: str, body: dict[str, Any], field: str) -> dict[str, Any]:
        return assert_error(
            client.post(path, json=body, headers=EDITOR), 422, "invalid_argument", field
        )

    # k_max below k_min is the service's check, named by the REST field.
    error = refused("/v1/clustering-jobs", {"k_min": 5, "k_max": 3}, "k_max")
    assert "between k_min and 20" in error["details"][0]["reason"]
    refused("/v1/clustering-jobs", {"k_min": 25}, "k_min")
    refused("/v1/clustering-jobs", {"k_min": 1}, "k_min")
    refused("/v1/clustering-jobs", {"colour": "blue"}, "colour")
    refused("/v1/clustering-jobs", {"features": [f"f{i}" for i in range(33)]}, "features")
    refused("/v1/predictive-models", {"kind": "upsell"}, "kind")
    refused("/v1/predictive-models", {"horizon_days": 400}, "horizon_days")
    refused("/v1/predictive-models", {"test_fraction": 0.01}, "test_fraction")
    refused("/v1/predictive-models", {"cutoff": "2026-01-01T00:00:00"}, "cutoff")
    audiences = "/v1/predictive-models/pm_x/audiences"
    refused(audiences, {"name": "x", "top_fraction": 1.5}, "top_fraction")
    refused(audiences, {"name": "x", "top_fraction": 0}, "top_fraction")
    refused(audiences, {"name": "x", "min_score": -1.1}, "min_score")
    refused(audiences, {"name": "x"}, "top_fraction")
    refused(audiences, {"name": "x", "top_fraction": 0.1, "min_score": 0.5}, "top_fraction")
    refused("/v1/segments/seg_x/lookalikes", {"name": "x", "size": 0}, "size")
    refused("/v1/segments/seg_x/lookalikes", {"size": 10}, "name")

    assert_error(client.get("/v1/predictive-models/pm_nope", headers=AUTH), 404, "not_found")
    assert_error(client.get("/v1/clustering-jobs/cj_nope", headers=AUTH), 404, "not_found")
    assert_error(
        client.post(
            "/v1/predictive-models/pm_nope/audiences",
            json={"name": "x", "top_fraction": 0.1},
            headers=AUTH,
        ),
        404,
        "not_found",
    )
    assert_error(
        client.post(
            "/v1/segments/seg_nope/lookalikes", json={"name": "x", "size": 5}, headers=AUTH
        ),
        404,
        "not_found",
    )
    # A seed that was never materialized has no members to expand.
    unmaterialized = ok(
        client.post(
            "/v1/segments",
            json={"name": "Later", "rule": {"field": "computed.revenue", "op": ">", "value": 1}},
            headers=AUTH,
        ),
        201,
    )
    error = assert_error(
        client.post(
            f"/v1/segments/{unmaterialized['segment_id']}/lookalikes",
            json={"name": "x", "size": 5},
            headers=AUTH,
        ),
        412,
        "failed_precondition",
    )
    assert "not materialized" in error["message"]
    # No profile ever converts on an event nobody sends: training fails, with the reason, and
    # the failed model makes no audience.
    never = ok(
        client.post("/v1/predictive-models", json={"target_event": "Never Sent"}, headers=AUTH),
        202,
    )
    failed = finished(client, f"/v1/predictive-models/{never['model_id']}")
    assert failed["state"] == "failed" and failed["error"], failed
    assert (failed["auc"], failed["deciles"], failed["test_rows"]) == (None, [], None)
    assert_error(
        client.post(
            f"/v1/predictive-models/{never['model_id']}/audiences",
            json={"name": "x", "top_fraction": 0.1},
            headers=AUTH,
        ),
        412,
        "failed_precondition",
    )


def test_small_test_set_counts_are_withheld_with_what_would_give_them_away() -> None:
    """The lift table of a small test set, as a key without privacy:admin sees it: decile
    counts below k are withheld, with the rate, lift and cumulative columns that would give
    them back."""
    model = pb.PredictiveModel(
        model_id="pm_1",
        version=1,
        name="m",
        kind=pb.PREDICTION_KIND_PROPENSITY,
        state=pb.JOB_STATE_SUCCEEDED,
        training_rows=800,
        test_rows=200,
        positive_rate=0.25,
        auc=0.9,
        parameters=pb.PredictiveModelParameters(kind=pb.PREDICTION_KIND_PROPENSITY),
    )
    model.created_at.FromDatetime(NOW)
    positives = [20, 15, 10, 5, 0, 0, 0, 0, 0, 0]
    total = sum(positives)
    cumulative = 0
    for i, hits in enumerate(positives):
        cumulative += hits
        model.deciles.append(
            pb.LiftDecile(
                decile=i + 1,
                profile_count=20,
                positives=hits,
                min_score=1 - i / 10,
                rate=hits / 20,
                lift=(hits / 20) / (total / 200),
                cumulative_lift=(cumulative / (20 * (i + 1))) / (total / 200),
                cumulative_capture=cumulative / total,
            )
        )
    analyst = Caller(WORKSPACE, "key:1", frozenset({Scope.SEGMENTS_READ}))
    shown = model_view(model, analyst, 10)
    # 5 positives in decile 4 is small; decile 3's 10 is withheld as its complement.
    assert [d.positives for d in shown.deciles] == [20, 15, None, None, 0, 0, 0, 0, 0, 0]
    assert [d.rate is None for d in shown.deciles] == [False, False, True, True] + [False] * 6
    assert [d.cumulative_capture is None for d in shown.deciles] == [False] * 2 + [True] * 8
    assert shown.deciles[0].lift == pytest.approx(4.0)
    assert shown.suppressed_counts == ["deciles[2].positives", "deciles[3].positives"]
    assert (shown.test_rows, shown.training_rows, shown.positive_rate) == (200, 800, 0.25)
    admin = Caller(WORKSPACE, "key:2", frozenset({Scope.PRIVACY_ADMIN}))
    exact = model_view(model, admin, 10)
    assert [d.positives for d in exact.deciles] == positives and exact.suppressed_counts == []


def test_an_uplift_models_evaluation_follows_the_small_cell_rule() -> None:
    """Deciles of 40 treated and 40 holdout subjects; the treated converters of deciles 3 and 4
    (6 and 4) are small or their complement, so those rates, uplifts and every cumulative gain
    and top-k figure covering them are withheld for an analyst; counts stay shown."""
    model = pb.PredictiveModel(
        model_id="pm_u",
        kind=pb.PREDICTION_KIND_UPLIFT,
        state=pb.JOB_STATE_SUCCEEDED,
        training_rows=3200,
        test_rows=800,
        positive_rate=0.1,
        parameters=pb.PredictiveModelParameters(
            kind=pb.PREDICTION_KIND_UPLIFT,
            campaign_id="cmp_1",
            uplift_method=pb.UPLIFT_METHOD_TWO_MODEL,
        ),
    )
    model.created_at.FromDatetime(NOW)
    treated_hits = [20, 16, 6, 4, 12, 12, 12, 12, 12, 12]
    for i, hits in enumerate(treated_hits):
        model.uplift.deciles.append(
            pb.UpliftModelDecile(
                decile=i + 1,
                treated=40,
                control=40,
                treated_rate=hits / 40,
                control_rate=12 / 40,
                uplift=(hits - 12) / 40,
                cumulative_gain=0.1 * (i + 1),
                min_score=0.5 - i / 10,
            )
        )
    model.uplift.treated = model.uplift.control = 400
    model.uplift.qini_coefficient, model.uplift.average_uplift = 0.12, 0.01
    for fraction, covered in ((0.1, 1), (0.2, 2), (0.3, 3), (0.5, 5)):
        model.uplift.uplift_at_k.append(
            pb.UpliftModelAtFraction(
                fraction=fraction, uplift=0.1, treated=40 * covered, control=40 * covered
            )
        )
    analyst = Caller(WORKSPACE, "key:1", frozenset({Scope.SEGMENTS_READ}))
    shown = model_view(model, analyst, 10)
    assert (shown.kind, shown.auc, shown.deciles) == ("uplift", None, [])
    assert (shown.parameters.campaign_id, shown.parameters.uplift_method) == (
        "cmp_1",
        "two_model",
    )
    u = shown.uplift
    assert u is not None and u.qini_coefficient == 0.12
    assert [d.treated for d in u.deciles] == [40] * 10
    assert [d.uplift is None for d in u.deciles] == [False, False, True, True] + [False] * 6
    assert [d.cumulative_gain is None for d in u.deciles] == [False] * 2 + [True] * 8
    assert [a.uplift is None for a in u.uplift_at_k] == [False, False, True, True]
    assert [a.treated for a in u.uplift_at_k] == [40, 80, 120, 200]
    assert u.average_uplift == 0.01 and shown.test_rows == 800
    assert (shown.training_rows, shown.positive_rate) == (3200, 0.1)
    exact = model_view(model, Caller(WORKSPACE, "key:2", frozenset({Scope.PRIVACY_ADMIN})), 10)
    assert exact.uplift is not None
    assert all(d.uplift is not None for d in exact.uplift.deciles)


def test_the_python_client_drives_the_families(client: TestClient) -> None:
    # The SDK over the TestClient's transport: the same app, no network.
    sdk = PrecisClient(
        "http://testserver", KEY, transport=client._transport, sleep=lambda _s: time.sleep(0.1)
    )
    with sdk:
        cells = sdk.rfm_cells(create_segments=True)
        champions = next(c for c in cells["cells"] if c["name"] == "champions")
        assert champions["profile_count"] == len(LOYAL) and champions["segment_id"]
        assert len(sdk.list_segments(family="rfm")) == 11
        assert sdk.rfm_cells()["cells"][0]["segment_id"] == cells["cells"][0]["segment_id"]

        created = sdk.create_segment(
            "Big spenders",
            {"field": "computed.revenue", "op": ">=", "value": 50},
            description="loyal",
            refresh_interval_seconds=3600,
        )
        segment_id = created["segment_id"]
        assert sdk.get_segment(segment_id)["refresh_interval_seconds"] == 3600
        assert sdk.estimate_segment(segment_id=segment_id)["matched_count"] == len(LOYAL)
        estimate = sdk.estimate_segment(
            rule={"field": "computed.revenue", "op": "<", "value": 50}, channel="email"
        )
        assert (estimate["matched_count"], estimate["releasable_count"]) == (
            PROFILES - len(LOYAL),
            0,
        )
        refreshed = sdk.refresh_segment(segment_id, full=True)
        assert refreshed["entered_count"] == len(LOYAL)
        members = sdk.segment_members(segment_id, page_size=5)
        assert members["total_count"] == len(LOYAL) and members["members"] == []
        exported = sdk.export_segment(segment_id, columns=["profile_id", "entered_at"])
        assert list(csv.reader(io.StringIO(exported))) == [["profile_id", "entered_at"]]
        assert len(sdk.list_segments()) == 12

        job = sdk.start_clustering(k_min=2, k_max=3, seed=1)
        done = sdk.wait_for_job(lambda: sdk.get_clustering_job(job["job_id"]), timeout=120)
        assert done["state"] == "succeeded" and done["chosen_k"] in (2, 3)

        model = sdk.train_predictive_model(
            horizon_days=30, seed=2, name="buys", cutoff=NOW - timedelta(days=30)
        )
        trained = sdk.wait_for_job(lambda: sdk.get_predictive_model(model["model_id"]))
        assert trained["state"] == "succeeded" and len(trained["deciles"]) == 10
        audience = sdk.create_predictive_audience(model["model_id"], "Top", min_score=0.5)
        assert audience["segment"]["rule"]["score"] == {
            "model": model["model_id"],
            "op": ">=",
            "value": 0.5,
        }
        lookalike = sdk.create_lookalike_audience(
            champions["segment_id"], "Like champions", 30, seed=1
        )
        assert lookalike["segment"]["member_count"] == 30

        with pytest.raises(PrecisError) as refused:
            sdk.start_clustering(k_min=5, k_max=3)
        assert (refused.value.status, refused.value.code) == (422, "invalid_argument")
        assert [d.field for d in refused.value.details] == ["k_max"]
        with pytest.raises(PrecisError) as missing:
            sdk.get_predictive_model("pm_nope")
        assert missing.value.code == "not_found"
        with pytest.raises(PrecisError) as slow:
            sdk.wait_for_job(lambda: {"state": "running", "job_id": "cj_1"}, timeout=0.01)
        assert slow.value.code == "timeout" and "cj_1" in str(slow.value)


def test_openapi_documents_the_family_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {
        "/v1/segments/rfm-cells",
        "/v1/clustering-jobs",
        "/v1/clustering-jobs/{job_id}",
        "/v1/predictive-models",
        "/v1/predictive-models/{model_id}",
        "/v1/predictive-models/{model_id}/audiences",
        "/v1/segments/{segment_id}/lookalikes",
    } <= set(paths)
    assert "202" in paths["/v1/clustering-jobs"]["post"]["responses"]
    assert "201" in paths["/v1/predictive-models/{model_id}/audiences"]["post"]["responses"]
    schemas = spec["components"]["schemas"]
    assert schemas["ClusteringBody"]["additionalProperties"] is False
    assert schemas["PredictiveModel"]["properties"]["state"]["enum"] == [
        "queued",
        "running",
        "succeeded",
        "failed",
    ]
    assert "audience families" in paths["/v1/predictive-models"]["get"]["tags"]
