"""dmba's two randomized campaigns through the gateway, end to end with the real processes
(SQLite): Hair-Care-Product (a promotion, purchase outcome) and Voter-Persuasion (a message,
opinion moved), each loaded by the devstack loader as people, a segment, a campaign whose
assignments the sender recorded, the messages sent and the outcomes as conversion events. The
reports must show what the raw data says: the same arm sizes and converters, the Welch p-value
scipy computes on the raw outcomes, an interval excluding 0, no sample-ratio mismatch, and, for
the uplift model fitted on the dataset's training partition, the same Qini on the validation
partition as the library computes directly.

Measured (this test): Hair-Care promotion 80 of 4,976 (1.61%) against 32 of 5,024 (0.64%),
lift +0.97 points (95% CI +0.56 to +1.38), p = 4.1e-06, held-out Qini 0.124; Voter-Persuasion
2,012 of 5,000 (40.2%) against 1,722 of 5,000 (34.4%), +5.80 points (+3.91 to +7.69), p = 2e-09,
held-out Qini 0.004 (the two-model logistic learns little here). Hair-Care runs in `make test`,
Voter-Persuasion (the slower load) in `make test-slow`.

Hair-Care then closes the loop inside the suite: the segmentation service trains an uplift model
on the campaign (subjects and outcomes read from the measurement service, features from the
people's traits), its audience of the persuadable is created, a follow-up campaign is sent to
that audience naming the model, and the measurement service evaluates the campaign with the
model's scores read back from segmentation."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as scipy_stats

from precis_client import PrecisClient, PrecisError
from precis_common.testing import wait_for
from precis_devstack.campaigns import (
    Experiment,
    load_hair_care,
    load_voter_persuasion,
    run_experiment,
    summary_lines,
    train_uplift_audience,
    uplift_scores,
)
from precis_measurement.campaigns import bucket_of
from precis_uplift import evaluate_uplift
from tests.bench.harness import REPO_ROOT, running_suite

pytestmark = pytest.mark.e2e


def cache_dir() -> Path:
    configured = os.environ.get("PRECIS_DATA_CACHE")
    return Path(configured) if configured else REPO_ROOT / ".precis" / "cache"


def check(experiment: Experiment, outcome: dict[str, object]) -> None:
    report = outcome["report"]
    assert isinstance(report, dict)
    arms = {a["arm_id"]: a for a in report["arms"]}
    treated, control = arms[experiment.arm_id], arms["holdout"]
    assert treated["subjects"] == int(experiment.treated.sum())
    assert control["subjects"] == int((~experiment.treated).sum())
    assert treated["converters"] == int(experiment.outcome[experiment.treated].sum())
    assert control["converters"] == int(experiment.outcome[~experiment.treated].sum())
    assert treated["sends"] == treated["subjects"] and control["sends"] == 0
    lift = report["lifts"][0]
    assert (lift["arm"], lift["metric"], lift["test"]) == (
        experiment.arm_id,
        "conversion_rate",
        "welch_t",
    )
    expected = scipy_stats.ttest_ind(
        experiment.outcome[experiment.treated].astype(float),
        experiment.outcome[~experiment.treated].astype(float),
        equal_var=False,
    )
    assert lift["p_value"] == pytest.approx(expected.pvalue, rel=1e-6)
    assert lift["absolute_lift"]["interval"]["lower"] > 0
    assert lift["significant"] is True
    assert report["srm"]["mismatch"] is False and report["srm"]["p_value"] > 0.01
    # The held-out Qini through the gateway equals the library's on the same scores.
    scores = uplift_scores(experiment)
    held_out = np.flatnonzero(~experiment.training)
    direct = evaluate_uplift(
        [scores[experiment.user_id(int(i))] for i in held_out],
        experiment.treated[held_out],
        experiment.outcome[held_out].astype(float),
    )
    uplift = outcome["uplift"]
    assert isinstance(uplift, dict)
    assert uplift["treated"] + uplift["control"] == len(held_out)
    assert uplift["unmatched_scores"] == 0
    assert uplift["qini_coefficient"] == pytest.approx(direct.qini_coefficient, rel=1e-9)
    assert report["uplift"]["qini_coefficient"] == pytest.approx(direct.qini_coefficient)
    assert len(report["uplift"]["deciles"]) == 10


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "load",
    [
        pytest.param(load_hair_care, id="hair_care"),
        # The same path with 3,734 conversions: in `make test-slow`, to keep `make test` short.
        pytest.param(load_voter_persuasion, id="voter_persuasion", marks=pytest.mark.slow),
    ],
)
def test_dmba_campaign_through_the_gateway(
    tmp_path: Path, load: Callable[[Path], Experiment]
) -> None:
    experiment = load(cache_dir())
    with running_suite(tmp_path / "state") as suite, suite.client(timeout=120.0) as client:
        outcome = run_experiment(client, experiment, timeout=600, progress=print)
        print("\n".join(summary_lines(experiment.key, outcome)))
        check(experiment, outcome)
        page = client.campaign_report_page(outcome["campaign"]["campaign_id"])
        assert 'data-chart="qini"' in page and 'data-chart="cumulative-lift"' in page
        if experiment.key == "hair_care":
            check_consented_enrollment(
                client, experiment, outcome["campaign"]["segment_id"], suite.workspace_id
            )
            outcome["service_model"] = check_uplift_audience(client, experiment, outcome)
            lines = summary_lines(experiment.key, outcome)
            print("\n".join(lines))
            assert any("persuadable (top 30%)" in line for line in lines)


def check_uplift_audience(
    client: PrecisClient, experiment: Experiment, outcome: dict[str, object]
) -> dict[str, Any]:
    """The service's own uplift model on the campaign, its audience, and a campaign sent to
    that audience evaluated with the model's scores (after check_consented_enrollment: only
    the people who granted e-mail marketing can be enrolled)."""
    campaign = outcome["campaign"]
    assert isinstance(campaign, dict)
    trained = train_uplift_audience(client, experiment, campaign["campaign_id"], progress=print)
    model, audience = trained["model"], trained["audience"]
    n = len(experiment.treated)
    # Every subject is used: 20% of each group held out (stratified), the rest fitted.
    assert (model["training_rows"], model["test_rows"]) == (n - round(n * 0.2), round(n * 0.2))
    u = model["uplift"]
    assert u["treated"] == round(int(experiment.treated.sum()) * 0.2)
    assert len(u["deciles"]) == 10 and np.isfinite(u["qini_coefficient"])
    # The held-out average effect is the campaign's (+0.97 points overall), within noise.
    assert -0.01 < u["average_uplift"] < 0.03
    assert sum(model["feature_importances"].values()) == pytest.approx(1.0)
    assert set(model["feature_importances"]) == set(experiment.model_features)
    segment = audience["segment"]
    assert segment["family"] == "predictive" and segment["member_count"] >= 0.3 * n

    # A follow-up campaign to the persuadable who granted e-mail marketing, naming the model.
    def releasable() -> int | None:
        try:
            return len(client.segment_members(segment["segment_id"], channel="email")["members"])
        except PrecisError as exc:
            if exc.status != 503:
                raise
            return None

    reachable = wait_for(releasable, 120, "the persuadable's consent")
    assert reachable and reachable < 40  # some of the 40 who granted e-mail, not all
    created = client.create_campaign(
        {
            "name": "Hair-care offer to the persuadable",
            "segment_id": segment["segment_id"],
            "channel": "email",
            "arms": [{"arm_id": "offer", "weight": 1}],
            "holdout_share": 0.5,
            "end_time": (datetime.now(UTC) + timedelta(days=14)).isoformat(),
            "targeting_model_id": model["model_id"],
            "min_cell_size": 1,
        }
    )
    follow_up = created["campaign"]["campaign_id"]
    wait_for(
        lambda: sum(a["subjects"] for a in client.campaign_report(follow_up)["arms"]) == reachable,
        120,
        "the enrollment of the follow-up campaign",
    )
    # No scores given: the measurement service reads the model's from segmentation.
    evaluated = client.evaluate_campaign_uplift(follow_up)
    assert evaluated["treated"] + evaluated["control"] == reachable
    assert evaluated["unmatched_scores"] == n - reachable  # everyone else is scored too
    return trained


def check_consented_enrollment(
    client: PrecisClient, experiment: Experiment, segment: str, workspace: str
) -> None:
    """A campaign that assigns by itself, on the same people: only those who granted e-mail
    marketing are assigned (segmentation releases them, following the consent service), the
    rest are counted as excluded; the arms are those the hash gives."""
    granted = [experiment.user_id(i) for i in range(0, 400, 10)]
    for user in granted:
        client.record_consent(
            {"user_id": user},
            {"marketing_email": "granted"},
            policy_version="2026-11",
            source="test",
        )
    client.refresh_segment(segment)

    def released() -> bool:
        try:
            page = client.segment_members(segment, channel="email")
        except PrecisError as exc:
            # 503 while segmentation has not yet read the consent changes it needs.
            if exc.status != 503:
                raise
            return False
        return len(page["members"]) == len(granted)

    wait_for(released, 120, "segmentation to release the people who granted e-mail marketing")
    created = client.create_campaign(
        {
            "name": "Hair-care follow-up, by e-mail",
            "segment_id": segment,
            "channel": "email",
            "arms": [{"arm_id": "reminder", "weight": 1}],
            "holdout_share": 0.25,
            "end_time": (datetime.now(UTC) + timedelta(days=14)).isoformat(),
            "min_cell_size": 1,
        }
    )
    # The same people are in the recorded campaign: flagged, allowed.
    assert any("overlaps campaign" in w for w in created["warnings"])
    cid = created["campaign"]["campaign_id"]
    report = wait_for(
        lambda: (
            lambda r: (
                r
                if sum(a["subjects"] for a in r["arms"]) == len(granted)
                and r["excluded_without_consent"]
                else None
            )
        )(client.campaign_report(cid)),
        120,
        "the enrollment of the campaign",
    )
    assert report["excluded_without_consent"] == len(experiment.treated) - len(granted)
    assert report["overlaps"][0]["subjects"] == len(granted)
    for user in granted[:5]:
        answer = client.campaign_assignment(cid, "user_id", user)
        bucket = bucket_of(workspace, cid, answer["profile_id"])
        assert answer["bucket"] == bucket
        assert answer["arm_id"] == ("holdout" if bucket < 2500 else "reminder")
    with pytest.raises(PrecisError) as refused:
        client.campaign_assignment(cid, "user_id", experiment.user_id(1))
    assert refused.value.status == 404
