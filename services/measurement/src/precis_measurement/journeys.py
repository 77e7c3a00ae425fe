"""Conversion journeys built from stored events, for ComputeAttribution without given journeys.

A journey is a profile's touches in the lookback before each conversion of the period (a
conversion ends a journey; the next one starts after it), and, for the Markov and Shapley models
that need them, the touches of profiles that did not convert in the period as non-converting
journeys. Touches are the UTM sources (or media) of the profile's events and the campaign
messages sent to it (their channel, e.g. "email").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from precis_common.db import Database
from precis_measurement.attribution import Journey, Touchpoint
from precis_measurement.store import ms_conversions, ms_exposures, ms_touches


def stored_journeys(
    database: Database,
    workspace: str,
    *,
    start: datetime,
    end: datetime,
    conversion_event: str,
    lookback: timedelta,
    by_medium: bool,
    limit: int,
) -> list[Journey]:
    c, t, e = ms_conversions.c, ms_touches.c, ms_exposures.c
    with database.read() as session:
        conversions = session.execute(
            select(c.profile_id, c.occurred_at, c.revenue)
            .where(
                c.workspace_id == workspace,
                c.event == conversion_event,
                c.occurred_at >= start,
                c.occurred_at < end,
            )
            .order_by(c.profile_id, c.occurred_at)
            .limit(limit)
        ).all()
        touches: dict[str, list[tuple[datetime, str]]] = {}
        for pid, when, source, medium in session.execute(
            select(t.profile_id, t.occurred_at, t.source, t.medium).where(
                t.workspace_id == workspace,
                t.occurred_at >= start - lookback,
                t.occurred_at < end,
            )
        ):
            channel = (medium if by_medium else source) or (source or medium)
            touches.setdefault(pid, []).append((_aware(when), channel))
        for pid, when, channel in session.execute(
            select(e.profile_id, e.occurred_at, e.channel).where(
                e.workspace_id == workspace,
                e.kind == "sent",
                e.occurred_at >= start - lookback,
                e.occurred_at < end,
            )
        ):
            touches.setdefault(pid, []).append((_aware(when), channel or "message"))
    for touched in touches.values():
        touched.sort()
    journeys: list[Journey] = []
    converted_profiles: set[str] = set()
    previous: dict[str, datetime] = {}
    for pid, when, revenue in conversions:
        when = _aware(when)
        converted_profiles.add(pid)
        since = max(when - lookback, previous.get(pid, when - lookback))
        path = [Touchpoint(ch, at) for at, ch in touches.get(pid, ()) if since <= at <= when]
        previous[pid] = when
        journeys.append(Journey(tuple(path), True, float(revenue), when))
    for pid, touched in touches.items():
        if pid in converted_profiles or len(journeys) >= limit:
            continue
        inside = [Touchpoint(ch, at) for at, ch in touched if start - lookback <= at < end]
        if inside:
            journeys.append(Journey(tuple(inside), False))
    return journeys


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
