"""Recommendation: training overhead, serving latency through the gateway, model memory.

1. Training overhead. The service's fit (precis_recommendation.training.train, which the
   training job calls) against implicit called directly on the same CSR matrix with the same
   parameters, alternating which goes first, medians of the repeats; for ALS and BPR, on
   MovieLens 100k and on a synthetic matrix (power-law item popularity). Loading is excluded on
   both sides. Then a whole training job of the service on MovieLens (read the interactions from
   SQLite, split, fit, evaluate against popularity, fit again on everything, register), beside
   its parts measured alone.
2. Model memory: a registered version loaded for serving (factors and id maps), by
   LoadedModel.memory_bytes and by tracemalloc's peak while loading it.
3. Serving through the gateway (the whole suite on SQLite): MovieLens sent as events, a model
   trained and promoted through REST, then sequential requests: personalized top-10 (ALS user
   factors recomputed per request), the no-consent fallback, similar items, popular items.
   Reports p50/p95/p99.

`python -m tests.bench.bench_recommendation [--quick] [--out DIR]` writes recommendation.json
into DIR (tests/bench by default) and prints the summary. The machine is shared: compare only
the ratios measured side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from implicit.als import AlternatingLeastSquares  # type: ignore[import-untyped]
from implicit.bpr import BayesianPersonalizedRanking  # type: ignore[import-untyped]
from sqlalchemy import select

from precis_client import PrecisClient
from precis_common.db import Database, upgrade_database
from precis_devstack import movielens
from precis_devstack.recommendations import (
    load_movielens,
    record_personalization,
    train_movielens,
)
from precis_recommendation.app import MIGRATIONS
from precis_recommendation.interactions import (
    IdIndex,
    Interaction,
    InteractionMatrix,
    build_matrix,
    split_per_user,
)
from precis_recommendation.jobs import TrainingJobs, load_interactions
from precis_recommendation.registry import LoadedModel, Registry, Spec
from precis_recommendation.store import rec_interactions, rec_models
from precis_recommendation.training import ModelConfig, train

from .harness import REPO_ROOT, gateway_http, latency_summary, machine_facts, running_suite

Output = Callable[[str], None]
WORKSPACE = "bench"


@dataclass(frozen=True, slots=True)
class Sizes:
    users: int = 100_000
    items: int = 20_000
    interactions: int = 2_000_000
    repeats: int = 3
    requests: int = 1000
    ratings: int | None = None  # None: all 100,000


QUICK = Sizes(users=2000, items=500, interactions=20_000, repeats=1, requests=30, ratings=5000)


def cache_dir() -> Path:
    configured = os.environ.get("PRECIS_DATA_CACHE")
    return Path(configured) if configured else REPO_ROOT / ".precis" / "cache"


def synthetic_matrix(users: int, items: int, interactions: int, seed: int) -> InteractionMatrix:
    """Users x items with Zipf-like item popularity and 1..5 weights."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, items + 1, dtype=np.float64)
    popularity = 1.0 / ranks**0.8
    popularity /= popularity.sum()
    rows = rng.integers(0, users, size=interactions, dtype=np.int64)
    cols = rng.choice(items, size=interactions, p=popularity)
    data = rng.choice(np.array([1.0, 3.0, 5.0], dtype=np.float32), size=interactions)
    matrix = sp.csr_matrix((data, (rows, cols)), shape=(users, items), dtype=np.float32)
    matrix.sum_duplicates()
    matrix.sort_indices()
    return InteractionMatrix(
        matrix,
        IdIndex(tuple(f"u{i:07}" for i in range(users))),
        IdIndex(tuple(f"i{j:06}" for j in range(items))),
    )


def movielens_records(ratings: Sequence[movielens.Rating]) -> list[Interaction]:
    return [
        Interaction(r.user_id, r.item_id, "view", datetime.fromtimestamp(r.timestamp, UTC))
        for r in ratings
    ]


def _direct(config: ModelConfig) -> Any:
    if config.algorithm == "als":
        return AlternatingLeastSquares(
            factors=config.factors,
            regularization=config.regularization,
            alpha=config.alpha,
            iterations=config.iterations,
            random_state=config.seed,
            num_threads=config.num_threads,
            use_gpu=False,
        )
    return BayesianPersonalizedRanking(
        factors=config.factors,
        learning_rate=config.learning_rate,
        regularization=config.regularization,
        iterations=config.iterations,
        random_state=config.seed,
        num_threads=config.num_threads,
        use_gpu=False,
    )


