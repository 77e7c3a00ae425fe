"""Property-based tests of the identity graph: random sequences of identify, track and order
events over a small pool of identifiers (so that links, merges and rule conflicts are frequent),
unmerges and merge-rule changes, driven through the in-process ingestion and profile services.
After every step the stored graph is checked against what the events imply on their own:

1. every identifier an event carried is linked to one live profile, by an event that carried
   it, unless a rule (a blocked value, a per-type limit) kept it out and a conflict says so;
2. every live profile keeps within the workspace's per-type limits (profiles that existed when
   the rules were tightened keep what they had and gain nothing);
3. every accepted event is in exactly one live profile, with the identifiers it carried, and
   each profile's counts, first and last seen and order statistics are those recomputed from
   its own events; 4. each trait is the value of its latest identify by event time (either
   value when two at that very time disagree: the merge direction decides);
5. separations name live profiles, and profiles split apart never merge again.

Without unmerges the graph is also a function of the events alone: applying them one by one
into a fresh workspace gives the same profiles (modulo ids)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import grpc
import orjson
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from profile_support import WS, Suite, T, identify, make_suite, track
from sqlalchemy import select

from precis.ingestion.v1 import ingestion_pb2
from precis.profile.v1 import profile_pb2
from precis_common.identifiers import PiiHasher
from precis_profile.computed import ORDER_EVENT, stats_from_json
from precis_profile.identity import BLOCKED, DEFAULT_PRIORITY, LIMIT, Key, MergeRules
from precis_profile.store import (
    identities,
    identity_conflicts,
    merges,
    profile_events,
    profiles,
    separations,
)
from precis_profile.timeutil import aware, iso

USER_IDS = ("u1", "u2")
ANONYMOUS_IDS = ("a1", "a2", "a3")
EMAILS = ("ann@example.com", "bo@example.com")
PHONES = ("+8613800138000", "+14155552671")
DEVICES = ("d1", "d2")
OPENIDS = ("o1", "o2")  # external ids in the wechat_openid namespace
CARDS = ("c1", "c2")  # and in loyalty_card: two external ids of equal priority in one event
NAMESPACE = "wechat_openid"
TRAITS = ("plan", "city")
TRAIT_VALUES = ("gold", "silver", "Hangzhou", None)  # None deletes the trait
ORDER_IDS = ("", "o-1", "o-2", "o-3")  # "": the message id is the order id
REVENUES: tuple[object, ...] = (10, 9.99, "25.50", 0, -5, "n/a", None)  # the last three unreadable
CATEGORIES = ("toys", "books")
T0 = datetime(2025, 3, 1, tzinfo=UTC)
HOURS = 6  # few distinct event times: ties and out-of-order arrival are common

PROTO_TYPE = {
    "user_id": T.IDENTIFIER_TYPE_USER_ID,
    "anonymous_id": T.IDENTIFIER_TYPE_ANONYMOUS_ID,
    "email": T.IDENTIFIER_TYPE_EMAIL,
    "phone": T.IDENTIFIER_TYPE_PHONE,
    "device_id": T.IDENTIFIER_TYPE_DEVICE_ID,
    "external": T.IDENTIFIER_TYPE_EXTERNAL,
}
CARRIED = (
    "anonymous_id",
    "anonymous_id",
    "anonymous_id",
    "user_id",
    "email",
    "email",
    "phone",
    "device_id",
    "device_id",
    "external",
    "loyalty",
)
POOL = {
    "user_id": USER_IDS,
    "anonymous_id": ANONYMOUS_IDS,
    "email": EMAILS,
    "phone": PHONES,
    "device_id": DEVICES,
    "external": OPENIDS,
    "loyalty": CARDS,
}


class Compact:
    """Readable reprs in falsifying examples: only the fields that differ from the default."""

    def __repr__(self) -> str:
        shown = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)  # type: ignore[arg-type]
            if getattr(self, f.name) != f.default
        ]
        return f"{type(self).__name__}({', '.join(shown)})"


@dataclass(frozen=True, repr=False)
class Ev(Compact):
    """One event as a client sends it (raw identifiers)."""

    type: str = "track"  # "identify", "track" or "order" (a track event named ORDER_EVENT)
    user_id: str = ""
    anonymous_id: str = ""
    email: str = ""
    phone: str = ""
    device_id: str = ""
    external: str = ""
    loyalty: str = ""
    hour: int = 0
    traits: tuple[tuple[str, object], ...] = ()
    order_id: str = ""
    revenue: object = None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, repr=False)
class Send(Compact):
    """Events sent in one request: the profile service applies them as one batch."""

    events: tuple[Ev, ...] = ()


@dataclass(frozen=True, repr=False)
class Resend(Compact):
    """An accepted event delivered again with its message id: a duplicate, nothing changes."""

    index: int = 0


@dataclass(frozen=True, repr=False)
class Unmerge(Compact):
    """Detach an identifier from its profile, or undo the merge that identifier caused."""

    kind: str = "anonymous_id"
    value: str = ""
    by_merge_record: bool = False


@dataclass(frozen=True, repr=False)
class Rules(Compact):
    """New merge rules for the workspace (every type named, so the priority is explicit)."""

    limits: tuple[tuple[str, int], ...] = ()
    blocked: tuple[tuple[str, str], ...] = ()
    no_merge: tuple[str, ...] = ()
    priority: tuple[str, ...] = DEFAULT_PRIORITY


Op = Send | Resend | Unmerge | Rules

# Many values of types whose default limits they stay within: nearly every event that carries
# two identifiers merges two profiles.
UNLIMITED = ("anonymous_id", "email", "device_id")
MANY = {
    "anonymous_id": tuple(f"a{i}" for i in range(1, 7)),
    "email": tuple(f"e{i}@example.com" for i in range(1, 5)),
    "device_id": tuple(f"d{i}" for i in range(1, 5)),
}

# ---- strategies ---------------------------------------------------------------------------


@st.composite
def events(
    draw: st.DrawFn, carried: tuple[str, ...] = CARRIED, pool: dict[str, tuple[str, ...]] = POOL
) -> Ev:
    kind = draw(st.sampled_from(("identify", "track", "order")))
    # One to three identifiers, anonymous ids (which merge freely) the commonest.
    kinds = draw(st.lists(st.sampled_from(carried), min_size=1, max_size=3, unique=True))
    ids = {k: draw(st.sampled_from(pool[k])) for k in kinds}
    if "user_id" not in ids and "anonymous_id" not in ids:
        # Ingestion requires one of the two.
        ids["anonymous_id"] = draw(st.sampled_from(pool["anonymous_id"]))
    hour = draw(st.integers(0, HOURS - 1))
    traits: tuple[tuple[str, object], ...] = ()
    order: dict[str, Any] = {}
    if kind == "identify":
        traits = tuple(
            sorted(
                draw(
                    st.dictionaries(st.sampled_from(TRAITS), st.sampled_from(TRAIT_VALUES))
                ).items()
            )
        )
    elif kind == "order":
        order = {
            "order_id": draw(st.sampled_from(ORDER_IDS)),
            "revenue": draw(st.sampled_from(REVENUES)),
            "categories": tuple(draw(st.lists(st.sampled_from(CATEGORIES), max_size=2))),
        }
    return Ev(type=kind, hour=hour, traits=traits, **ids, **order)


@st.composite
def aliases(draw: st.DrawFn) -> Ev:
    """An anonymous visitor who logs in: the commonest merge."""
    return Ev(
        type="identify",
        user_id=draw(st.sampled_from(USER_IDS)),
        anonymous_id=draw(st.sampled_from(ANONYMOUS_IDS)),
        hour=draw(st.integers(0, HOURS - 1)),
    )


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, drawn in proportion to the weights (st.one_of ignores
    repetition)."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(pool) - 1).flatmap(lambda i: pool[i])


sends = st.builds(
    lambda evs: Send(tuple(evs)),
    st.lists(weighted((2, events()), (1, aliases())), min_size=2, max_size=6),
)


def unmerges(pool: dict[str, tuple[str, ...]]) -> st.SearchStrategy[Unmerge]:
    return st.sampled_from(("user_id", "anonymous_id", "email", "device_id")).flatmap(
        lambda kind: st.builds(
            Unmerge,
            kind=st.just(kind),
            value=st.sampled_from(pool.get(kind, POOL[kind])),
            by_merge_record=st.booleans(),
        )
    )


rule_changes = st.builds(
    Rules,
    limits=st.lists(
        st.tuples(st.sampled_from(tuple(PROTO_TYPE)), st.integers(1, 3)),
        max_size=3,
        unique_by=lambda t: t[0],
    ).map(lambda xs: tuple(sorted(xs))),
    blocked=st.lists(
        st.one_of(
            st.tuples(st.just("anonymous_id"), st.sampled_from(ANONYMOUS_IDS)),
            st.tuples(st.just("email"), st.sampled_from(EMAILS)),
            st.tuples(st.just("device_id"), st.sampled_from(DEVICES)),
        ),
        max_size=2,
        unique=True,
    ).map(lambda xs: tuple(sorted(xs))),
    no_merge=st.lists(st.sampled_from(("anonymous_id", "device_id")), max_size=1).map(tuple),
    priority=st.one_of(st.just(DEFAULT_PRIORITY), st.permutations(DEFAULT_PRIORITY).map(tuple)),
)
operations = st.lists(
    weighted(
        (4, sends),
        (1, st.builds(Resend, st.integers(0, 50))),
        (2, unmerges(POOL)),
        (1, rule_changes),
    ),
    min_size=4,
    max_size=14,
)

# ---- the services, shared by the examples (each example has a workspace of its own) -------


class Services:
    """One ingestion + profile suite for the whole module, rebuilt after a failed example (a
    batch that failed to apply would otherwise stay at the head of the events feed)."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._running: Iterator[Suite] | None = None
        self._suite: Suite | None = None

    def suite(self) -> Suite:
        if self._suite is None:

            def url(name: str) -> str:
                return f"sqlite:///{self._tmp.mktemp(name) / (name + '.db')}"

            self._running = make_suite(url, self._tmp.mktemp("state"))
            self._suite = next(self._running)
        return self._suite

    def discard(self) -> None:
        if self._running is not None:
            next(self._running, None)
        self._running = self._suite = None


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    shared = Services(tmp_path_factory)
    yield shared
    shared.discard()


