"""MovieLens 100k through the REST API, the way a shop would feed Precis: the movies as catalog
items, every rating as a "Product Viewed" event of user "ml-<id>", personalization consent for
some of the users, then a model trained, compared with popularity and promoted, and
recommendations asked for. Used by `make demo`, the end-to-end test and the benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from precis_client import PrecisClient
from precis_devstack import movielens

if TYPE_CHECKING:
    from precis_devstack.demo import LoadReport

Output = Callable[[str], None]
CATALOG_BATCH = 500
POLICY = "2026-11"


@dataclass
class MovieLensLoad:
    ratings: int
    movies: int
    report: LoadReport
    send_seconds: float
    caught_up_seconds: float
    users: list[str] = field(default_factory=list)


def load_movielens(
    client: PrecisClient,
    cache_dir: Path,
    *,
    limit: int | None = None,
    timeout: float = 600.0,
    progress: Output | None = None,
) -> MovieLensLoad:
    """Puts the movies in the catalog, sends the ratings (all, or the first `limit` in file
    order) through /v1/batch, and waits until the recommendation service has counted every one
    of them (PopularItems over a year reports the interactions it counted)."""
    from precis_devstack.demo import send_events  # the demo imports this module

    say = progress or (lambda _line: None)
    ratings = movielens.load_ratings(cache_dir)
    if limit is not None:
        ratings = ratings[:limit]
    movies = movielens.load_movies(cache_dir)
    items = [m.catalog_item() for m in movies]
    for start in range(0, len(items), CATALOG_BATCH):
        client.upsert_items(items[start : start + CATALOG_BATCH])
    say(f"catalog: {len(items)} movies")
    started = time.perf_counter()
    report = send_events(client, list(movielens.rating_events(ratings)), progress=progress)
    sent = time.perf_counter() - started
    say(f"sent {report.events_sent} ratings in {sent:.1f} s ({report.accepted} accepted)")
    expected = report.accepted + report.duplicates
    deadline = time.monotonic() + timeout
    while True:
        counted = int(client.popular_items(window_days=365, k=1).get("interactions", 0))
        if counted >= expected:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the recommendation service counted {counted} of {expected} ratings "
                f"after {timeout:.0f} s"
            )
        time.sleep(0.5)
    caught_up = time.perf_counter() - started
    say(f"recommendation counted all {expected} ratings {caught_up:.1f} s after the first send")
    users = sorted({movielens.user_id(r) for r in ratings})
    return MovieLensLoad(len(ratings), len(movies), report, sent, caught_up, users)


def record_personalization(
    client: PrecisClient, user_ids: Sequence[str], status: str = "denied", workers: int = 4
) -> None:
    """Records these users' personalization choice ("granted", "denied" or "withdrawn"), as a
    privacy settings page would. Without a recorded choice the workspace's default decides; the
    built-in default allows personalization (the service itself, legitimate interest)."""

    def record(user_id: str) -> None:
        client.record_consent(
            {"user_id": user_id},
            {"personalization": status},
            policy_version=POLICY,
            source="movielens_demo",
            request_id=f"ml-personalization-{status}-{user_id}",
        )

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ml-consent") as pool:
        list(pool.map(record, user_ids))


def train_movielens(
    client: PrecisClient,
    *,
    algorithm: str = "als",
    seed: int = 0,
    note: str = "MovieLens 100k",
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Trains on every rating as a view of weight 1 without decay, each user's latest 20% held
    out (the split of precis_recommendation's MovieLens test); returns the finished job."""
    job = client.start_training(
        algorithm=algorithm,
        weights={"view": 1, "half_life_days": 0},
        history_days=3650,
        test_fraction=0.2,
        k=10,
        seed=seed,
        note=note,
    )
    return client.wait_for_training_job(job["job_id"], timeout=timeout)


def metrics_table(version: dict[str, Any]) -> str:
    """The version's offline metrics beside the popularity baseline's, as Markdown."""
    model, baseline = version["metrics"], version["baseline_metrics"]
    k = model["k"]
    names = ("precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k", "coverage")
    lines = [
        f"| | precision@{k} | recall@{k} | nDCG@{k} | MAP@{k} | coverage |",
        "|---|---|---|---|---|---|",
        f"| {version['algorithm'].upper()} v{version['version']} | "
        + " | ".join(f"{model[n]:.4f}" for n in names)
        + " |",
        "| popularity | " + " | ".join(f"{baseline[n]:.4f}" for n in names) + " |",
    ]
    return "\n".join(lines)


def run_recommendations(client: PrecisClient, cache_dir: Path, output: Output) -> dict[str, Any]:
    """The demo's recommendation part: MovieLens in, a model out, recommendations asked for."""
    output(
        f"Loading MovieLens 100k (recbole=={movielens.VERSION} wheel): {movielens.ITEMS:,} movies "
        f"into the catalog, {movielens.RATINGS:,} ratings as Product Viewed events ..."
    )
    load = load_movielens(client, cache_dir, progress=lambda line: output("  " + line))
    # Personalization is allowed by the built-in consent default; one user turns it off.
    refusing = load.users[-1]
    output(f"Recording that {refusing} turned personalization off ...")
    record_personalization(client, [refusing], "denied")
    output("Training ALS (each user's latest 20% held out to compare with popularity) ...")
    job = train_movielens(client)
    if job.get("state") != "succeeded":
        output(f"  training failed: {job.get('error')}")
        return {"load_seconds": round(load.caught_up_seconds, 1), "training": job}
    version = client.get_model_version(int(job["model_version"]))
    client.promote_model_version(int(version["version"]))
    example = load.users[0]
    personal = client.recommend("user_id", example, k=5, exclude_seen=True)
    stranger = client.recommend("user_id", refusing, k=5)
    similar = client.similar_items("50", k=5)  # Star Wars (1977)

    def titles(response: dict[str, Any]) -> list[str]:
        return [entry["item"]["title"] for entry in response["items"]]

    return {
        "ratings_accepted": load.report.accepted,
        "send_seconds": round(load.send_seconds, 1),
        "counted_after_seconds": round(load.caught_up_seconds, 1),
        "model_version": version["version"],
        "metrics": version["metrics"],
        "baseline_metrics": version["baseline_metrics"],
        "metrics_table": metrics_table(version),
        "example_user_id": example,
        "example_recommendations": titles(personal),
        "example_reason": personal["reason"],
        "no_consent_user_id": refusing,
        "no_consent_reason": stranger["reason"],
        "no_consent_recommendations": titles(stranger),
        "similar_to_star_wars": titles(similar),
    }


def print_recommendations(output: Output, summary: dict[str, Any]) -> None:
    if not summary or "metrics_table" not in summary:
        return
    output("")
    output(
        f"Recommendations (精准推荐): MovieLens 100k, {summary['ratings_accepted']:,} ratings sent "
        f"in {summary['send_seconds']} s, all counted after {summary['counted_after_seconds']} s"
    )
    output(f"  ALS version {summary['model_version']} against popularity, per-user time split:")
    for line in summary["metrics_table"].splitlines():
        output("  " + line)
    output(
        f"  for {summary['example_user_id']} ({summary['example_reason']}): "
        + "; ".join(summary["example_recommendations"])
    )
    output(
        f"  for {summary['no_consent_user_id']} ({summary['no_consent_reason']}): "
        + "; ".join(summary["no_consent_recommendations"])
    )
    output("  similar to Star Wars (1977): " + "; ".join(summary["similar_to_star_wars"]))
