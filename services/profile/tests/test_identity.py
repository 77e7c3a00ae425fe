"""Identity resolution under merge rules, on its own."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from precis_common.errors import InvalidArgument
from precis_profile.identity import (
    BLOCKED,
    DEFAULT_PRIORITY,
    LIMIT,
    NO_MERGE,
    MergeRules,
    TypeRule,
    merge_traits,
    resolve,
    validate_rules,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
UID, EMAIL, ANON, DEVICE = "user_id", "email", "anonymous_id", "device_id"
RULES = MergeRules()


def counts(**by_profile: dict[str, int]) -> dict[str, Counter[str]]:
    return {pid: Counter(c) for pid, c in by_profile.items()}


def test_unknown_identifiers_make_a_new_profile() -> None:
    plan = resolve([(UID, "u1"), (ANON, "a1")], {}, {}, {}, RULES)
    assert plan.profile_id is None
    assert plan.link == [(UID, "u1"), (ANON, "a1")] and plan.merge == [] and plan.conflicts == []


def test_a_login_unites_the_anonymous_profile_with_the_known_customer() -> None:
    owners = {(UID, "u1"): "P1", (ANON, "a1"): "P2"}
    plan = resolve(
        [(UID, "u1"), (ANON, "a1")],
        owners,
        counts(P1={UID: 1}, P2={ANON: 1}),
        {"P1": T0, "P2": T0 - timedelta(days=1)},
        RULES,
    )
    assert plan.profile_id == "P1"  # the user_id's profile survives, though P2 is older
    assert plan.merge == [("P2", (ANON, "a1"))] and plan.link == [] and plan.conflicts == []


def test_two_customers_are_never_fused_by_a_shared_email() -> None:
    owners = {(EMAIL, "h"): "P1"}
    plan = resolve(
        [(UID, "u2"), (EMAIL, "h")], owners, counts(P1={UID: 1, EMAIL: 1}), {"P1": T0}, RULES
    )
    assert plan.profile_id is None  # u2 starts its own profile
    assert plan.merge == [] and plan.link == [(UID, "u2")]
    assert [(c.key, c.reason, c.owner) for c in plan.conflicts] == [((EMAIL, "h"), LIMIT, "P1")]


def test_without_a_user_id_the_strongest_identifier_chooses() -> None:
    owners = {(EMAIL, "h"): "P1", (ANON, "a"): "P2"}
    plan = resolve(
        [(ANON, "a"), (EMAIL, "h")],
        owners,
        counts(P1={UID: 1, EMAIL: 1}, P2={UID: 1, ANON: 1}),
        {"P1": T0, "P2": T0 - timedelta(1)},
        RULES,
    )
    assert plan.profile_id == "P1" and plan.merge == []
    assert [(c.key, c.reason) for c in plan.conflicts] == [((ANON, "a"), LIMIT)]


def test_anonymous_profiles_merge_into_the_oldest() -> None:
    owners = {(ANON, "a"): "P2", (ANON, "b"): "P1"}
    plan = resolve(
        [(ANON, "a"), (ANON, "b")],
        owners,
        counts(P1={ANON: 1}, P2={ANON: 1}),
        {"P1": T0, "P2": T0 + timedelta(1)},
        RULES,
    )
    assert plan.profile_id == "P1" and plan.merge == [("P2", (ANON, "a"))]


def test_a_shared_device_cannot_fuse_more_people_than_its_limit() -> None:
    rules = validate_rules({DEVICE: TypeRule(max_per_profile=2)}, DEFAULT_PRIORITY)
    owners = {(DEVICE, "d1"): "P1"}
    plan = resolve(
        [(DEVICE, "d1"), (DEVICE, "d2"), (DEVICE, "d3")],
        owners,
        counts(P1={DEVICE: 1}),
        {"P1": T0},
        rules,
    )
    assert plan.profile_id is None  # P1 cannot take two more devices
    assert plan.link == [(DEVICE, "d2"), (DEVICE, "d3")]
    assert {c.key for c in plan.conflicts} == {(DEVICE, "d1")}


def test_blocked_values_never_link_or_merge() -> None:
    rules = validate_rules(
        {DEVICE: TypeRule(blocked_values=frozenset({"unknown"}))}, DEFAULT_PRIORITY
    )
    owners = {(DEVICE, "unknown"): "P1"}
    plan = resolve(
        [(ANON, "a9"), (DEVICE, "unknown")], owners, counts(P1={DEVICE: 1}), {"P1": T0}, rules
    )
    assert plan.profile_id is None and plan.link == [(ANON, "a9")] and plan.merge == []
    assert [(c.key, c.reason) for c in plan.conflicts] == [((DEVICE, "unknown"), BLOCKED)]


def test_a_type_that_may_not_merge_still_links_but_never_unites() -> None:
    rules = validate_rules({ANON: TypeRule(may_merge=False, max_per_profile=50)}, DEFAULT_PRIORITY)
    owners = {(EMAIL, "h"): "P1", (ANON, "a"): "P2"}
    plan = resolve(
        [(EMAIL, "h"), (ANON, "a")],
        owners,
        counts(P1={EMAIL: 1}, P2={ANON: 1}),
        {"P1": T0, "P2": T0},
        rules,
    )
    assert plan.profile_id == "P1" and plan.merge == []
    assert [(c.key, c.reason, c.owner) for c in plan.conflicts] == [((ANON, "a"), NO_MERGE, "P2")]
    fresh = resolve(
        [(EMAIL, "h"), (ANON, "new")],
        {(EMAIL, "h"): "P1"},
        counts(P1={EMAIL: 1}),
        {"P1": T0},
        rules,
    )
    assert fresh.link == [(ANON, "new")]


def test_priority_decides_which_profile_an_event_joins() -> None:
    anon_first = ("anonymous_id", "user_id", "email", "phone", "device_id", "external")
    rules = validate_rules({}, anon_first)
    owners = {(EMAIL, "h"): "P1", (ANON, "a"): "P2"}
    plan = resolve(
        [(EMAIL, "h"), (ANON, "a")],
        owners,
        counts(P1={UID: 1, EMAIL: 1}, P2={UID: 1, ANON: 1}),
        {"P1": T0, "P2": T0},
        rules,
    )
    assert plan.profile_id == "P2"


def test_rule_validation_names_the_field() -> None:
    with pytest.raises(InvalidArgument) as err:
        validate_rules({"fax": TypeRule(), EMAIL: TypeRule(max_per_profile=-1)}, ("user_id",))
    assert {v.field for v in err.value.violations} == {
        "rules.fax",
        "rules.email.max_per_profile",
        "priority",
    }


def test_rules_round_trip_through_json() -> None:
    rules = validate_rules(
        {DEVICE: TypeRule(max_per_profile=2, blocked_values=frozenset({"x"}))}, DEFAULT_PRIORITY
    )
    assert MergeRules.from_json(rules.to_json()) == rules


def test_traits_last_write_wins_by_event_time_not_arrival() -> None:
    traits: dict[str, object] = {}
    times: dict[str, str] = {}
    merge_traits(
        traits, times, {"plan": "gold", "city": "Shanghai"}, "2026-01-02T00:00:00.000000+00:00"
    )
    merge_traits(
        traits, times, {"plan": "silver"}, "2026-01-01T00:00:00.000000+00:00"
    )  # late, older
    assert traits == {"plan": "gold", "city": "Shanghai"}
    merge_traits(traits, times, {"city": None}, "2026-01-03T00:00:00.000000+00:00")
    assert traits == {"plan": "gold"}
