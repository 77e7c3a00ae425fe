"""Trait provenance and types, trait limits, tag definitions (manual and rule-based) and the
per-workspace life-stage rule, through the profile service's gRPC API (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import orjson
import pytest
from profile_support import WS, Suite, identify, track

from precis.common.v1 import types_pb2 as T
from precis.ingestion.v1 import ingestion_pb2
from precis.profile.v1 import profile_pb2
from precis_common.errors import InvalidArgument
from precis_profile import identity, tagrules
from precis_profile.store import profile_tags

USER = T.IDENTIFIER_TYPE_USER_ID


def with_context(event: ingestion_pb2.Event, **context: Any) -> ingestion_pb2.Event:
    event.context_json = orjson.dumps(context)
    return event


def order(uid: str, order_id: str, revenue: float, days_ago: float = 1) -> ingestion_pb2.Event:
    e = track("Order Completed", uid=uid)
    e.message_id = f"order-{uid}-{order_id}"
    e.properties_json = orjson.dumps({"order_id": order_id, "revenue": revenue})
    e.timestamp.FromDatetime(datetime.now(UTC) - timedelta(days=days_ago))
    return e


def traits_of(profile: profile_pb2.Profile) -> dict[str, profile_pb2.TraitValue]:
    return {t.name: t for t in profile.trait_values}


# ---- trait provenance, types, deletion ----------------------------------------------------


def test_each_trait_records_its_source_event_and_time(suite: Suite) -> None:
    crm = with_context(
        identify(uid="u1", at=datetime(2026, 3, 1, tzinfo=UTC), plan="gold", city="Hangzhou"),
        source="crm",
    )
    crm.message_id = "crm-1"
    sdk = with_context(
        identify(uid="u1", at=datetime(2026, 3, 5, tzinfo=UTC), plan="platinum"),
        library={"name": "precis-ios", "version": "1.2.0"},
    )
    sdk.message_id = "ios-1"
    # Sent last but older than both: loses to both for plan, and brings a new trait of its own.
    late = identify(uid="u1", at=datetime(2026, 2, 1, tzinfo=UTC), plan="bronze", vip=True)
    late.message_id = "api-1"
    suite.send(crm, sdk, late)

    traits = traits_of(suite.get(USER, "u1"))
    assert orjson.loads(traits["plan"].value_json) == "platinum"
    assert (traits["plan"].source, traits["plan"].source_message_id) == ("precis-ios", "ios-1")
    assert traits["plan"].updated_at.ToDatetime(tzinfo=UTC) == datetime(2026, 3, 5, tzinfo=UTC)
    assert (traits["city"].source, traits["city"].source_message_id) == ("crm", "crm-1")
    assert (traits["vip"].source, traits["vip"].source_message_id) == ("api", "api-1")


def test_trait_types_are_reported(suite: Suite) -> None:
    suite.send(
        identify(
            uid="typed",
            name="Li Na",
            age=31,
            score=4.5,
            vip=False,
            due_date="2027-01-15",
            signed_up_at="2026-05-01T08:00:00Z",
            address={"city": "Shanghai"},
            interests=["baby", "books"],
            not_a_date="2026-13-45",
        )
    )
    types = {name: t.type for name, t in traits_of(suite.get(USER, "typed")).items()}
    assert types == {
        "name": "string",
        "age": "number",
        "score": "number",
        "vip": "boolean",
        "due_date": "date",
        "signed_up_at": "datetime",
        "address": "object",
        "interests": "array",
        "not_a_date": "string",
    }


def test_null_deletes_a_trait_and_an_older_value_does_not_bring_it_back(suite: Suite) -> None:
    suite.send(
        identify(uid="d", at=datetime(2026, 1, 1, tzinfo=UTC), nickname="nana", city="Xi'an"),
        identify(uid="d", at=datetime(2026, 1, 3, tzinfo=UTC), nickname=None),
        identify(uid="d", at=datetime(2026, 1, 2, tzinfo=UTC), nickname="older"),
    )
    profile = suite.get(USER, "d")
    assert orjson.loads(profile.traits_json) == {"city": "Xi'an"}
    assert set(traits_of(profile)) == {"city"}


def test_a_merge_keeps_the_newer_value_with_its_source(suite: Suite) -> None:
    newer = with_context(
        identify(anon="web", at=datetime(2026, 4, 2, tzinfo=UTC), plan="new"), source="web"
    )
    newer.message_id = "web-1"
    older = with_context(
        identify(uid="m", at=datetime(2026, 4, 1, tzinfo=UTC), plan="old"), source="crm"
    )
    suite.send(newer, older, identify(uid="m", anon="web"))
    plan = traits_of(suite.get(USER, "m"))["plan"]
    assert (orjson.loads(plan.value_json), plan.source, plan.source_message_id) == (
        "new",
        "web",
        "web-1",
    )


@pytest.mark.parametrize(
    ("traits", "context", "field"),
    [
        ({f"t{i}": i for i in range(201)}, None, "traits"),
        ({"x" * 129: 1}, None, "traits." + "x" * 40 + "…"),
        ({"deep": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}, None, "traits.deep"),
        ({"big": "y" * 9000}, None, "traits.big"),
        ({"ok": 1}, {"source": ""}, "context.source"),
        ({"ok": 1}, {"source": 42}, "context.source"),
    ],
)
def test_trait_limits_are_enforced_with_the_field_named(
    suite: Suite, traits: dict[str, Any], context: dict[str, Any] | None, field: str
) -> None:
    event = identify(uid="limits", **traits)
    if context is not None:
        event.context_json = orjson.dumps(context)
    response = suite.events.Batch(ingestion_pb2.BatchRequest(events=[event]), metadata=WS)
    [result] = response.results
    assert result.status == ingestion_pb2.EVENT_STATUS_REJECTED
    assert f"batch[0].{field}" in [v.field for v in result.violations], result.violations
    with pytest.raises(grpc.RpcError) as missing:
        suite.get(USER, "limits")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_profile_keeps_at_most_the_documented_number_of_traits() -> None:
    traits: dict[str, object] = {}
    times: dict[str, str] = {}
    sources: dict[str, Any] = {}
    origin = {"source": "api", "message_id": "m"}
    incoming = {f"t{i}": i for i in range(identity.MAX_PROFILE_TRAITS)}
    assert identity.merge_traits(
        traits, times, incoming, "2026-01-01T00:00:00+00:00", sources, origin
    )
    assert not identity.merge_traits(
        traits, times, {"one_more": 1}, "2026-01-02T00:00:00+00:00", sources, origin
    )
    assert "one_more" not in traits and len(traits) == identity.MAX_PROFILE_TRAITS
    # Existing traits still update.
    assert identity.merge_traits(traits, times, {"t0": "new"}, "2026-01-02T00:00:00+00:00")
    assert traits["t0"] == "new"


# ---- the tag rule language ----------------------------------------------------------------


def test_rules_match_as_documented() -> None:
    doc = {
        "computed": {"order_count": 3, "revenue": 120.5, "rfm": {"cell": "champions"}, "x": None},
        "traits": {"vip": True, "city": "Hangzhou", "since": "2026-01-10"},
    }

    def m(rule: dict[str, Any]) -> bool:
        return tagrules.matches(tagrules.parse_rule(rule), doc)

    assert m({"trait": "computed.order_count", "op": "gte", "value": 3})
    assert not m({"trait": "computed.order_count", "op": "gt", "value": 3})
    assert m({"trait": "computed.rfm.cell", "op": "in", "value": ["champions", "loyal"]})
    assert m({"trait": "traits.since", "op": "lt", "value": "2026-02-01"})
    # A missing or null trait makes every comparison false, ne and not_in too.
    assert not m({"trait": "computed.x", "op": "ne", "value": 1})
    assert not m({"trait": "traits.missing", "op": "not_in", "value": ["a"]})
    assert m({"trait": "traits.missing", "op": "not_exists"})
    assert not m({"trait": "computed.x", "op": "exists"})
    # Booleans are not numbers; mismatched types never order.
    assert not m({"trait": "traits.vip", "op": "eq", "value": 1})
    assert m({"trait": "traits.vip", "op": "eq", "value": True})
    assert not m({"trait": "traits.city", "op": "gt", "value": 3})
    assert m(
        {
            "all": [
                {"trait": "computed.revenue", "op": "gt", "value": 100},
                {"not": {"trait": "traits.city", "op": "eq", "value": "Beijing"}},
                {
                    "any": [
                        {"trait": "traits.vip", "op": "eq", "value": False},
                        {"trait": "traits.vip", "op": "exists"},
                    ]
                },
            ]
        }
    )


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ("revenue > 100", "definition.rule_json"),
        ({"trait": "revenue", "op": "gt", "value": 1}, "definition.rule_json.trait"),
        ({"trait": "computed.revenue", "op": "between", "value": 1}, "definition.rule_json.op"),
        ({"trait": "computed.revenue", "op": "gt"}, "definition.rule_json.value"),
        ({"trait": "computed.revenue", "op": "in", "value": 3}, "definition.rule_json.value"),
        ({"trait": "computed.x", "op": "exists", "value": 3}, "definition.rule_json.value"),
        ({"all": []}, "definition.rule_json.all"),
        ({"all": [{"trait": "traits.a", "op": "eq"}]}, "definition.rule_json.all[0].value"),
        ({"all": [{}], "any": [{}]}, "definition.rule_json"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(rule: object, field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        tagrules.parse_rule(rule, "definition.rule_json")
    assert field in [v.field for v in refused.value.violations]


# ---- tag definitions through the service --------------------------------------------------


def put_definition(
    suite: Suite, tag: str, rule: dict[str, Any] | None = None, description: str = ""
) -> profile_pb2.TagDefinition:
    definition = profile_pb2.TagDefinition(
        tag=tag,
        kind=profile_pb2.TAG_KIND_RULE if rule is not None else profile_pb2.TAG_KIND_MANUAL,
        rule_json=orjson.dumps(rule) if rule is not None else b"",
        description=description,
    )
    return suite.profiles.PutTagDefinition(
        profile_pb2.PutTagDefinitionRequest(definition=definition), metadata=WS
    ).definition


def tagged(suite: Suite, tag: str) -> set[str]:
    found: set[str] = set()
    token = ""
    while True:
        page = suite.profiles.ListProfilesByTag(
            profile_pb2.ListProfilesByTagRequest(tag=tag, page_size=2, page_token=token),
            metadata=WS,
        )
        found.update(
            next(i.identifier.value for i in p.identifiers if i.identifier.type == USER)
            for p in page.profiles
        )
        token = page.next_page_token
        if not token:
            return found


BIG_SPENDER = {"trait": "computed.revenue", "op": "gte", "value": 100}


def test_a_rule_tag_follows_the_profiles_it_describes(suite: Suite) -> None:
    suite.send(order("a", "1", 150), order("b", "1", 40), identify(uid="c"))
    stored = put_definition(suite, "big_spender", BIG_SPENDER, "spent 100 or more")
    assert (stored.kind, stored.profile_count) == (profile_pb2.TAG_KIND_RULE, 1)
    assert tagged(suite, "big_spender") == {"a"}

    # Incrementally, from the events feed: b crosses the line, a new customer starts above it.
    suite.send(order("b", "2", 70), order("d", "1", 300))
    assert tagged(suite, "big_spender") == {"a", "b", "d"}
    assert "big_spender" in suite.get(USER, "b").tags

    # Always equal to a full evaluation: a refresh finds nothing to change.
    assert suite.profile.store.refresh_tags("brand-a") == 0

    # A manual change of a rule tag is refused: the rule decides.
    with pytest.raises(grpc.RpcError) as refused:
        suite.profiles.SetTag(
            profile_pb2.SetTagRequest(
                identifier=T.Identifier(type=USER, value="c"), tag="big_spender", present=True
            ),
            metadata=WS,
        )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "rule-based" in (refused.value.details() or "")

    # Changing the rule re-evaluates every profile.
    put_definition(suite, "big_spender", {"trait": "computed.revenue", "op": "gte", "value": 200})
    assert tagged(suite, "big_spender") == {"d"}

    listed = suite.profiles.ListTagDefinitions(
        profile_pb2.ListTagDefinitionsRequest(), metadata=WS
    ).definitions
    assert [(d.tag, d.profile_count, d.description) for d in listed] == [("big_spender", 1, "")]
    assert orjson.loads(listed[0].rule_json) == {
        "trait": "computed.revenue",
        "op": "gte",
        "value": 200,
    }


def test_rule_tags_follow_merges_and_unmerges(suite: Suite) -> None:
    put_definition(
        suite, "repeat_buyer", {"trait": "computed.order_count", "op": "gte", "value": 2}
    )
    suite.send(order("p", "1", 10), track("Viewed", anon="phone-app"))
    app_order = order("p", "2", 10)
    app_order.user_id = ""
    app_order.anonymous_id = "phone-app"
    suite.send(app_order)
    assert tagged(suite, "repeat_buyer") == set()

    suite.send(identify(uid="p", anon="phone-app"))  # the two profiles merge: two orders
    merged = suite.get(USER, "p")
    assert "repeat_buyer" in merged.tags

    suite.profiles.Unmerge(
        profile_pb2.UnmergeRequest(
            profile_id=merged.profile_id,
            identifier=T.Identifier(type=T.IDENTIFIER_TYPE_ANONYMOUS_ID, value="phone-app"),
        ),
        metadata=WS,
    )
    assert "repeat_buyer" not in suite.get(USER, "p").tags
    assert "repeat_buyer" not in suite.get(T.IDENTIFIER_TYPE_ANONYMOUS_ID, "phone-app").tags
    assert suite.profile.store.refresh_tags("brand-a") == 0


def test_switching_kinds_and_deleting_a_definition(suite: Suite) -> None:
    suite.send(order("a", "1", 150), order("b", "1", 40))
    # Manual first: b tagged by hand.
    put_definition(suite, "vip", description="hand-picked")
    suite.profiles.SetTag(
        profile_pb2.SetTagRequest(
            identifier=T.Identifier(type=USER, value="b"), tag="vip", present=True
        ),
        metadata=WS,
    )
    assert tagged(suite, "vip") == {"b"}
    # Manual -> rule: the rule's matches replace the hand-picked holders.
    assert put_definition(suite, "vip", BIG_SPENDER).profile_count == 1
    assert tagged(suite, "vip") == {"a"}
    # Rule -> manual: holders stay, now as manual tags that can be removed by hand.
    assert put_definition(suite, "vip").profile_count == 1
    with suite.profile.database.read() as session:
        sources = set(session.execute(profile_tags.select()).scalars(profile_tags.c.source))
    assert sources == {"manual"}
    suite.send(order("b", "2", 500))
    assert tagged(suite, "vip") == {"a"}  # no longer rule-driven
    deleted = suite.profiles.DeleteTagDefinition(
        profile_pb2.DeleteTagDefinitionRequest(tag="vip"), metadata=WS
    )
    assert deleted.profiles_untagged == 1
    assert tagged(suite, "vip") == set()
    with pytest.raises(grpc.RpcError) as missing:
        suite.profiles.DeleteTagDefinition(
            profile_pb2.DeleteTagDefinitionRequest(tag="vip"), metadata=WS
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        (profile_pb2.TagDefinition(tag=" vip", kind=profile_pb2.TAG_KIND_MANUAL), "definition.tag"),
        (profile_pb2.TagDefinition(tag="vip"), "definition.kind"),
        (
            profile_pb2.TagDefinition(tag="vip", kind=profile_pb2.TAG_KIND_RULE),
            "definition.rule_json",
        ),
        (
            profile_pb2.TagDefinition(tag="vip", kind=profile_pb2.TAG_KIND_RULE, rule_json=b"{"),
            "definition.rule_json",
        ),
        (
            profile_pb2.TagDefinition(
                tag="vip", kind=profile_pb2.TAG_KIND_MANUAL, rule_json=b'{"trait": "traits.a"}'
            ),
            "definition.rule_json",
        ),
        (
            profile_pb2.TagDefinition(
                tag="vip", kind=profile_pb2.TAG_KIND_RULE, rule_json=b'{"trait": "a", "op": "eq"}'
            ),
            "definition.rule_json.trait",
        ),
    ],
)
def test_bad_definitions_are_refused_and_nothing_is_stored(
    suite: Suite, definition: profile_pb2.TagDefinition, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        suite.profiles.PutTagDefinition(
            profile_pb2.PutTagDefinitionRequest(definition=definition), metadata=WS
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (refused.value.details() or "")
    listed = suite.profiles.ListTagDefinitions(profile_pb2.ListTagDefinitionsRequest(), metadata=WS)
    assert list(listed.definitions) == []


# ---- the life-stage rule ------------------------------------------------------------------


def life_stage(suite: Suite, uid: str) -> object:
    return orjson.loads(suite.get(USER, uid).computed_traits_json)["life_stage"]


def test_a_workspace_configures_its_life_stages_and_date_traits(suite: Suite) -> None:
    today = datetime.now(UTC).date()
    suite.send(
        identify(uid="mum", baby_birthday=(today - timedelta(days=100)).isoformat()),
        identify(uid="default", child_birth_date=(today - timedelta(days=100)).isoformat()),
    )
    assert life_stage(suite, "mum") is None
    assert life_stage(suite, "default") == "newborn"
    put_definition(
        suite, "milk_stage", {"trait": "computed.life_stage", "op": "eq", "value": "milk"}
    )

    rule = {
        "stages": [
            {"name": "pregnant", "min_age_days": -300, "max_age_days": 0},
            {"name": "milk", "min_age_days": 0, "max_age_days": 365},
            {"name": "walker", "min_age_days": 365, "max_age_days": 1095},
        ],
        "birth_date_traits": ["baby_birthday"],
    }
    response = suite.profiles.SetLifeStageRule(
        profile_pb2.SetLifeStageRuleRequest(rule_json=orjson.dumps(rule)), metadata=WS
    )
    assert not response.is_default
    stored = orjson.loads(response.rule_json)
    assert stored["due_date_trait"] == "due_date" and stored["infer_birth_from_due_date"] is True
    assert life_stage(suite, "mum") == "milk"
    assert life_stage(suite, "default") is None  # its trait is no longer one of the date traits
    assert tagged(suite, "milk_stage") == {"mum"}  # rule tags follow at once

    got = suite.profiles.GetLifeStageRule(profile_pb2.GetLifeStageRuleRequest(), metadata=WS)
    assert orjson.loads(got.rule_json) == stored and not got.is_default

    reset = suite.profiles.SetLifeStageRule(profile_pb2.SetLifeStageRuleRequest(), metadata=WS)
    assert reset.is_default
    assert life_stage(suite, "default") == "newborn"
    assert tagged(suite, "milk_stage") == set()


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (b"[", "rule_json"),
        (b"[]", "rule"),
        (b'{"stages": "all"}', "stages"),
        (
            b'{"stages": [{"name": "a", "min_age_days": 0, "max_age_days": "x"}]}',
            "stages[0].max_age_days",
        ),
        (
            b'{"stages": [{"name": "a", "min_age_days": 0, "max_age_days": 10},'
            b' {"name": "b", "min_age_days": 20, "max_age_days": 30}]}',
            "stages[1].min_age_days",
        ),
        (b'{"due_date_trait": ""}', "due_date_trait"),
        (b'{"birth_date_traits": [1]}', "birth_date_traits[0]"),
        (b'{"infer_birth_from_due_date": "yes"}', "infer_birth_from_due_date"),
        (b'{"colour": "blue"}', "rule"),
    ],
)
def test_bad_life_stage_rules_are_refused_naming_the_field(
    suite: Suite, rule: bytes, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        suite.profiles.SetLifeStageRule(
            profile_pb2.SetLifeStageRuleRequest(rule_json=rule), metadata=WS
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (refused.value.details() or ""), refused.value.details()
    got = suite.profiles.GetLifeStageRule(profile_pb2.GetLifeStageRuleRequest(), metadata=WS)
    assert got.is_default