def side_by_side(matrix: InteractionMatrix, config: ModelConfig, repeats: int) -> dict[str, Any]:
    ours: list[float] = []
    direct: list[float] = []

    def run_ours() -> None:
        started = time.perf_counter()
        train(matrix, config)
        ours.append(time.perf_counter() - started)

    def run_direct() -> None:
        model = _direct(config)
        started = time.perf_counter()
        model.fit(matrix.matrix, show_progress=False)
        direct.append(time.perf_counter() - started)

    for i in range(repeats):
        first, second = (run_ours, run_direct) if i % 2 == 0 else (run_direct, run_ours)
        first()
        second()
    o, d = statistics.median(ours), statistics.median(direct)
    return {
        "algorithm": config.algorithm,
        "factors": config.factors,
        "iterations": config.iterations,
        "ours_s": round(o, 4),
        "implicit_direct_s": round(d, 4),
        "ratio": round(o / d, 3) if d else None,
        "runs": repeats,
    }


def measure_training(sizes: Sizes, output: Output) -> dict[str, Any]:
    ratings = movielens.load_ratings(cache_dir())
    if sizes.ratings is not None:
        ratings = ratings[: sizes.ratings]
    ml = build_matrix(movielens_records(ratings))
    big = synthetic_matrix(sizes.users, sizes.items, sizes.interactions, seed=3)
    out: dict[str, Any] = {"matrices": {}, "fits": []}
    for name, matrix in (("movielens_100k", ml), ("synthetic", big)):
        out["matrices"][name] = {
            "users": len(matrix.users),
            "items": len(matrix.items),
            "nonzeros": int(matrix.matrix.nnz),
        }
        # BPR's defaults are 100 epochs; on the synthetic matrix 10 are timed (one epoch is
        # several seconds there, and the ratio is per epoch anyway).
        bpr_iterations = 100 if name == "movielens_100k" else 10
        for config in (
            ModelConfig(algorithm="als", factors=64, iterations=15),
            ModelConfig(
                algorithm="bpr", factors=64, iterations=bpr_iterations, regularization=0.01
            ),
        ):
            row = side_by_side(matrix, config, sizes.repeats)
            row["matrix"] = name
            out["fits"].append(row)
            output(
                f"  fit {config.algorithm} on {name}: ours {row['ours_s']} s, implicit "
                f"{row['implicit_direct_s']} s (x{row['ratio']})"
            )
    return out


def measure_job(sizes: Sizes, output: Output) -> dict[str, Any]:
    """A whole training job of the service on MovieLens, in process on SQLite, and its parts."""
    ratings = movielens.load_ratings(cache_dir())
    if sizes.ratings is not None:
        ratings = ratings[: sizes.ratings]
    with tempfile.TemporaryDirectory(prefix="precis-rec-bench-") as tmp:
        database = Database(f"sqlite:///{Path(tmp) / 'recommendation.db'}")
        upgrade_database(database, MIGRATIONS)
        rows = [
            {
                "workspace_id": WORKSPACE,
                "profile_id": f"ml-{r.user_id}",
                "item_id": r.item_id,
                "kind": "view",
                "occurred_at": datetime.fromtimestamp(r.timestamp, UTC),
                "message_id": f"m-{r.user_id}-{r.item_id}",
            }
            for r in ratings
        ]
        with database.write() as session:
            for start in range(0, len(rows), 5000):
                session.execute(rec_interactions.insert(), rows[start : start + 5000])
        jobs = TrainingJobs(database, Registry(database))
        spec = Spec(half_life_days=0, history_days=3650, test_fraction=0.2)
        job = jobs.submit(WORKSPACE, spec)
        started = time.perf_counter()
        jobs.run_once()
        job_s = time.perf_counter() - started
        state = jobs.get(WORKSPACE, job.job_id)
        if state.state != "succeeded":
            raise RuntimeError(f"the training job failed: {state.error}")
        # The same fits again, implicit called directly on the matrices the job built.
        with database.read() as session:
            records = load_interactions(session, WORKSPACE, None)
        matrix = build_matrix(split_per_user(records, 0.2).train)
        full = build_matrix(records)
        config = ModelConfig()
        t = time.perf_counter()
        _direct(config).fit(matrix.matrix, show_progress=False)
        _direct(config).fit(full.matrix, show_progress=False)
        fits_s = time.perf_counter() - t
        with database.read() as session:
            row = session.execute(select(rec_models)).one()
        models = {"als_movielens": _memory(row)}
        database.dispose()
    stages = row.training_data["stage_seconds"]
    result = {
        "ratings": len(ratings),
        "job_s": round(job_s, 3),
        "stage_seconds": stages,
        "job_fits_s": round(stages["fit"] + stages["refit"], 3),
        "two_direct_fits_s": round(fits_s, 3),
        "metrics": dict(row.metrics),
        "baseline_metrics": dict(row.baseline_metrics),
    }
    output(
        f"  job on {len(ratings)} ratings: {result['job_s']} s; stages {stages}; its two fits "
        f"{result['job_fits_s']} s against {result['two_direct_fits_s']} s for implicit directly"
    )
    return {"job": result, "models": models}


