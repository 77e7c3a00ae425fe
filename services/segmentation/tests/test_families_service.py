"""The built-in families through the service's gRPC API: RFM cells as segments, a clustering job,
a predictive model with its lift table and the audience made from it, and a lookalike audience.

Small synthetic workspaces run on both databases; the CDNOW log (69,659 real orders) runs the
same API on SQLite, loaded into the service's read model as the profile feed would write it."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from segmentation_support import ReadModel, persuadable_campaign
from service_support import WORKSPACE, Service, metadata
from sqlalchemy import insert, select

from precis.measurement.v1 import measurement_pb2 as mpb
from precis.segmentation.v1 import segmentation_pb2 as pb
from precis_segmentation.store import seg_event_facts, seg_memberships, seg_profiles

ORDER = "Order Completed"
NOW = datetime.now(UTC)


def load(
    service: Service, profiles: dict[str, dict[str, Any]], facts: list[dict[str, Any]]
) -> None:
    """Write profiles and order facts straight into the read model (what the consumer does)."""
    with service.app.database.write() as session:
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


def order(pid: str, n: int, at: datetime, revenue: float) -> dict[str, Any]:
    return {
        "workspace_id": WORKSPACE,
        "profile_id": pid,
        "event": ORDER,
        "occurred_at": at,
        "properties": {"revenue": revenue},
        "revenue": revenue,
        "quantity": None,
        "message_id": f"{pid}-{n}",
    }


def synthetic(count: int = 400, seed: int = 3) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Loyal buyers order every few weeks; occasional ones once or twice a year."""
    rng = random.Random(seed)
    profiles: dict[str, Any] = {}
    facts: list[dict[str, Any]] = []
    for i in range(count):
        pid = f"p{i:04d}"
        loyal = i % 3 == 0
        gap = rng.uniform(10, 25) if loyal else rng.uniform(120, 300)
        at, n = NOW - timedelta(days=400), 0
        while at < NOW - timedelta(days=1):
            facts.append(order(pid, n, at, rng.uniform(40, 90) if loyal else rng.uniform(5, 30)))
            at += timedelta(days=gap * rng.uniform(0.7, 1.3))
            n += 1
        cell = "champions" if loyal else "hibernating"
        profiles[pid] = {"rfm_cell": cell, "revenue": 50.0 if loyal else 10.0}
    return profiles, facts