# ---- what the test knows independently of the graph ---------------------------------------


@dataclass
class Sent:
    """An accepted event as the test understands it."""

    message_id: str
    proto: ingestion_pb2.Event
    keys: frozenset[Key]  # stored identifiers (email and phone hashed)
    at: datetime
    name: str  # as counted in event_counts
    traits: dict[str, object]
    order: tuple[str, tuple[datetime, Decimal, tuple[str, ...]]] | None  # (id, content)


@dataclass
class Expected:
    """A profile recomputed from its own events."""

    event_count: int
    event_counts: dict[str, int]
    first_seen: datetime | None
    last_seen: datetime | None
    trait_times: dict[str, str]
    trait_candidates: dict[str, set[object]]  # every value set at the latest time (ties)
    order_ids: set[str]
    order_count: int
    revenue: Decimal
    first_order_at: datetime | None
    last_order_at: datetime | None
    categories: dict[str, tuple[int, datetime]]


def recompute(events: list[Sent]) -> Expected:
    """events in feed order."""
    latest: dict[str, str] = {}
    candidates: dict[str, set[object]] = {}
    for e in events:
        for name, value in e.traits.items():
            at = iso(e.at)
            if at > latest.get(name, ""):
                latest[name], candidates[name] = at, {value}
            elif at == latest[name]:
                candidates[name].add(value)
    first: dict[str, tuple[datetime, Decimal, tuple[str, ...]]] = {}
    counted: list[tuple[datetime, Decimal, tuple[str, ...]]] = []
    for e in events:
        if e.order is None:
            continue
        order_id, content = e.order
        if order_id not in first:  # a later copy, same or conflicting, is not counted again
            first[order_id] = content
            counted.append(content)
    categories: dict[str, tuple[int, datetime]] = {}
    for at, _, cats in counted:
        for cat in cats:
            lines, last = categories.get(cat, (0, at))
            categories[cat] = (lines + 1, max(last, at))
    return Expected(
        event_count=len(events),
        event_counts=dict(Counter(e.name for e in events)),
        first_seen=min((e.at for e in events), default=None),
        last_seen=max((e.at for e in events), default=None),
        trait_times=latest,
        trait_candidates=candidates,
        order_ids=set(first),
        order_count=len(counted),
        revenue=sum((c[1] for c in counted), Decimal(0)),
        first_order_at=min((c[0] for c in counted), default=None),
        last_order_at=max((c[0] for c in counted), default=None),
        categories=categories,
    )


