"""The recommendation service over gRPC, on SQLite and PostgreSQL: interactions from the
profile_changes feed, the catalog, training jobs, the registry, serving with filters and
fallbacks, consent, merges, privacy and retention.

The data has two clear tastes: even profiles use baby products (category "Baby > ..."), odd ones
books ("Books > ..."), so a model that learned anything recommends within a profile's taste, and
popularity, which mixes both, cannot."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

sys.path.insert(0, str(Path(__file__).parent))

from recommendation_support import WORKSPACE, Service, event, running_service, upserted

from precis.common.v1 import privacy_pb2, types_pb2
from precis.profile.v1 import profile_pb2
from precis.recommendation.v1 import recommendation_pb2 as pb
from precis_common.feed import to_timestamp
from precis_common.grpc_client import workspace_metadata

END = datetime(2026, 11, 1, tzinfo=UTC)
BABY = [f"a{i:02}" for i in range(10)]
BOOKS = [f"b{i:02}" for i in range(10)]


def catalog_item(item_id: str, **fields: Any) -> pb.Item:
    baby = item_id.startswith("a")
    values: dict[str, Any] = {
        "item_id": item_id,
        "title": ("Bottle " if baby else "Novel ") + item_id,
        "category": "Baby > Feeding" if baby else "Books > Fiction",
        "price": 10.0 + int(item_id[1:]) * 10,
        "currency": "CNY",
        "available": item_id not in ("a01", "b01"),
        "attributes_json": orjson.dumps({"brand": "Precis"}),
    }
    values.update(fields)
    return pb.Item(**values)


def taste_history(n_profiles: int = 40, seed: int = 7) -> list[profile_pb2.ProfileChange]:
    rng = random.Random(seed)
    changes = []
    for i in range(n_profiles):
        items = BABY if i % 2 == 0 else BOOKS
        # Everyone likes the first items of their taste most (a clear popularity order inside
        # a taste), then a random few more.
        chosen = items[:3] + rng.sample(items[3:], 4)
        events = []
        for j, item in enumerate(chosen):
            at = END - timedelta(days=30 - j * 4, hours=i)
            events.append(
                event("Product Viewed", {"product_id": item, "name": item}, at, f"m-{i}-{j}-v")
            )
            if j % 3 == 0:
                events.append(
                    event(
                        "Order Completed",
                        {"products": [{"product_id": item, "quantity": 1}], "revenue": 10},
                        at + timedelta(minutes=5),
                        f"m-{i}-{j}-o",
                    )
                )
        changes.append(upserted(f"p{i:02}", f"u{i:02}", events))
    return changes


@pytest.fixture
def service(database_url_factory: Any, tmp_path: Path) -> Iterator[Service]:
    with running_service(database_url_factory, tmp_path) as running:
        yield running


def violations(err: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    out: dict[str, str] = {}
    for detail in status.details if status else []:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            out.update({v.field: v.description for v in bad.field_violations})
    return out


def recommend(service: Service, **fields: Any) -> pb.RecommendResponse:
    return service.call("Recommend", pb.RecommendRequest(**fields))  # type: ignore[no-any-return]


def user(value: str) -> types_pb2.Identifier:
    return types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_USER_ID, value=value)


def ids(response: Any) -> list[str]:
    return [s.item.item_id for s in response.items]


def trained(service: Service, **fields: Any) -> pb.TrainingJob:
    service.producers.publish(taste_history())
    service.call(
        "UpsertItems", pb.UpsertItemsRequest(items=[catalog_item(i) for i in BABY + BOOKS])
    )
    service.settle()
    values: dict[str, Any] = {
        "hyperparameters": pb.Hyperparameters(factors=8, iterations=20),
        "weights": pb.InteractionWeights(half_life_days=0),
        "test_fraction": 0.25,
        "k": 5,
        "seed": 1,
        "note": "first",
    }
    values.update(fields)
    job = service.train(**values)
    assert job.state == pb.TRAINING_JOB_STATE_SUCCEEDED, job.error
    return job


def test_train_register_promote_and_personalize(service: Service) -> None:
    job = trained(service)
    assert (job.progress, job.model_version) == (1.0, 1)
    assert job.HasField("started_at") and job.HasField("finished_at")
    version = service.call("GetModelVersion", pb.GetModelVersionRequest(version=1)).version
    assert version.status == pb.MODEL_VERSION_STATUS_CANDIDATE
    assert version.algorithm == pb.ALGORITHM_ALS
    assert (version.hyperparameters.factors, version.hyperparameters.iterations) == (8, 20)
    assert version.hyperparameters.alpha == 1.0  # the default, filled in
    data = version.training_data
    assert (data.users, data.items, data.test_users) == (40, 20, 40)
    assert data.events_feed_seq >= 1 and not data.HasField("test_start")
    # The model separates the tastes; popularity recommends the other taste to half the people.
    assert version.metrics.k == 5
    assert version.metrics.precision_at_k > version.baseline_metrics.precision_at_k + 0.15
    assert version.metrics.ndcg_at_k > version.baseline_metrics.ndcg_at_k

    # Not serving yet: no model.
    service.producers.consent.granted.add((WORKSPACE, "p00"))
    assert recommend(service, profile_id="p00").reason == pb.RECOMMENDATION_REASON_FALLBACK_NO_MODEL

    promoted = service.call("PromoteModelVersion", pb.PromoteModelVersionRequest(version=1))
    assert (promoted.serving.status, promoted.previous_version) == (
        pb.MODEL_VERSION_STATUS_SERVING,
        0,
    )
    response = recommend(service, identifier=user("u00"), k=5)
    assert response.reason == pb.RECOMMENDATION_REASON_PERSONALIZED
    assert (response.model_version, response.profile_id) == (1, "p00")
    assert len(response.items) == 5
    assert all(s.item.category.startswith("Baby") for s in response.items), ids(response)
    scores = [s.score for s in response.items]
    assert scores == sorted(scores, reverse=True)
    assert orjson.loads(response.items[0].item.attributes_json) == {"brand": "Precis"}

    # Filters: purchases left out, availability, price range, category, explicit exclusions.
    purchased = {"a00", "a04"} | set()
    filtered = recommend(
        service,
        profile_id="p00",
        k=20,
        filter=pb.ItemFilter(
            exclude_purchased=True, available_only=True, min_price=20, max_price=80
        ),
    )
    got = ids(filtered)
    assert got and not set(got) & {"a01", "b01"}  # unavailable
    assert all(20 <= s.item.price <= 80 for s in filtered.items)
    with service.app.database.read() as session:
        from sqlalchemy import select

        from precis_recommendation.store import rec_interactions

        purchased = set(
            session.execute(
                select(rec_interactions.c.item_id).where(
                    rec_interactions.c.profile_id == "p00", rec_interactions.c.kind == "purchase"
                )
            ).scalars()
        )
    assert purchased and not purchased & set(got)
    unseen = recommend(service, profile_id="p00", k=20, filter=pb.ItemFilter(exclude_seen=True))
    assert ids(unseen) and not set(ids(unseen)) & {i for i, _ in interactions_of(service, "p00")}
    assert len(ids(unseen)) == 20 - len({i for i, _ in interactions_of(service, "p00")})
    books = recommend(
        service,
        profile_id="p00",
        k=3,
        filter=pb.ItemFilter(categories=["Books"], exclude_item_ids=["b00"]),
    )
    assert len(books.items) == 3 and all(i.startswith("b") and i != "b00" for i in ids(books))


def test_fallbacks_say_why(service: Service) -> None:
    trained(service)
    service.call("PromoteModelVersion", pb.PromoteModelVersionRequest(version=1))
    popular = service.call("PopularItems", pb.PopularItemsRequest(k=4))
    assert popular.reason == pb.RECOMMENDATION_REASON_POPULAR and len(popular.items) == 4
    # 40 profiles x 7 views and 3 orders each, all within the 30 days before the newest.
    assert popular.interactions == 400

    # p01 has not granted personalization: the popular list, exactly as anyone gets it.
    no_consent = recommend(service, profile_id="p01", k=4)
    assert no_consent.reason == pb.RECOMMENDATION_REASON_FALLBACK_NO_CONSENT
    assert (no_consent.model_version, ids(no_consent)) == (0, ids(popular))
    # Unknown person: cold start, no profile id.
    unknown = recommend(service, identifier=user("nobody"), k=4)
    assert (unknown.reason, unknown.profile_id) == (
        pb.RECOMMENDATION_REASON_FALLBACK_COLD_START,
        "",
    )
    assert ids(unknown) == ids(popular)
    # The consent service does not answer: not personalized, and the reason says so.
    service.producers.consent.granted.add((WORKSPACE, "p01"))
    service.producers.consent.fail = True
    down = recommend(service, profile_id="p01", k=4)
    assert down.reason == pb.RECOMMENDATION_REASON_FALLBACK_CONSENT_UNAVAILABLE
    service.producers.consent.fail = False
    assert recommend(service, profile_id="p01").reason == pb.RECOMMENDATION_REASON_PERSONALIZED
    # The profile service does not answer: the identity map read from its feed resolves.
    service.producers.profiles.fail = True
    resolved = recommend(service, identifier=user("u01"))
    assert (resolved.reason, resolved.profile_id) == (pb.RECOMMENDATION_REASON_PERSONALIZED, "p01")
    service.producers.profiles.fail = False

    # Popular in a segment: the book readers' segment prefers books; a segment with too few
    # interactions falls back to everyone's.
    readers = [f"p{i:02}" for i in range(1, 40, 2)]
    service.producers.membership("seg-readers", readers)
    service.producers.membership("seg-tiny", ["p02"])
    service.settle()
    in_segment = service.call("PopularItems", pb.PopularItemsRequest(segment_id="seg-readers", k=5))
    assert not in_segment.fell_back_to_global
    assert all(i.startswith("b") for i in ids(in_segment)), ids(in_segment)
    tiny = service.call("PopularItems", pb.PopularItemsRequest(segment_id="seg-tiny", k=5))
    assert tiny.fell_back_to_global and ids(tiny) == ids(
        service.call("PopularItems", pb.PopularItemsRequest(k=5))
    )
    # A fallback for a non-consenting reader can use the segment's list.
    fallback = recommend(service, profile_id="p03", k=5, fallback_segment_id="seg-readers")
    assert fallback.reason == pb.RECOMMENDATION_REASON_FALLBACK_NO_CONSENT
    assert ids(fallback) == ids(in_segment)
    # Leaving the segment is followed.
    service.producers.membership("seg-readers", readers, entered=False)
    service.settle()
    emptied = service.call("PopularItems", pb.PopularItemsRequest(segment_id="seg-readers", k=5))
    assert emptied.fell_back_to_global


def test_new_interactions_count_without_retraining(service: Service) -> None:
    trained(service)
    service.call("PromoteModelVersion", pb.PromoteModelVersionRequest(version=1))
    service.producers.consent.granted.update({(WORKSPACE, "p-new"), (WORKSPACE, "p00")})
    # A profile the model never saw: cold start until it interacts.
    service.producers.publish([upserted("p-new", "u-new")])
    service.settle()
    assert (
        recommend(service, profile_id="p-new").reason
        == pb.RECOMMENDATION_REASON_FALLBACK_COLD_START
    )
    views = [
        event("Product Viewed", {"product_id": item}, END + timedelta(hours=h), f"new-{item}")
        for h, item in enumerate(BOOKS[:3])
    ]
    service.producers.publish([upserted("p-new", "u-new", views)])
    service.settle()
    fresh = recommend(service, profile_id="p-new", k=5)
    assert fresh.reason == pb.RECOMMENDATION_REASON_PERSONALIZED and fresh.model_version == 1
    assert sum(i.startswith("b") for i in ids(fresh)) >= 4, ids(fresh)

    # Merges move interactions: p-new's book history now belongs to p00 (a baby profile).
    before = interactions_of(service, "p00")
    scores_before = {
        s.item.item_id: s.score for s in recommend(service, profile_id="p00", k=20).items
    }
    service.producers.publish(
        [
            profile_pb2.ProfileChange(
                kind=profile_pb2.PROFILE_CHANGE_KIND_MERGED,
                profile_id="p00",
                other_profile_ids=["p-new"],
                occurred_at=to_timestamp(datetime.now(UTC)),
            )
        ]
    )
    service.settle()
    assert interactions_of(service, "p00") == [
        *before,
        ("b00", "view"),
        ("b01", "view"),
        ("b02", "view"),
    ]
    assert interactions_of(service, "p-new") == []
    merged = recommend(service, profile_id="p00", k=20)
    score = {s.item.item_id: s.score for s in merged.items}
    # p00 now reads books too: its book scores went up.
    assert merged.reason == pb.RECOMMENDATION_REASON_PERSONALIZED
    assert score["b03"] > scores_before["b03"] + 0.1
    assert (
        recommend(service, profile_id="p-new").reason
        == pb.RECOMMENDATION_REASON_FALLBACK_COLD_START
    )


def interactions_of(service: Service, profile_id: str) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from precis_recommendation.store import rec_interactions

    c = rec_interactions.c
    with service.app.database.read() as session:
        return [
            (r.item_id, r.kind)
            for r in session.execute(
                select(c.item_id, c.kind)
                .where(c.workspace_id == WORKSPACE, c.profile_id == profile_id)
                .order_by(c.occurred_at, c.item_id)
            )
        ]


def test_similar_items_with_and_without_a_model(service: Service) -> None:
    service.producers.publish(taste_history())
    service.settle()
    # No model: co-occurrence.
    cooc = service.call("SimilarItems", pb.SimilarItemsRequest(item_id="a00", k=5))
    assert (cooc.model_version, cooc.reason) == (0, pb.RECOMMENDATION_REASON_SIMILAR)
    assert ids(cooc) and "a00" not in ids(cooc) and all(i.startswith("a") for i in ids(cooc))
    trained(service)
    service.call("PromoteModelVersion", pb.PromoteModelVersionRequest(version=1))
    similar = service.call(
        "SimilarItems",
        pb.SimilarItemsRequest(item_id="b02", k=4, filter=pb.ItemFilter(available_only=True)),
    )
    assert similar.model_version == 1 and len(similar.items) == 4
    assert all(i.startswith("b") and i not in ("b02", "b01") for i in ids(similar)), ids(similar)
    with pytest.raises(grpc.RpcError) as err:
        service.call("SimilarItems", pb.SimilarItemsRequest(item_id="nope"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_versions_compare_promote_and_roll_back(service: Service) -> None:
    trained(service)
    second = service.train(
        algorithm=pb.ALGORITHM_BPR,
        hyperparameters=pb.Hyperparameters(factors=8, iterations=50),
        weights=pb.InteractionWeights(half_life_days=0),
        test_fraction=0.25,
        k=5,
        seed=1,
    )
    assert second.state == pb.TRAINING_JOB_STATE_SUCCEEDED, second.error
    assert second.model_version == 2
    compared = service.call(
        "CompareModelVersions", pb.CompareModelVersionsRequest(base_version=1, candidate_version=2)
    )
    assert compared.same_split and [m.metric for m in compared.metrics] == [
        "precision_at_k",
        "recall_at_k",
        "ndcg_at_k",
        "map_at_k",
        "coverage",
    ]
    for m in compared.metrics:
        assert m.difference == pytest.approx(m.candidate - m.base)
    assert compared.candidate.algorithm == pb.ALGORITHM_BPR
    assert compared.candidate.hyperparameters.regularization == 0.01  # BPR's default

    with pytest.raises(grpc.RpcError) as err:
        service.call("RollbackModelVersion", pb.RollbackModelVersionRequest())
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    service.call("PromoteModelVersion", pb.PromoteModelVersionRequest(version=1))
    again = service.call("PromoteModelVersion", pb.PromoteModelVersionRequest(version=1))
    assert again.previous_version == 1  # promoting the serving version changes nothing
    service.call("PromoteModelVersion", pb.PromoteModelVersionRequest(version=2))
    service.producers.consent.granted.add((WORKSPACE, "p03"))
    bpr = recommend(service, profile_id="p03", k=5)
    assert (bpr.reason, bpr.model_version) == (pb.RECOMMENDATION_REASON_PERSONALIZED, 2)
    listed = service.call("ListModelVersions", pb.ListModelVersionsRequest(page_size=1))
    assert listed.serving_version == 2 and [v.version for v in listed.versions] == [2]
    rest = service.call(
        "ListModelVersions",
        pb.ListModelVersionsRequest(page_size=1, page_token=listed.next_page_token),
    )
    assert [v.version for v in rest.versions] == [1] and not rest.next_page_token
    rolled = service.call("RollbackModelVersion", pb.RollbackModelVersionRequest())
    assert (rolled.serving.version, rolled.rolled_back_version) == (1, 2)
    statuses = {
        v.version: v.status
        for v in service.call("ListModelVersions", pb.ListModelVersionsRequest()).versions
    }
    assert statuses == {1: pb.MODEL_VERSION_STATUS_SERVING, 2: pb.MODEL_VERSION_STATUS_RETIRED}
    assert recommend(service, profile_id="p03").model_version == 1


def test_the_same_data_and_seed_train_the_same_model(service: Service) -> None:
    trained(service)
    again = service.train(
        hyperparameters=pb.Hyperparameters(factors=8, iterations=20),
        weights=pb.InteractionWeights(half_life_days=0),
        test_fraction=0.25,
        k=5,
        seed=1,
    )
    other_seed = service.train(
        hyperparameters=pb.Hyperparameters(factors=8, iterations=20),
        weights=pb.InteractionWeights(half_life_days=0),
        test_fraction=0.25,
        k=5,
        seed=2,
    )
    versions = {
        v.version: v
        for v in service.call("ListModelVersions", pb.ListModelVersionsRequest()).versions
    }
    assert (again.model_version, other_seed.model_version) == (2, 3)
    assert versions[2].metrics == versions[1].metrics
    with service.app.database.read() as session:
        from sqlalchemy import select

        from precis_recommendation.store import rec_models

        artifacts = dict(session.execute(select(rec_models.c.version, rec_models.c.artifact)).all())
    assert artifacts[1] == artifacts[2] and artifacts[1] != artifacts[3]


def test_too_little_data_fails_the_job_and_the_serving_version_stays(service: Service) -> None:
    trained(service)
    service.call("PromoteModelVersion", pb.PromoteModelVersionRequest(version=1))
    # A time split of one day holds out nothing anyone had not seen.
    failed = service.train(test_days=1, history_days=1)
    assert failed.state == pb.TRAINING_JOB_STATE_FAILED
    assert failed.error.startswith("too little data to train") and failed.model_version == 0
    listed = service.call("ListModelVersions", pb.ListModelVersionsRequest())
    assert (listed.serving_version, len(listed.versions)) == (1, 1)
    # Another workspace has nothing at all.
    empty = service.train(workspace="ws-empty")
    assert empty.state == pb.TRAINING_JOB_STATE_FAILED and "no interactions" in empty.error


def test_bad_input_names_the_field(service: Service) -> None:
    good = catalog_item("a00")
    with pytest.raises(grpc.RpcError) as err:
        service.call(
            "UpsertItems",
            pb.UpsertItemsRequest(
                items=[good, catalog_item("x1", price=-1, currency="cny", attributes_json=b"[1]")]
            ),
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(err.value)) == {
        "items[1].price",
        "items[1].currency",
        "items[1].attributes_json",
    }
    # Nothing of the refused request was written.
    missing = service.call("GetItems", pb.GetItemsRequest(item_ids=["a00", "x1"]))
    assert list(missing.missing_item_ids) == ["a00", "x1"]
    cases: list[tuple[str, Any, str]] = [
        ("Recommend", pb.RecommendRequest(profile_id="p", k=101), "k"),
        ("Recommend", pb.RecommendRequest(k=5), "profile"),
        (
            "Recommend",
            pb.RecommendRequest(profile_id="p", filter=pb.ItemFilter(min_price=50, max_price=10)),
            "filter.max_price",
        ),
        ("PopularItems", pb.PopularItemsRequest(window_days=400), "window_days"),
        (
            "TrainModel",
            pb.TrainModelRequest(hyperparameters=pb.Hyperparameters(factors=1000)),
            "hyperparameters.factors",
        ),
        ("TrainModel", pb.TrainModelRequest(test_fraction=1.5), "test_fraction"),
        ("TrainModel", pb.TrainModelRequest(algorithm=9), "algorithm"),  # type: ignore[arg-type]
        ("ListModelVersions", pb.ListModelVersionsRequest(page_token="x"), "page_token"),
    ]
    for method, request, field in cases:
        with pytest.raises(grpc.RpcError) as err:
            service.call(method, request)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, field)
        found = violations(err.value)
        assert field in found, (method, field, found, err.value.details())
    with pytest.raises(grpc.RpcError) as err:
        service.call("GetModelVersion", pb.GetModelVersionRequest(version=7))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # Catalog upserts: created, then replaced, then listed by category.
    first = service.call("UpsertItems", pb.UpsertItemsRequest(items=[good, catalog_item("b00")]))
    assert (first.created, first.updated) == (2, 0)
    second = service.call(
        "UpsertItems", pb.UpsertItemsRequest(items=[catalog_item("a00", title="New")])
    )
    assert (second.created, second.updated) == (0, 1)
    listed = service.call("ListItems", pb.ListItemsRequest(category="Baby"))
    assert [(i.item_id, i.title) for i in listed.items] == [("a00", "New")]


def test_privacy_export_erase_and_retention(service: Service) -> None:
    trained(
        service,
        algorithm=pb.ALGORITHM_BPR,
        hyperparameters=pb.Hyperparameters(factors=8, iterations=30),
    )
    service.producers.membership("seg-x", ["p05"])
    service.settle()
    from precis.common.v1 import privacy_pb2_grpc

    stub = privacy_pb2_grpc.PrivacyServiceStub(service.channel)
    meta = workspace_metadata(WORKSPACE)
    subject = privacy_pb2.DataSubject(identifiers=[user("u05")])
    exported = orjson.loads(
        stub.ExportSubject(
            privacy_pb2.ExportSubjectRequest(subject=subject), metadata=meta
        ).bundle_json
    )
    (profile,) = exported["profiles"]
    assert profile["profile_id"] == "p05" and profile["segments"] == ["seg-x"]
    assert len(profile["interactions"]) >= 7 and profile["model_versions_with_user_factors"] == [1]
    erased = stub.EraseSubject(privacy_pb2.EraseSubjectRequest(subject=subject), metadata=meta)
    counts = {e.table: e.rows for e in erased.erased}
    assert counts["rec_interactions"] == len(profile["interactions"])
    assert counts["rec_models.user_factors"] == 1 and counts["rec_segment_members"] == 1
    again = orjson.loads(
        stub.ExportSubject(
            privacy_pb2.ExportSubjectRequest(subject=privacy_pb2.DataSubject(profile_id="p05")),
            metadata=meta,
        ).bundle_json
    )
    assert again == {"profiles": []}
    assert not stub.EraseSubject(
        privacy_pb2.EraseSubjectRequest(subject=subject), metadata=meta
    ).erased
    # The BPR version no longer knows p05: cold start even with consent.
    service.call("PromoteModelVersion", pb.PromoteModelVersionRequest(version=1))
    service.producers.consent.granted.add((WORKSPACE, "p05"))
    assert (
        recommend(service, profile_id="p05").reason == pb.RECOMMENDATION_REASON_FALLBACK_COLD_START
    )

    # Retention: interactions by event time; model versions other than the serving one.
    second = service.train(
        hyperparameters=pb.Hyperparameters(factors=8),
        test_fraction=0.25,
        weights=pb.InteractionWeights(half_life_days=0),
    )
    assert second.state == pb.TRAINING_JOB_STATE_SUCCEEDED
    system = workspace_metadata("system")
    cutoff = to_timestamp(datetime.now(UTC) + timedelta(days=1))
    models = stub.ApplyRetention(
        privacy_pb2.ApplyRetentionRequest(data_kind="training_data", default_cutoff=cutoff),
        metadata=system,
    )
    assert models.held and {e.table: e.rows for e in models.erased} == {"rec_models": 1}
    remaining = service.call("ListModelVersions", pb.ListModelVersionsRequest())
    assert [v.version for v in remaining.versions] == [1]
    events = stub.ApplyRetention(
        privacy_pb2.ApplyRetentionRequest(
            data_kind="raw_events",
            default_cutoff=to_timestamp(END - timedelta(days=20)),
            max_rows=5,
        ),
        metadata=system,
    )
    assert (
        events.held
        and events.more
        and {e.table: e.rows for e in events.erased} == {"rec_interactions": 5}
    )
    assert not stub.ApplyRetention(
        privacy_pb2.ApplyRetentionRequest(data_kind="audit_log"), metadata=system
    ).held
