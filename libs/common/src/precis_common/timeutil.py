"""Times as the services store and compare them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def iso(value: datetime) -> str:
    """One ISO format for every stored time, so that strings compare in time order."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
@overload
def aware(value: datetime | None) -> datetime | None: ...
def aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes for timezone-aware columns; they are stored in UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