def readable_revenue(raw: object) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value >= 0 else None


@dataclass
class Graph:
    """The workspace's stored graph, read in one go."""

    profiles: dict[str, Any]
    links: dict[Key, Any]
    events: dict[str, Any]
    conflicts: list[Any]
    separations: list[Any]
    merges: list[Any]

    def current(self, profile_id: str) -> str:
        """Follow merged_into to the live profile."""
        seen = set()
        while self.profiles[profile_id].merged_into is not None:
            assert profile_id not in seen, f"merged_into cycle through {profile_id}"
            seen.add(profile_id)
            profile_id = self.profiles[profile_id].merged_into
        return profile_id

    @property
    def live(self) -> set[str]:
        return {pid for pid, r in self.profiles.items() if r.merged_into is None}

    def keys_of(self, profile_id: str) -> set[Key]:
        return {k for k, r in self.links.items() if r.profile_id == profile_id}


@dataclass
class Workspace:
    """One example: a workspace of its own, what was sent to it, and the checks."""

    suite: Suite
    hasher: PiiHasher
    id: str = field(default_factory=lambda: f"prop-{uuid.uuid4().hex[:12]}")
    sent: list[Sent] = field(default_factory=list)
    # Identifier sets of the profiles alive when rules changed: they may exceed the new limits
    # (existing profiles are not re-evaluated) but can then gain nothing.
    grandfathered: set[frozenset[Key]] = field(default_factory=set)
    ever_blocked: set[Key] = field(default_factory=set)
    split_pairs: list[tuple[str, str]] = field(default_factory=list)
    counter: int = 0
    raw: dict[Key, tuple[str, str]] = field(default_factory=dict)  # stored -> as sent

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("x-precis-workspace", self.id),)

    # ---- identifiers as stored --------------------------------------------------------

    def key(self, kind: str, raw: str) -> Key:
        if kind == "email":
            key = ("email", self.hasher.hash_email(self.id, raw))
        elif kind == "phone":
            key = ("phone", self.hasher.hash_phone(self.id, raw))
        elif kind == "external":
            key = (f"external:{NAMESPACE}", f"{NAMESPACE}:{raw}")
        elif kind == "loyalty":
            key = ("external:loyalty_card", f"loyalty_card:{raw}")
        else:
            key = (kind, raw)
        self.raw[key] = (kind, raw)
        return key

    def identifier(self, kind: str, raw: str) -> T.Identifier:
        return T.Identifier(
            type=PROTO_TYPE[kind], value=raw, namespace=NAMESPACE if kind == "external" else ""
        )

    # ---- operations ---------------------------------------------------------------------

    def apply(self, op: Op) -> None:
        if isinstance(op, Send):
            self.send(op.events)
        elif isinstance(op, Resend):
            self.resend(op.index)
        elif isinstance(op, Unmerge):
            self.unmerge(op)
        else:
            self.set_rules(op)

    def _deliver(self, protos: list[ingestion_pb2.Event]) -> ingestion_pb2.BatchResponse:
        response = self.suite.events.Batch(
            ingestion_pb2.BatchRequest(events=protos), metadata=self.metadata
        )
        while self.suite.profile.consumer.run_once():
            pass
        return response

    def send(self, evs: tuple[Ev, ...]) -> None:
        batch: list[Sent] = []
        for ev in evs:
            self.counter += 1
            batch.append(self._sent(f"m{self.counter}", ev))
        response = self._deliver([s.proto for s in batch])
        assert [r.status for r in response.results] == [ingestion_pb2.EVENT_STATUS_ACCEPTED] * len(
            batch
        ), response
        self.sent.extend(batch)

    def _sent(self, message_id: str, ev: Ev) -> Sent:
        at = T0 + timedelta(hours=ev.hour)
        personal = {k: v for k, v in (("email", ev.email), ("phone", ev.phone)) if v}
        proto = ingestion_pb2.Event(
            message_id=message_id,
            type=ingestion_pb2.EVENT_TYPE_IDENTIFY
            if ev.type == "identify"
            else ingestion_pb2.EVENT_TYPE_TRACK,
            user_id=ev.user_id,
            anonymous_id=ev.anonymous_id,
        )
        proto.timestamp.FromDatetime(at)
        traits = dict(ev.traits)
        if personal or traits:
            proto.traits_json = orjson.dumps({**traits, **personal})
        context: dict[str, Any] = {}
        if ev.device_id:
            context["device"] = {"id": ev.device_id}
        external = [{"namespace": NAMESPACE, "id": ev.external}] if ev.external else []
        if ev.loyalty:
            external.append({"namespace": "loyalty_card", "id": ev.loyalty})
        if external:
            context["external_ids"] = external
        if context:
            proto.context_json = orjson.dumps(context)
        order = None
        if ev.type == "track":
            proto.event = "Product Viewed"
        elif ev.type == "order":
            proto.event = ORDER_EVENT
            props: dict[str, Any] = {
                "products": [{"category": c, "product_id": f"p-{c}"} for c in ev.categories]
            }
            if ev.order_id:
                props["order_id"] = ev.order_id
            if ev.revenue is not None:
                props["revenue"] = ev.revenue
            proto.properties_json = orjson.dumps(props)
            revenue = readable_revenue(ev.revenue)
            if revenue is not None:
                content = (at, revenue.normalize(), tuple(sorted(ev.categories)))
                order = (ev.order_id or message_id, content)
        keys = {self.key(kind, getattr(ev, kind)) for kind in POOL if getattr(ev, kind)}
        return Sent(
            message_id=message_id,
            proto=proto,
            keys=frozenset(keys),
            at=at,
            name="identify" if ev.type == "identify" else proto.event,
            traits=traits if ev.type == "identify" else {},
            order=order,
        )

    def resend(self, index: int) -> None:
        if not self.sent:
            return
        again = self.sent[index % len(self.sent)]
        response = self._deliver([again.proto])
        assert response.results[0].status == ingestion_pb2.EVENT_STATUS_DUPLICATE, response

    def unmerge(self, op: Unmerge) -> None:
        key = self.key(op.kind, op.value)
        graph = self.read()
        link = graph.links.get(key)
        if link is None:
            note(f"  {op}: {key} is not linked; skipped")
            return
        profile_id = link.profile_id
        request = profile_pb2.UnmergeRequest(profile_id=profile_id)
        record = next(
            (m for m in graph.merges if (m.kind, m.value) == key and m.rule != "unmerged"), None
        )
        if op.by_merge_record and record is not None:
            request.merge_id = record.merge_id
        else:
            request.identifier.CopyFrom(self.identifier(op.kind, op.value))
        if graph.keys_of(profile_id) == {key}:
            with pytest.raises(grpc.RpcError) as err:
                self.suite.profiles.Unmerge(request, metadata=self.metadata)
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            note(f"  {op}: refused, the profile's only identifier")
            return
        response = self.suite.profiles.Unmerge(request, metadata=self.metadata)
        resulting = [p.profile_id for p in response.profiles]
        note(f"  {op}: split {profile_id} into {resulting}")
        assert len(resulting) == len(set(resulting)) >= 2
        after = self.read()
        # The original side keeps its id unless the replay merged it into a stronger profile.
        assert resulting[0] == after.current(profile_id)
        assert set(resulting) <= after.live, "the split reports a merged profile"
        assert after.links[key].profile_id == resulting[1], "the detached identifier moved"
        self.split_pairs.append((resulting[0], resulting[1]))

    def set_rules(self, op: Rules) -> None:
        limits = {kind: rule.max_per_profile for kind, rule in MergeRules().rules.items()}
        limits.update(op.limits)
        blocked: dict[str, list[str]] = {}
        for kind, raw in op.blocked:
            blocked.setdefault(kind, []).append(raw)
            self.ever_blocked.add(self.key(kind, raw))
        message = profile_pb2.MergeRules(
            rules=[
                profile_pb2.MergeRule(
                    type=PROTO_TYPE[kind],
                    max_per_profile=limits[kind],
                    may_merge=kind not in op.no_merge,
                    blocked_values=blocked.get(kind, []),
                    priority=rank + 1,
                )
                for rank, kind in enumerate(op.priority)
            ]
        )
        self.suite.profiles.SetMergeRules(
            profile_pb2.SetMergeRulesRequest(rules=message), metadata=self.metadata
        )
        graph = self.read()
        self.grandfathered |= {frozenset(graph.keys_of(pid)) for pid in graph.live}

    # ---- the checks ----------------------------------------------------------------------

    def read(self) -> Graph:
        ws = self.id
        with self.suite.profile.database.read() as s:
            return Graph(
                profiles={
                    r.profile_id: r
                    for r in s.execute(select(profiles).where(profiles.c.workspace_id == ws))
                },
                links={
                    (r.kind, r.value): r
                    for r in s.execute(select(identities).where(identities.c.workspace_id == ws))
                },
                events={
                    r.message_id: r
                    for r in s.execute(
                        select(profile_events).where(profile_events.c.workspace_id == ws)
                    )
                },
                conflicts=list(
                    s.execute(
                        select(identity_conflicts).where(identity_conflicts.c.workspace_id == ws)
                    )
                ),
                separations=list(
                    s.execute(select(separations).where(separations.c.workspace_id == ws))
                ),
                merges=list(
                    s.execute(
                        select(merges)
                        .where(merges.c.workspace_id == ws)
                        .order_by(merges.c.occurred_at, merges.c.merge_id)
                    )
                ),
            )

    def check(self) -> Graph:
        graph = self.read()
        rules = self.suite.profile.store.rules(self.id)
        live = graph.live
        sent = {s.message_id: s for s in self.sent}
        carried: dict[Key, set[str]] = {}
        for s in self.sent:
            for k in s.keys:
                carried.setdefault(k, set()).add(s.message_id)

        # Merged profiles lead to a live one.
        for pid in graph.profiles:
            graph.current(pid)

        # 1. Each identifier any event carried is linked to one live profile, by an event that
        # carried it; or a rule kept it unlinked and a conflict says so.
        unlinked_reasons: dict[Key, set[str]] = {}
        for c in graph.conflicts:
            unlinked_reasons.setdefault((c.kind, c.value), set()).add(c.reason)
        for k, link in graph.links.items():
            assert k in carried, f"{k} is linked but no event carried it"
            assert link.profile_id in live, f"{k} is linked to a merged or missing profile"
            assert link.source_message_id in carried[k], f"{k} linked by an event without it"
        for k in carried:
            if k not in graph.links:
                reasons = unlinked_reasons.get(k, set())
                assert reasons & {BLOCKED, LIMIT}, f"{k} is not linked and no rule says why"
                if BLOCKED in reasons:
                    assert k in self.ever_blocked, f"{k} reported blocked but never was"

        # 2. The merge rules' limits hold in every live profile (profiles that existed when the
        # rules were tightened keep what they had, and gain nothing).
        for pid in live:
            keys = graph.keys_of(pid)
            if not rules.fits(Counter(kind for kind, _ in keys)):
                assert frozenset(keys) in self.grandfathered, (
                    f"profile {pid} exceeds the limits {rules.to_json()['rules']}: {sorted(keys)}"
                )

        # 3. and 4. Every accepted event is in exactly one live profile, recorded as it was
        # carried; each profile's counts, times, order statistics and traits are those of its
        # own events.
        assert set(graph.events) == set(sent), "accepted events and stored events differ"
        members: dict[str, list[Sent]] = {pid: [] for pid in live}
        order = {s.message_id: i for i, s in enumerate(self.sent)}
        for message_id in sorted(graph.events, key=order.__getitem__):
            row, s = graph.events[message_id], sent[message_id]
            assert row.profile_id in live, f"event {message_id} is in a merged profile"
            assert aware(row.event_time) == s.at
            assert {tuple(k) for k in row.identifiers} == s.keys, (
                f"event {message_id} records identifiers {row.identifiers}, it carried {s.keys}"
            )
            members[row.profile_id].append(s)
        seqs = [graph.events[m].seq for m in sorted(graph.events, key=order.__getitem__)]
        assert seqs == sorted(seqs), "feed order is not the order of sending"
        for pid in live:
            assert members[pid] or graph.keys_of(pid), f"profile {pid} is empty"
            self.check_profile(graph.profiles[pid], recompute(members[pid]))

        # 5. Profiles split apart stay apart.
        for sep in graph.separations:
            assert sep.profile_id in live and sep.other_profile_id in live, (
                f"separation {sep.profile_id} / {sep.other_profile_id} names a merged profile"
            )
            assert sep.profile_id != sep.other_profile_id
        for a, b in self.split_pairs:
            assert graph.current(a) != graph.current(b), f"split profiles {a} and {b} re-merged"
        return graph

    def check_profile(self, row: Any, want: Expected) -> None:
        pid = row.profile_id
        assert row.event_count == want.event_count, pid
        assert row.event_counts == want.event_counts, pid
        assert aware(row.first_seen) == want.first_seen, pid
        assert aware(row.last_seen) == want.last_seen, pid
        stats = stats_from_json(row.order_stats)
        got_orders = (
            stats.order_count,
            stats.revenue,
            stats.first_order_at,
            stats.last_order_at,
            {n: (t.lines, t.last_ordered_at) for n, t in stats.categories.items()},
            set(stats.order_fingerprints),
        )
        want_orders = (
            want.order_count,
            want.revenue,
            want.first_order_at,
            want.last_order_at,
            want.categories,
            want.order_ids,
        )
        assert got_orders == want_orders, f"order statistics of {pid}"
        assert row.trait_times == want.trait_times, f"trait times of {pid}"
        assert set(row.traits) <= set(want.trait_times), pid
        for name, values in want.trait_candidates.items():
            assert row.traits.get(name) in values, f"trait {name} of {pid}: {row.traits}"

    def partition(self, graph: Graph) -> set[tuple[frozenset[str], frozenset[tuple[str, str]]]]:
        """The live profiles modulo their ids: (events, identifiers as sent) of each (hashes
        differ between workspaces)."""
        return {
            (
                frozenset(m for m, r in graph.events.items() if r.profile_id == pid),
                frozenset(self.raw[k] for k in graph.keys_of(pid)),
            )
            for pid in graph.live
        }


