"""Popular lists: a change makes an entry stale, and a stale entry is computed again at most
every refresh_seconds (a steady stream of events must not make every fallback recompute)."""

from __future__ import annotations

from precis_recommendation.serving import PopularCache, _Popular

KEY = ("ws", "", 30)


def entry(at: float, generation: int) -> _Popular:
    return _Popular(computed_at=at, generation=generation, ranked=[("a", 1.0)], interactions=1)


def test_a_current_entry_is_used_until_it_is_a_minute_old() -> None:
    cache = PopularCache(refresh_seconds=5.0)
    cache.store(KEY, entry(100.0, cache.generation("ws")))
    assert cache.usable(KEY, 159.9) is not None
    assert cache.usable(KEY, 160.0) is None


def test_a_stale_entry_is_used_only_within_the_refresh_interval() -> None:
    cache = PopularCache(refresh_seconds=5.0)
    cache.store(KEY, entry(100.0, cache.generation("ws")))
    cache.forget(["other"])
    assert cache.usable(KEY, 104.0) is not None  # another workspace changed
    cache.forget(["ws"])
    assert cache.usable(KEY, 104.9) is not None  # stale, but computed under 5 s ago
    assert cache.usable(KEY, 105.0) is None
    cache.store(KEY, entry(105.0, cache.generation("ws")))
    assert cache.usable(KEY, 130.0) is not None


def test_without_a_refresh_interval_every_change_recomputes() -> None:
    cache = PopularCache(refresh_seconds=0.0)
    cache.store(KEY, entry(100.0, cache.generation("ws")))
    cache.forget_all()
    assert cache.usable(KEY, 100.0) is None
