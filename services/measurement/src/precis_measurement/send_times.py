"""Send-time optimization over the stored engagement (opens and clicks of campaign messages):
GetBestSendTimes, and the send_at of assignments when a campaign enables it.

The population the thin histories shrink toward is the workspace's engagement on the channel in
the last POPULATION_DAYS, its newest POPULATION_LIMIT events at most (enough to estimate 24 + 7
shares; the read stays bounded for big workspaces). Profiles' histories use the same period.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from precis.measurement.v1 import measurement_pb2 as pb
from precis_common.db import Database
from precis_measurement import sendtime
from precis_measurement.report import channel_name
from precis_measurement.store import ms_exposures

POPULATION_DAYS = 180
POPULATION_LIMIT = 200_000
POPULATION_TTL = 300.0
ENGAGEMENT = ("opened", "clicked")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class SendTimeService:
    """The population's engagement is cached per (workspace, channel) for POPULATION_TTL seconds:
    a sender asking for the send_at of every assignment would otherwise read it per person."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self._population: dict[tuple[str, int], tuple[list[datetime], float]] = {}
        self._lock = threading.Lock()

    def _population_of(
        self, session: Session, workspace: str, channel: int, base: list[Any]
    ) -> list[datetime]:
        key = (workspace, channel)
        with self._lock:
            cached = self._population.get(key)
        if cached is not None and time.monotonic() - cached[1] < POPULATION_TTL:
            return cached[0]
        e = ms_exposures.c
        population = [
            _aware(w)
            for w in session.execute(
                select(e.occurred_at)
                .where(*base)
                .order_by(e.occurred_at.desc())
                .limit(POPULATION_LIMIT)
            ).scalars()
        ]
        with self._lock:
            self._population[key] = (population, time.monotonic())
        return population

    def _read(
        self, workspace: str, profile_ids: Sequence[str], channel: int
    ) -> tuple[dict[str, list[datetime]], list[datetime]]:
        e = ms_exposures.c
        since = datetime.now(UTC) - timedelta(days=POPULATION_DAYS)
        base = [e.workspace_id == workspace, e.kind.in_(ENGAGEMENT), e.occurred_at >= since]
        if channel:
            base.append(e.channel == channel_name(channel))
        history: dict[str, list[datetime]] = {pid: [] for pid in profile_ids}
        with self.db.read() as session:
            for start in range(0, len(profile_ids), 500):
                chunk = list(profile_ids[start : start + 500])
                for pid, when in session.execute(
                    select(e.profile_id, e.occurred_at).where(*base, e.profile_id.in_(chunk))
                ):
                    history[pid].append(_aware(when))
            population = self._population_of(session, workspace, channel, base)
        return history, population

    def compute(
        self, workspace: str, profile_ids: Sequence[str], channel: int, time_zone: str
    ) -> sendtime.SendTimes:
        history, population = self._read(workspace, profile_ids, channel)
        return sendtime.best_send_times(
            history, list(profile_ids), population=population, time_zone=time_zone
        )

    def best(
        self, workspace: str, profile_ids: Sequence[str], channel: int, time_zone: str
    ) -> pb.GetBestSendTimesResponse:
        result = self.compute(workspace, profile_ids, channel, time_zone)
        return pb.GetBestSendTimesResponse(
            send_times=[
                pb.SendTime(
                    profile_id=s.profile_id,
                    best_hour=s.best_hour,
                    best_weekday=s.best_weekday,
                    engagement_events=s.engagement_events,
                    fallback=s.fallback,
                    hourly_share=list(s.hourly_share),
                    weekday_share=list(s.weekday_share),
                )
                for s in result.send_times
            ],
            workspace_best_hour=result.workspace_best_hour,
            workspace_best_weekday=result.workspace_best_weekday,
        )

    def next_send_at(
        self, workspace: str, profile_id: str, channel: int, time_zone: str
    ) -> datetime | None:
        result = self.compute(workspace, [profile_id], channel, time_zone)
        best = result.send_times[0]
        return sendtime.next_send_at(
            best.best_hour, best.best_weekday, datetime.now(UTC), time_zone
        )