# ---- the properties ------------------------------------------------------------------------

# The services' span ids come from the global `random` (OpenTelemetry's id generator); a server
# thread finishing a streamed call while the next example is drawn looks to Hypothesis like a
# strategy using `random`.
shared_random = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)


def hasher_of(suite: Suite) -> PiiHasher:
    s = suite.ingestion.settings
    return PiiHasher(s.pii_secret.get_secret_value(), default_phone_region=s.default_phone_region)


def run(services: Services, ops: list[Op]) -> Workspace:
    suite = services.suite()
    try:
        ws = Workspace(suite, hasher_of(suite))
        for step, op in enumerate(ops):
            note(f"step {step}: {op}")
            ws.apply(op)
            graph = ws.check()
        # What the examples reached (shown by --hypothesis-show-statistics).
        event(f"merges: {min(3, sum(m.rule != 'unmerged' for m in graph.merges))}+")
        event(f"events: {min(20, len(ws.sent)) // 5 * 5}+")
        event(f"splits: {min(2, len(ws.split_pairs))}+")
        event(f"conflicts: {min(3, len(graph.conflicts))}+")
        return ws
    except AssertionError:
        raise
    except BaseException:
        services.discard()  # an events batch that failed to apply would block the feed
        raise


@shared_random
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ops=operations)
def test_the_graph_stays_consistent_with_its_events(services: Services, ops: list[Op]) -> None:
    """Invariants 1-5 after every step: events, unmerges and rule changes in any order."""
    run(services, ops)