def until(check: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def members(service: Service, segment_id: str) -> set[str]:
    with service.app.database.read() as session:
        return set(
            session.execute(
                select(seg_memberships.c.profile_id).where(
                    seg_memberships.c.segment_id == segment_id
                )
            ).scalars()
        )


def test_rfm_cells_become_segments(service: Service) -> None:
    load(service, *synthetic(60))
    response = service.stub.GetRfmCells(
        pb.GetRfmCellsRequest(create_segments=True), metadata=metadata()
    )
    by_name = {c.name: c for c in response.cells}
    assert len(by_name) == 11
    assert by_name["champions"].profile_count == 20
    assert by_name["hibernating"].profile_count == 40
    assert by_name["champions"].share == pytest.approx(1 / 3)
    assert members(service, by_name["champions"].segment_id) == {
        f"p{i:04d}" for i in range(0, 60, 3)
    }
    again = service.stub.GetRfmCells(
        pb.GetRfmCellsRequest(create_segments=True), metadata=metadata()
    )
    assert [c.segment_id for c in again.cells] == [c.segment_id for c in response.cells]
    listed = service.stub.ListSegments(
        pb.ListSegmentsRequest(family=pb.SEGMENT_FAMILY_RFM, page_size=50), metadata=metadata()
    )
    assert len(listed.segments) == 11
    assert {s.origin for s in listed.segments} >= {"rfm:champions", "rfm:lost"}


def test_clustering_job_describes_and_segments_clusters(service: Service) -> None:
    load(service, *synthetic(300))
    job = service.stub.StartClusteringJob(
        pb.StartClusteringJobRequest(
            parameters=pb.ClusteringParameters(k_min=2, k_max=4, seed=1, create_segments=True)
        ),
        metadata=metadata(),
    ).job
    assert job.state == pb.JOB_STATE_QUEUED and job.parameters.k_max == 4

    def done() -> pb.ClusteringJob | None:
        found = service.stub.GetClusteringJob(
            pb.GetClusteringJobRequest(job_id=job.job_id), metadata=metadata()
        ).job
        return found if found.state in (pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_FAILED) else None

    finished = until(done)
    assert finished.state == pb.JOB_STATE_SUCCEEDED, finished.error
    assert [s.k for s in finished.silhouettes] == [2, 3, 4]
    assert finished.chosen_k == max(finished.silhouettes, key=lambda s: s.silhouette).k
    assert sum(c.size for c in finished.clusters) == finished.profile_count == 300
    for cluster in finished.clusters:
        assert cluster.description and cluster.features
        assert len(members(service, cluster.segment_id)) == cluster.size


def test_predictive_model_and_audience(service: Service) -> None:
    load(service, *synthetic(400))
    model = service.stub.TrainPredictiveModel(
        pb.TrainPredictiveModelRequest(
            parameters=pb.PredictiveModelParameters(
                kind=pb.PREDICTION_KIND_PROPENSITY, horizon_days=30, seed=2, name="buys in 30d"
            )
        ),
        metadata=metadata(),
    ).model
    assert model.version == 1 and model.parameters.target_event == ORDER

    def done() -> pb.PredictiveModel | None:
        found = service.stub.GetPredictiveModel(
            pb.GetPredictiveModelRequest(model_id=model.model_id), metadata=metadata()
        ).model
        return found if found.state in (pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_FAILED) else None

    trained = until(done)
    assert trained.state == pb.JOB_STATE_SUCCEEDED, trained.error
    assert trained.auc > 0.8  # loyal buyers order every few weeks; the others rarely
    assert [d.decile for d in trained.deciles] == list(range(1, 11))
    assert trained.deciles[0].lift > 1.5
    assert sum(trained.feature_importances.values()) == pytest.approx(1.0)

    audience = service.stub.CreatePredictiveAudience(
        pb.CreatePredictiveAudienceRequest(
            model_id=model.model_id, name="Likely buyers", top_fraction=0.25
        ),
        metadata=metadata(),
    )
    assert audience.segment.family == pb.SEGMENT_FAMILY_PREDICTIVE
    assert audience.segment.origin == f"predictive:{model.model_id}"
    assert audience.segment.member_count == 100
    assert audience.expected_lift > 1.5 and 0 < audience.expected_rate <= 1
    loyal = {f"p{i:04d}" for i in range(0, 400, 3)}
    assert len(members(service, audience.segment.segment_id) & loyal) > 80
    assert audience.segment.refresh_interval_seconds == 86_400  # rescored daily

    # New loyal buyers arrive: a refresh rescores them with the model and they enter.
    profiles, facts = synthetic(30, seed=9)
    renamed = {f"new-{pid}": c for pid, c in profiles.items()}
    for fact in facts:
        fact["profile_id"] = f"new-{fact['profile_id']}"
        fact["message_id"] = f"new-{fact['message_id']}"
    load(service, renamed, facts)
    service.stub.RefreshSegment(
        pb.RefreshSegmentRequest(segment_id=audience.segment.segment_id), metadata=metadata()
    )
    newcomers = {pid for pid in members(service, audience.segment.segment_id) if "new-" in pid}
    assert newcomers and newcomers <= {f"new-p{i:04d}" for i in range(0, 30, 3)}

    listed = service.stub.ListPredictiveModels(
        pb.ListPredictiveModelsRequest(), metadata=metadata()
    )
    assert [m.model_id for m in listed.models] == [model.model_id]
    second = service.stub.TrainPredictiveModel(
        pb.TrainPredictiveModelRequest(
            parameters=pb.PredictiveModelParameters(
                kind=pb.PREDICTION_KIND_PROPENSITY, horizon_days=30, seed=3, name="buys in 30d"
            )
        ),
        metadata=metadata(),
    ).model
    assert second.version == 2


def test_lookalike_audience_expands_a_seed(service: Service) -> None:
    load(service, *synthetic(600))
    rule = {"field": "computed.rfm_cell", "op": "=", "value": "champions"}
    champions = service.create("Champions", rule, materialize=True)
    response = service.stub.CreateLookalikeAudience(
        pb.CreateLookalikeAudienceRequest(
            seed_segment_id=champions.segment_id, name="Like champions", size=50, seed=4
        ),
        metadata=metadata(),
    )
    assert response.segment.family == pb.SEGMENT_FAMILY_LOOKALIKE
    assert response.segment.member_count == 50
    assert response.quality.holdout_size > 0 and response.quality.lift_over_random > 1
    assert not members(service, response.segment.segment_id) & members(
        service, champions.segment_id
    )


def test_family_requests_are_checked(service: Service) -> None:
    with pytest.raises(grpc.RpcError) as err:
        service.stub.StartClusteringJob(
            pb.StartClusteringJobRequest(parameters=pb.ClusteringParameters(k_min=5, k_max=3)),
            metadata=metadata(),
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "parameters.k_max" in (err.value.details() or "")
    with pytest.raises(grpc.RpcError) as err:
        service.stub.TrainPredictiveModel(
            pb.TrainPredictiveModelRequest(parameters=pb.PredictiveModelParameters()),
            metadata=metadata(),
        )
    assert "parameters.kind" in (err.value.details() or "")
    with pytest.raises(grpc.RpcError) as err:
        service.stub.CreateLookalikeAudience(
            pb.CreateLookalikeAudienceRequest(seed_segment_id="seg_missing", name="x", size=10),
            metadata=metadata(),
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # A model nobody trained cannot be used in a rule.
    with pytest.raises(grpc.RpcError) as err:
        service.create("Scored", {"score": {"model": "pm_nope", "op": ">=", "value": 0.5}})
    assert "rule_json.score.model" in (err.value.details() or "")
    # Too little data to train: the job fails with the reason, nothing crashes.
    model = service.stub.TrainPredictiveModel(
        pb.TrainPredictiveModelRequest(
            parameters=pb.PredictiveModelParameters(kind=pb.PREDICTION_KIND_CHURN)
        ),
        metadata=metadata(),
    ).model
    service.app.jobs.drain()
    failed = service.stub.GetPredictiveModel(
        pb.GetPredictiveModelRequest(model_id=model.model_id), metadata=metadata()
    ).model
    assert failed.state == pb.JOB_STATE_FAILED and failed.error
    assert "internal error" not in failed.error


def _persuadable(service: Service, campaign_id: str, count: int = 4000) -> set[str]:
    """A randomized campaign (segmentation_support.persuadable_campaign) loaded into the read
    model and served by the stand-in measurement service; returns the northerners (the
    persuadable)."""
    start = NOW - timedelta(days=20)
    dataset, treated, converted = persuadable_campaign(count, start=start, seed=11)
    ReadModel(service.app.database).load(dataset, workspace_id=WORKSPACE)
    campaign = mpb.Campaign(
        campaign_id=campaign_id, arms=[mpb.Arm(arm_id="offer", weight=1)], holdout_share=0.5
    )
    campaign.start_time.FromDatetime(start)
    subjects = [
        mpb.CampaignSubject(
            profile_id=p.profile_id,
            arm_id="offer" if t else "holdout",
            holdout=not t,
            conversions=int(y),
            outcome=float(y),
        )
        for p, t, y in zip(dataset.profiles, treated, converted, strict=True)
    ]
    service.producers.measurement.campaigns[(WORKSPACE, campaign_id)] = (campaign, subjects)
    return {p.profile_id for p in dataset.profiles if p.traits["region"] == "north"}


def _trained(service: Service, model_id: str) -> pb.PredictiveModel:
    def done() -> pb.PredictiveModel | None:
        found = service.stub.GetPredictiveModel(
            pb.GetPredictiveModelRequest(model_id=model_id), metadata=metadata()
        ).model
        return found if found.state in (pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_FAILED) else None

    return until(done)


def test_uplift_model_and_the_audience_it_chooses(service: Service) -> None:
    """An uplift model trained on a measurement campaign through the API; its audience is the
    persuadable (treatment moves the north, not the south); its scores are listed for the
    measurement service's evaluation of a campaign the audience is sent."""
    north = _persuadable(service, "cmp_north")
    features = ["traits.region=north", "traits.age", "frequency", "recency_days"]
    queued = service.stub.TrainPredictiveModel(
        pb.TrainPredictiveModelRequest(
            parameters=pb.PredictiveModelParameters(
                kind=pb.PREDICTION_KIND_UPLIFT,
                campaign_id="cmp_north",
                features=features,
                seed=5,
                uplift_method=pb.UPLIFT_METHOD_CLASS_TRANSFORMATION,
            )
        ),
        metadata=metadata(),
    ).model
    assert queued.kind == pb.PREDICTION_KIND_UPLIFT
    assert queued.name == "uplift of campaign cmp_north"
    model = _trained(service, queued.model_id)
    assert model.state == pb.JOB_STATE_SUCCEEDED, model.error
    p = model.parameters
    assert (p.campaign_id, p.uplift_method, p.test_fraction) == (
        "cmp_north",
        pb.UPLIFT_METHOD_CLASS_TRANSFORMATION,
        pytest.approx(0.2),
    )
    assert (model.training_rows, model.test_rows) == (3200, 800)
    assert model.auc == 0 and not model.deciles  # a propensity's measures do not apply
    u = model.uplift
    assert u.treated + u.control == 800 and u.qini_coefficient > 0.2
    assert [d.decile for d in u.deciles] == list(range(1, 11))
    assert [a.fraction for a in u.uplift_at_k] == pytest.approx([0.1, 0.2, 0.3, 0.5])
    assert u.deciles[0].uplift > u.average_uplift
    assert max(model.feature_importances, key=model.feature_importances.__getitem__) == (
        "traits.region=north"
    )
    listed = service.stub.ListPredictiveModels(
        pb.ListPredictiveModelsRequest(kind=pb.PREDICTION_KIND_UPLIFT), metadata=metadata()
    )
    assert [m.model_id for m in listed.models] == [model.model_id]

    audience = service.stub.CreatePredictiveAudience(
        pb.CreatePredictiveAudienceRequest(
            model_id=model.model_id, name="Persuadable", top_fraction=0.3
        ),
        metadata=metadata(),
    )
    chosen = members(service, audience.segment.segment_id)
    # The top 30% (1,200), plus any profile tied with the last one (the rule is score >= cut).
    assert audience.segment.member_count == len(chosen) and 1200 <= len(chosen) < 1220
    assert len(chosen & north) / len(chosen) > 0.9
    assert audience.expected_uplift > u.average_uplift
    assert audience.expected_rate == 0 and audience.expected_lift == 0

    # The scores, paged in profile order, are the audience's: its members score highest.
    scores: dict[str, float] = {}
    token = ""
    while True:
        page = service.stub.ListModelScores(
            pb.ListModelScoresRequest(model_id=model.model_id, page_size=1500, page_token=token),
            metadata=metadata(),
        )
        ids = [s.profile_id for s in page.scores]
        assert ids == sorted(ids) and not set(ids) & set(scores)
        scores.update((s.profile_id, s.score) for s in page.scores)
        token = page.next_page_token
        if not token:
            break
    assert len(scores) == 4000
    assert min(scores[pid] for pid in chosen) >= max(
        v for pid, v in scores.items() if pid not in chosen
    )
    # A negative threshold is a valid uplift cut (it is not a probability).
    everyone = service.stub.CreatePredictiveAudience(
        pb.CreatePredictiveAudienceRequest(model_id=model.model_id, name="All", min_score=-1),
        metadata=metadata(),
    )
    assert everyone.segment.member_count == 4000


def test_uplift_requests_are_checked(service: Service) -> None:
    _persuadable(service, "cmp_checked", count=300)

    def refused(parameters: pb.PredictiveModelParameters) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as err:
            service.stub.TrainPredictiveModel(
                pb.TrainPredictiveModelRequest(parameters=parameters), metadata=metadata()
            )
        return err.value

    uplift_kind = pb.PREDICTION_KIND_UPLIFT
    cases = [
        (pb.PredictiveModelParameters(kind=uplift_kind), "parameters.campaign_id", "needs"),
        (
            pb.PredictiveModelParameters(kind=uplift_kind, campaign_id="cmp_nope"),
            "parameters.campaign_id",
            "no campaign 'cmp_nope'",
        ),
        (
            pb.PredictiveModelParameters(
                kind=uplift_kind, campaign_id="cmp_checked", arm_id="other"
            ),
            "parameters.arm_id",
            "no arm 'other'",
        ),
        (
            pb.PredictiveModelParameters(
                kind=uplift_kind, campaign_id="cmp_checked", features=["traits.region="]
            ),
            "parameters.features[0]",
            "needs a value",
        ),
        (
            pb.PredictiveModelParameters(
                kind=pb.PREDICTION_KIND_PROPENSITY, campaign_id="cmp_checked"
            ),
            "parameters.campaign_id",
            "only for uplift models",
        ),
    ]
    for parameters, field, reason in cases:
        error = refused(parameters)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert f"{field}: " in (error.details() or "") and reason in (error.details() or "")

    # The measurement service down: UNAVAILABLE when asked, a failed job (with the reason)
    # when it goes down while training.
    service.producers.measurement.down = True
    assert refused(
        pb.PredictiveModelParameters(kind=uplift_kind, campaign_id="cmp_checked")
    ).code() == (grpc.StatusCode.UNAVAILABLE)
    service.producers.measurement.down = False
    hold = threading.Event()
    service.app.jobs.submit(hold.wait)  # the training job queues behind this one
    model = service.stub.TrainPredictiveModel(
        pb.TrainPredictiveModelRequest(
            parameters=pb.PredictiveModelParameters(kind=uplift_kind, campaign_id="cmp_checked")
        ),
        metadata=metadata(),
    ).model
    service.producers.measurement.down = True
    hold.set()
    failed = _trained(service, model.model_id)
    assert failed.state == pb.JOB_STATE_FAILED
    assert "measurement service did not answer" in failed.error
    # No scores before an audience is made from a model.
    with pytest.raises(grpc.RpcError) as err:
        service.stub.ListModelScores(
            pb.ListModelScoresRequest(model_id=model.model_id), metadata=metadata()
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as err:
        service.stub.ListModelScores(
            pb.ListModelScoresRequest(model_id="pm_nope"), metadata=metadata()
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


# SQLite only: the families' SQL runs on both databases in test_families_features.py.
@pytest.mark.parametrize("database_backend", ["sqlite"])
def test_cdnow_buys_again_within_90_days(service: Service) -> None:
    """The real CDNOW log through the API: a "buys again within 90 days" model on a time split
    (features before 1997-12-01 against orders in the next 90 days), its AUC and lift table."""
    from test_families_realdata import _cache_dir, _computed_traits

    from precis_devstack import cdnow

    transactions = cdnow.load_cdnow(_cache_dir())
    computed = _computed_traits(transactions)
    facts = [
        order(
            t.user_id,
            t.line_no,
            datetime(t.date.year, t.date.month, t.date.day, tzinfo=UTC),
            t.amount,
        )
        for t in transactions
    ]
    load(service, computed, facts)
    cells = service.stub.GetRfmCells(pb.GetRfmCellsRequest(), metadata=metadata()).cells
    assert sum(c.profile_count for c in cells) == cdnow.CUSTOMERS
    cutoff = datetime(1997, 12, 1, tzinfo=UTC)
    request = pb.TrainPredictiveModelRequest(
        parameters=pb.PredictiveModelParameters(
            kind=pb.PREDICTION_KIND_PROPENSITY, horizon_days=90, seed=7, name="buys again in 90d"
        )
    )
    request.parameters.cutoff.FromDatetime(cutoff)
    model = service.stub.TrainPredictiveModel(request, metadata=metadata()).model
    assert service.app.jobs.drain()
    trained = service.stub.GetPredictiveModel(
        pb.GetPredictiveModelRequest(model_id=model.model_id), metadata=metadata()
    ).model
    assert trained.state == pb.JOB_STATE_SUCCEEDED, trained.error
    assert trained.auc > 0.76
    assert trained.deciles[0].lift > 3.0
    table = "\n".join(
        f"{d.decile:>2} {d.profile_count:>5} {d.positives:>5} {d.rate:.3f} {d.lift:.2f} "
        f"{d.cumulative_capture:.2f}"
        for d in trained.deciles
    )
    print(f"CDNOW buys again within 90 days: AUC {trained.auc:.3f}\n{table}")