def _memory(row: Any) -> dict[str, Any]:
    tracemalloc.start()
    loaded = LoadedModel.load(row)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "algorithm": loaded.spec.algorithm,
        "items": len(loaded.items),
        "factors": int(loaded.item_factors.shape[1]),
        "user_rows": len(loaded.users) if loaded.users is not None else 0,
        "artifact_bytes": len(row.artifact),
        "memory_bytes": loaded.memory_bytes(),
        "load_peak_bytes": int(peak),
    }


def measure_model_memory(sizes: Sizes, output: Output) -> dict[str, Any]:
    """Synthetic versions (ALS without user factors, BPR with) registered and loaded."""
    from types import SimpleNamespace

    from precis_recommendation.registry import pack_artifact

    out: dict[str, Any] = {}
    big = synthetic_matrix(sizes.users, sizes.items, sizes.interactions, seed=4)
    for algorithm in ("als", "bpr"):
        config = ModelConfig(algorithm=algorithm, iterations=3 if algorithm == "als" else 10)  # type: ignore[arg-type]
        model = train(big, config).model
        artifact = pack_artifact(
            algorithm=algorithm,
            items=big.items,
            item_factors=model.item_factors,
            users=big.users if algorithm == "bpr" else None,
            user_factors=model.user_factors if algorithm == "bpr" else None,
        )
        row = SimpleNamespace(
            artifact=artifact,
            version=1,
            revision=1,
            hyperparameters=Spec(algorithm=algorithm).to_json(),
            training_data={"history_end": datetime(2026, 11, 1, tzinfo=UTC).isoformat()},
        )
        out[f"{algorithm}_synthetic"] = _memory(row)
        m = out[f"{algorithm}_synthetic"]
        output(
            f"  {algorithm} model, {m['items']} items x {m['factors']} factors, {m['user_rows']} "
            f"user rows: {m['memory_bytes'] / 1e6:.1f} MB loaded"
        )
    return out