@shared_random
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ops=st.lists(weighted((4, sends), (1, rule_changes)), min_size=3, max_size=10))
def test_batches_resolve_as_events_applied_one_by_one(services: Services, ops: list[Op]) -> None:
    """Without unmerges the graph is a function of the events: replaying every accepted event
    alone, in feed order, into a fresh workspace (with the same rule changes at the same
    points) gives the same profiles, modulo profile ids; so does the dry run of the rules."""
    original = run(services, ops)
    suite = services.suite()
    try:
        replay = Workspace(suite, original.hasher)
        for op in ops:
            if isinstance(op, Rules):
                replay.set_rules(op)
            elif isinstance(op, Send):
                for ev in op.events:
                    replay.send((ev,))
        assert [s.message_id for s in replay.sent] == [s.message_id for s in original.sent]
        replayed = replay.check()
        assert replay.partition(replayed) == original.partition(original.read())
        if not any(isinstance(op, Rules) for op in ops):
            # The dry run replays the same history in one batch: under the rules in force it
            # must find the profiles that exist.
            dry = suite.profiles.DryRunMergeRules(
                profile_pb2.DryRunMergeRulesRequest(rules=profile_pb2.MergeRules()),
                metadata=original.metadata,
            )
            assert (dry.profiles_merged, dry.profiles_split) == (0, 0), dry
            assert dry.profiles_unchanged == dry.profiles_before == dry.profiles_after, dry
    except AssertionError:
        raise
    except BaseException:
        services.discard()
        raise


