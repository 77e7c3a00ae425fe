"""Randomized campaigns of dmba's book data through the REST API, the way a marketer would bring
an experiment run by their e-mail provider into Precis:

- **Hair-Care-Product**: 10,000 customers of a hair-care brand, about half sent a promotion at
  random (``Promotion_ord``); the outcome is a purchase (``Purchase``, about 1.1%).
- **Voter-Persuasion**: 10,000 voters, half sent a persuasion message at random (``MESSAGE_A``);
  the outcome is whether their opinion moved toward the candidate (``MOVED_AD``, about 37%).

Each person is identified (``user_id`` "<prefix>-<row>", a few traits), a segment of them is
saved, and a campaign with ``external_assignment`` (the dataset's randomization is the sender's)
gets their assignments recorded: treated -> the one arm, control -> the holdout. The treated get
the message as an "Email Sent" event of the campaign, and every positive outcome becomes the
campaign's conversion event a day later. The report then shows the lift with its interval and
p-value and the sample-ratio check; an uplift model (two-model, :mod:`precis_uplift`)
fitted on the dataset's own training partition scores its validation partition, and the scores go
to the campaign's uplift evaluation for the held-out Qini.

Then the service does the same by itself (:func:`train_uplift_audience`, Hair-Care): the
segmentation service trains an uplift model on the campaign's treated and holdout subjects (its
outcomes from the measurement service, its features the people's traits: age, gender, residence,
hair colour and region, as the dataset's own columns), evaluates it on subjects it held out, and
the persuadable become an audience: the top 30% by predicted uplift. Voter-Persuasion's 66
columns exceed a model's 32 features, so it keeps the offline model only.
Used by `make demo` and the end-to-end test.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from precis_client import IdentifyEvent, PrecisClient, PrecisError, TrackEvent
from precis_devstack import dmba

Output = Callable[[str], None]
HAIR_CARE = "dmba/csvFiles/Hair-Care-Product.csv.gz"
VOTER_PERSUASION = "dmba/csvFiles/Voter-Persuasion.csv.gz"
ASSIGNMENT_BATCH = 5000
# Voter-Persuasion's pre-treatment columns used as model features: demographics, household,
# neighbourhood, past turnout and magazine subscriptions (from OPP_SEX to MEDIANEDUC).
VOTER_FIRST_FEATURE, VOTER_LAST_FEATURE = "OPP_SEX", "MEDIANEDUC"


@dataclass(frozen=True)
class Experiment:
    """A randomized campaign of the data set: per row, the features an uplift model may use,
    whether the row was treated, the outcome, whether it is in the training partition, and the
    traits sent with its identify."""

    key: str
    title: str
    user_prefix: str
    arm_id: str
    arm_description: str
    conversion_event: str
    features: NDArray[np.float64]
    treated: NDArray[np.bool_]
    outcome: NDArray[np.bool_]
    training: NDArray[np.bool_]
    traits: list[dict[str, Any]]
    model_features: tuple[str, ...] = ()
    """The service's names of the features (over ``traits``) for an in-service uplift model;
    empty when the data set has more columns than a model takes."""

    def user_id(self, row: int) -> str:
        return f"{self.user_prefix}-{row:05}"


def load_hair_care(cache_dir: Path) -> Experiment:
    rows = list(
        csv.DictReader(io.StringIO(dmba.read_member(dmba.download_wheel(cache_dir), HAIR_CARE)))
    )
    colours = sorted({r["Hair Color"] for r in rows})[1:]
    regions = sorted({r["U.S. Region"] for r in rows})[1:]
    features = np.array(
        [
            [float(r["Age"]), float(r["Gender_ord"]), float(r["Residence_ord"])]
            + [float(r["Hair Color"] == c) for c in colours]
            + [float(r["U.S. Region"] == g) for g in regions]
            for r in rows
        ]
    )
    return Experiment(
        key="hair_care",
        title="Hair-care promotion (dmba Hair-Care-Product)",
        user_prefix="hc",
        arm_id="promotion",
        arm_description="the promotion, sent at random to about half of the customers",
        conversion_event="Order Completed",
        features=features,
        treated=np.array([r["Promotion_ord"] == "1" for r in rows]),
        outcome=np.array([r["Purchase"] == "1" for r in rows]),
        training=np.array([r["Validation"] == "0" for r in rows]),
        traits=[
            {
                "dataset": "hair_care",
                "age": int(r["Age"]),
                "gender_ord": int(r["Gender_ord"]),
                "residence_ord": int(r["Residence_ord"]),
                "hair_color": r["Hair Color"],
                "region": r["U.S. Region"],
            }
            for r in rows
        ],
        # The columns of ``features`` above, as the service reads them from the traits.
        model_features=(
            "traits.age",
            "traits.gender_ord",
            "traits.residence_ord",
            *(f"traits.hair_color={c}" for c in colours),
            *(f"traits.region={g}" for g in regions),
        ),
    )


def load_voter_persuasion(cache_dir: Path) -> Experiment:
    text = dmba.read_member(dmba.download_wheel(cache_dir), VOTER_PERSUASION)
    rows = list(csv.DictReader(io.StringIO(text)))
    columns = list(rows[0])
    chosen = columns[columns.index(VOTER_FIRST_FEATURE) : columns.index(VOTER_LAST_FEATURE) + 1]
    return Experiment(
        key="voter_persuasion",
        title="Voter persuasion message (dmba Voter-Persuasion)",
        user_prefix="vp",
        arm_id="message_a",
        arm_description="persuasion message A, sent at random to half of the voters",
        conversion_event="Opinion Moved",
        features=np.array([[float(r[c]) for c in chosen] for r in rows]),
        treated=np.array([r["MESSAGE_A"] == "1" for r in rows]),
        outcome=np.array([r["MOVED_AD"] == "Y" for r in rows]),
        training=np.array([r["Partition"] == "T" for r in rows]),
        traits=[
            {"dataset": "voter_persuasion", "age": int(r["AGE"]), "party_d": int(r["PARTY_D"])}
            for r in rows
        ],
    )


def uplift_scores(experiment: Experiment, seed: int = 0) -> dict[str, float]:
    """A two-model uplift model fitted on the training partition; user id -> score for the rows
    of the validation partition."""
    from precis_uplift import TwoModelUplift

    model = TwoModelUplift(seed=seed)
    train = experiment.training
    model.fit(experiment.features[train], experiment.treated[train], experiment.outcome[train])
    held_out = np.flatnonzero(~train)
    scores = model.predict(experiment.features[held_out])
    return {experiment.user_id(int(i)): float(s) for i, s in zip(held_out, scores, strict=True)}


def _record(
    client: PrecisClient,
    campaign_id: str,
    assignments: Sequence[dict[str, Any]],
    *,
    timeout: float,
    say: Output,
) -> None:
    """Records assignments, waiting while the people are not yet known to the measurement
    service (their profiles are built from the events feed asynchronously)."""
    for start in range(0, len(assignments), ASSIGNMENT_BATCH):
        batch = assignments[start : start + ASSIGNMENT_BATCH]
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.record_assignments(campaign_id, batch)
                break
            except PrecisError as exc:
                unknown = exc.status == 422 and all("no profile" in d.reason for d in exc.details)
                if not unknown or time.monotonic() > deadline:
                    raise
                say(f"  {len(exc.details)} people not known yet; waiting for their profiles")
                time.sleep(2.0)


def run_experiment(
    client: PrecisClient,
    experiment: Experiment,
    *,
    now: datetime | None = None,
    timeout: float = 600.0,
    progress: Output | None = None,
) -> dict[str, Any]:
    """Loads the experiment through REST and returns the campaign, its report and the held-out
    uplift evaluation (see the module docstring)."""
    from precis_devstack.demo import send_events  # the demo imports this module

    say = progress or (lambda _line: None)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    assigned_at = now - timedelta(days=30)
    n = len(experiment.treated)
    identifies = [
        IdentifyEvent(
            user_id=experiment.user_id(i),
            traits=experiment.traits[i],
            timestamp=now - timedelta(days=40),
            message_id=f"{experiment.key}-identify-{i}",
        )
        for i in range(n)
    ]
    report = send_events(client, identifies)
    say(f"{experiment.title}: {report.accepted + report.duplicates:,} people identified")
    segment = client.create_segment(
        f"{experiment.title}: everyone",
        {"field": "traits.dataset", "op": "=", "value": experiment.key},
    )
    created = client.create_campaign(
        {
            "name": experiment.title,
            "segment_id": segment["segment_id"],
            "channel": "email",
            "arms": [
                {
                    "arm_id": experiment.arm_id,
                    "description": experiment.arm_description,
                    "weight": 1,
                }
            ],
            "holdout_share": 0.5,
            "start_time": (assigned_at - timedelta(days=1)).isoformat(),
            "end_time": (now + timedelta(days=30)).isoformat(),
            "conversion_event": experiment.conversion_event,
            "attribution_window_hours": 24 * 14,
            "external_assignment": True,
            "currency": "USD",
        }
    )
    campaign_id = created["campaign"]["campaign_id"]
    _record(
        client,
        campaign_id,
        [
            {
                "identifier_type": "user_id",
                "value": experiment.user_id(i),
                "arm_id": experiment.arm_id if experiment.treated[i] else "holdout",
                "assigned_at": assigned_at.isoformat(),
            }
            for i in range(n)
        ],
        timeout=timeout,
        say=say,
    )
    say(f"  {n:,} assignments recorded ({int(experiment.treated.sum()):,} treated)")
    events: list[TrackEvent] = []
    for i in range(n):
        if experiment.treated[i]:
            events.append(
                TrackEvent(
                    event="Email Sent",
                    user_id=experiment.user_id(i),
                    properties={"campaign_id": campaign_id},
                    timestamp=assigned_at + timedelta(minutes=5),
                    message_id=f"{experiment.key}-sent-{i}",
                )
            )
        if experiment.outcome[i]:
            events.append(
                TrackEvent(
                    event=experiment.conversion_event,
                    user_id=experiment.user_id(i),
                    properties={},
                    timestamp=assigned_at + timedelta(days=1),
                    message_id=f"{experiment.key}-outcome-{i}",
                )
            )
    send_events(client, events)
    expected = int(experiment.outcome.sum())
    deadline = time.monotonic() + timeout
    while True:
        result = client.campaign_report(campaign_id)
        counted = sum(a["converters"] for a in result["arms"])
        if counted >= expected:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"the report counted {counted} of {expected} outcomes")
        time.sleep(1.0)
    say(f"  the report counts all {expected:,} outcomes")
    scores = uplift_scores(experiment)
    uplift = client.evaluate_campaign_uplift(campaign_id, scores, identifier_type="user_id")
    result = client.campaign_report(campaign_id)
    return {
        "campaign": created["campaign"],
        "warnings": created["warnings"],
        "report": result,
        "uplift": uplift,
        "scored": len(scores),
    }


def train_uplift_audience(
    client: PrecisClient,
    experiment: Experiment,
    campaign_id: str,
    *,
    top_fraction: float = 0.3,
    timeout: float = 600.0,
    progress: Output | None = None,
) -> dict[str, Any]:
    """Trains the segmentation service's uplift model on the campaign (two-model, 20% of the
    subjects held out, the experiment's ``model_features``) and saves the ``top_fraction`` it
    predicts the campaign moves most as an audience. Returns ``{"model", "audience"}``; raises
    RuntimeError when training fails (with the service's reason)."""
    say = progress or (lambda _line: None)
    queued = client.train_predictive_model(
        kind="uplift",
        campaign_id=campaign_id,
        features=list(experiment.model_features),
        seed=0,
        name=f"{experiment.title}: uplift",
    )
    model = client.wait_for_job(
        lambda: client.get_predictive_model(queued["model_id"]), timeout=timeout
    )
    if model["state"] != "succeeded":
        raise RuntimeError(f"the uplift model failed: {model['error']}")
    say(
        f"  uplift model trained in the service: held-out Qini "
        f"{model['uplift']['qini_coefficient']:.3f} on {model['test_rows']:,} people"
    )
    audience = client.create_predictive_audience(
        model["model_id"], f"{experiment.title}: persuadable", top_fraction=top_fraction
    )
    say(
        f"  audience of the top {top_fraction:.0%} by predicted uplift: "
        f"{audience['segment']['member_count']:,} people"
    )
    return {"model": model, "audience": audience}


def summary_lines(key: str, outcome: dict[str, Any]) -> list[str]:
    """A few lines of a campaign's result for the demo's output."""
    report = outcome["report"]
    lift = report["lifts"][0]
    arms = {a["arm_id"]: a for a in report["arms"]}
    treated = next(a for a in report["arms"] if not a["holdout"])
    control = arms["holdout"]
    interval = lift["absolute_lift"]["interval"]
    srm = report["srm"]
    return [
        f"{outcome['campaign']['name']}:",
        f"  {treated['arm_id']}: {treated['converters']:,} of {treated['subjects']:,} "
        f"({treated['conversion_rate']:.2%}); holdout: {control['converters']:,} of "
        f"{control['subjects']:,} ({control['conversion_rate']:.2%})",
        f"  lift {lift['absolute_lift']['value']:+.2%} (95% CI {interval['lower']:+.2%} to "
        f"{interval['upper']:+.2%}), relative {lift['relative_lift']['value']:+.0%}, "
        f"p = {lift['p_value']:.2g}",
        f"  sample ratio check: p = {srm['p_value']:.2f} "
        f"({'MISMATCH' if srm['mismatch'] else 'no mismatch'})",
        f"  uplift model on the held-out partition ({outcome['scored']:,} people): "
        f"Qini {outcome['uplift']['qini_coefficient']:.3f}",
        *_service_model_lines(outcome.get("service_model")),
        f"  report page: /v1/campaigns/{outcome['campaign']['campaign_id']}/report.html",
    ]


def _service_model_lines(trained: dict[str, Any] | None) -> list[str]:
    if not trained:
        return []
    model, audience = trained["model"], trained["audience"]
    uplift = model["uplift"]
    # Counts and rates a key without privacy:admin may see withheld (null) by the small-cell rule.
    held_out = "some" if model["test_rows"] is None else f"{model['test_rows']:,}"
    average = uplift["average_uplift"]
    return [
        f"  the service's own uplift model (traits, {held_out} subjects held out): "
        f"Qini {uplift['qini_coefficient']:.3f}, average uplift "
        f"{'withheld' if average is None else format(average, '+.2%')}",
        f"  audience of the persuadable (top 30%): {audience['segment']['member_count']:,} "
        f"people, expected uplift {audience['expected_uplift']:+.2%}",
    ]
