"""Identity resolution: which profile an event belongs to, and which profiles it unites,
under the workspace's merge rules. Pure functions over what the store found, so the rules are
testable on their own.

A workspace's rules say, per identifier type: whether a shared value may unite two profiles,
how many identifiers of the type one profile may hold (defaults: 1 user_id, 5 emails, 3 phones,
10 device ids, 5 per external namespace, 50 anonymous ids), which values never link (shared
test addresses, "unknown" devices), and a priority order. An event whose identifiers would
break a rule does not merge: it attaches to the profile chosen by priority, and every identifier
it could not link or use is reported as a conflict with its reason.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from precis_common.errors import InvalidArgument, Violation
from precis_common.identifiers import IdentifierKind

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (kind, stored value); kind is "external:<ns>" for external ids

BLOCKED = "blocked_value"
NO_MERGE = "type_does_not_merge"
LIMIT = "max_per_profile"
SEPARATED = "unmerged"  # an administrator split these profiles; they never merge again
ELSEWHERE = "held_elsewhere"  # replaying a split: the identifier belongs to another profile


def base_kind(kind: str) -> str:
    return kind.split(":", 1)[0]


@dataclass(frozen=True)
class TypeRule:
    """Merge behaviour of one identifier type."""

    may_merge: bool = True
    max_per_profile: int = 0  # 0: unlimited
    blocked_values: frozenset[str] = frozenset()  # stored values (emails and phones hashed)


DEFAULT_PRIORITY = (
    IdentifierKind.USER_ID.value,
    IdentifierKind.EMAIL.value,
    IdentifierKind.PHONE.value,
    IdentifierKind.DEVICE_ID.value,
    IdentifierKind.EXTERNAL.value,
    IdentifierKind.ANONYMOUS_ID.value,
)


@dataclass(frozen=True)
class MergeRules:
    """A workspace's merge rules; `rules` is keyed by base kind (external rules apply to each
    namespace separately)."""

    rules: Mapping[str, TypeRule] = field(
        default_factory=lambda: {
            IdentifierKind.USER_ID.value: TypeRule(max_per_profile=1),
            IdentifierKind.EMAIL.value: TypeRule(max_per_profile=5),
            IdentifierKind.PHONE.value: TypeRule(max_per_profile=3),
            IdentifierKind.DEVICE_ID.value: TypeRule(max_per_profile=10),
            IdentifierKind.EXTERNAL.value: TypeRule(max_per_profile=5),
            IdentifierKind.ANONYMOUS_ID.value: TypeRule(max_per_profile=50),
        }
    )
    priority: tuple[str, ...] = DEFAULT_PRIORITY

    def rule(self, kind: str) -> TypeRule:
        return self.rules.get(base_kind(kind), TypeRule())

    def rank(self, kind: str) -> int:
        base = base_kind(kind)
        return self.priority.index(base) if base in self.priority else len(self.priority)

    def blocked(self, key: Key) -> bool:
        return key[1] in self.rule(key[0]).blocked_values

    def fits(self, counts: Mapping[str, int]) -> bool:
        for kind, n in counts.items():
            limit = self.rule(kind).max_per_profile
            if limit and n > limit:
                return False
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "priority": list(self.priority),
            "rules": {
                kind: {
                    "may_merge": r.may_merge,
                    "max_per_profile": r.max_per_profile,
                    "blocked_values": sorted(r.blocked_values),
                }
                for kind, r in sorted(self.rules.items())
            },
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> MergeRules:
        rules = {
            kind: TypeRule(
                may_merge=bool(r["may_merge"]),
                max_per_profile=int(r["max_per_profile"]),
                blocked_values=frozenset(r.get("blocked_values", ())),
            )
            for kind, r in doc["rules"].items()
        }
        return cls(rules=rules, priority=tuple(doc["priority"]))


def validate_rules(rules: Mapping[str, TypeRule], priority: Sequence[str]) -> MergeRules:
    """Check a rule set given by an administrator; errors name the field."""
    known = {k.value for k in IdentifierKind}
    v: list[Violation] = []
    for kind, rule in rules.items():
        if kind not in known:
            v.append(Violation(f"rules.{kind}", "unknown identifier type"))
        if rule.max_per_profile < 0 or rule.max_per_profile > 10_000:
            v.append(Violation(f"rules.{kind}.max_per_profile", "must be between 0 and 10000"))
        if len(rule.blocked_values) > 10_000:
            v.append(Violation(f"rules.{kind}.blocked_values", "at most 10000 values"))
    if sorted(priority) != sorted(known) or len(set(priority)) != len(priority):
        v.append(Violation("priority", f"must list each identifier type once: {sorted(known)}"))
    if v:
        raise InvalidArgument("invalid merge rules", v)
    merged = dict(MergeRules().rules)
    merged.update(rules)
    return MergeRules(rules=merged, priority=tuple(priority))


@dataclass
class Conflict:
    key: Key
    reason: str
    owner: str | None = None  # the profile that holds the identifier, if any


@dataclass
class Resolution:
    """What to do with one event."""

    profile_id: str | None  # None: create a new profile
    merge: list[tuple[str, Key]] = field(default_factory=list)  # (profile to absorb, via key)
    link: list[Key] = field(default_factory=list)  # identifiers to link to profile_id
    conflicts: list[Conflict] = field(default_factory=list)


def resolve(
    keys: Sequence[Key],
    owners: Mapping[Key, str],
    id_counts: Mapping[str, Mapping[str, int]],
    created: Mapping[str, datetime],
    rules: MergeRules,
    separated: Callable[[str, str], bool] = lambda _a, _b: False,
) -> Resolution:
    """keys: the event's identifiers; owners: the profile each already-known key belongs to;
    id_counts: identifiers per kind held by each candidate profile; created: their creation
    times."""
    conflicts = [Conflict(k, BLOCKED, owners.get(k)) for k in keys if rules.blocked(k)]
    usable = sorted((k for k in keys if not rules.blocked(k)), key=lambda k: rules.rank(k[0]))
    new_keys = [k for k in usable if k not in owners]

    def strength(pid: str) -> tuple[int, datetime, str]:
        best = min(rules.rank(k[0]) for k in usable if owners.get(k) == pid)
        return best, created[pid], pid

    candidates = sorted({owners[k] for k in usable if k in owners}, key=strength)
    additions = Counter(k[0] for k in new_keys)
    survivor = next((p for p in candidates if rules.fits(_plus(id_counts[p], additions))), None)
    counts: Counter[str] = Counter(id_counts[survivor]) if survivor else Counter()
    result = Resolution(profile_id=survivor)
    absorbed = {survivor}
    for pid in candidates:
        if pid == survivor:
            continue
        via = next(k for k in usable if owners.get(k) == pid)
        if survivor is not None and any(separated(pid, other) for other in absorbed if other):
            result.conflicts.extend(_conflicts(usable, owners, pid, SEPARATED))
            continue
        if not rules.rule(via[0]).may_merge:
            result.conflicts.extend(_conflicts(usable, owners, pid, NO_MERGE))
            continue
        combined = _plus(counts, id_counts[pid])
        if not rules.fits(_plus(combined, additions)):
            result.conflicts.extend(_conflicts(usable, owners, pid, LIMIT))
            continue
        if survivor is None:
            # Every candidate is full: the event starts a profile of its own and links nothing
            # that another profile already holds.
            result.conflicts.extend(_conflicts(usable, owners, pid, LIMIT))
            continue
        result.merge.append((pid, via))
        absorbed.add(pid)
        counts = Counter(combined)
    for key in new_keys:
        if rules.fits(_plus(counts, {key[0]: 1})):
            result.link.append(key)
            counts[key[0]] += 1
        else:
            result.conflicts.append(Conflict(key, LIMIT))
    result.conflicts.extend(
        Conflict(k, LIMIT, owners[k])
        for k in usable
        if k in owners and owners[k] not in absorbed and not _reported(result.conflicts, k)
    )
    conflicts.extend(result.conflicts)
    result.conflicts = conflicts
    return result


def _plus(a: Mapping[str, int], b: Mapping[str, int]) -> Counter[str]:
    out: Counter[str] = Counter(a)
    out.update(b)
    return out


def _conflicts(
    usable: Iterable[Key], owners: Mapping[Key, str], pid: str, reason: str
) -> list[Conflict]:
    return [Conflict(k, reason, pid) for k in usable if owners.get(k) == pid]


def _reported(conflicts: Iterable[Conflict], key: Key) -> bool:
    return any(c.key == key for c in conflicts)


MAX_PROFILE_TRAITS = 500
"""Distinct identify traits one profile keeps. A new trait name beyond it is dropped (and
logged); existing traits still update. Per event, ingestion limits traits further (see
precis_ingestion.validation)."""


def merge_traits(
    traits: dict[str, object],
    times: dict[str, str],
    incoming: Mapping[str, object],
    at: str,
    sources: dict[str, Any] | None = None,
    origin: Mapping[str, Any] | None = None,
) -> bool:
    """Last write wins per trait by event time (ISO strings compare in time order when they share
    one format); returns whether anything changed. A null value deletes the trait (its time is
    kept, so that an older value arriving late does not bring it back). `sources` records the
    `origin` ({"source", "message_id"}) of every value that wins."""
    changed = False
    for name, value in incoming.items():
        if times.get(name, "") > at:
            continue
        if value is not None and name not in traits and len(traits) >= MAX_PROFILE_TRAITS:
            log.warning(
                "profile trait limit %d reached: trait %r dropped", MAX_PROFILE_TRAITS, name
            )
            continue
        times[name] = at
        if sources is not None:
            if origin is None or value is None:
                sources.pop(name, None)
            else:
                sources[name] = dict(origin)
        if value is None:
            changed |= traits.pop(name, None) is not None
        elif traits.get(name) != value:
            traits[name] = value
            changed = True
    return changed