@shared_random
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    ops=st.lists(
        weighted(
            (
                3,
                st.builds(
                    lambda evs: Send(tuple(evs)),
                    st.lists(events(carried=UNLIMITED, pool=MANY), min_size=2, max_size=8),
                ),
            ),
            (2, unmerges(MANY)),
        ),
        min_size=4,
        max_size=10,
    )
)
def test_a_dense_graph_of_merges_and_splits(services: Services, ops: list[Op]) -> None:
    """Identifiers no default limit holds back, so that most events carrying two of them
    merge profiles, often several times in one batch (whose stored events are re-keyed only
    at the end), and splits of the merged profiles: the same invariants."""
    run(services, ops)


# ---- regressions found by the properties above ----------------------------------------------


def split(suite: Suite, kind: int, value: str) -> list[str]:
    """Detach an identifier from the profile holding it; the resulting profile ids."""
    profile_id = suite.get(kind, value).profile_id
    request = profile_pb2.UnmergeRequest(
        profile_id=profile_id, identifier=T.Identifier(type=kind, value=value)
    )
    return [p.profile_id for p in suite.profiles.Unmerge(request, metadata=WS).profiles]


def test_an_unmerge_keeps_the_identifiers_each_event_carried(suite: Suite) -> None:
    # The login carries a1, which u2's profile already holds: it starts u1's profile and a1
    # stays with u2 (one user id per profile). Replaying u1's profile must still record a1.
    login = identify(uid="u1", anon="a1", email="u1@example.com")
    login.message_id = "login"
    suite.send(identify(uid="u2", anon="a1"), login)
    split(suite, T.IDENTIFIER_TYPE_EMAIL, "u1@example.com")
    with suite.profile.database.read() as session:
        recorded = session.execute(
            select(profile_events.c.identifiers).where(profile_events.c.message_id == "login")
        ).scalar_one()
    assert ["anonymous_id", "a1"] in recorded and ["user_id", "u1"] in recorded