def measure_serving(sizes: Sizes, output: Output) -> dict[str, Any]:
    with running_suite() as suite:
        client = PrecisClient(suite.gateway_url, api_key=suite.api_key, timeout=60)
        load = load_movielens(client, cache_dir(), limit=sizes.ratings, progress=None)
        output(
            f"  MovieLens through the gateway: {load.report.accepted} ratings sent in "
            f"{load.send_seconds:.1f} s, all counted by recommendation after "
            f"{load.caught_up_seconds:.1f} s"
        )
        rng = random.Random(9)
        # Personalization is allowed by default; a sample of users turned it off.
        others = rng.sample(
            load.users, min(200, len(load.users) // 2, max(10, sizes.requests // 5))
        )
        consenting = [u for u in load.users if u not in set(others)]
        record_personalization(client, others, "denied")
        job = train_movielens(client)
        if job["state"] != "succeeded":
            raise RuntimeError(f"training failed: {job.get('error')}")
        version = client.get_model_version(job["model_version"])
        client.promote_model_version(job["model_version"])
        http = gateway_http(suite, connections=4)
        movies = [m.item_id for m in movielens.load_movies(cache_dir())]

        def timed(paths: Sequence[str], expect: str | None) -> dict[str, Any]:
            seconds = []
            for path in paths:
                started = time.perf_counter()
                response = http.get(path)
                seconds.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
                if expect is not None and response.json()["reason"] != expect:
                    raise RuntimeError(f"{path}: reason {response.json()['reason']}")
            return latency_summary(seconds)

        n = sizes.requests
        personalized = [
            f"/v1/profiles/user_id/{rng.choice(consenting)}/recommendations?k=10&exclude_seen=true"
            for _ in range(n)
        ]
        fallback = [
            f"/v1/profiles/user_id/{rng.choice(others)}/recommendations?k=10" for _ in range(n)
        ]
        similar = [f"/v1/catalog/items/{rng.choice(movies[:500])}/similar?k=10" for _ in range(n)]
        popular = ["/v1/recommendations/popular?k=10&window_days=365"] * n
        for warm in personalized[:20]:
            http.get(warm)
        freshness = measure_freshness(
            client, movies, samples=min(n // 3, 50), run_id=f"{time.time_ns():x}"
        )
        result = {
            "freshness": freshness,
            "ratings": load.report.accepted,
            "send_seconds": round(load.send_seconds, 2),
            "caught_up_seconds": round(load.caught_up_seconds, 2),
            "metrics": version["metrics"],
            "baseline_metrics": version["baseline_metrics"],
            "personalized_top10": timed(personalized, "personalized"),
            "no_consent_fallback_top10": timed(fallback, "fallback_no_consent"),
            "similar_items_top10": timed(similar, "similar"),
            "popular_top10": timed(popular, "popular"),
        }
        http.close()
        client.close()
    fresh = result["freshness"]["accepted_to_personalized"]
    output(f"  first view -> personalized: p50 {fresh['p50_ms']} ms, p95 {fresh['p95_ms']} ms")
    for key in (
        "personalized_top10",
        "no_consent_fallback_top10",
        "similar_items_top10",
        "popular_top10",
    ):
        s = result[key]
        output(f"  {key}: p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms ({s['count']} requests)")
    return result


def measure_freshness(
    client: PrecisClient, movies: Sequence[str], samples: int, run_id: str
) -> dict[str, Any]:
    """From the gateway's answer to a person's first "Product Viewed" to their recommendations
    being personalized by the serving version (before it: cold start), one new person at a
    time; each poll is a real recommendation request (about 45 ms), which bounds the
    resolution. Personalization is allowed by the consent default."""
    seconds = []
    for i in range(samples):
        user = f"fresh-{run_id}-{i}"
        client.track(
            movielens.VIEW_EVENT,
            user_id=user,
            properties={"product_id": movies[i % len(movies)]},
            timestamp=datetime(1998, 4, 22, tzinfo=UTC),  # in the data's time
            message_id=f"fresh-{run_id}-{i}",
        )
        accepted = time.perf_counter()
        while client.recommend("user_id", user, k=10)["reason"] != "personalized":
            if time.perf_counter() - accepted > 30:
                raise RuntimeError(f"{user} was not personalized within 30 s")
        seconds.append(time.perf_counter() - accepted)
    return {"accepted_to_personalized": latency_summary(seconds)}


def run(sizes: Sizes, output: Output = print) -> dict[str, Any]:
    began = time.perf_counter()
    output("training: ours against implicit directly ...")
    training = measure_training(sizes, output)
    output("a training job of the service ...")
    job = measure_job(sizes, output)
    output("model memory ...")
    memory = measure_model_memory(sizes, output)
    memory.update(job.pop("models"))
    output("serving through the gateway ...")
    serving = measure_serving(sizes, output)
    machine = machine_facts()
    machine["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    return {
        "sizes": {
            "synthetic_users": sizes.users,
            "synthetic_items": sizes.items,
            "synthetic_interactions": sizes.interactions,
            "repeats": sizes.repeats,
            "requests": sizes.requests,
        },
        "training": training,
        "training_job": job["job"],
        "model_memory": memory,
        "serving": serving,
        "total_seconds": round(time.perf_counter() - began, 1),
        "machine": machine,
    }


def summary_line(result: dict[str, Any]) -> str:
    fits = ", ".join(
        f"{f['algorithm']} on {f['matrix']} x{f['ratio']}" for f in result["training"]["fits"]
    )
    s = result["serving"]
    p = s["personalized_top10"]
    return (
        f"recommendation: fit ours / implicit {fits}; personalized top-10 through the gateway "
        f"p50 {p['p50_ms']} ms, p99 {p['p99_ms']} ms; ALS nDCG@10 "
        f"{s['metrics']['ndcg_at_k']:.3f} vs popularity {s['baseline_metrics']['ndcg_at_k']:.3f}"
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.bench_recommendation", description=__doc__
    )
    parser.add_argument("--quick", action="store_true", help=f"small sizes: {QUICK}")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "tests" / "bench")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    result = run(sizes)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "recommendation.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{summary_line(result)}. Wrote {path}")
    return result


if __name__ == "__main__":
    main()
