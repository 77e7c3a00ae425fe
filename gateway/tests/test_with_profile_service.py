"""The gateway with the real profile service behind it: an identify sent over REST becomes a
profile that REST can read by email."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_support import AUTH, MakeClient, assert_error
from opentelemetry.sdk.trace import TracerProvider

from precis_ingestion.app import IngestionApp
from precis_profile.app import ProfileApp, build, start
from precis_profile.settings import ProfileSettings


@pytest.fixture
def profile_service(
    tmp_path: Path, ingestion: IngestionApp, provider: TracerProvider
) -> Iterator[ProfileApp]:
    settings = ProfileSettings(
        state_dir=tmp_path / "profile",
        profile_grpc_port=0,
        profile_ingestion_target=f"127.0.0.1:{ingestion.port}",
        profile_consume=False,  # the test applies the feed itself, deterministically
    )
    app = start(build(settings, tracer_provider=provider, configure_logs=False))
    yield app
    app.stop(0)


def test_identify_then_read_the_profile_by_email(
    make_client: MakeClient, profile_service: ProfileApp
) -> None:
    client = make_client(gateway_profile_target=f"127.0.0.1:{profile_service.port}")
    identify = {
        "message_id": "id-1",
        "user_id": "c-10442",
        "traits": {"email": "Li.Na@Example.com", "life_stage": "expecting"},
        "timestamp": "2026-05-01T12:00:00+08:00",
    }
    assert client.post("/v1/identify", json=identify, headers=AUTH).json()["status"] == "accepted"
    assert_error(client.get("/v1/profiles/email/li.na@example.com", headers=AUTH), 404, "not_found")

    profile_service.consumer.run_once()

    response = client.get("/v1/profiles/email/li.na@example.com", headers=AUTH)
    assert response.status_code == 200, response.text
    profile = response.json()
    assert profile["traits"].get("life_stage") == "expecting"
    assert "Li.Na@Example.com" not in response.text
    assert "li.na@example.com" not in response.text
    by_user = client.get("/v1/profiles/user_id/c-10442", headers=AUTH).json()
    assert by_user["profile_id"] == profile["profile_id"]
    page = client.get("/v1/profiles", headers=AUTH).json()
    assert page["total_count"] == 1
    assert [p["profile_id"] for p in page["profiles"]] == [profile["profile_id"]]


def test_merge_rules_and_history_over_rest(
    make_client: MakeClient, profile_service: ProfileApp
) -> None:
    client = make_client(gateway_profile_target=f"127.0.0.1:{profile_service.port}")
    defaults = client.get("/v1/merge-rules", headers=AUTH)
    assert defaults.status_code == 200, defaults.text
    assert [r["type"] for r in defaults.json()["rules"]][:2] == ["user_id", "email"]
    put = client.put(
        "/v1/merge-rules",
        headers=AUTH,
        json={
            "rules": [{"type": "device_id", "max_per_profile": 3, "blocked_values": ["unknown"]}]
        },
    )
    assert put.status_code == 200, put.text
    device = next(r for r in put.json()["rules"] if r["type"] == "device_id")
    assert device == {
        "type": "device_id",
        "may_merge": True,
        "max_per_profile": 3,
        "blocked_values": ["unknown"],
        "priority": 1,
    }
    bad = client.put("/v1/merge-rules", headers=AUTH, json={"rules": [{"type": "fax"}]})
    assert_error(bad, 422, "invalid_argument", "rules[0].type")
    hashed_block = client.put(
        "/v1/merge-rules",
        headers=AUTH,
        json={"rules": [{"type": "email", "blocked_values": ["not-an-email"]}]},
    )
    assert_error(hashed_block, 422, "invalid_argument", "rules[0].blocked_values[0]")

    for message_id, body in (
        ("v-1", {"anonymous_id": "web-1"}),
        ("u-1", {"user_id": "c-1"}),
        ("login", {"user_id": "c-1", "anonymous_id": "web-1"}),
    ):
        client.post("/v1/identify", json={"message_id": message_id, **body}, headers=AUTH)
    profile_service.consumer.run_once()
    history = client.get("/v1/profiles/user_id/c-1/merges", headers=AUTH)
    assert history.status_code == 200, history.text
    records = history.json()["records"]
    assert [
        (r["action"], r["source_message_id"], r["identifier_type"], r["rule"]) for r in records
    ] == [("merged", "login", "anonymous_id", "shared_anonymous_id")]
    assert_error(client.get("/v1/profiles/user_id/nobody/merges", headers=AUTH), 404, "not_found")


def test_unmerge_over_rest(make_client: MakeClient, profile_service: ProfileApp) -> None:
    client = make_client(gateway_profile_target=f"127.0.0.1:{profile_service.port}")
    for message_id, body in (
        ("i-1", {"user_id": "c-7", "anonymous_id": "tablet"}),
        ("i-2", {"anonymous_id": "tablet", "traits": {"device": "ipad"}}),
    ):
        client.post("/v1/identify", json={"message_id": message_id, **body}, headers=AUTH)
    profile_service.consumer.run_once()
    fused = client.get("/v1/profiles/user_id/c-7", headers=AUTH).json()
    assert fused["event_count"] == 2
    missing_value = client.post(
        f"/v1/profiles/{fused['profile_id']}/unmerge",
        json={"identifier_type": "anonymous_id"},
        headers=AUTH,
    )
    assert_error(missing_value, 422, "invalid_argument", "value")
    split = client.post(
        f"/v1/profiles/{fused['profile_id']}/unmerge",
        json={"identifier_type": "anonymous_id", "value": "tablet"},
        headers=AUTH,
    )
    assert split.status_code == 200, split.text
    assert [p["event_count"] for p in split.json()["profiles"]] == [1, 1]
    assert client.get("/v1/profiles/anonymous_id/tablet", headers=AUTH).json()["traits"] == {
        "device": "ipad"
    }
    again = client.post(
        f"/v1/profiles/{fused['profile_id']}/unmerge",
        json={"identifier_type": "anonymous_id", "value": "tablet"},
        headers=AUTH,
    )
    assert_error(again, 412, "failed_precondition")


def test_dry_run_over_rest_changes_nothing(
    make_client: MakeClient, profile_service: ProfileApp
) -> None:
    client = make_client(gateway_profile_target=f"127.0.0.1:{profile_service.port}")
    for message_id, uid in (("d-1", "c-1"), ("d-2", "c-2")):
        body = {"message_id": message_id, "user_id": uid, "traits": {"email": "family@example.com"}}
        client.post("/v1/identify", json=body, headers=AUTH)
    profile_service.consumer.run_once()
    result = client.post(
        "/v1/merge-rules/dry-run",
        json={"rules": [{"type": "user_id", "max_per_profile": 2}]},
        headers=AUTH,
    )
    assert result.status_code == 200, result.text
    assert result.json() == {
        "profiles_before": 2,
        "profiles_after": 1,
        "profiles_merged": 1,
        "profiles_split": 0,
        "profiles_unchanged": 0,
        "events_evaluated": 2,
        "suppressed_counts": [],
    }
    assert client.get("/v1/profiles", headers=AUTH).json()["total_count"] == 2


def test_tags_over_rest(make_client: MakeClient, profile_service: ProfileApp) -> None:
    client = make_client(gateway_profile_target=f"127.0.0.1:{profile_service.port}")
    for i in range(3):
        client.post(
            "/v1/identify", json={"message_id": f"t-{i}", "user_id": f"c-{i}"}, headers=AUTH
        )
    profile_service.consumer.run_once()
    for i in range(3):
        tagged = client.put(f"/v1/profiles/user_id/c-{i}/tags/孕期妈妈", headers=AUTH)
        assert tagged.status_code == 200, tagged.text
        assert tagged.json()["tags"] == ["孕期妈妈"]
    assert (
        client.delete("/v1/profiles/user_id/c-2/tags/孕期妈妈", headers=AUTH).json()["tags"] == []
    )
    first = client.get("/v1/tags/孕期妈妈/profiles", params={"page_size": 1}, headers=AUTH).json()
    second = client.get(
        "/v1/tags/孕期妈妈/profiles",
        params={"page_size": 1, "cursor": first["next_cursor"]},
        headers=AUTH,
    ).json()
    ids = {p["profile_id"] for p in first["profiles"] + second["profiles"]}
    assert len(ids) == 2 and second["next_cursor"] is None
    assert_error(client.put("/v1/profiles/user_id/nobody/tags/x", headers=AUTH), 404, "not_found")


def test_rfm_refresh_over_rest(make_client: MakeClient, profile_service: ProfileApp) -> None:
    client = make_client(gateway_profile_target=f"127.0.0.1:{profile_service.port}")
    batch = [
        {
            "type": "track",
            "event": "Order Completed",
            "user_id": f"c-{c}",
            "message_id": f"o-{c}-{k}",
            "properties": {"order_id": f"o-{c}-{k}", "revenue": 10 * (c + 1)},
            "timestamp": f"2026-0{1 + k}-1{c}T10:00:00Z",
        }
        for c in range(6)
        for k in range(1 + c % 3)
    ]
    assert client.post("/v1/batch", json={"batch": batch}, headers=AUTH).json()["accepted"] == len(
        batch
    )
    profile_service.consumer.run_once()
    refreshed = client.post("/v1/rfm/refresh", headers=AUTH)
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["population"] == 6 and sum(body["cells"].values()) == 6
    assert set(body["boundaries"]) == {"recency_days", "frequency", "monetary"}
    profile = client.get("/v1/profiles/user_id/c-5", headers=AUTH).json()
    assert profile["computed_traits"]["order_count"] == 3
    assert profile["computed_traits"]["rfm"]["monetary"] == 5


def test_tag_definitions_over_rest(make_client: MakeClient, profile_service: ProfileApp) -> None:
    client = make_client(gateway_profile_target=f"127.0.0.1:{profile_service.port}")
    batch = [
        {
            "type": "track",
            "event": "Order Completed",
            "user_id": f"c-{c}",
            "message_id": f"o-{c}",
            "properties": {"order_id": f"o-{c}", "revenue": 60 * c},
            "timestamp": "2026-05-01T10:00:00Z",
        }
        for c in range(4)
    ]
    client.post("/v1/batch", json={"batch": batch}, headers=AUTH)
    profile_service.consumer.run_once()
    rule = {"trait": "computed.revenue", "op": "gte", "value": 100}
    put = client.put(
        "/v1/tag-definitions/高价值",
        json={"kind": "rule", "rule": rule, "description": "revenue of 100 or more"},
        headers=AUTH,
    )
    assert put.status_code == 200, put.text
    assert put.json()["profile_count"] == 2 and put.json()["rule"] == rule
    page = client.get("/v1/tags/高价值/profiles", headers=AUTH).json()
    assert sorted(p["computed_traits"]["revenue"] for p in page["profiles"]) == [120.0, 180.0]
    assert_error(
        client.put("/v1/profiles/user_id/c-0/tags/高价值", headers=AUTH), 412, "failed_precondition"
    )
    listed = client.get("/v1/tag-definitions", headers=AUTH).json()["definitions"]
    assert [(d["tag"], d["kind"], d["profile_count"]) for d in listed] == [("高价值", "rule", 2)]
    bad = client.put(
        "/v1/tag-definitions/x",
        json={"kind": "rule", "rule": {"trait": "revenue", "op": "gte", "value": 1}},
        headers=AUTH,
    )
    assert_error(bad, 422, "invalid_argument", "definition.rule_json.trait")
    deleted = client.delete("/v1/tag-definitions/高价值", headers=AUTH)
    assert deleted.json() == {"profiles_untagged": 2, "suppressed_counts": []}
    assert_error(client.delete("/v1/tag-definitions/高价值", headers=AUTH), 404, "not_found")


def test_trait_details_and_life_stage_rule_over_rest(
    make_client: MakeClient, profile_service: ProfileApp
) -> None:
    client = make_client(gateway_profile_target=f"127.0.0.1:{profile_service.port}")
    identify = {
        "message_id": "id-1",
        "user_id": "mum",
        "traits": {"baby_birthday": "2026-04-01", "plan": "gold"},
        "context": {"source": "crm"},
        "timestamp": "2026-05-01T12:00:00Z",
    }
    client.post("/v1/identify", json=identify, headers=AUTH)
    profile_service.consumer.run_once()
    details = client.get("/v1/profiles/user_id/mum", headers=AUTH).json()["trait_details"]
    assert details[0] == {
        "name": "baby_birthday",
        "value": "2026-04-01",
        "type": "date",
        "updated_at": "2026-05-01T12:00:00Z",
        "source": "crm",
        "source_message_id": "id-1",
    }
    default = client.get("/v1/life-stage-rule", headers=AUTH).json()
    assert default["is_default"] and default["stages"][0]["name"] == "expecting"
    put = client.put(
        "/v1/life-stage-rule",
        json={
            "stages": [{"name": "baby", "min_age_days": 0, "max_age_days": 100_000}],
            "birth_date_traits": ["baby_birthday"],
        },
        headers=AUTH,
    )
    assert put.status_code == 200, put.text
    assert not put.json()["is_default"]
    profile = client.get("/v1/profiles/user_id/mum", headers=AUTH).json()
    assert profile["computed_traits"]["life_stage"] == "baby"
    bad = client.put(
        "/v1/life-stage-rule",
        json={"stages": [{"name": "baby", "min_age_days": 5, "max_age_days": 1}]},
        headers=AUTH,
    )
    assert bad.status_code == 422, bad.text
    assert client.delete("/v1/life-stage-rule", headers=AUTH).json()["is_default"]