def test_orders_survive_two_merges_into_one_profile_in_one_batch(suite: Suite) -> None:
    order = track(ORDER_EVENT, anon="a1")
    order.properties_json = orjson.dumps({"revenue": 30})
    suite.send(order, identify(uid="u1"), identify(anon="a3"))
    # One batch: u1 absorbs a1's profile (and its stored order), then a3's.
    suite.send(identify(uid="u1", anon="a1"), identify(uid="u1", anon="a3"))
    merged = suite.get(T.IDENTIFIER_TYPE_USER_ID, "u1")
    computed = orjson.loads(merged.computed_traits_json)
    assert merged.event_count == 5
    assert (computed["order_count"], computed["revenue"]) == (1, 30.0)


def test_a_split_stays_apart_when_the_replay_merges_one_side(suite: Suite) -> None:
    suite.send(identify(uid="u1", anon="a1"))
    suite.send(identify(anon="a2"))
    suite.send(identify(anon="a3", email="x@example.com"))
    suite.send(identify(uid="u1", anon="a2"))
    suite.send(identify(anon="a2", email="x@example.com"))  # now one profile
    resulting = split(suite, T.IDENTIFIER_TYPE_ANONYMOUS_ID, "a2")
    # Replaying, a2's side meets x's profile again and joins it (email outranks anonymous id).
    a2 = suite.get(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "a2").profile_id
    u1 = suite.get(T.IDENTIFIER_TYPE_USER_ID, "u1").profile_id
    assert resulting[:2] == [u1, a2]
    assert a2 == suite.get(T.IDENTIFIER_TYPE_EMAIL, "x@example.com").profile_id
    with suite.profile.database.read() as session:
        pairs = session.execute(
            select(separations.c.profile_id, separations.c.other_profile_id)
        ).all()
    assert [tuple(p) for p in pairs] == [(u1, a2)]
    suite.send(identify(uid="u1", email="x@example.com"))
    assert suite.get(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "a2").profile_id == a2 != u1
    assert suite.get(T.IDENTIFIER_TYPE_USER_ID, "u1").profile_id == u1


