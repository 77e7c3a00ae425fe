"""Identity resolution rules, on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from precis_profile.identity import merge_traits, resolve

T0 = datetime(2026, 1, 1, tzinfo=UTC)
UID, EMAIL, ANON = "user_id", "email", "anonymous_id"


def test_unknown_identifiers_make_a_new_profile() -> None:
    plan = resolve([(UID, "u1"), (ANON, "a1")], {}, {}, {})
    assert plan.profile_id is None
    assert plan.link == [(UID, "u1"), (ANON, "a1")] and plan.merge == []


def test_a_login_unites_the_anonymous_profile_with_the_known_customer() -> None:
    owners = {(UID, "u1"): "P1", (ANON, "a1"): "P2"}
    plan = resolve(
        [(UID, "u1"), (ANON, "a1")],
        owners,
        {"P1": "u1", "P2": None},
        {"P1": T0, "P2": T0 - timedelta(days=1)},
    )
    assert plan.profile_id == "P1"  # the user_id's profile survives, though P2 is older
    assert plan.merge == ["P2"] and plan.link == [] and plan.conflicts == []


def test_two_customers_are_never_fused_by_a_shared_email() -> None:
    owners = {(EMAIL, "h"): "P1"}
    plan = resolve([(UID, "u2"), (EMAIL, "h")], owners, {"P1": "u1"}, {"P1": T0})
    assert plan.profile_id is None  # u2 starts its own profile
    assert plan.merge == [] and plan.link == [(UID, "u2")] and plan.conflicts == [(EMAIL, "h")]


def test_without_a_user_id_the_strongest_identifier_chooses() -> None:
    owners = {(EMAIL, "h"): "P1", (ANON, "a"): "P2"}
    plan = resolve(
        [(ANON, "a"), (EMAIL, "h")],
        owners,
        {"P1": "u1", "P2": "u2"},
        {"P1": T0, "P2": T0 - timedelta(1)},
    )
    assert plan.profile_id == "P1" and plan.merge == [] and plan.conflicts == [(ANON, "a")]


def test_anonymous_profiles_merge_into_the_oldest() -> None:
    owners = {(ANON, "a"): "P2", (EMAIL, "h"): "P1"}
    plan = resolve(
        [(ANON, "a"), (EMAIL, "h")], owners, {"P1": None, "P2": None}, {"P1": T0, "P2": T0}
    )
    assert plan.profile_id == "P1" and plan.merge == ["P2"]


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
