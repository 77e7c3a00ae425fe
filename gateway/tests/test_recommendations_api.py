"""Recommendation over REST. First against a scripted stand-in of the recommendation service
(scopes, what the gateway refuses itself, how requests and answers are translated, how the
service's errors are mapped); then end to end with the real recommendation service behind the
gateway (SQLite and PostgreSQL), fed by stand-in profile, consent and segmentation producers:
catalog, training, versions, promotion, serving with its fallbacks, comparison and rollback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from fastapi.testclient import TestClient
from gateway_support import AUTH, KEY, WORKSPACE, MakeClient, assert_error
from opentelemetry.sdk.trace import TracerProvider
from recommendation_producers import (
    Producers,
    added,
    membership_changes,
    ordered,
    running_producers,
    viewed,
)

from precis.common.v1 import types_pb2
from precis.recommendation.v1 import recommendation_pb2 as pb
from precis.recommendation.v1 import recommendation_pb2_grpc
from precis_client import PrecisClient, PrecisError
from precis_common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
    Violation,
)
from precis_common.feed import to_timestamp
from precis_common.grpc_server import GrpcServer, workspace_of
from precis_common.testing import wait_for
from precis_recommendation.app import RecommendationApp, build, start
from precis_recommendation.settings import RecommendationSettings

READER = {"X-API-Key": "test-key-recommendation-reader-0123456789"}
WRITER = {"X-API-Key": "test-key-recommendation-writer-0123456789"}
SEGMENTS_ONLY = {"X-API-Key": "test-key-recommendation-segments-0123456789"}
KEYS: dict[str, Any] = {
    KEY: WORKSPACE,  # full access: recommendations:read and :write included
    READER["X-API-Key"]: {"workspace": WORKSPACE, "scopes": ["recommendations:read"]},
    WRITER["X-API-Key"]: {"workspace": WORKSPACE, "scopes": ["recommendations:write"]},
    SEGMENTS_ONLY["X-API-Key"]: {"workspace": WORKSPACE, "scopes": ["segments:read"]},
}
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


# --------------------------------------------------------------------------------------------
# Against a scripted stand-in
# --------------------------------------------------------------------------------------------


def _item(item_id: str, **fields: Any) -> pb.Item:
    values: dict[str, Any] = {
        "title": f"Item {item_id}",
        "category": "Baby > Feeding",
        "price": 10.0,
        "currency": "CNY",
        "available": True,
        "attributes_json": b'{"brand": "Pigeon"}',
        "updated_at": to_timestamp(NOW),
        **fields,
    }
    return pb.Item(item_id=item_id, **values)


def _version(number: int, status: int = pb.MODEL_VERSION_STATUS_CANDIDATE) -> pb.ModelVersion:
    metrics = pb.OfflineMetrics(
        k=10, precision_at_k=0.5, recall_at_k=0.4, ndcg_at_k=0.45, map_at_k=0.3, coverage=0.6
    )
    return pb.ModelVersion(
        version=number,
        status=status,  # type: ignore[arg-type]
        algorithm=pb.ALGORITHM_BPR,
        hyperparameters=pb.Hyperparameters(factors=64, regularization=0.01, iterations=100),
        seed=7,
        training_data=pb.TrainingData(
            history_start=to_timestamp(NOW),
            history_end=to_timestamp(NOW),
            users=30,
            items=20,
            interactions=240,
            test_users=28,
            events_feed_seq=31,
            weights=pb.InteractionWeights(view=1, add_to_cart=3, purchase=5, half_life_days=30),
        ),
        metrics=metrics,
        baseline_metrics=pb.OfflineMetrics(k=10, precision_at_k=0.1),
        job_id="job-1",
        note="weekly",
        created_at=to_timestamp(NOW),
    )


@dataclass
class ScriptedRecommendation(recommendation_pb2_grpc.RecommendationServiceServicer):
    """Answers from canned responses and keeps each request with its workspace; `fail` makes
    every call fail with that domain error."""

    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    fail: Exception | None = None

    def _seen(self, name: str, request: Any, context: grpc.ServicerContext) -> None:
        self.requests.append((name, workspace_of(context), request))
        if self.fail is not None:
            raise self.fail

    def last(self, name: str) -> Any:
        return [r for n, _, r in self.requests if n == name][-1]

    def UpsertItems(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._seen("UpsertItems", request, context)
        return pb.UpsertItemsResponse(created=len(request.items) - 1, updated=1)

    def GetItems(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._seen("GetItems", request, context)
        found = [i for i in request.item_ids if i != "gone"]
        return pb.GetItemsResponse(
            items=[_item(i) for i in found],
            missing_item_ids=[i for i in request.item_ids if i == "gone"],
        )

    def ListItems(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._seen("ListItems", request, context)
        return pb.ListItemsResponse(items=[_item("a"), _item("b")], next_page_token="t2")

    def TrainModel(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._seen("TrainModel", request, context)
        return pb.TrainModelResponse(
            job=pb.TrainingJob(
                job_id="job-1", state=pb.TRAINING_JOB_STATE_QUEUED, created_at=to_timestamp(NOW)
            )
        )

    def GetTrainingJob(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._seen("GetTrainingJob", request, context)
        return pb.GetTrainingJobResponse(
            job=pb.TrainingJob(
                job_id=request.job_id,
                state=pb.TRAINING_JOB_STATE_SUCCEEDED,
                stage="registering",
                progress=1.0,
                model_version=2,
                created_at=to_timestamp(NOW),
                started_at=to_timestamp(NOW),
                finished_at=to_timestamp(NOW),
            )
        )

    def ListModelVersions(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._seen("ListModelVersions", request, context)
        return pb.ListModelVersionsResponse(
            versions=[_version(2), _version(1, pb.MODEL_VERSION_STATUS_SERVING)],
            serving_version=1,
        )

    def GetModelVersion(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._seen("GetModelVersion", request, context)
        if request.version > 2:
            raise NotFound(f"no model version {request.version}")
        return pb.GetModelVersionResponse(version=_version(request.version))

    def PromoteModelVersion(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._seen("PromoteModelVersion", request, context)
        return pb.PromoteModelVersionResponse(
            serving=_version(request.version, pb.MODEL_VERSION_STATUS_SERVING), previous_version=0
        )

    def RollbackModelVersion(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._seen("RollbackModelVersion", request, context)
        raise FailedPrecondition("no version served before the current one")

    def CompareModelVersions(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._seen("CompareModelVersions", request, context)
        return pb.CompareModelVersionsResponse(
            base=_version(request.base_version),
            candidate=_version(request.candidate_version),
            metrics=[
                pb.MetricComparison(
                    metric="ndcg_at_k",
                    base=0.2,
                    candidate=0.3,
                    difference=0.1,
                    relative_difference=0.5,
                )
            ],
            same_split=True,
        )

    def Recommend(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._seen("Recommend", request, context)
        return pb.RecommendResponse(
            items=[pb.ScoredItem(item=_item("a"), score=0.9)],
            reason=pb.RECOMMENDATION_REASON_PERSONALIZED,
            model_version=3,
            profile_id="p-1",
        )

    def SimilarItems(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._seen("SimilarItems", request, context)
        return pb.SimilarItemsResponse(
            items=[pb.ScoredItem(item=_item("b"), score=0.7)],
            reason=pb.RECOMMENDATION_REASON_SIMILAR,
        )

    def PopularItems(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._seen("PopularItems", request, context)
        return pb.PopularItemsResponse(
            items=[pb.ScoredItem(item=_item("c"), score=12.5)],
            reason=pb.RECOMMENDATION_REASON_POPULAR,
            fell_back_to_global=True,
            interactions=345,
        )


@pytest.fixture
def scripted() -> Iterator[ScriptedRecommendation]:
    servicer = ScriptedRecommendation()
    server = GrpcServer(name="scripted-recommendation", host="127.0.0.1", port=0)
    server.add(
        recommendation_pb2_grpc.add_RecommendationServiceServicer_to_server,
        servicer,
        "precis.recommendation.v1.RecommendationService",
    )
    server.start()
    server.set_serving(True)
    servicer.port = server.port  # type: ignore[attr-defined]  # for the client fixture
    yield servicer
    server.stop(0)


@pytest.fixture
def scripted_client(make_client: MakeClient, scripted: ScriptedRecommendation) -> TestClient:
    return make_client(
        gateway_recommendation_target=f"127.0.0.1:{scripted.port}",  # type: ignore[attr-defined]
        gateway_api_keys=KEYS,
    )


RECOMMEND = "/v1/profiles/user_id/c-01/recommendations"


def test_recommendation_scopes(scripted_client: TestClient) -> None:
    client = scripted_client
    for path in (
        RECOMMEND,
        "/v1/recommendations/popular",
        "/v1/catalog/items",
        "/v1/catalog/items/a/similar",
        "/v1/recommendation-models",
    ):
        error = assert_error(client.get(path, headers=SEGMENTS_ONLY), 403, "forbidden")
        assert error["message"] == "this API key lacks the scope recommendations:read"
        assert client.get(path, headers=READER).status_code == 200, path
        assert_error(client.get(path, headers=WRITER), 403, "forbidden")
    item = {"item_id": "a", "title": "A", "price": 1}
    for method, path, body in (
        ("PUT", "/v1/catalog/items", {"items": [item]}),
        ("POST", "/v1/recommendation-models/training-jobs", {}),
        ("POST", "/v1/recommendation-models/2/promote", None),
    ):
        refused = client.request(method, path, json=body, headers=READER)
        error = assert_error(refused, 403, "forbidden")
        assert error["message"] == "this API key lacks the scope recommendations:write"
        assert client.request(method, path, json=body, headers=WRITER).status_code < 300
    # Scope first: a key without it learns nothing about its parameters.
    assert_error(client.get(RECOMMEND + "?k=0&colour=red", headers=WRITER), 403, "forbidden")


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("k=0", ["k"]),
        ("k=101", ["k"]),
        ("k=ten", ["k"]),
        ("colour=red", ["colour"]),
        ("category=Baby&size=3&colour=red", ["colour", "size"]),
        ("min_price=-1", ["min_price"]),
        ("max_price=0", ["max_price"]),
        ("min_price=50&max_price=20", ["max_price"]),
        ("fallback_segment_id=", ["fallback_segment_id"]),
    ],
)
def test_recommend_refuses_bad_and_unknown_parameters(
    scripted_client: TestClient, scripted: ScriptedRecommendation, query: str, fields: list[str]
) -> None:
    error = assert_error(
        scripted_client.get(f"{RECOMMEND}?{query}", headers=AUTH), 422, "invalid_argument", *fields
    )
    if "colour" in fields:
        assert "is not a parameter of this route" in error["details"][0]["reason"]
        assert "exclude_purchased" in error["details"][0]["reason"]
    assert scripted.requests == []


def test_unknown_parameters_are_refused_on_every_recommendation_route(
    scripted_client: TestClient,
) -> None:
    for path, unknown in (
        # exclude_purchased is no filter of popular items: they are nobody's
        ("/v1/recommendations/popular?k=5&exclude_purchased=true", "exclude_purchased"),
        ("/v1/catalog/items/a/similar?segment_id=s", "segment_id"),
        ("/v1/catalog/items?cursor=x&page=2", "page"),
        ("/v1/recommendation-models?limit=5", "limit"),
        ("/v1/recommendation-models/rollback?version=2", "version"),
    ):
        method = "POST" if "rollback" in path else "GET"
        response = scripted_client.request(method, path, headers=AUTH)
        assert_error(response, 422, "invalid_argument", unknown)
    for k in ("0", "101"):
        for path in ("/v1/recommendations/popular", "/v1/catalog/items/a/similar"):
            assert_error(
                scripted_client.get(f"{path}?k={k}", headers=AUTH), 422, "invalid_argument", "k"
            )


def test_bad_bodies_are_refused_by_field(
    scripted_client: TestClient, scripted: ScriptedRecommendation
) -> None:
    good = {"item_id": "a", "title": "A", "price": 1}
    cases: list[tuple[Any, list[str]]] = [
        ({"items": []}, ["items"]),
        ({"items": [good, {**good, "price": -1}]}, ["items[1].price"]),
        ({"items": [good, good, {**good, "colour": "red"}]}, ["items[2].colour"]),
        ({"items": [{**good, "item_id": ""}]}, ["items[0].item_id"]),
        ({"items": [{**good, "attributes": [1, 2]}]}, ["items[0].attributes"]),
    ]
    for body, fields in cases:
        response = scripted_client.put("/v1/catalog/items", json=body, headers=AUTH)
        assert_error(response, 422, "invalid_argument", *fields)
    training = "/v1/recommendation-models/training-jobs"
    for body, fields in [
        ({"algorithm": "svd"}, ["algorithm"]),
        ({"hyperparameters": {"factors": 513}}, ["hyperparameters.factors"]),
        ({"weights": {"purchase": -5}}, ["weights.purchase"]),
        ({"test_fraction": 1}, ["test_fraction"]),
        ({"k": 0, "iterations": 3}, ["iterations"]),
    ]:
        assert_error(
            scripted_client.post(training, json=body, headers=AUTH),
            422,
            "invalid_argument",
            *fields,
        )
    assert scripted.requests == []


def test_the_services_refusal_of_an_item_names_it_by_position(
    scripted_client: TestClient, scripted: ScriptedRecommendation
) -> None:
    scripted.fail = InvalidArgument(
        "2 items refused",
        [
            Violation("items[3].price", "must not be negative"),
            Violation("items[4].attributes_json", "must be a JSON object"),
        ],
    )
    items = [{"item_id": f"i{n}", "title": "T", "price": 1} for n in range(5)]
    error = assert_error(
        scripted_client.put("/v1/catalog/items", json={"items": items}, headers=AUTH),
        422,
        "invalid_argument",
        "items[3].price",
        "items[4].attributes",
    )
    assert error["details"][0]["reason"] == "must not be negative"


def test_catalog_requests_and_answers(
    scripted_client: TestClient, scripted: ScriptedRecommendation
) -> None:
    client = scripted_client
    item = {
        "item_id": "sku-1",
        "title": "Bottle",
        "category": "Baby > Feeding > Bottles",
        "price": 89.5,
        "currency": "CNY",
        "available": False,
        "attributes": {"brand": "Pigeon", "age": [0, 6]},
    }
    body = {"items": [item, {"item_id": "sku-2", "title": "Bib", "price": 5}]}
    assert ok(client.put("/v1/catalog/items", json=body, headers=AUTH)) == {
        "created": 1,
        "updated": 1,
    }
    name, workspace, sent = scripted.requests[-1]
    assert (name, workspace) == ("UpsertItems", WORKSPACE)
    assert sent.items[0].attributes_json == b'{"brand":"Pigeon","age":[0,6]}'
    assert (sent.items[0].available, sent.items[1].available, sent.items[1].currency) == (
        False,
        True,
        "",
    )

    page = ok(
        client.get(
            "/v1/catalog/items",
            params={"category": "Baby", "available_only": "true", "page_size": 2, "cursor": "t1"},
            headers=AUTH,
        )
    )
    assert scripted.last("ListItems") == pb.ListItemsRequest(
        category="Baby", available_only=True, page_size=2, page_token="t1"
    )
    assert page["next_cursor"] == "t2"
    assert page["items"][0] == {
        "item_id": "a",
        "title": "Item a",
        "category": "Baby > Feeding",
        "price": 10.0,
        "currency": "CNY",
        "available": True,
        "attributes": {"brand": "Pigeon"},
        "updated_at": "2026-11-20T12:00:00Z",
    }
    assert ok(client.get("/v1/catalog/items/a", headers=AUTH))["item_id"] == "a"
    assert scripted.last("GetItems").item_ids == ["a"]
    missing = assert_error(client.get("/v1/catalog/items/gone", headers=AUTH), 404, "not_found")
    assert "gone" in missing["message"]


def test_serving_requests_and_answers(
    scripted_client: TestClient, scripted: ScriptedRecommendation
) -> None:
    client = scripted_client
    answer = ok(
        client.get(
            "/v1/profiles/email/Ann@Example.com/recommendations",
            params=[
                ("k", "5"),
                ("exclude_purchased", "true"),
                ("category", "Baby > Feeding"),
                ("category", "Toys"),
                ("available_only", "true"),
                ("min_price", "10"),
                ("max_price", "99.5"),
                ("exclude", "sku-1"),
                ("exclude", "sku-2"),
                ("fallback_segment_id", "seg_1"),
            ],
            headers=AUTH,
        )
    )
    assert scripted.last("Recommend") == pb.RecommendRequest(
        identifier=types_pb2.Identifier(
            type=types_pb2.IDENTIFIER_TYPE_EMAIL, value="Ann@Example.com"
        ),
        k=5,
        filter=pb.ItemFilter(
            exclude_purchased=True,
            categories=["Baby > Feeding", "Toys"],
            available_only=True,
            min_price=10,
            max_price=99.5,
            exclude_item_ids=["sku-1", "sku-2"],
        ),
        fallback_segment_id="seg_1",
    )
    assert answer["reason"] == "personalized"
    assert (answer["model_version"], answer["profile_id"]) == (3, "p-1")
    assert answer["items"][0]["score"] == 0.9
    assert answer["items"][0]["item"]["item_id"] == "a"
    # Defaults: ten items, no filter.
    ok(client.get("/v1/profiles/external:wechat/o-1/recommendations", headers=AUTH))
    sent = scripted.last("Recommend")
    assert (sent.k, sent.filter, sent.identifier.namespace) == (10, pb.ItemFilter(), "wechat")
    # profile_id is not an identifier type of the profile routes, here as there.
    assert_error(
        client.get("/v1/profiles/profile_id/p-1/recommendations", headers=AUTH),
        422,
        "invalid_argument",
        "identifier_type",
    )

    similar = ok(
        client.get(
            "/v1/catalog/items/sku-1/similar",
            params={"k": 3, "category": "Toys", "exclude": "x"},
            headers=AUTH,
        )
    )
    assert scripted.last("SimilarItems") == pb.SimilarItemsRequest(
        item_id="sku-1", k=3, filter=pb.ItemFilter(categories=["Toys"], exclude_item_ids=["x"])
    )
    assert (similar["reason"], similar["model_version"]) == ("similar", None)

    popular = ok(
        client.get(
            "/v1/recommendations/popular",
            params={"segment_id": "seg_1", "window_days": 7, "max_price": 20},
            headers=AUTH,
        )
    )
    assert scripted.last("PopularItems") == pb.PopularItemsRequest(
        segment_id="seg_1", k=10, window_days=7, filter=pb.ItemFilter(max_price=20)
    )
    assert (popular["reason"], popular["fell_back_to_global"]) == ("popular", True)
    assert (popular["items"][0]["score"], popular["interactions"]) == (12.5, 345)


def test_model_requests_and_answers(
    scripted_client: TestClient, scripted: ScriptedRecommendation
) -> None:
    client = scripted_client
    job = ok(
        client.post(
            "/v1/recommendation-models/training-jobs",
            json={
                "algorithm": "bpr",
                "hyperparameters": {"factors": 32, "learning_rate": 0.05},
                "weights": {"purchase": 8},
                "history_days": 90,
                "test_fraction": 0.25,
                "k": 5,
                "seed": 11,
                "note": "try BPR",
            },
            headers=AUTH,
        ),
        202,
    )
    assert job == {
        "job_id": "job-1",
        "state": "queued",
        "stage": "",
        "progress": 0.0,
        "error": None,
        "model_version": None,
        "created_at": "2026-11-20T12:00:00Z",
        "started_at": None,
        "finished_at": None,
    }
    assert scripted.last("TrainModel") == pb.TrainModelRequest(
        algorithm=pb.ALGORITHM_BPR,
        hyperparameters=pb.Hyperparameters(factors=32, learning_rate=0.05),
        # Weights left out keep their documented defaults rather than becoming 0.
        weights=pb.InteractionWeights(view=1, add_to_cart=3, purchase=8, half_life_days=30),
        history_days=90,
        test_fraction=0.25,
        k=5,
        seed=11,
        note="try BPR",
    )
    done = ok(client.get("/v1/recommendation-models/training-jobs/job-1", headers=AUTH))
    assert (done["state"], done["stage"], done["model_version"]) == ("succeeded", "registering", 2)

    page = ok(client.get("/v1/recommendation-models?page_size=5", headers=AUTH))
    assert (page["serving_version"], page["next_cursor"]) == (1, None)
    assert [(v["version"], v["status"]) for v in page["versions"]] == [
        (2, "candidate"),
        (1, "serving"),
    ]
    version = page["versions"][0]
    assert version["algorithm"] == "bpr"
    assert version["metrics"]["ndcg_at_k"] == 0.45
    assert version["baseline_metrics"]["precision_at_k"] == 0.1
    assert version["training_data"]["test_start"] is None
    assert version["training_data"]["weights"]["purchase"] == 5
    assert ok(client.get("/v1/recommendation-models/2", headers=AUTH)) == version
    assert_error(client.get("/v1/recommendation-models/9", headers=AUTH), 404, "not_found")
    assert_error(
        client.get("/v1/recommendation-models/0", headers=AUTH),
        422,
        "invalid_argument",
        "version",
    )

    promoted = ok(client.post("/v1/recommendation-models/2/promote", headers=AUTH))
    assert (promoted["serving"]["status"], promoted["previous_version"]) == ("serving", None)
    refused = client.post("/v1/recommendation-models/rollback", headers=AUTH)
    assert_error(refused, 412, "failed_precondition")

    comparison = ok(
        client.get("/v1/recommendation-models/compare?base=1&candidate=2", headers=AUTH)
    )
    assert scripted.last("CompareModelVersions") == pb.CompareModelVersionsRequest(
        base_version=1, candidate_version=2
    )
    assert comparison["same_split"] is True
    assert comparison["metrics"] == [
        {
            "metric": "ndcg_at_k",
            "base": 0.2,
            "candidate": 0.3,
            "difference": 0.1,
            "relative_difference": 0.5,
        }
    ]
    assert_error(
        client.get("/v1/recommendation-models/compare?base=1", headers=AUTH),
        422,
        "invalid_argument",
        "candidate",
    )


def test_an_unavailable_service_is_a_503_to_retry(
    scripted_client: TestClient, scripted: ScriptedRecommendation
) -> None:
    scripted.fail = Unavailable("restarting")
    response = scripted_client.get(RECOMMEND, headers=AUTH)
    assert_error(response, 503, "unavailable")
    assert response.headers["Retry-After"]


def test_the_openapi_document_describes_the_bodies(scripted_client: TestClient) -> None:
    spec = scripted_client.get("/openapi.json").json()

    def schema(path: str, method: str, status: str = "200") -> str:
        content = spec["paths"][path][method]["responses"][status]["content"]
        return str(content["application/json"]["schema"]["$ref"]).rsplit("/", 1)[-1]

    assert schema("/v1/profiles/{identifier_type}/{value}/recommendations", "get") == (
        "Recommendations"
    )
    assert schema("/v1/recommendation-models/training-jobs", "post", "202") == "TrainingJob"
    assert schema("/v1/recommendation-models", "get") == "ModelVersionPage"
    assert schema("/v1/catalog/items", "put") == "UpsertItemsResult"
    components = spec["components"]["schemas"]
    assert components["Recommendations"]["properties"]["reason"]["enum"] == [
        "personalized",
        "fallback_no_consent",
        "fallback_cold_start",
        "fallback_no_model",
        "popular",
        "similar",
        "fallback_consent_unavailable",
    ]
    assert set(components["TrainingBody"]["properties"]) == {
        "algorithm",
        "hyperparameters",
        "weights",
        "history_days",
        "test_days",
        "test_fraction",
        "k",
        "seed",
        "note",
    }
    parameters = {
        p["name"]
        for p in spec["paths"]["/v1/profiles/{identifier_type}/{value}/recommendations"]["get"][
            "parameters"
        ]
        if p["in"] == "query"
    }
    assert parameters == {
        "k",
        "exclude_purchased",
        "exclude_seen",
        "category",
        "available_only",
        "min_price",
        "max_price",
        "exclude",
        "fallback_segment_id",
    }


# --------------------------------------------------------------------------------------------
# End to end, with the real recommendation service
# --------------------------------------------------------------------------------------------

# Two taste groups: p00..p14 shop baby feeding items (a00..a09), p15..p29 toy blocks
# (b00..b09). a09 and b09 are out of stock; prices are 10, 20, ... 100 within each group.
FEEDING, BLOCKS = "Baby > Feeding", "Toys > Blocks"
CATALOG = [
    {
        "item_id": f"{group}{n:02}",
        "title": f"{category.split(' > ')[-1]} {n}",
        "category": category,
        "price": 10.0 * (n + 1),
        "currency": "CNY",
        "available": n != 9,
        "attributes": {"brand": f"brand-{group}", "rank": n},
    }
    for group, category in (("a", FEEDING), ("b", BLOCKS))
    for n in range(10)
]
BY_ID = {item["item_id"]: item for item in CATALOG}
PROFILES = [f"p{i:02}" for i in range(30)]


def _group_of(profile: int) -> str:
    return "a" if profile < 15 else "b"


def _shopping(profile: int) -> tuple[list[str], list[str], list[str]]:
    """(viewed, carted, purchased) item ids of profile `profile`: six items of its group,
    half of them carted and two of those bought."""
    group = _group_of(profile)
    viewed = [f"{group}{(profile * 3 + j) % 10:02}" for j in range(6)]
    return viewed, viewed[:3], viewed[:2]


@dataclass
class Recommendation:
    app: RecommendationApp
    producers: Producers

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.app.port}"

    def settle(self) -> None:
        wait_for(
            lambda: self.app.profile_consumer.position() >= self.producers.produced(),
            what="the profile_changes consumer",
        )
        wait_for(
            lambda: (
                self.app.membership_consumer.position()
                >= self.producers.produced(membership_changes)
            ),
            what="the membership_changes consumer",
        )


@pytest.fixture
def recommendation(
    database_url_factory: Callable[[str], str], tmp_path: Path, provider: TracerProvider
) -> Iterator[Recommendation]:
    with running_producers(database_url_factory) as producers:
        settings = RecommendationSettings(
            environment="test",
            state_dir=tmp_path / "recommendation",
            recommendation_database_url=database_url_factory("recommendation"),
            recommendation_grpc_port=0,
            recommendation_profile_target=producers.target,
            recommendation_consent_target=producers.target,
            recommendation_segmentation_target=producers.target,
            recommendation_popular_refresh_seconds=0,  # the tests look right after each change
        )
        app = start(build(settings, tracer_provider=provider, configure_logs=False))
        # Shorter long polls: the tests wait for the consumers, and shutdown waits for a poll.
        app.profile_consumer._wait_ms = 200
        app.membership_consumer._wait_ms = 200
        try:
            yield Recommendation(app, producers)
        finally:
            app.stop(0)


@pytest.fixture
def audited() -> list[Any]:
    return []


@pytest.fixture
def live(
    make_client: MakeClient,
    recommendation: Recommendation,
    audited: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> TestClient:
    """The gateway in front of the real service, with the catalog put and the two groups'
    shopping published; consent to personalization granted to p00 and p15 only."""
    client = make_client(gateway_recommendation_target=recommendation.target, gateway_api_keys=KEYS)

    def submit(workspace: str, event: Any) -> bool:
        audited.append((workspace, event))
        return True

    # The audit events as the gateway hands them to the consent service.
    monkeypatch.setattr(client.app.state.audit, "submit", submit)  # type: ignore[attr-defined]

    assert ok(client.put("/v1/catalog/items", json={"items": CATALOG}, headers=AUTH)) == {
        "created": 20,
        "updated": 0,
    }
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=20)
    for i, profile_id in enumerate(PROFILES):
        seen, carted, bought = _shopping(i)
        at = start + timedelta(hours=i)
        events = [viewed(BY_ID[item], at + timedelta(days=j)) for j, item in enumerate(seen)]
        events += [
            added(BY_ID[item], at + timedelta(days=j, hours=1)) for j, item in enumerate(carted)
        ]
        events.append(ordered([BY_ID[item] for item in bought], at + timedelta(days=7)))
        recommendation.producers.publish(WORKSPACE, profile_id, f"c-{i:02}", events)
    recommendation.producers.membership(WORKSPACE, "seg_blocks", PROFILES[15:])
    recommendation.producers.membership(WORKSPACE, "seg_one", ["p03"])
    recommendation.producers.grant(WORKSPACE, "p00", "p15")
    recommendation.settle()
    return client


def _train(client: TestClient, **body: Any) -> dict[str, Any]:
    job = ok(client.post("/v1/recommendation-models/training-jobs", json=body, headers=AUTH), 202)
    assert job["state"] in ("queued", "running") and job["created_at"]
    url = f"/v1/recommendation-models/training-jobs/{job['job_id']}"

    def finished() -> dict[str, Any] | None:
        found = ok(client.get(url, headers=READER))
        return found if found["state"] in ("succeeded", "failed") else None

    done: dict[str, Any] = wait_for(finished, timeout=120, what="the training job")
    assert done["job_id"] == job["job_id"] and done["finished_at"]
    return done


def _ids(answer: dict[str, Any]) -> list[str]:
    return [scored["item"]["item_id"] for scored in answer["items"]]


def test_the_catalog_end_to_end(live: TestClient) -> None:
    client = live
    first = ok(client.get("/v1/catalog/items?page_size=8", headers=READER))
    assert [i["item_id"] for i in first["items"]] == sorted(BY_ID)[:8]
    assert first["items"][0] == {**BY_ID["a00"], "updated_at": first["items"][0]["updated_at"]}
    assert first["items"][0]["updated_at"].startswith(str(datetime.now(UTC).year))
    listed = first["items"]
    page = first
    while page["next_cursor"]:
        page = ok(
            client.get(
                "/v1/catalog/items",
                params={"page_size": 8, "cursor": page["next_cursor"]},
                headers=READER,
            )
        )
        listed += page["items"]
    assert [i["item_id"] for i in listed] == sorted(BY_ID)
    toys = ok(
        client.get(
            "/v1/catalog/items", params={"category": "Toys", "available_only": True}, headers=READER
        )
    )
    assert [i["item_id"] for i in toys["items"]] == [f"b{n:02}" for n in range(9)]

    assert ok(client.get("/v1/catalog/items/b03", headers=READER))["attributes"] == {
        "brand": "brand-b",
        "rank": 3,
    }
    assert_error(client.get("/v1/catalog/items/zz-404", headers=READER), 404, "not_found")

    # Replacing: the item takes the new values, and the count says it was an update.
    changed = {**BY_ID["b03"], "price": 35.5, "available": False, "attributes": {}}
    new = {"item_id": "c00", "title": "Gift card", "price": 100}
    assert ok(client.put("/v1/catalog/items", json={"items": [changed, new]}, headers=WRITER)) == {
        "created": 1,
        "updated": 1,
    }
    got = ok(client.get("/v1/catalog/items/b03", headers=READER))
    assert (got["price"], got["available"], got["attributes"]) == (35.5, False, {})

    # What only the service checks is refused whole, by position, in the gateway's shape.
    bad = [
        {"item_id": "d00", "title": "OK", "price": 1},
        {"item_id": "d01", "title": "Lower-case code", "price": 1, "currency": "cny"},
        {"item_id": "d00", "title": "Twice", "price": 1},
    ]
    error = assert_error(
        client.put("/v1/catalog/items", json={"items": bad}, headers=WRITER),
        422,
        "invalid_argument",
        "items[1].currency",
        "items[2].item_id",
    )
    assert "ISO 4217" in error["details"][0]["reason"]
    assert_error(client.get("/v1/catalog/items/d00", headers=READER), 404, "not_found")


def test_models_and_serving_end_to_end(
    live: TestClient, recommendation: Recommendation, audited: list[Any]
) -> None:
    client = live
    producers = recommendation.producers

    # Before any model serves: popular items, saying why.
    before = ok(client.get("/v1/profiles/user_id/c-00/recommendations?k=3", headers=READER))
    assert (before["reason"], before["model_version"], before["profile_id"]) == (
        "fallback_no_model",
        None,
        "p00",
    )
    assert len(before["items"]) == 3

    job = _train(
        client,
        hyperparameters={"factors": 8, "iterations": 20},
        test_fraction=0.25,
        seed=3,
        note="first",
    )
    assert (job["state"], job["error"], job["model_version"]) == ("succeeded", None, 1)
    assert job["progress"] == 1.0 or job["stage"]

    page = ok(client.get("/v1/recommendation-models", headers=READER))
    assert page["serving_version"] is None
    [v1] = page["versions"]
    assert (v1["version"], v1["status"], v1["algorithm"], v1["note"], v1["job_id"]) == (
        1,
        "candidate",
        "als",
        "first",
        job["job_id"],
    )
    assert v1["hyperparameters"]["factors"] == 8 and v1["seed"] == 3
    data = v1["training_data"]
    assert (data["users"], data["items"], data["test_start"]) == (30, 20, None)
    assert data["test_users"] >= 1 and data["interactions"] > 0 and data["events_feed_seq"] >= 30
    assert data["weights"] == {
        "view": 1.0,
        "add_to_cart": 3.0,
        "purchase": 5.0,
        "half_life_days": 30.0,
    }
    for metrics in (v1["metrics"], v1["baseline_metrics"]):
        assert metrics["k"] == 10
        assert all(0 <= metrics[m] <= 1 for m in ("precision_at_k", "ndcg_at_k", "coverage"))
    # Two clean taste groups: the model beats popularity, which ignores them.
    assert v1["metrics"]["ndcg_at_k"] > v1["baseline_metrics"]["ndcg_at_k"]
    assert ok(client.get("/v1/recommendation-models/1", headers=READER)) == v1

    promoted = ok(client.post("/v1/recommendation-models/1/promote", headers=WRITER))
    assert (promoted["serving"]["status"], promoted["previous_version"]) == ("serving", None)
    assert promoted["serving"]["promoted_at"]

    # Personalized for p00 (consenting, baby feeding): its own group's items.
    url = "/v1/profiles/user_id/c-00/recommendations"
    mine = ok(client.get(f"{url}?k=5", headers={**READER, "X-Precis-Purpose": "onsite_reco"}))
    assert (mine["reason"], mine["model_version"], mine["profile_id"]) == ("personalized", 1, "p00")
    assert [s["item"]["category"] for s in mine["items"]] == [FEEDING] * 5
    scores = [s["score"] for s in mine["items"]]
    assert scores == sorted(scores, reverse=True)
    # p15 (consenting, toy blocks) gets toys.
    theirs = ok(client.get("/v1/profiles/user_id/c-15/recommendations?k=5", headers=READER))
    assert theirs["reason"] == "personalized"
    assert [s["item"]["category"] for s in theirs["items"]] == [BLOCKS] * 5

    # Filters: purchases left out, categories, stock, price range, explicit exclusions.
    _, _, bought = _shopping(0)
    without = ok(client.get(f"{url}?k=10&exclude_purchased=true", headers=READER))
    assert without["reason"] == "personalized" and without["items"]
    assert not set(bought) & set(_ids(without))
    assert set(bought) <= set(_ids(ok(client.get(f"{url}?k=20", headers=READER))))
    unseen = ok(client.get(f"{url}?k=20&exclude_seen=true", headers=READER))
    assert unseen["reason"] == "personalized" and unseen["items"]
    assert not set(_shopping(0)[0]) & set(_ids(unseen)) and not set(bought) & set(_ids(unseen))
    toys = ok(client.get(f"{url}?k=4&category=Toys", headers=READER))
    assert toys["reason"] == "personalized"
    assert [s["item"]["category"] for s in toys["items"]] == [BLOCKS] * 4
    both = ok(client.get(f"{url}?k=20&category=Toys&category=Baby", headers=READER))
    assert len(both["items"]) == 20
    in_stock = ok(client.get(f"{url}?k=20&available_only=true", headers=READER))
    assert set(_ids(in_stock)) == set(BY_ID) - {"a09", "b09"}
    priced = ok(client.get(f"{url}?k=20&min_price=30&max_price=50", headers=READER))
    assert sorted(_ids(priced)) == ["a02", "a03", "a04", "b02", "b03", "b04"]
    top = _ids(mine)[:2]
    skipped = ok(client.get(f"{url}?k=5&exclude={top[0]}&exclude={top[1]}", headers=READER))
    assert not set(top) & set(_ids(skipped)) and len(skipped["items"]) == 5

    # The person's recommendations are recorded in the audit log, with the declared purpose.
    reads = [
        e
        for _, e in audited
        if e.operation == "GET /v1/profiles/{identifier_type}/{value}/recommendations"
    ]
    declared = [e for e in reads if e.purpose == "onsite_reco"]
    assert [e.subject.profile_id for e in declared] == ["p00"]
    assert [e.subject.identifiers[0].value for e in declared] == ["c-00"]
    assert {e.purpose for e in reads} == {"onsite_reco", "personalization"}

    # Fallbacks: no consent, unknown profile, consent service down.
    popular = ok(client.get("/v1/recommendations/popular?k=5", headers=READER))
    assert (popular["reason"], popular["fell_back_to_global"]) == ("popular", False)
    assert popular["interactions"] > 0
    scores = [s["score"] for s in popular["items"]]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    refused = ok(client.get("/v1/profiles/user_id/c-01/recommendations?k=5", headers=READER))
    assert (refused["reason"], refused["model_version"], refused["profile_id"]) == (
        "fallback_no_consent",
        None,
        "p01",
    )
    assert _ids(refused) == _ids(popular)
    unknown = ok(client.get("/v1/profiles/user_id/c-99/recommendations?k=5", headers=READER))
    assert (unknown["reason"], unknown["profile_id"]) == ("fallback_cold_start", None)
    assert _ids(unknown) == _ids(popular)
    segment_fallback = ok(
        client.get(
            "/v1/profiles/user_id/c-01/recommendations?k=3&fallback_segment_id=seg_blocks",
            headers=READER,
        )
    )
    assert segment_fallback["reason"] == "fallback_no_consent"
    assert [s["item"]["category"] for s in segment_fallback["items"]] == [BLOCKS] * 3
    producers.consent.fail = True
    try:
        down = ok(client.get(f"{url}?k=5", headers=READER))
    finally:
        producers.consent.fail = False
    assert (down["reason"], down["model_version"]) == ("fallback_consent_unavailable", None)
    assert _ids(down) == _ids(popular)

    # Similar items: by the serving model's item factors, never the item itself.
    similar = ok(client.get("/v1/catalog/items/a00/similar?k=4", headers=READER))
    assert (similar["reason"], similar["model_version"]) == ("similar", 1)
    assert "a00" not in _ids(similar)
    assert [s["item"]["category"] for s in similar["items"]] == [FEEDING] * 4
    cheap = ok(
        client.get(
            "/v1/catalog/items/a00/similar?k=10&max_price=30&available_only=true", headers=READER
        )
    )
    assert set(_ids(cheap)) <= {"a01", "a02", "b00", "b01", "b02"}
    assert_error(client.get("/v1/catalog/items/zz-404/similar", headers=READER), 404, "not_found")

    # Popular in a segment; a segment with too few interactions falls back on everyone.
    blocks = ok(client.get("/v1/recommendations/popular?k=5&segment_id=seg_blocks", headers=READER))
    assert (blocks["reason"], blocks["fell_back_to_global"]) == ("popular", False)
    assert [s["item"]["category"] for s in blocks["items"]] == [BLOCKS] * 5
    tiny = ok(client.get("/v1/recommendations/popular?k=5&segment_id=seg_one", headers=READER))
    assert tiny["fell_back_to_global"] is True and _ids(tiny) == _ids(popular)
    feeding = ok(
        client.get("/v1/recommendations/popular?k=3&category=Baby&window_days=60", headers=READER)
    )
    assert [s["item"]["category"] for s in feeding["items"]] == [FEEDING] * 3

    # A second version, compared with the first, promoted, and rolled back.
    second = _train(client, algorithm="bpr", test_fraction=0.25, seed=3, note="bpr")
    assert (second["state"], second["model_version"]) == ("succeeded", 2)
    comparison = ok(
        client.get("/v1/recommendation-models/compare?base=1&candidate=2", headers=READER)
    )
    assert (comparison["base"]["version"], comparison["candidate"]["version"]) == (1, 2)
    assert comparison["candidate"]["algorithm"] == "bpr"
    assert comparison["same_split"] is True
    rows = {row["metric"]: row for row in comparison["metrics"]}
    assert set(rows) == {"precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k", "coverage"}
    ndcg = rows["ndcg_at_k"]
    assert ndcg["base"] == v1["metrics"]["ndcg_at_k"]
    assert ndcg["difference"] == pytest.approx(ndcg["candidate"] - ndcg["base"])
    assert_error(
        client.get("/v1/recommendation-models/compare?base=1&candidate=9", headers=READER),
        404,
        "not_found",
    )

    promoted = ok(client.post("/v1/recommendation-models/2/promote", headers=WRITER))
    assert (promoted["serving"]["version"], promoted["previous_version"]) == (2, 1)
    assert ok(client.get(f"{url}?k=3", headers=READER))["model_version"] == 2
    rolled = ok(client.post("/v1/recommendation-models/rollback", headers=WRITER))
    assert (rolled["serving"]["version"], rolled["rolled_back_version"]) == (1, 2)
    assert ok(client.get(f"{url}?k=3", headers=READER))["model_version"] == 1
    statuses = {
        v["version"]: v["status"]
        for v in ok(client.get("/v1/recommendation-models", headers=READER))["versions"]
    }
    assert statuses == {1: "serving", 2: "retired"}

    # Too little data: the job fails saying so, and the serving version stays.
    failed = _train(client, history_days=1, test_days=1)
    assert failed["state"] == "failed" and failed["model_version"] is None
    assert "too little data" in failed["error"]
    page = ok(client.get("/v1/recommendation-models", headers=READER))
    assert page["serving_version"] == 1 and len(page["versions"]) == 2
    assert_error(client.get("/v1/recommendation-models/3", headers=READER), 404, "not_found")


def test_the_sdk_end_to_end(live: TestClient) -> None:
    """The SDK's recommendation methods against the real gateway and service."""
    sdk = PrecisClient("http://testserver", KEY, transport=live._transport)
    with sdk:
        assert sdk.upsert_items([{**BY_ID["a01"], "price": 12.5}]) == {"created": 0, "updated": 1}
        assert sdk.get_item("a01")["price"] == 12.5
        page = sdk.list_items(category="Toys", page_size=5)
        assert len(page["items"]) == 5 and page["next_cursor"]
        assert len(sdk.list_items(category="Toys", cursor=page["next_cursor"])["items"]) == 5

        job = sdk.start_training(hyperparameters={"factors": 8}, test_fraction=0.25, seed=5)
        done = sdk.wait_for_training_job(job["job_id"], timeout=120, interval=0.1)
        assert (done["state"], done["model_version"]) == ("succeeded", 1)
        assert sdk.list_model_versions()["versions"][0]["version"] == 1
        assert sdk.get_model_version(1)["status"] == "candidate"
        assert sdk.promote_model_version(1)["serving"]["status"] == "serving"
        with pytest.raises(PrecisError) as no_previous:
            sdk.rollback_model_version()
        assert no_previous.value.status == 412

        mine = sdk.recommend("user_id", "c-15", k=3, categories=["Toys"], exclude_purchased=True)
        assert (mine["reason"], mine["model_version"]) == ("personalized", 1)
        assert [s["item"]["category"] for s in mine["items"]] == [BLOCKS] * 3
        assert sdk.similar_items("b00", k=2)["reason"] == "similar"
        popular = sdk.popular_items(segment_id="seg_blocks", k=2, available_only=True)
        assert [s["item"]["category"] for s in popular["items"]] == [BLOCKS] * 2
        with pytest.raises(PrecisError) as refused:
            sdk.recommend("user_id", "c-15", k=0)
        assert [d.field for d in refused.value.details] == ["k"]
