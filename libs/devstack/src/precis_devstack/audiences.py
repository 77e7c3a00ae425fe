"""The demo's audience step (用户分群): once the CDNOW customers are profiles with RFM scores,
build audiences from them through the gateway and report what each one holds.

- The segmentation service follows the profiles through the profile_changes feed; the step
  first waits until its read model has every scored profile.
- RFM cells become segments, one per cell.
- A hand-written rule: customers with at least three orders who spent over $100 in all.
- A k-means clustering job on recency, frequency and monetary value, k chosen by silhouette.
- A "buys again within 90 days" model trained on a time split of the log (features before
  1998-03-01, outcomes in the 90 days after), with its AUC and decile lift table.
- The releasable share of an audience for e-mail: CDNOW customers never gave marketing consent,
  so none is released, and the estimate says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from precis_client import PrecisClient, PrecisError

Output = Callable[[str], None]

SCORED_RULE: dict[str, Any] = {"field": "computed.rfm_cell", "op": "exists", "value": True}
REPEAT_BUYERS_RULE: dict[str, Any] = {
    "all": [
        {"event": {"name": "Order Completed", "count": {"op": ">=", "value": 3}}},
        {
            "event": {
                "name": "Order Completed",
                "sum": {"property": "revenue", "op": ">", "value": 100},
            }
        },
    ]
}
# CDNOW ends on 1998-06-30: the last 90-day outcome window that fits starts on 1998-03-01.
PREDICTION_CUTOFF = datetime(1998, 3, 1, tzinfo=UTC)


def wait_for_read_model(
    client: PrecisClient,
    expected: int,
    *,
    stall_seconds: float = 60.0,
    progress: Output | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Poll the size of "has an RFM cell" until it reaches `expected` or stops growing."""
    best, last_change = -1, clock()
    while True:
        try:
            count = int(client.estimate_segment(rule=SCORED_RULE).get("matched_count") or 0)
        except PrecisError as exc:
            count = best
            if progress is not None:
                progress(f"  segmentation not ready yet: {exc}")
        if count != best:
            best, last_change = count, clock()
            if progress is not None:
                progress(
                    f"  {count:,} of {expected:,} scored profiles in the segmentation read model"
                )
        if count >= expected or clock() - last_change > stall_seconds:
            return max(best, 0)
        sleep(1.0)


def run_audiences(client: PrecisClient, scored: int, output: Output) -> dict[str, Any]:
    """Builds the demo's audiences; returns what the summary shows."""
    output("Waiting for the segmentation service to follow the profiles ...")
    seen = wait_for_read_model(client, scored, progress=output)

    output("RFM cells as segments (POST /v1/segments/rfm-cells) ...")
    cells = client.rfm_cells(create_segments=True).get("cells", [])

    output("A rule audience: 3+ orders and over $100 spent (POST /v1/segments) ...")
    repeat = client.create_segment(
        "Repeat buyers over $100",
        REPEAT_BUYERS_RULE,
        description="At least three orders and more than $100 in all",
        materialize=True,
    )
    for_email = client.estimate_segment(segment_id=repeat["segment_id"], channel="email")

    output("Clustering on recency, frequency and monetary value (POST /v1/clustering-jobs) ...")
    job = client.start_clustering(k_min=2, k_max=6, seed=1, create_segments=True)
    job = client.wait_for_job(lambda: client.get_clustering_job(job["job_id"]))

    output("Training 'buys again within 90 days' on a time split (POST /v1/predictive-models) ...")
    model = client.train_predictive_model(
        kind="propensity",
        horizon_days=90,
        cutoff=PREDICTION_CUTOFF,
        seed=7,
        name="buys again within 90 days",
    )
    model = client.wait_for_job(lambda: client.get_predictive_model(model["model_id"]))
    return {
        "read_model_profiles": seen,
        "rfm_segments": [
            {
                "cell": c.get("name"),
                "profiles": c.get("profile_count"),
                "segment_id": c.get("segment_id"),
            }
            for c in cells
        ],
        "repeat_buyers": {
            "segment_id": repeat.get("segment_id"),
            "members": repeat.get("member_count"),
            "releasable_for_email": for_email.get("releasable_count"),
        },
        "clustering": {
            "state": job.get("state"),
            "chosen_k": job.get("chosen_k"),
            "silhouettes": job.get("silhouettes"),
            "clusters": [
                {"size": c.get("size"), "description": c.get("description")}
                for c in job.get("clusters", [])
            ],
            "error": job.get("error") or None,
        },
        "prediction": {
            "state": model.get("state"),
            "cutoff": PREDICTION_CUTOFF.date().isoformat(),
            "auc": model.get("auc"),
            "deciles": model.get("deciles"),
            "error": model.get("error") or None,
        },
    }


def print_audiences(output: Output, audiences: dict[str, Any]) -> None:
    output("")
    output("Audiences (用户分群) in the segmentation service")
    for cell in audiences["rfm_segments"]:
        profiles = cell["profiles"]
        shown = f"{profiles:>8,}" if isinstance(profiles, int) else f"{'-':>8}"
        output(f"  RFM: {cell['cell']:<20} {shown}")
    repeat = audiences["repeat_buyers"]
    output(
        f"  Repeat buyers over $100    {repeat['members'] or 0:>8,}   "
        f"({repeat['releasable_for_email'] or 0:,} releasable for e-mail: no marketing consent "
        "was ever given)"
    )
    clustering = audiences["clustering"]
    if clustering["state"] == "succeeded":
        output(f"  k-means: k = {clustering['chosen_k']} by silhouette")
        for cluster in clustering["clusters"]:
            output(f"    {cluster['size']:>8,}  {cluster['description']}")
    else:
        output(f"  k-means: {clustering['state']} {clustering['error'] or ''}")
    prediction = audiences["prediction"]
    if prediction["state"] == "succeeded":
        output(
            f"  Buys again within 90 days of {prediction['cutoff']}: AUC {prediction['auc']:.3f}"
        )
        output("    decile  profiles  buyers   rate   lift  captured")
        for d in prediction["deciles"] or []:
            output(
                f"    {d['decile']:>6}  {d['profile_count']:>8,}  {d['positives']:>6,}  "
                f"{d['rate']:>5.3f}  {d['lift']:>5.2f}  {d['cumulative_capture']:>8.2f}"
            )
    else:
        output(f"  Prediction: {prediction['state']} {prediction['error'] or ''}")
