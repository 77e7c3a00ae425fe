"""The profile service in process with a real ingestion service, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import orjson
import pytest
from profile_support import WS, Suite, T, identify, track
from sqlalchemy import func, select

from precis.common.v1 import feed_pb2, feed_pb2_grpc, privacy_pb2
from precis.profile.v1 import profile_pb2
from precis_profile.store import identities, profiles


def test_anonymous_browsing_and_login_become_one_profile(suite: Suite) -> None:
    suite.send(track("Product Viewed", anon="a1"), track("Product Viewed", anon="a1"))
    anonymous = suite.get(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "a1")
    suite.send(
        identify(uid="u1", anon="a1", email="Ann@Example.com", name="Ann"),
        track("Order Completed", uid="u1"),
    )
    by_email = suite.get(T.IDENTIFIER_TYPE_EMAIL, " ann@example.COM")
    by_user = suite.get(T.IDENTIFIER_TYPE_USER_ID, "u1")
    assert by_email.profile_id == by_user.profile_id == anonymous.profile_id
    assert by_user.event_count == 4
    assert dict(by_user.event_counts) == {"Product Viewed": 2, "identify": 1, "Order Completed": 1}
    assert orjson.loads(by_user.traits_json) == {"name": "Ann"}
    shown = {(i.identifier.type, i.identifier.value) for i in by_user.identifiers}
    assert (T.IDENTIFIER_TYPE_USER_ID, "u1") in shown
    email_shown = next(v for t, v in shown if t == T.IDENTIFIER_TYPE_EMAIL)
    assert "ann" not in email_shown.lower() and email_shown.startswith("hmac:")


def test_profiles_merge_when_an_event_links_them(suite: Suite) -> None:
    suite.send(track("Viewed", anon="web-1"), identify(uid="u7", email="lee@example.com"))
    first = suite.get(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "web-1")
    second = suite.get(T.IDENTIFIER_TYPE_USER_ID, "u7")
    assert first.profile_id != second.profile_id
    suite.send(identify(anon="web-1", email="lee@example.com"))
    merged = suite.get(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "web-1")
    assert merged.profile_id == second.profile_id
    assert list(merged.merged_profile_ids) == [first.profile_id]
    assert merged.event_count == 3
    total = suite.profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=WS).total_count
    assert total == 1
    feed = feed_pb2_grpc.FeedServiceStub(grpc.insecure_channel(f"127.0.0.1:{suite.profile.port}"))
    kinds = [
        e.kind
        for r in feed.ReadFeed(feed_pb2.ReadFeedRequest(feed="profile_changes"))
        for e in r.entries
    ]
    assert "profile.merged" in kinds and kinds.count("profile.upserted") >= 2


def test_a_shared_email_never_fuses_two_customers(suite: Suite) -> None:
    suite.send(
        identify(uid="mum", email="family@example.com"),
        identify(uid="dad", email="family@example.com"),
    )
    mum = suite.get(T.IDENTIFIER_TYPE_USER_ID, "mum")
    dad = suite.get(T.IDENTIFIER_TYPE_USER_ID, "dad")
    assert mum.profile_id != dad.profile_id
    assert suite.get(T.IDENTIFIER_TYPE_EMAIL, "family@example.com").profile_id == mum.profile_id


def test_traits_follow_event_time_not_arrival_order(suite: Suite) -> None:
    suite.send(
        identify(uid="u1", at=datetime(2026, 3, 2, tzinfo=UTC), stage="newborn"),
        identify(uid="u1", at=datetime(2026, 1, 5, tzinfo=UTC), stage="expecting", city="Hangzhou"),
    )
    profile = suite.get(T.IDENTIFIER_TYPE_USER_ID, "u1")
    assert orjson.loads(profile.traits_json) == {"stage": "newborn", "city": "Hangzhou"}
    assert profile.first_seen.ToDatetime(tzinfo=UTC) == datetime(2026, 1, 5, tzinfo=UTC)


def test_unknown_profile_and_bad_identifiers(suite: Suite) -> None:
    with pytest.raises(grpc.RpcError) as err:
        suite.get(T.IDENTIFIER_TYPE_USER_ID, "nobody")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        suite.get(T.IDENTIFIER_TYPE_UNSPECIFIED, "x")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        suite.get(T.IDENTIFIER_TYPE_PHONE, "12")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_list_profiles_pages_through_everything(suite: Suite) -> None:
    suite.send(*[identify(uid=f"u{i}") for i in range(7)])
    seen: list[str] = []
    token = ""
    while True:
        page = suite.profiles.ListProfiles(
            profile_pb2.ListProfilesRequest(page_size=3, page_token=token), metadata=WS
        )
        assert page.total_count == 7
        seen.extend(p.profile_id for p in page.profiles)
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 7


def test_erasure_removes_every_row_of_the_subject(suite: Suite) -> None:
    suite.send(
        track("Viewed", anon="a1"),
        identify(uid="u1", anon="a1", email="ann@example.com"),
        identify(uid="u2"),
    )
    subject = privacy_pb2.DataSubject(
        identifiers=[T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value="u1")]
    )
    bundle = orjson.loads(
        suite.privacy.ExportSubject(
            privacy_pb2.ExportSubjectRequest(subject=subject), metadata=WS
        ).bundle_json
    )
    assert len(bundle["profiles"]) == 1 and {
        i["type"] for i in bundle["profiles"][0]["identifiers"]
    } == {"user_id", "anonymous_id", "email"}
    receipt = suite.privacy.EraseSubject(
        privacy_pb2.EraseSubjectRequest(subject=subject), metadata=WS
    )
    erased = {r.table: r.rows for r in receipt.erased}
    assert erased["profiles"] == 1 and erased["identities"] == 3
    assert erased["profile_events"] == 2
    with suite.profile.database.read() as session:
        assert (
            session.execute(select(func.count()).select_from(profiles)).scalar_one() == 1
        )  # u2 stays
        assert session.execute(select(func.count()).select_from(identities)).scalar_one() == 1
    with pytest.raises(grpc.RpcError):
        suite.get(T.IDENTIFIER_TYPE_EMAIL, "ann@example.com")


def test_timeline_pages_newest_first_and_follows_merges(suite: Suite) -> None:
    events = []
    for day in range(1, 8):
        e = track("Order Completed", anon="a-t")
        e.message_id = f"o{day}"
        e.properties_json = orjson.dumps({"revenue": day})
        e.timestamp.FromDatetime(datetime(1997, 1, day, tzinfo=UTC))
        events.append(e)
    suite.send(*events[:4])
    suite.send(identify(uid="u-t", email="t@example.com"), *events[4:])
    suite.send(identify(anon="a-t", email="t@example.com"))  # unites the two profiles
    seen: list[str] = []
    token = ""
    identifier = T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value="u-t")
    while True:
        page = suite.profiles.GetTimeline(
            profile_pb2.GetTimelineRequest(identifier=identifier, page_size=3, page_token=token),
            metadata=WS,
        )
        seen.extend(e.message_id for e in page.events)
        token = page.next_page_token
        if not token:
            break
    orders = [m for m in seen if m.startswith("o")]
    assert orders == [f"o{d}" for d in range(7, 0, -1)]
    assert len(seen) == 9  # 7 orders and 2 identifies, each once
    first = suite.profiles.GetTimeline(
        profile_pb2.GetTimelineRequest(identifier=identifier, page_size=500), metadata=WS
    )
    o7 = next(e for e in first.events if e.message_id == "o7")
    assert orjson.loads(o7.properties_json) == {"revenue": 7}


def rule(
    kind: int,
    max_per_profile: int,
    *,
    may_merge: bool = True,
    blocked: tuple[str, ...] = (),
    priority: int = 0,
) -> profile_pb2.MergeRule:
    return profile_pb2.MergeRule(
        type=kind,
        max_per_profile=max_per_profile,
        may_merge=may_merge,
        blocked_values=list(blocked),
        priority=priority,
    )


def test_merge_rules_are_per_workspace_and_validated(suite: Suite) -> None:
    defaults = suite.profiles.GetMergeRules(profile_pb2.GetMergeRulesRequest(), metadata=WS).rules
    limits = {r.type: r.max_per_profile for r in defaults.rules}
    assert limits[T.IDENTIFIER_TYPE_USER_ID] == 1 and limits[T.IDENTIFIER_TYPE_ANONYMOUS_ID] == 50
    new = profile_pb2.MergeRules(
        rules=[rule(T.IDENTIFIER_TYPE_EMAIL, 2, blocked=("Test@Example.com",))]
    )
    saved = suite.profiles.SetMergeRules(
        profile_pb2.SetMergeRulesRequest(rules=new), metadata=WS
    ).rules
    email = next(r for r in saved.rules if r.type == T.IDENTIFIER_TYPE_EMAIL)
    assert email.max_per_profile == 2 and email.blocked_values[0].startswith("hmac:")
    assert email.priority == 1  # named rules come first
    other = suite.profiles.GetMergeRules(
        profile_pb2.GetMergeRulesRequest(), metadata=(("x-precis-workspace", "brand-b"),)
    ).rules
    assert next(r for r in other.rules if r.type == T.IDENTIFIER_TYPE_EMAIL).max_per_profile == 5
    bad = profile_pb2.MergeRules(
        rules=[
            rule(T.IDENTIFIER_TYPE_PHONE, 1, blocked=("12",)),
            rule(T.IDENTIFIER_TYPE_UNSPECIFIED, 1),
        ]
    )
    with pytest.raises(grpc.RpcError) as err:
        suite.profiles.SetMergeRules(profile_pb2.SetMergeRulesRequest(rules=bad), metadata=WS)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "rules[0].blocked_values[0]" in (err.value.details() or "")


def test_a_blocked_test_address_does_not_fuse_customers_and_the_conflict_is_visible(
    suite: Suite,
) -> None:
    blocked = profile_pb2.MergeRules(
        rules=[rule(T.IDENTIFIER_TYPE_EMAIL, 5, blocked=("qa@brand.example",))]
    )
    suite.profiles.SetMergeRules(profile_pb2.SetMergeRulesRequest(rules=blocked), metadata=WS)
    suite.send(
        identify(anon="visitor-1", email="qa@brand.example"),
        identify(anon="visitor-2", email="QA@brand.example"),
    )
    one = suite.get(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "visitor-1")
    two = suite.get(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "visitor-2")
    assert one.profile_id != two.profile_id
    with pytest.raises(grpc.RpcError):
        suite.get(T.IDENTIFIER_TYPE_EMAIL, "qa@brand.example")  # never linked
    history = suite.profiles.GetMergeHistory(
        profile_pb2.GetMergeHistoryRequest(
            identifier=T.Identifier(type=T.IDENTIFIER_TYPE_ANONYMOUS_ID, value="visitor-2")
        ),
        metadata=WS,
    ).records
    assert [(r.action, r.rule, r.identifier.type) for r in history] == [
        ("conflict", "blocked_value", T.IDENTIFIER_TYPE_EMAIL)
    ]
    assert history[0].identifier.value.startswith("hmac:")


def test_merge_history_names_the_event_and_identifier_that_merged(suite: Suite) -> None:
    suite.send(track("Viewed", anon="web-9"), identify(uid="u9"))
    link = identify(uid="u9", anon="web-9")
    link.message_id = "the-login"
    suite.send(link)
    history = suite.profiles.GetMergeHistory(
        profile_pb2.GetMergeHistoryRequest(
            identifier=T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value="u9")
        ),
        metadata=WS,
    ).records
    assert [(r.action, r.source_message_id, r.rule, r.identifier.value) for r in history] == [
        ("merged", "the-login", "shared_anonymous_id", "web-9")
    ]


def unmerge(
    suite: Suite, profile_id: str, *, identifier: T.Identifier | None = None, merge_id: str = ""
) -> list[profile_pb2.Profile]:
    request = profile_pb2.UnmergeRequest(profile_id=profile_id, merge_id=merge_id)
    if identifier is not None:
        request.identifier.CopyFrom(identifier)
    return list(suite.profiles.Unmerge(request, metadata=WS).profiles)


def test_detaching_a_shared_device_splits_the_profile_and_recomputes_both(suite: Suite) -> None:
    # Two people on one tablet: an anonymous id fused the browsing of one with the other's login.
    suite.send(
        identify(uid="mum", anon="tablet", at=datetime(2026, 1, 1, tzinfo=UTC), stage="expecting"),
        track("Product Viewed", anon="tablet"),
        track("Product Viewed", anon="tablet"),
        track("Order Completed", uid="mum"),
    )
    fused = suite.get(T.IDENTIFIER_TYPE_USER_ID, "mum")
    assert fused.event_count == 4
    tablet = T.Identifier(type=T.IDENTIFIER_TYPE_ANONYMOUS_ID, value="tablet")
    after = unmerge(suite, fused.profile_id, identifier=tablet)
    assert after[0].profile_id == fused.profile_id
    mum = suite.get(T.IDENTIFIER_TYPE_USER_ID, "mum")
    device = suite.get(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "tablet")
    assert mum.profile_id == fused.profile_id != device.profile_id
    # The identify carried both ids: it stays with the stronger one (user_id) and its traits too.
    assert dict(mum.event_counts) == {"identify": 1, "Order Completed": 1}
    assert orjson.loads(mum.traits_json) == {"stage": "expecting"}
    assert dict(device.event_counts) == {"Product Viewed": 2}
    assert orjson.loads(device.traits_json) == {}
    # They never merge again, and the history says why.
    suite.send(identify(uid="mum", anon="tablet"))
    assert suite.get(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "tablet").profile_id == device.profile_id
    history = suite.profiles.GetMergeHistory(
        profile_pb2.GetMergeHistoryRequest(
            identifier=T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value="mum")
        ),
        metadata=WS,
    ).records
    assert [r.action for r in history][-2:] == ["split", "conflict"]
    assert history[-1].rule == "unmerged"
    feed = feed_pb2_grpc.FeedServiceStub(grpc.insecure_channel(f"127.0.0.1:{suite.profile.port}"))
    changes = [
        e
        for r in feed.ReadFeed(feed_pb2.ReadFeedRequest(feed="profile_changes"))
        for e in r.entries
    ]
    split = next(
        profile_pb2.ProfileChange.FromString(e.payload)
        for e in changes
        if e.kind == "profile.split"
    )
    assert split.profile_id == fused.profile_id and list(split.other_profile_ids) == [
        device.profile_id
    ]


def test_undoing_a_merge_by_its_record(suite: Suite) -> None:
    suite.send(identify(uid="u1", email="shared@example.com"), track("Viewed", anon="kiosk"))
    suite.send(identify(anon="kiosk", email="shared@example.com"))
    merged = suite.get(T.IDENTIFIER_TYPE_USER_ID, "u1")
    record = suite.profiles.GetMergeHistory(
        profile_pb2.GetMergeHistoryRequest(
            identifier=T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value="u1")
        ),
        metadata=WS,
    ).records[0]
    assert record.action == "merged"
    profiles_after = unmerge(suite, merged.profile_id, merge_id=record.merge_id)
    assert len(profiles_after) == 2
    assert suite.get(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "kiosk").profile_id != merged.profile_id
    assert suite.get(T.IDENTIFIER_TYPE_EMAIL, "shared@example.com").profile_id == merged.profile_id


def test_unmerge_refuses_what_it_cannot_do(suite: Suite) -> None:
    suite.send(identify(uid="solo"))
    solo = suite.get(T.IDENTIFIER_TYPE_USER_ID, "solo")
    only = T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value="solo")
    for kwargs, code in (
        ({"identifier": only}, grpc.StatusCode.FAILED_PRECONDITION),
        (
            {"identifier": T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value="other")},
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        ({"merge_id": "nope"}, grpc.StatusCode.NOT_FOUND),
        ({}, grpc.StatusCode.INVALID_ARGUMENT),
    ):
        with pytest.raises(grpc.RpcError) as err:
            unmerge(suite, solo.profile_id, **kwargs)  # type: ignore[arg-type]
        assert err.value.code() == code, kwargs
    with pytest.raises(grpc.RpcError) as err:
        unmerge(suite, "no-such-profile", identifier=only)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert suite.get(T.IDENTIFIER_TYPE_USER_ID, "solo").event_count == 1  # nothing half-done


def test_dry_run_reports_merges_and_splits_without_changing_anything(suite: Suite) -> None:
    suite.send(
        identify(uid="u1", email="a@example.com"),
        identify(uid="u1", email="b@example.com"),
        identify(uid="u2", email="shared@example.com"),
        identify(uid="u3", email="shared@example.com"),
    )

    def dry_run(*rules: profile_pb2.MergeRule) -> profile_pb2.DryRunMergeRulesResponse:
        request = profile_pb2.DryRunMergeRulesRequest(
            rules=profile_pb2.MergeRules(rules=list(rules))
        )
        return suite.profiles.DryRunMergeRules(request, metadata=WS)

    looser = dry_run(rule(T.IDENTIFIER_TYPE_USER_ID, 2))
    assert (looser.profiles_before, looser.profiles_after) == (3, 2)
    assert (looser.profiles_merged, looser.profiles_split, looser.profiles_unchanged) == (1, 0, 1)
    assert looser.events_evaluated == 4
    stricter = dry_run(rule(T.IDENTIFIER_TYPE_EMAIL, 1))
    assert (stricter.profiles_merged, stricter.profiles_split, stricter.profiles_unchanged) == (
        0,
        1,
        2,
    )
    assert stricter.profiles_after == 4
    same = dry_run()
    assert (same.profiles_merged, same.profiles_split, same.profiles_unchanged) == (0, 0, 3)
    # Nothing changed: the rules in force and the profiles are as before.
    rules = suite.profiles.GetMergeRules(profile_pb2.GetMergeRulesRequest(), metadata=WS).rules
    assert next(r for r in rules.rules if r.type == T.IDENTIFIER_TYPE_USER_ID).max_per_profile == 1
    assert (
        suite.profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=WS).total_count == 3
    )
    with pytest.raises(grpc.RpcError) as err:
        dry_run(rule(T.IDENTIFIER_TYPE_EMAIL, -1))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def set_tag(
    suite: Suite, kind: int, value: str, tag: str, present: bool = True
) -> profile_pb2.Profile:
    request = profile_pb2.SetTagRequest(
        identifier=T.Identifier(type=kind, value=value), tag=tag, present=present
    )
    return suite.profiles.SetTag(request, metadata=WS).profile


def test_tags_are_set_listed_merged_and_erased(suite: Suite) -> None:
    suite.send(
        identify(uid="m1", email="m1@example.com"),
        identify(anon="w1"),
        *[identify(uid=f"t{i}") for i in range(4)],
    )
    assert list(set_tag(suite, T.IDENTIFIER_TYPE_EMAIL, "M1@example.com", "孕期妈妈").tags) == [
        "孕期妈妈"
    ]
    assert list(set_tag(suite, T.IDENTIFIER_TYPE_USER_ID, "m1", "孕期妈妈").tags) == [
        "孕期妈妈"
    ]  # idempotent
    set_tag(suite, T.IDENTIFIER_TYPE_ANONYMOUS_ID, "w1", "vip")
    set_tag(suite, T.IDENTIFIER_TYPE_ANONYMOUS_ID, "w1", "孕期妈妈")
    for i in range(4):
        set_tag(suite, T.IDENTIFIER_TYPE_USER_ID, f"t{i}", "vip")
    set_tag(suite, T.IDENTIFIER_TYPE_USER_ID, "t3", "vip", present=False)
    seen: list[str] = []
    token = ""
    while True:
        page = suite.profiles.ListProfilesByTag(
            profile_pb2.ListProfilesByTagRequest(tag="vip", page_size=2, page_token=token),
            metadata=WS,
        )
        seen.extend(p.profile_id for p in page.profiles)
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 4  # w1 and t0..t2
    suite.send(identify(uid="m1", anon="w1"))  # w1's profile merges into m1's: tags unite
    merged = suite.get(T.IDENTIFIER_TYPE_USER_ID, "m1")
    assert list(merged.tags) == ["vip", "孕期妈妈"]
    with pytest.raises(grpc.RpcError) as err:
        set_tag(suite, T.IDENTIFIER_TYPE_USER_ID, "m1", " padded ")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    subject = privacy_pb2.DataSubject(
        identifiers=[T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value="m1")]
    )
    receipt = suite.privacy.EraseSubject(
        privacy_pb2.EraseSubjectRequest(subject=subject), metadata=WS
    )
    assert {r.table: r.rows for r in receipt.erased}["profile_tags"] == 2


def test_device_and_external_ids_from_the_context_link_profiles(suite: Suite) -> None:
    login = identify(uid="mum-9")
    login.context_json = orjson.dumps(
        {"device": {"id": "ipad-77"}, "external_ids": [{"namespace": "wechat_openid", "id": "oX9"}]}
    )
    mini_program = track("Product Viewed", anon="mp-visitor")
    mini_program.context_json = orjson.dumps(
        {"external_ids": [{"namespace": "wechat_openid", "id": "oX9"}]}
    )
    suite.send(login, mini_program)
    by_user = suite.get(T.IDENTIFIER_TYPE_USER_ID, "mum-9")
    assert suite.get(T.IDENTIFIER_TYPE_DEVICE_ID, "ipad-77").profile_id == by_user.profile_id
    assert (
        suite.get(T.IDENTIFIER_TYPE_EXTERNAL, "oX9", "wechat_openid").profile_id
        == by_user.profile_id
    )
    assert suite.get(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "mp-visitor").profile_id == by_user.profile_id
    shown = {
        (i.identifier.type, i.identifier.namespace, i.identifier.value) for i in by_user.identifiers
    }
    assert (T.IDENTIFIER_TYPE_EXTERNAL, "wechat_openid", "oX9") in shown
    with pytest.raises(grpc.RpcError) as err:
        suite.get(T.IDENTIFIER_TYPE_EXTERNAL, "oX9", "other_platform")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
