"""The SDK's audience methods against a mocked gateway: paths, bodies and query strings, cursor
following, job polling, and errors. gateway/tests/test_segment_families_api.py runs the same
methods against the real gateway and segmentation service."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from precis_client import PrecisClient, PrecisError

BASE = "http://gateway.test"
SEGMENT = {"segment_id": "seg_1", "name": "Champions", "member_count": 20}


class Gateway:
    """A MockTransport answering from a script, keeping every request it saw."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responses.pop(0)

    def seen(self, index: int = -1) -> tuple[str, str, dict[str, str], Any]:
        request = self.requests[index]
        body = json.loads(request.content) if request.content else None
        return request.method, request.url.path, dict(request.url.params), body


def answer(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


def refusal(status: int, code: str, *fields: str) -> httpx.Response:
    details = [{"field": f, "reason": "refused"} for f in fields]
    error = {"code": code, "message": "refused", "details": details, "trace_id": None}
    return httpx.Response(status, json={"error": error})


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make(sleeps: list[float]) -> Callable[[Gateway], PrecisClient]:
    def build(gateway: Gateway) -> PrecisClient:
        return PrecisClient(BASE, "k", transport=httpx.MockTransport(gateway), sleep=sleeps.append)

    return build


def test_segment_definitions(make: Callable[[Gateway], PrecisClient]) -> None:
    rule = {"field": "computed.rfm_cell", "op": "=", "value": "champions"}
    gateway = Gateway(
        answer(SEGMENT, 201),
        answer(SEGMENT),
        answer({"matched_count": 20, "total_profiles": 60}),
        answer({"matched_count": 20}),
        answer({"segment": SEGMENT, "entered_count": 20}),
    )
    client = make(gateway)
    assert client.create_segment("Champions", rule, materialize=True) == SEGMENT
    assert gateway.seen() == (
        "POST",
        "/v1/segments",
        {},
        {
            "name": "Champions",
            "rule": rule,
            "description": "",
            "materialize": True,
            "refresh_interval_seconds": 0,
        },
    )
    assert client.get_segment("seg/1") == SEGMENT
    assert gateway.requests[-1].url.raw_path == b"/v1/segments/seg%2F1"
    assert client.estimate_segment(rule=rule, channel="email")["total_profiles"] == 60
    assert gateway.seen()[1:] == ("/v1/segments/estimate", {}, {"rule": rule, "channel": "email"})
    client.estimate_segment(segment_id="seg_1")
    assert gateway.seen()[3] == {"segment_id": "seg_1"}
    assert client.refresh_segment("seg_1", full=True)["entered_count"] == 20
    assert gateway.seen() == ("POST", "/v1/segments/seg_1/refresh", {}, {"full": True})
    with pytest.raises(ValueError, match="exactly one"):
        client.estimate_segment()
    with pytest.raises(ValueError, match="exactly one"):
        client.estimate_segment(rule=rule, segment_id="seg_1")
    with pytest.raises(ValueError, match="segment_id"):
        client.get_segment("")


def test_list_segments_follows_cursors(make: Callable[[Gateway], PrecisClient]) -> None:
    gateway = Gateway(
        answer({"segments": [{"segment_id": "a"}], "next_cursor": "c1"}),
        answer({"segments": [{"segment_id": "b"}], "next_cursor": None}),
    )
    listed = make(gateway).list_segments(family="rfm")
    assert [s["segment_id"] for s in listed] == ["a", "b"]
    assert [gateway.seen(i)[2] for i in range(2)] == [
        {"page_size": "500", "family": "rfm"},
        {"page_size": "500", "family": "rfm", "cursor": "c1"},
    ]


def test_members_and_export(make: Callable[[Gateway], PrecisClient]) -> None:
    csv_text = "profile_id,user_id\r\np1,c-1\r\n"
    gateway = Gateway(
        answer({"members": [], "next_cursor": None}),
        httpx.Response(200, text=csv_text, headers={"Content-Type": "text/csv"}),
    )
    client = make(gateway)
    client.segment_members("seg_1", channel="email", page_size=10, cursor="c")
    assert gateway.seen()[1:3] == (
        "/v1/segments/seg_1/members",
        {"channel": "email", "page_size": "10", "cursor": "c"},
    )
    assert client.export_segment("seg_1", channel="sms", columns=["profile_id", "user_id"]) == (
        csv_text
    )
    assert gateway.seen()[1:3] == (
        "/v1/segments/seg_1/export",
        {"channel": "sms", "columns": "profile_id,user_id"},
    )


def test_family_requests(make: Callable[[Gateway], PrecisClient]) -> None:
    gateway = Gateway(
        answer({"cells": []}),
        answer({"cells": []}),
        answer({"job_id": "cj_1", "state": "queued"}, 202),
        answer({"job_id": "cj_1", "state": "running"}),
        answer({"model_id": "pm_1", "state": "queued"}, 202),
        answer({"model_id": "pm_2", "state": "queued"}, 202),
        answer({"model_id": "pm_1", "state": "succeeded"}),
        answer({"segment": SEGMENT, "expected_rate": 0.4, "expected_lift": 2.0}, 201),
        answer({"segment": SEGMENT, "quality": {}, "suppressed_counts": []}, 201),
    )
    client = make(gateway)
    client.rfm_cells()
    assert gateway.seen() == ("GET", "/v1/segments/rfm-cells", {}, None)
    client.rfm_cells(create_segments=True)
    assert gateway.seen() == ("POST", "/v1/segments/rfm-cells", {}, {"create_segments": True})
    client.start_clustering(k_min=2, k_max=4, features=["frequency"], create_segments=True)
    assert gateway.seen() == (
        "POST",
        "/v1/clustering-jobs",
        {},
        {
            "k_min": 2,
            "k_max": 4,
            "features": ["frequency"],
            "seed": 0,
            "create_segments": True,
        },
    )
    assert client.get_clustering_job("cj_1")["state"] == "running"
    assert gateway.seen()[:2] == ("GET", "/v1/clustering-jobs/cj_1")
    cutoff = datetime(2026, 9, 1, 8, tzinfo=timezone(timedelta(hours=8)))
    client.train_predictive_model(kind="churn", horizon_days=60, cutoff=cutoff, name="churn")
    assert gateway.seen()[1:] == (
        "/v1/predictive-models",
        {},
        {
            "kind": "churn",
            "horizon_days": 60,
            "target_event": "",
            "features": [],
            "seed": 0,
            "name": "churn",
            "cutoff": "2026-09-01T08:00:00+08:00",
        },
    )
    client.train_predictive_model(
        kind="uplift", campaign_id="cmp_1", uplift_method="class_transformation", seed=3
    )
    assert gateway.seen()[3] == {
        "kind": "uplift",
        "horizon_days": 0,
        "target_event": "",
        "features": [],
        "seed": 3,
        "name": "",
        "campaign_id": "cmp_1",
        "uplift_method": "class_transformation",
    }
    assert client.get_predictive_model("pm_1")["state"] == "succeeded"
    assert gateway.seen()[:2] == ("GET", "/v1/predictive-models/pm_1")
    audience = client.create_predictive_audience("pm_1", "Top", top_fraction=0.1)
    assert audience["expected_lift"] == 2.0
    assert gateway.seen()[1:] == (
        "/v1/predictive-models/pm_1/audiences",
        {},
        {"name": "Top", "top_fraction": 0.1},
    )
    client.create_lookalike_audience("seg_1", "Like", 500, features=["monetary"], seed=3)
    assert gateway.seen()[1:] == (
        "/v1/segments/seg_1/lookalikes",
        {},
        {"name": "Like", "size": 500, "seed": 3, "features": ["monetary"]},
    )
    with pytest.raises(ValueError, match="exactly one"):
        client.create_predictive_audience("pm_1", "Top")
    with pytest.raises(ValueError, match="exactly one"):
        client.create_predictive_audience("pm_1", "Top", top_fraction=0.1, min_score=0.5)
    with pytest.raises(ValueError, match="timezone"):
        client.train_predictive_model(cutoff=datetime(2026, 9, 1))  # naive: refused
    assert gateway.responses == []


def test_wait_for_job_polls_until_done(
    make: Callable[[Gateway], PrecisClient], sleeps: list[float]
) -> None:
    client = make(Gateway())
    states = iter(["queued", "running", "running", "failed"])
    done = client.wait_for_job(lambda: {"state": next(states), "error": "no data"}, interval=0.2)
    assert done == {"state": "failed", "error": "no data"}  # returned, not raised
    assert sleeps == [0.2, 0.2, 0.2]
    with pytest.raises(PrecisError) as slow:
        client.wait_for_job(
            lambda: {"state": "running", "model_id": "pm_1", "progress": 0.5}, timeout=0
        )
    assert (slow.value.status, slow.value.code) == (None, "timeout")
    assert "pm_1 is still running (50%)" in str(slow.value)


def test_errors_and_retries(make: Callable[[Gateway], PrecisClient], sleeps: list[float]) -> None:
    gateway = Gateway(
        refusal(422, "invalid_argument", "k_max"),
        refusal(404, "not_found"),
        refusal(503, "unavailable"),
        answer(SEGMENT),
        refusal(503, "unavailable"),
    )
    client = make(gateway)
    with pytest.raises(PrecisError) as refused:
        client.start_clustering(k_min=5, k_max=3)
    assert (refused.value.status, [d.field for d in refused.value.details]) == (422, ["k_max"])
    with pytest.raises(PrecisError) as missing:
        client.get_predictive_model("pm_nope")
    assert missing.value.code == "not_found"
    # Reads are retried on 503; starting a job is not (a repeat would start a second one).
    assert client.get_segment("seg_1") == SEGMENT
    assert len(sleeps) == 1
    with pytest.raises(PrecisError) as unavailable:
        client.train_predictive_model()
    assert unavailable.value.code == "unavailable" and len(sleeps) == 1
    assert gateway.responses == []


def test_timestamps_in_utc_are_written_with_z(make: Callable[[Gateway], PrecisClient]) -> None:
    gateway = Gateway(answer({"model_id": "pm_1", "state": "queued"}, 202))
    make(gateway).train_predictive_model(cutoff=datetime(2026, 9, 1, tzinfo=UTC))
    assert gateway.seen()[3]["cutoff"] == "2026-09-01T00:00:00Z"
