"""Identity resolution, first cut: which profile an event belongs to, and which profiles it
unites. Pure functions over what the store found, so the rules are testable on their own.

Rules (the per-workspace, configurable rule set with limits and unmerge is the next step):
  - identifiers, by priority: user_id > email > phone > device_id > external > anonymous_id;
  - a profile holds at most one user_id: two profiles with different user_ids are never merged,
    and an event whose identifiers point at both attaches to the one its strongest identifier
    names; the weaker identifier stays where it is and the conflict is reported;
  - otherwise every profile any identifier of the event points at is merged into one survivor
    (the one named by the strongest identifier; ties go to the oldest profile).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from precis_common.identifiers import IdentifierKind

PRIORITY = {
    IdentifierKind.USER_ID.value: 0,
    IdentifierKind.EMAIL.value: 1,
    IdentifierKind.PHONE.value: 2,
    IdentifierKind.DEVICE_ID.value: 3,
    IdentifierKind.EXTERNAL.value: 4,
    IdentifierKind.ANONYMOUS_ID.value: 5,
}

Key = tuple[str, str]  # (kind, stored value); kind is "external:<ns>" for external ids


def priority(kind: str) -> int:
    return PRIORITY.get(kind.split(":", 1)[0], 9)


@dataclass
class Resolution:
    """What to do with one event."""

    profile_id: str | None  # None: create a new profile
    merge: list[str] = field(default_factory=list)  # profiles to merge into profile_id
    link: list[Key] = field(default_factory=list)  # identifiers to link to profile_id
    conflicts: list[Key] = field(default_factory=list)  # identifiers left on another profile


def resolve(
    keys: Sequence[Key],
    owners: Mapping[Key, str],
    user_ids: Mapping[str, str | None],
    created: Mapping[str, datetime],
) -> Resolution:
    """keys: the event's identifiers; owners: the profile each already-known key belongs to;
    user_ids: the user_id held by each candidate profile (None if it has none);
    created: each candidate's creation time."""
    ordered = sorted(keys, key=lambda k: priority(k[0]))
    event_uid = next((v for k, v in ordered if k == IdentifierKind.USER_ID.value), None)

    def strength(pid: str) -> tuple[int, datetime, str]:
        best = min(priority(k[0]) for k in ordered if owners.get(k) == pid)
        return best, created[pid], pid

    candidates = sorted({owners[k] for k in ordered if k in owners}, key=strength)
    survivor: str | None = None
    survivor_uid = event_uid
    if event_uid is not None:
        holder = owners.get((IdentifierKind.USER_ID.value, event_uid))
        if holder is not None:
            survivor = holder
        else:
            survivor = next((p for p in candidates if user_ids.get(p) is None), None)
    elif candidates:
        survivor = candidates[0]
        survivor_uid = user_ids.get(survivor)

    result = Resolution(profile_id=survivor)
    for pid in candidates:
        if pid == survivor:
            continue
        uid = user_ids.get(pid)
        if uid is not None and survivor_uid is not None and uid != survivor_uid:
            continue  # never fuse two customers
        if survivor is None:
            # No candidate may absorb the event's user_id; it starts a profile of its own.
            continue
        result.merge.append(pid)
        if uid is not None:
            survivor_uid = uid
    absorbed = {survivor, *result.merge}
    for key in ordered:
        owner = owners.get(key)
        if owner is None:
            result.link.append(key)
        elif owner not in absorbed:
            result.conflicts.append(key)
    return result


def merge_traits(
    traits: dict[str, object], times: dict[str, str], incoming: Mapping[str, object], at: str
) -> bool:
    """Last write wins per trait by event time (ISO strings compare in time order when they share
    one format); returns whether anything changed. A null value deletes the trait."""
    changed = False
    for name, value in incoming.items():
        if times.get(name, "") > at:
            continue
        times[name] = at
        if value is None:
            changed |= traits.pop(name, None) is not None
        elif traits.get(name) != value:
            traits[name] = value
            changed = True
    return changed
