"""Retention policies over REST, applied in the real ingestion, profile and consent services
(SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from gateway_support import AUTH, assert_error
from test_privacy_api import (  # noqa: F401  (fixtures)
    client,
    consent_service,
    ingestion,
    ok,
    profile_service,
)

from precis_profile.app import ProfileApp


def test_set_apply_and_list_retention_policies(
    client: TestClient,  # noqa: F811  (the imported fixture)
    profile_service: ProfileApp,  # noqa: F811
) -> None:
    now = datetime.now(UTC)
    batch = [
        {
            "type": "track",
            "message_id": f"old-{n}",
            "event": "Product Viewed",
            "user_id": "old",
            "timestamp": (now - timedelta(days=100 + n)).isoformat(),
        }
        for n in range(3)
    ] + [{"type": "track", "message_id": "new-1", "event": "Product Viewed", "user_id": "new"}]
    assert ok(client.post("/v1/batch", json={"batch": batch}, headers=AUTH))["accepted"] == 4
    while profile_service.consumer.run_once():
        pass

    listed = ok(client.get("/v1/retention-policies", headers=AUTH))["policies"]
    assert {p["data_kind"]: p["retention_days"] for p in listed}["export_bundles"] == 30
    set_ = ok(
        client.put("/v1/retention-policies/raw_events", json={"retention_days": 30}, headers=AUTH)
    )
    assert (set_["retention_days"], set_["is_default"], set_["last_applied_at"]) == (
        30,
        False,
        None,
    )
    assert set_["updated_by"].startswith("key:")
    ok(
        client.put(
            "/v1/retention-policies/inactive_profiles", json={"retention_days": 60}, headers=AUTH
        )
    )

    run = ok(client.post("/v1/retention-policies/apply", headers=AUTH))
    erased = {
        (o["data_kind"], o["service"]): {e["table"]: e["rows"] for e in o["erased"]}
        for o in run["outcomes"]
    }
    assert erased[("raw_events", "ingestion")] == {"events": 3}
    assert erased[("raw_events", "profile")] == {"profile_events": 3}
    assert erased[("inactive_profiles", "profile")]["profiles"] == 1
    assert all(o["error"] is None for o in run["outcomes"])
    assert_error(client.get("/v1/profiles/user_id/old", headers=AUTH), 404, "not_found")
    assert ok(client.get("/v1/profiles/user_id/new", headers=AUTH))["event_count"] == 1

    one = ok(client.get("/v1/retention-policies/raw_events", headers=AUTH))
    assert one["enforced_by"] == ["ingestion", "profile"] and one["last_applied_at"]
    only = ok(
        client.post("/v1/retention-policies/apply", json={"data_kind": "raw_events"}, headers=AUTH)
    )
    assert {o["data_kind"] for o in only["outcomes"]} == {"raw_events"}


def test_bad_retention_input_names_the_field(client: TestClient) -> None:  # noqa: F811
    def put(kind: str, body: object) -> object:
        return client.put(f"/v1/retention-policies/{kind}", json=body, headers=AUTH)

    assert_error(
        put("raw_events", {"retention_days": -1}), 422, "invalid_argument", "retention_days"
    )
    assert_error(put("raw_events", {}), 422, "invalid_argument", "retention_days")
    assert_error(
        put("raw_events", {"retention_days": 3, "action": "anonymize"}),
        422,
        "invalid_argument",
        "action",
    )
    error = assert_error(
        put("consent_ledger", {"retention_days": 30}), 422, "invalid_argument", "retention_days"
    )
    assert "365" in error["details"][0]["reason"]
    assert_error(put("everything", {"retention_days": 3}), 422, "invalid_argument", "data_kind")
    assert_error(
        client.post("/v1/retention-policies/apply", json={"data_kind": "x"}, headers=AUTH),
        422,
        "invalid_argument",
        "data_kind",
    )