def test_two_profiles_split_from_one_may_merge_with_each_other(suite: Suite) -> None:
    on_tablet = track("Product Viewed", uid="mum")
    on_tablet.context_json = orjson.dumps({"device": {"id": "tablet"}})
    suite.send(identify(uid="mum", email="family@example.com"), on_tablet)
    split(suite, T.IDENTIFIER_TYPE_EMAIL, "family@example.com")
    split(suite, T.IDENTIFIER_TYPE_DEVICE_ID, "tablet")
    # Both are kept apart from mum's profile, not from each other: this event unites them.
    both = identify(anon="visitor", email="family@example.com")
    both.context_json = orjson.dumps({"device": {"id": "tablet"}})
    suite.send(both)
    family = suite.get(T.IDENTIFIER_TYPE_EMAIL, "family@example.com").profile_id
    mum = suite.get(T.IDENTIFIER_TYPE_USER_ID, "mum").profile_id
    assert suite.get(T.IDENTIFIER_TYPE_DEVICE_ID, "tablet").profile_id == family != mum
    with suite.profile.database.read() as session:
        pairs = session.execute(
            select(separations.c.profile_id, separations.c.other_profile_id)
        ).all()
    assert [tuple(p) for p in pairs] == [(mum, family)]


def test_the_oldest_profile_wins_a_tie_within_one_batch(suite: Suite) -> None:
    # Two external ids have equal priority, so the older profile takes an event that carries
    # both; profiles started in the same batch are as old as their order in the feed. Eight
    # such ties in one batch: a coin flip would get them all right once in 256 runs.
    def with_ids(e: ingestion_pb2.Event, **ids: str) -> ingestion_pb2.Event:
        external = [{"namespace": ns, "id": value} for ns, value in ids.items()]
        e.context_json = orjson.dumps({"external_ids": external})
        return e

    batch = []
    for i in range(8):
        batch += [
            with_ids(identify(uid=f"first-{i}"), wechat_openid=f"o{i}"),
            with_ids(identify(uid=f"second-{i}"), loyalty_card=f"c{i}"),
            with_ids(track("Viewed", anon=f"a{i}"), wechat_openid=f"o{i}", loyalty_card=f"c{i}"),
        ]
    suite.send(*batch)
    for i in range(8):
        assert suite.get(T.IDENTIFIER_TYPE_USER_ID, f"first-{i}").event_count == 2
        assert suite.get(T.IDENTIFIER_TYPE_USER_ID, f"second-{i}").event_count == 1
