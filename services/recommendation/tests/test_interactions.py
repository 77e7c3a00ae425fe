"""Weighting, decay, the id maps and the time splits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from precis_recommendation.interactions import (
    IdIndex,
    Interaction,
    Weights,
    build_matrix,
    decay_factor,
    held_out,
    split_at,
    split_per_user,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def rec(user: str, item: str, kind: str = "view", days: float = 0.0) -> Interaction:
    return Interaction(user, item, kind, T0 + timedelta(days=days))  # type: ignore[arg-type]


def cell(records: list[Interaction], user: str, item: str, **kwargs: object) -> float:
    m = build_matrix(records, **kwargs)  # type: ignore[arg-type]
    return float(m.matrix[m.users.position(user), m.items.position(item)])


def test_default_weights_add_up_per_cell() -> None:
    records = [rec("u", "i", "view"), rec("u", "i", "cart"), rec("u", "i", "purchase")]
    records += [rec("u", "j", "view"), rec("u", "j", "view")]
    assert cell(records, "u", "i") == 1 + 3 + 5
    assert cell(records, "u", "j") == 2


def test_weights_are_configurable() -> None:
    records = [rec("u", "i", "cart"), rec("u", "i", "purchase")]
    assert cell(records, "u", "i", weights=Weights(view=1, cart=2, purchase=10)) == 12
    with pytest.raises(ValueError, match="unknown interaction kind"):
        build_matrix([rec("u", "i", "like")])


def test_exponential_decay_by_half_life() -> None:
    assert decay_factor(T0, T0 + timedelta(days=7), 7) == pytest.approx(0.5)
    assert decay_factor(T0, T0 + timedelta(days=14), 7) == pytest.approx(0.25)
    assert decay_factor(T0 + timedelta(days=1), T0, 7) == 1.0  # after as_of: no decay
    # as_of defaults to the latest record (day 14): purchase 14 days old = 5/4, view today = 1
    records = [rec("u", "i", "purchase", days=0), rec("u", "i", "view", days=14)]
    assert cell(records, "u", "i", half_life_days=7) == pytest.approx(5 / 4 + 1)
    as_of = T0 + timedelta(days=21)
    assert cell(records, "u", "i", half_life_days=7, as_of=as_of) == pytest.approx(5 / 8 + 1 / 2)


def test_id_maps_are_stable_whatever_the_record_order() -> None:
    records = [rec("u2", "b"), rec("u1", "c", "cart"), rec("u3", "a", "purchase")]
    first, second = build_matrix(records), build_matrix(list(reversed(records)))
    assert first.users.ids == ("u1", "u2", "u3") and first.items.ids == ("a", "b", "c")
    assert first.users == second.users and first.items == second.items
    assert (first.matrix != second.matrix).nnz == 0
    index = IdIndex.of(["b", "a", "b"])
    assert index.position("b") == 1 and index.id(0) == "a" and len(index) == 2
    assert first.items_of("u1") == {"c"} and first.items_of("nobody") == set()


def test_global_cutoff_split() -> None:
    records = [rec("u", "a", days=0), rec("u", "b", days=5), rec("v", "c", days=10)]
    split = split_at(records, T0 + timedelta(days=5))
    assert [r.item_id for r in split.train] == ["a"]
    assert [r.item_id for r in split.test] == ["b", "c"]


def test_per_user_split_holds_out_each_users_latest_records() -> None:
    records = [rec(u, f"{u}-{d}", days=d) for u in ("u", "v") for d in range(10)]
    records.append(rec("w", "single"))
    split = split_per_user(records, 0.2)
    assert len(split.test) == 4 and len(split.train) == 17
    train_keys = {(r.profile_id, r.item_id, r.time) for r in split.train}
    assert not any((r.profile_id, r.item_id, r.time) in train_keys for r in split.test)
    for user in ("u", "v"):
        last_train = max(r.time for r in split.train if r.profile_id == user)
        assert all(r.time > last_train for r in split.test if r.profile_id == user)
    assert all(r.profile_id != "w" for r in split.test)  # one record: training only


def test_held_out_skips_seen_items_and_unknown_users() -> None:
    train = build_matrix([rec("u", "a"), rec("u", "b")])
    test = [rec("u", "a", "purchase", days=1), rec("u", "c", days=1), rec("new", "a", days=1)]
    assert held_out(test, train) == {"u": {"c"}}
