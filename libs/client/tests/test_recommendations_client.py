"""The SDK's recommendation methods (and list_predictive_models) against a mocked gateway: paths,
bodies, repeated query parameters, which calls are retried, job polling, and errors.
gateway/tests/test_recommendations_api.py runs the same methods against the real gateway and
recommendation service."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from precis_client import PrecisClient, PrecisError

BASE = "http://gateway.test"
JOB = {"job_id": "job-1", "state": "queued", "progress": 0.0}
VERSION = {"version": 2, "status": "candidate", "algorithm": "als"}
ANSWER = {"items": [], "reason": "popular"}


class Gateway:
    """A MockTransport answering from a script, keeping every request it saw."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responses.pop(0)

    def seen(self, index: int = -1) -> tuple[str, str, list[tuple[str, str]], Any]:
        request = self.requests[index]
        body = json.loads(request.content) if request.content else None
        return request.method, request.url.path, request.url.params.multi_items(), body


def answer(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


def refusal(status: int, code: str, *fields: str) -> httpx.Response:
    details = [{"field": f, "reason": "refused"} for f in fields]
    error = {"code": code, "message": "refused", "details": details, "trace_id": None}
    return httpx.Response(status, json={"error": error}, headers={"Retry-After": "1"})


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make(sleeps: list[float]) -> Callable[[Gateway], PrecisClient]:
    def build(gateway: Gateway) -> PrecisClient:
        return PrecisClient(BASE, "k", transport=httpx.MockTransport(gateway), sleep=sleeps.append)

    return build


def test_catalog_methods(make: Callable[[Gateway], PrecisClient]) -> None:
    item = {"item_id": "sku/1", "title": "Bottle", "price": 89.0, "attributes": {"a": 1}}
    gateway = Gateway(
        answer({"created": 1, "updated": 0}),
        answer({"items": [item], "next_cursor": "sku/1"}),
        answer(item),
    )
    client = make(gateway)
    assert client.upsert_items([item]) == {"created": 1, "updated": 0}
    assert gateway.seen() == ("PUT", "/v1/catalog/items", [], {"items": [item]})
    page = client.list_items(category="Baby > Feeding", available_only=True, page_size=50)
    assert page["next_cursor"] == "sku/1"
    assert gateway.seen() == (
        "GET",
        "/v1/catalog/items",
        [("category", "Baby > Feeding"), ("available_only", "true"), ("page_size", "50")],
        None,
    )
    assert client.get_item("sku/1") == item
    assert gateway.requests[-1].url.raw_path == b"/v1/catalog/items/sku%2F1"
    with pytest.raises(ValueError, match="item_id must not be empty"):
        client.get_item("")


def test_training_and_versions(make: Callable[[Gateway], PrecisClient]) -> None:
    gateway = Gateway(
        answer(JOB, 202),
        answer({"versions": [VERSION], "serving_version": None, "next_cursor": None}),
        answer(VERSION),
        answer({"serving": VERSION, "previous_version": 1}),
        answer({"serving": VERSION, "rolled_back_version": 3}),
        answer({"base": VERSION, "candidate": VERSION, "metrics": [], "same_split": True}),
    )
    client = make(gateway)
    assert (
        client.start_training(
            algorithm="bpr",
            hyperparameters={"factors": 32},
            weights={"purchase": 8},
            test_fraction=0.2,
            seed=4,
            note="n",
        )
        == JOB
    )
    assert gateway.seen() == (
        "POST",
        "/v1/recommendation-models/training-jobs",
        [],
        {
            "algorithm": "bpr",
            "history_days": 0,
            "test_days": 0,
            "test_fraction": 0.2,
            "k": 0,
            "seed": 4,
            "note": "n",
            "hyperparameters": {"factors": 32},
            "weights": {"purchase": 8},
        },
    )
    assert client.list_model_versions(page_size=5, cursor="c")["versions"] == [VERSION]
    assert gateway.seen()[1:3] == (
        "/v1/recommendation-models",
        [("page_size", "5"), ("cursor", "c")],
    )
    assert client.get_model_version(2) == VERSION
    assert gateway.seen()[:2] == ("GET", "/v1/recommendation-models/2")
    assert client.promote_model_version(2)["previous_version"] == 1
    assert gateway.seen()[:2] == ("POST", "/v1/recommendation-models/2/promote")
    assert client.rollback_model_version()["rolled_back_version"] == 3
    assert gateway.seen()[:2] == ("POST", "/v1/recommendation-models/rollback")
    assert client.compare_model_versions(1, 2)["same_split"] is True
    assert gateway.seen()[1:3] == (
        "/v1/recommendation-models/compare",
        [("base", "1"), ("candidate", "2")],
    )
    for bad in (0, -1, True):
        with pytest.raises(ValueError, match="version must be a model version number"):
            client.get_model_version(bad)


def test_wait_for_training_job_polls_until_done(
    make: Callable[[Gateway], PrecisClient], sleeps: list[float]
) -> None:
    failed = {**JOB, "state": "failed", "error": "too little data to train"}
    gateway = Gateway(answer(JOB), answer({**JOB, "state": "running"}), answer(failed))
    client = make(gateway)
    assert client.wait_for_training_job("job-1", interval=0.25) == failed
    assert [r.url.path for r in gateway.requests] == [
        "/v1/recommendation-models/training-jobs/job-1"
    ] * 3
    assert sleeps == [0.25, 0.25]

    stuck = Gateway(*(answer({**JOB, "state": "running", "progress": 0.5}) for _ in range(3)))
    with pytest.raises(PrecisError) as timed_out:
        make(stuck).wait_for_training_job("job-1", timeout=0)
    assert timed_out.value.code == "timeout"
    assert "job-1 is still running (50%)" in str(timed_out.value)


def test_serving_methods_send_repeated_filters(make: Callable[[Gateway], PrecisClient]) -> None:
    gateway = Gateway(answer(ANSWER), answer(ANSWER), answer(ANSWER), answer(ANSWER))
    client = make(gateway)
    client.recommend(
        "email",
        "ann@example.com",
        k=5,
        exclude_purchased=True,
        categories=["Baby > Feeding", "Toys"],
        available_only=True,
        min_price=10,
        max_price=99.5,
        exclude=["a", "b"],
        fallback_segment_id="seg_1",
    )
    method, path, params, _ = gateway.seen()
    assert (method, path) == ("GET", "/v1/profiles/email/ann@example.com/recommendations")
    assert sorted(params) == sorted(
        [
            ("k", "5"),
            ("exclude_purchased", "true"),
            ("category", "Baby > Feeding"),
            ("category", "Toys"),
            ("available_only", "true"),
            ("min_price", "10"),
            ("max_price", "99.5"),
            ("exclude", "a"),
            ("exclude", "b"),
            ("fallback_segment_id", "seg_1"),
        ]
    )
    # Nothing given, nothing sent: the gateway's defaults apply.
    client.recommend("external:wechat", "o/1")
    assert gateway.seen()[2] == []
    assert gateway.requests[-1].url.raw_path == (
        b"/v1/profiles/external:wechat/o%2F1/recommendations"
    )
    client.similar_items("sku-1", k=3, categories=["Toys"], exclude=["x"])
    assert gateway.seen()[1:3] == (
        "/v1/catalog/items/sku-1/similar",
        [("category", "Toys"), ("exclude", "x"), ("k", "3")],
    )
    client.popular_items(segment_id="seg_1", k=4, window_days=7, max_price=20)
    assert gateway.seen()[1:3] == (
        "/v1/recommendations/popular",
        [("max_price", "20"), ("segment_id", "seg_1"), ("k", "4"), ("window_days", "7")],
    )
    with pytest.raises(ValueError, match="lists of strings"):
        client.recommend("user_id", "c-1", categories="Toys")  # type: ignore[arg-type]


def test_list_predictive_models(make: Callable[[Gateway], PrecisClient]) -> None:
    page = {"models": [{"model_id": "m1"}], "next_cursor": "c2"}
    gateway = Gateway(answer(page), answer({"models": [], "next_cursor": None}))
    client = make(gateway)
    assert client.list_predictive_models(kind="churn", page_size=10) == page
    assert gateway.seen() == (
        "GET",
        "/v1/predictive-models",
        [("kind", "churn"), ("page_size", "10")],
        None,
    )
    client.list_predictive_models(cursor="c2")
    assert gateway.seen()[2] == [("cursor", "c2")]


def test_retries_and_errors(make: Callable[[Gateway], PrecisClient], sleeps: list[float]) -> None:
    # Reads, the idempotent upsert and promotion are retried on 503; training and rollback not.
    gateway = Gateway(
        refusal(503, "unavailable"),
        answer(ANSWER),
        refusal(503, "unavailable"),
        answer({"created": 0, "updated": 1}),
        refusal(503, "unavailable"),
        answer({"serving": VERSION, "previous_version": None}),
        refusal(503, "unavailable"),
        refusal(503, "unavailable"),
        refusal(422, "invalid_argument", "items[3].price"),
        refusal(412, "failed_precondition"),
    )
    client = make(gateway)
    assert client.recommend("user_id", "c-1") == ANSWER
    assert client.upsert_items([{"item_id": "a", "title": "A", "price": 1}])["updated"] == 1
    assert client.promote_model_version(1)["serving"] == VERSION
    assert sleeps == [1.0, 1.0, 1.0]
    with pytest.raises(PrecisError) as training:
        client.start_training()
    assert training.value.status == 503
    with pytest.raises(PrecisError):
        client.rollback_model_version()
    assert sleeps == [1.0, 1.0, 1.0]
    with pytest.raises(PrecisError) as refused:
        client.upsert_items([{"item_id": "a", "title": "A", "price": -1}])
    assert [d.field for d in refused.value.details] == ["items[3].price"]
    with pytest.raises(PrecisError) as no_previous:
        client.rollback_model_version()
    assert (no_previous.value.status, no_previous.value.code) == (412, "failed_precondition")
