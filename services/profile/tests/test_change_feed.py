"""The profile_changes feed carries what a read model of profiles needs, in feed order: each
change's state and events (after merges in the batch), tags, the events a split reassigned,
and identifiers only in their stored (hashed) form; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import grpc
import orjson
from profile_support import WS, E, Suite, T, identify

from precis.common.v1 import feed_pb2, feed_pb2_grpc
from precis.ingestion.v1 import ingestion_pb2
from precis.profile.v1 import profile_pb2
from precis_common.identifiers import mask_hash
from precis_profile.profiles import CHANGE_BUDGET_BYTES

UPSERTED = profile_pb2.PROFILE_CHANGE_KIND_UPSERTED
MERGED = profile_pb2.PROFILE_CHANGE_KIND_MERGED
SPLIT = profile_pb2.PROFILE_CHANGE_KIND_SPLIT
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def changes(suite: Suite, after: int = 0) -> list[tuple[int, profile_pb2.ProfileChange]]:
    feed = feed_pb2_grpc.FeedServiceStub(grpc.insecure_channel(f"127.0.0.1:{suite.profile.port}"))
    request = feed_pb2.ReadFeedRequest(feed="profile_changes", after_seq=after, max_entries=5000)
    return [
        (e.seq, profile_pb2.ProfileChange.FromString(e.payload))
        for r in feed.ReadFeed(request)
        for e in r.entries
    ]


def last_seq(suite: Suite) -> int:
    return max((seq for seq, _ in changes(suite)), default=0)


def event(
    message_id: str, minute: int, name: str = "", *, uid: str = "", anon: str = "", **props: object
) -> ingestion_pb2.Event:
    e = E(
        message_id=message_id,
        type=ingestion_pb2.EVENT_TYPE_TRACK,
        event=name,
        user_id=uid,
        anonymous_id=anon,
        properties_json=orjson.dumps(props),
    )
    e.timestamp.FromDatetime(START + timedelta(minutes=minute))
    return e


def login(message_id: str, minute: int, **fields: object) -> ingestion_pb2.Event:
    uid, anon = str(fields.pop("uid", "")), str(fields.pop("anon", ""))
    e = identify(uid=uid, anon=anon, at=START + timedelta(minutes=minute), **fields)
    e.message_id = message_id
    return e


def upserts(
    found: list[tuple[int, profile_pb2.ProfileChange]], profile_id: str
) -> list[profile_pb2.ProfileChange]:
    return [c for _, c in found if c.kind == UPSERTED and c.profile_id == profile_id]


def ids_of(state: profile_pb2.ProfileState) -> set[tuple[int, str]]:
    return {(i.type, i.value) for i in state.identifiers}


def test_a_batch_carries_each_profiles_events_and_state(suite: Suite) -> None:
    suite.send(
        event("m1", 1, "Product Viewed", anon="ann-web", sku="a-1"),
        login("m2", 2, uid="bob", plan="gold"),
        event("m3", 3, "Product Viewed", anon="ann-web", sku="a-2"),
        event("m4", 4, "Order Completed", uid="bob", order_id="o-1", revenue=25.5),
    )
    ann = suite.get(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "ann-web")
    bob = suite.get(T.IDENTIFIER_TYPE_USER_ID, "bob")
    found = changes(suite)
    [ann_change] = upserts(found, ann.profile_id)
    [bob_change] = upserts(found, bob.profile_id)
    assert [(e.message_id, e.type, e.event) for e in ann_change.events] == [
        ("m1", "track", "Product Viewed"),
        ("m3", "track", "Product Viewed"),
    ]
    assert [orjson.loads(e.properties_json) for e in ann_change.events] == [
        {"sku": "a-1"},
        {"sku": "a-2"},
    ]
    assert [e.timestamp.ToDatetime(tzinfo=UTC) for e in ann_change.events] == [
        START + timedelta(minutes=1),
        START + timedelta(minutes=3),
    ]
    assert ann_change.source_message_id == "m3"
    assert [(e.message_id, e.type, e.event) for e in bob_change.events] == [
        ("m2", "identify", "identify"),
        ("m4", "track", "Order Completed"),
    ]
    # The state is the profile as GetProfile shows it after the batch.
    assert bob_change.state.traits_json == bob.traits_json
    assert orjson.loads(bob_change.state.traits_json) == {"plan": "gold"}
    computed = orjson.loads(bob_change.state.computed_traits_json)
    assert computed["event_count"] == 2 and computed["revenue"] == 25.5
    assert ids_of(bob_change.state) == {(T.IDENTIFIER_TYPE_USER_ID, "bob")}
    assert ids_of(ann_change.state) == {(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "ann-web")}
    assert orjson.loads(ann_change.state.computed_traits_json)["event_count"] == 2


def test_a_merge_in_the_batch_moves_the_absorbed_profiles_events_to_the_survivor(
    suite: Suite,
) -> None:
    suite.send(
        event("v1", 1, "Viewed", anon="web-1", page="/"),
        login("i1", 2, uid="u7", email="lee@example.com"),
        event("v2", 3, "Viewed", anon="web-1", page="/shoes"),
        login("i2", 4, anon="web-1", email="lee@example.com"),  # unites the two
        event("v3", 5, "Viewed", anon="web-1", page="/cart"),
    )
    merged = suite.get(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "web-1")
    assert merged.event_count == 5 and len(merged.merged_profile_ids) == 1
    [absorbed] = merged.merged_profile_ids
    found = changes(suite)
    merges = [c for _, c in found if c.kind == MERGED]
    assert [(c.profile_id, list(c.other_profile_ids), c.source_message_id) for c in merges] == [
        (merged.profile_id, [absorbed], "i2")
    ]
    assert ids_of(merges[0].state) == ids_of(upserts(found, merged.profile_id)[0].state)
    assert upserts(found, absorbed) == []  # its events are the survivor's now
    [change] = upserts(found, merged.profile_id)
    assert [e.message_id for e in change.events] == ["v1", "i1", "v2", "i2", "v3"]
    kinds = {i.type for i in change.state.identifiers}
    assert kinds == {
        T.IDENTIFIER_TYPE_USER_ID,
        T.IDENTIFIER_TYPE_EMAIL,
        T.IDENTIFIER_TYPE_ANONYMOUS_ID,
    }
    # The merge comes before the upsert that carries the moved events.
    seqs = {c.kind: seq for seq, c in found if c.profile_id == merged.profile_id}
    assert seqs[MERGED] < seqs[UPSERTED]


def test_many_events_of_one_profile_are_spread_over_several_changes(suite: Suite) -> None:
    # Three ingestion batches of 20 events of ~20 KiB (1.2 MiB), applied as one feed batch.
    filler = "x" * 20_000
    for b in range(3):
        suite.events.Batch(
            ingestion_pb2.BatchRequest(
                events=[
                    event(f"e{b:02d}{i:02d}", b * 20 + i, "Page Viewed", uid="reader", text=filler)
                    for i in range(20)
                ]
            ),
            metadata=WS,
        )
    assert suite.profile.consumer.run_once() == 60
    profile = suite.get(T.IDENTIFIER_TYPE_USER_ID, "reader")
    parts = upserts(changes(suite), profile.profile_id)
    assert len(parts) >= 3
    assert [e.message_id for p in parts for e in p.events] == [
        f"e{b:02d}{i:02d}" for b in range(3) for i in range(20)
    ]
    for part in parts:
        assert sum(e.ByteSize() for e in part.events) <= CHANGE_BUDGET_BYTES
        assert part.source_message_id == part.events[-1].message_id
        assert orjson.loads(part.state.computed_traits_json)["event_count"] == 60


def test_tag_changes_carry_the_tags_in_the_state(suite: Suite) -> None:
    suite.send(login("t1", 1, uid="m1", plan="gold"), login("t2", 2, uid="m2", plan="free"))
    rule = {"trait": "traits.plan", "op": "eq", "value": "gold"}
    suite.profiles.PutTagDefinition(
        profile_pb2.PutTagDefinitionRequest(
            definition=profile_pb2.TagDefinition(
                tag="gold", kind=profile_pb2.TAG_KIND_RULE, rule_json=orjson.dumps(rule)
            )
        ),
        metadata=WS,
    )
    m1 = suite.get(T.IDENTIFIER_TYPE_USER_ID, "m1")
    [(_, by_rule)] = [(s, c) for s, c in changes(suite) if not c.events]
    assert by_rule.profile_id == m1.profile_id and list(by_rule.state.tags) == ["gold"]
    before = last_seq(suite)
    request = profile_pb2.SetTagRequest(
        identifier=T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value="m1"), tag="vip", present=True
    )
    suite.profiles.SetTag(request, metadata=WS)
    [(_, tagged)] = changes(suite, before)
    assert tagged.kind == UPSERTED and tagged.profile_id == m1.profile_id
    assert list(tagged.state.tags) == ["gold", "vip"]
    assert ids_of(tagged.state) == {(T.IDENTIFIER_TYPE_USER_ID, "m1")}
    # A rule tag an event brings is in the state of that event's change.
    before = last_seq(suite)
    suite.send(login("t3", 3, uid="m2", plan="gold"))
    [(_, upgraded)] = changes(suite, before)
    assert [e.message_id for e in upgraded.events] == ["t3"]
    assert list(upgraded.state.tags) == ["gold"]
    request.present = False
    before = last_seq(suite)
    suite.profiles.SetTag(request, metadata=WS)
    [(_, untagged)] = changes(suite, before)
    assert list(untagged.state.tags) == ["gold"]


def test_a_split_names_the_events_it_reassigned(suite: Suite) -> None:
    suite.send(
        login("s1", 1, uid="mum", anon="tablet", stage="expecting"),
        event("s2", 2, "Product Viewed", anon="tablet"),
        event("s3", 3, "Product Viewed", anon="tablet"),
        event("s4", 4, "Order Completed", uid="mum"),
    )
    fused = suite.get(T.IDENTIFIER_TYPE_USER_ID, "mum")
    before = last_seq(suite)
    request = profile_pb2.UnmergeRequest(
        profile_id=fused.profile_id,
        identifier=T.Identifier(type=T.IDENTIFIER_TYPE_ANONYMOUS_ID, value="tablet"),
    )
    suite.profiles.Unmerge(request, metadata=WS)
    device = suite.get(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "tablet")
    found = [c for _, c in changes(suite, before)]
    assert [(c.kind, c.profile_id) for c in found] == [
        (SPLIT, fused.profile_id),
        (UPSERTED, fused.profile_id),
        (UPSERTED, device.profile_id),
    ]
    _, kept, detached = found
    assert list(kept.reassigned_message_ids) == []
    assert list(detached.reassigned_message_ids) == ["s2", "s3"]
    assert ids_of(kept.state) == {(T.IDENTIFIER_TYPE_USER_ID, "mum")}
    assert ids_of(detached.state) == {(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "tablet")}
    assert orjson.loads(kept.state.traits_json) == {"stage": "expecting"}
    assert orjson.loads(detached.state.computed_traits_json)["event_count"] == 2


def test_email_and_phone_travel_only_as_keyed_hashes(suite: Suite) -> None:
    suite.send(
        login("p1", 1, uid="ann", email="Ann.Lee@Example.com", phone="+86 138 0013 8000"),
        event("p2", 2, "Viewed", uid="ann"),
    )
    profile = suite.get(T.IDENTIFIER_TYPE_USER_ID, "ann")
    feed = feed_pb2_grpc.FeedServiceStub(grpc.insecure_channel(f"127.0.0.1:{suite.profile.port}"))
    payloads = [
        e.payload
        for r in feed.ReadFeed(feed_pb2.ReadFeedRequest(feed="profile_changes"))
        for e in r.entries
    ]
    assert payloads
    for payload in payloads:
        text = payload.lower()
        for clear in (b"ann.lee@example.com", b"13800138000", b"138 0013 8000"):
            assert clear not in text
    [change] = upserts(changes(suite), profile.profile_id)
    hashed = {
        i.type: i.value
        for i in change.state.identifiers
        if i.type in (T.IDENTIFIER_TYPE_EMAIL, T.IDENTIFIER_TYPE_PHONE)
    }
    assert set(hashed) == {T.IDENTIFIER_TYPE_EMAIL, T.IDENTIFIER_TYPE_PHONE}
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in hashed.values())
    # The same keyed hashes the profile holds (GetProfile shows their masked prefix).
    shown = {i.identifier.type: i.identifier.value for i in profile.identifiers}
    assert {t: mask_hash(v) for t, v in hashed.items()} == {
        t: shown[t] for t in (T.IDENTIFIER_TYPE_EMAIL, T.IDENTIFIER_TYPE_PHONE)
    }


def test_an_rfm_refresh_announces_the_profiles_whose_scores_moved(suite: Suite) -> None:
    """RFM scores change with new boundaries and with time, which no event says: the refresh
    announces every profile whose scores differ from the previous refresh's, with its state."""
    suite.send(
        *[
            event(f"o{i}", i, "Order Completed", uid=f"u{i}", order_id=f"o-{i}", revenue=10 * i)
            for i in range(1, 11)
        ]
    )
    before = last_seq(suite)
    first = suite.profile.store.refresh_rfm("brand-a")
    assert first["announced"] == 10  # nobody had scores before
    announced = [c for _, c in changes(suite, before) if c.kind == UPSERTED]
    assert len(announced) == 10
    for change in announced:
        computed = orjson.loads(change.state.computed_traits_json)
        assert computed["rfm"]["cell"], computed
    # Nothing moved: the same boundaries, the same moment.
    again = suite.profile.store.refresh_rfm("brand-a", as_of=first["breaks"].as_of)
    assert again["announced"] == 0
