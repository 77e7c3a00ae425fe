"""Audiences over REST with the real segmentation service behind the gateway (SQLite and
PostgreSQL), fed by stand-in profile and consent producers: create, estimate, preview,
materialize, release members per channel on consent, export CSV, change with optimistic
concurrency, delete; refused rules named by their JSON path inside `rule`; scopes; small-cell
suppression for keys without privacy:admin; the audit log of every release."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gateway_support import AUTH, KEY, WORKSPACE, MakeClient, assert_error
from segmentation_producers import Segmentation, running_segmentation, upserted, wait_for

from precis.consent.v1 import consent_pb2
from precis_gateway.audit import AuditBatcher
from precis_gateway.routers import segments

ANALYST = {"X-API-Key": "test-key-segment-analyst-0123456789"}  # segments:read
EDITOR = {"X-API-Key": "test-key-segment-editor-0123456789"}  # segments:read and write
EXPORTER = {"X-API-Key": "test-key-segment-exporter-0123456789"}  # segments:export
KEYS: dict[str, Any] = {
    KEY: WORKSPACE,  # full access, privacy:admin included: exact counts
    ANALYST["X-API-Key"]: {"workspace": WORKSPACE, "scopes": ["segments:read"]},
    EDITOR["X-API-Key"]: {"workspace": WORKSPACE, "scopes": ["segments:read", "segments:write"]},
    EXPORTER["X-API-Key"]: {"workspace": WORKSPACE, "scopes": ["segments:export"]},
}
SHANGHAI_BUYERS = {
    "all": [
        {"field": "traits.city", "op": "=", "value": "Shanghai"},
        {"field": "computed.order_count", "op": ">=", "value": 1},
    ]
}
# Profiles p00..p29 (user ids c-00..c-29): p00..p19 live in Shanghai, the others in Beijing;
# order_count is i % 5. The rule above matches the 16 Shanghai profiles with i % 5 != 0.
MATCHED = [f"p{i:02}" for i in range(20) if i % 5]
# marketing_email is granted to c-00..c-11; of the matched, these 9 may be e-mailed.
EMAILABLE = [p for p in MATCHED if int(p[1:]) < 12]
# analytics is granted to c-12..c-19.
ANALYSABLE = [p for p in MATCHED if int(p[1:]) >= 12]


@pytest.fixture
def segmentation(
    database_url_factory: Callable[[str], str], tmp_path: Path
) -> Iterator[Segmentation]:
    with running_segmentation(database_url_factory, tmp_path / "segmentation") as running:
        running.producers.publish(
            WORKSPACE,
            [
                upserted(
                    f"p{i:02}",
                    user_id=f"c-{i:02}",
                    traits={"city": "Shanghai" if i < 20 else "Beijing"},
                    computed={"order_count": i % 5},
                )
                for i in range(30)
            ],
        )
        running.settle()
        for i in range(12):
            running.producers.grant(WORKSPACE, f"c-{i:02}", "marketing_email")
        for i in range(12, 20):
            running.producers.grant(WORKSPACE, f"c-{i:02}", "analytics")
        running.settle()
        yield running


@pytest.fixture
def audited() -> list[consent_pb2.AuditEvent]:
    return []


@pytest.fixture
def client(
    make_client: MakeClient,
    segmentation: Segmentation,
    audited: list[consent_pb2.AuditEvent],
    monkeypatch: pytest.MonkeyPatch,
) -> TestClient:
    client = make_client(gateway_segmentation_target=segmentation.target, gateway_api_keys=KEYS)
    app = client.app
    assert isinstance(app, FastAPI)
    batcher: AuditBatcher = app.state.audit

    def submit(workspace: str, event: consent_pb2.AuditEvent) -> bool:
        assert workspace == WORKSPACE
        audited.append(event)
        return True

    # The events as the gateway hands them to the consent service (test_audit_api.py covers
    # the way from there into the audit log).
    monkeypatch.setattr(batcher, "submit", submit)
    return client


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def create(client: TestClient, name: str, rule: Any, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "rule": rule, **fields}
    return ok(client.post("/v1/segments", json=body, headers=AUTH), 201)


def emailable_now(client: TestClient, segment_id: str) -> list[str]:
    page = ok(client.get(f"/v1/segments/{segment_id}/members?channel=email", headers=AUTH))
    return [m["profile_id"] for m in page["members"]]


def test_a_segment_from_rule_to_csv(
    client: TestClient, audited: list[consent_pb2.AuditEvent]
) -> None:
    created = create(
        client,
        "Shanghai buyers",
        SHANGHAI_BUYERS,
        description="For the Shanghai e-mail",
        refresh_interval_seconds=3600,
    )
    segment_id = created["segment_id"]
    assert {k: created[k] for k in ("name", "rule", "family", "version", "member_count")} == {
        "name": "Shanghai buyers",
        "rule": SHANGHAI_BUYERS,
        "family": "rule",
        "version": 1,
        "member_count": 0,
    }
    assert (created["refreshed_at"], created["origin"], created["suppressed_counts"]) == (
        None,
        None,
        [],
    )
    assert created["refresh_interval_seconds"] == 3600 and created["created_at"]
    assert ok(client.get(f"/v1/segments/{segment_id}", headers=AUTH)) == created

    # Sizing a rule, and a saved segment, without materializing anything.
    estimate = ok(
        client.post(
            "/v1/segments/estimate",
            json={"rule": SHANGHAI_BUYERS, "channel": "email"},
            headers=AUTH,
        )
    )
    assert estimate == {
        "matched_count": 16,
        "total_profiles": 30,
        "releasable_count": 9,
        "channel": "email",
        "exact": True,
        "suppressed_counts": [],
    }
    by_id = ok(client.post("/v1/segments/estimate", json={"segment_id": segment_id}, headers=AUTH))
    assert (by_id["matched_count"], by_id["releasable_count"], by_id["channel"]) == (16, None, None)

    # A repeatable sample, showing the traits the rule refers to.
    ask = {"segment_id": segment_id, "sample_size": 5, "seed": 7}
    preview = ok(client.post("/v1/segments/preview", json=ask, headers=AUTH))
    assert preview["matched_count"] == 16 and len(preview["profiles"]) == 5
    assert ok(client.post("/v1/segments/preview", json=ask, headers=AUTH)) == preview
    first = preview["profiles"][0]
    assert first["profile_id"] in MATCHED
    assert first["identifiers"] == [{"type": "user_id", "value": "c-" + first["profile_id"][1:]}]
    assert first["traits"] == {
        "traits.city": "Shanghai",
        "computed.order_count": int(first["profile_id"][1:]) % 5,
    }

    # Materializing.
    refreshed = ok(client.post(f"/v1/segments/{segment_id}/refresh", headers=AUTH))
    assert (refreshed["entered_count"], refreshed["exited_count"], refreshed["full"]) == (
        16,
        0,
        True,
    )
    assert refreshed["segment"]["member_count"] == 16 and refreshed["segment"]["refreshed_at"]
    again = ok(client.post(f"/v1/segments/{segment_id}/refresh", json={"full": True}, headers=AUTH))
    assert (again["entered_count"], again["exited_count"]) == (0, 0)

    # Members released on e-mail: those with marketing_email, in pages.
    purpose = {**AUTH, "X-Precis-Purpose": "email_campaign"}
    members_url = f"/v1/segments/{segment_id}/members"
    page = ok(client.get(members_url, params={"channel": "email", "page_size": 4}, headers=purpose))
    assert (page["total_count"], page["releasable_count"], page["suppressed_count"]) == (16, 9, 7)
    assert page["channel"] == "email" and page["refreshed_at"]
    released = [m["profile_id"] for m in page["members"]]
    while page["next_cursor"]:
        page = ok(
            client.get(
                members_url,
                params={"channel": "email", "page_size": 4, "cursor": page["next_cursor"]},
                headers=purpose,
            )
        )
        released += [m["profile_id"] for m in page["members"]]
    assert released == EMAILABLE
    analytics = ok(client.get(members_url, headers=AUTH))
    assert analytics["channel"] is None
    assert [m["profile_id"] for m in analytics["members"]] == ANALYSABLE
    assert ok(client.get(members_url, params={"channel": "sms"}, headers=AUTH))["members"] == []

    # The CSV export of the same release.
    exported = client.get(
        f"/v1/segments/{segment_id}/export",
        params={"channel": "email", "columns": "profile_id,user_id,trait:city"},
        headers=purpose,
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"] == (
        f'attachment; filename="{segment_id}-email.csv"'
    )
    assert (
        exported.headers["X-Precis-Row-Count"],
        exported.headers["X-Precis-Suppressed-Count"],
    ) == (
        "9",
        "7",
    )
    assert list(csv.reader(io.StringIO(exported.text))) == [
        ["profile_id", "user_id", "trait:city"],
        *[[p, "c-" + p[1:], "Shanghai"] for p in EMAILABLE],
    ]
    default = client.get(f"/v1/segments/{segment_id}/export", headers=AUTH)
    assert default.text.splitlines()[0] == "profile_id,user_id"
    assert len(default.text.splitlines()) == 1 + len(ANALYSABLE)
    assert_error(
        client.get(
            f"/v1/segments/{segment_id}/export",
            params={"columns": "profile_id,password"},
            headers=AUTH,
        ),
        422,
        "invalid_argument",
        "columns[1]",
    )

    # A person's segments.
    mine = ok(client.get("/v1/profiles/user_id/c-01/segments", headers=AUTH))
    assert mine["profile_id"] == "p01"
    assert [(s["segment_id"], s["name"]) for s in mine["segments"]] == [
        (segment_id, "Shanghai buyers")
    ]
    assert ok(client.get("/v1/profiles/user_id/c-00/segments", headers=AUTH))["segments"] == []
    assert_error(client.get("/v1/profiles/user_id/nobody/segments", headers=AUTH), 404, "not_found")

    # Every release is in the audit log, with the declared purpose.
    releases = [
        (e.operation, e.action, e.resource, e.record_count, e.purpose)
        for e in audited
        if "/v1/segments/{segment_id}/" in e.operation
    ]
    members_op = "GET /v1/segments/{segment_id}/members"
    export_op = "GET /v1/segments/{segment_id}/export"
    read, export = consent_pb2.AUDIT_ACTION_READ, consent_pb2.AUDIT_ACTION_EXPORT
    assert releases == [
        (members_op, read, f"segment:{segment_id}:email", 4, "email_campaign"),
        (members_op, read, f"segment:{segment_id}:email", 4, "email_campaign"),
        (members_op, read, f"segment:{segment_id}:email", 1, "email_campaign"),
        (members_op, read, f"segment:{segment_id}:analytics", len(ANALYSABLE), "unspecified"),
        (members_op, read, f"segment:{segment_id}:sms", 0, "unspecified"),
        (export_op, export, f"segment:{segment_id}:email", 9, "email_campaign"),
        (export_op, export, f"segment:{segment_id}:analytics", len(ANALYSABLE), "unspecified"),
    ]
    assert all(e.api_key_id.startswith("key:") and e.service == "gateway" for e in audited)
    previews = [e for e in audited if e.operation == "POST /v1/segments/preview"]
    assert [(e.resource, e.record_count) for e in previews] == [
        (f"segment:{segment_id}:preview", 5)
    ] * 2
    people = [e for e in audited if e.operation.startswith("GET /v1/profiles/")]
    assert [(e.action, e.subject.profile_id) for e in people] == [(read, "p01"), (read, "p00")]


def test_changes_with_optimistic_concurrency_and_rules_refused_by_path(
    client: TestClient, segmentation: Segmentation
) -> None:
    segment_id = create(client, "Shanghai buyers", SHANGHAI_BUYERS, materialize=True)["segment_id"]
    url = f"/v1/segments/{segment_id}"

    error = assert_error(
        client.patch(
            url,
            json={"rule": {"all": [{"field": "traits.city", "op": "<", "value": True}]}},
            headers=AUTH,
        ),
        422,
        "invalid_argument",
        "rule.all[0].value",
    )
    assert "no order" in error["details"][0]["reason"]
    assert_error(
        client.post(
            "/v1/segments",
            json={"name": "Bad", "rule": {"all": [{"event": {"name": "x", "within_days": -1}}]}},
            headers=AUTH,
        ),
        422,
        "invalid_argument",
        "rule.all[0].event.within_days",
    )
    assert_error(
        client.post(
            "/v1/segments/estimate",
            json={"rule": {"any": [{"field": "colour", "op": "=", "value": 1}]}},
            headers=AUTH,
        ),
        422,
        "invalid_argument",
        "rule.any[0].field",
    )

    # Only Shanghai profiles with 3 or more orders: p03, p04, p08, p09, p13, p14, p18, p19.
    three = {
        "all": [
            *SHANGHAI_BUYERS["all"][:1],
            {"field": "computed.order_count", "op": ">=", "value": 3},
        ]
    }
    changed = ok(client.patch(url, json={"rule": three, "expected_version": 1}, headers=AUTH))
    assert (changed["version"], changed["member_count"], changed["name"]) == (
        2,
        8,
        "Shanghai buyers",
    )
    stale = assert_error(
        client.patch(url, json={"rule": SHANGHAI_BUYERS, "expected_version": 1}, headers=AUTH),
        409,
        "aborted",
    )
    assert "version 2" in stale["message"]
    renamed = ok(
        client.patch(url, json={"name": "Loyal Shanghai", "expected_version": 2}, headers=AUTH)
    )
    assert (renamed["name"], renamed["version"]) == ("Loyal Shanghai", 2)  # the rule is unchanged
    assert emailable_now(client, segment_id) == ["p03", "p04", "p08", "p09"]

    # Names are unique; bodies are strict.
    create(client, "Beijing", {"field": "traits.city", "op": "=", "value": "Beijing"})
    assert_error(client.patch(url, json={"name": "Beijing"}, headers=AUTH), 409, "already_exists")
    assert_error(
        client.post("/v1/segments", json={"name": "Beijing", "rule": three}, headers=AUTH),
        409,
        "already_exists",
    )
    assert_error(
        client.post("/v1/segments", json={"name": "X", "rule": three, "colour": 1}, headers=AUTH),
        422,
        "invalid_argument",
        "colour",
    )
    assert_error(
        client.post("/v1/segments", json={"name": "X"}, headers=AUTH),
        422,
        "invalid_argument",
        "rule",
    )
    assert_error(
        client.post("/v1/segments", json={"name": "X", "rule": [1]}, headers=AUTH),
        422,
        "invalid_argument",
        "rule",
    )
    assert_error(
        client.post(
            "/v1/segments/estimate",
            json={"rule": three, "segment_id": segment_id},
            headers=AUTH,
        ),
        422,
        "invalid_argument",
        "rule",
    )
    assert_error(
        client.post("/v1/segments/preview", json={}, headers=AUTH), 422, "invalid_argument", "rule"
    )
    assert_error(
        client.get(f"{url}/members", params={"channel": "fax"}, headers=AUTH),
        422,
        "invalid_argument",
        "channel",
    )

    # Listing, by name, with a family filter.
    listed = ok(client.get("/v1/segments", params={"page_size": 1}, headers=AUTH))
    assert [s["name"] for s in listed["segments"]] == ["Beijing"] and listed["next_cursor"]
    rest = ok(client.get("/v1/segments", params={"cursor": listed["next_cursor"]}, headers=AUTH))
    assert [s["name"] for s in rest["segments"]] == ["Loyal Shanghai"] and rest[
        "next_cursor"
    ] is None
    assert ok(client.get("/v1/segments", params={"family": "rfm"}, headers=AUTH))["segments"] == []

    # A segment another one refers to cannot go; unknown ones are 404.
    user = create(
        client,
        "Loyal and e-mailable",
        {"all": [{"segment": segment_id}, {"consent": "marketing_email"}]},
        materialize=True,
    )
    assert user["member_count"] == 4
    refused = assert_error(client.delete(url, headers=AUTH), 412, "failed_precondition")
    assert "Loyal and e-mailable" in refused["message"]
    assert ok(client.delete(f"/v1/segments/{user['segment_id']}", headers=AUTH)) == {
        "exited_count": 4,
        "suppressed_counts": [],
    }
    assert ok(client.delete(url, headers=AUTH))["exited_count"] == 8
    assert ok(client.delete(url, headers=AUTH))["exited_count"] == 0
    for method, path in (
        ("GET", url),
        ("PATCH", url),
        ("POST", f"{url}/refresh"),
        ("GET", f"{url}/members"),
        ("GET", f"{url}/export"),
    ):
        body = {"json": {"name": "Z"}} if method == "PATCH" else {}
        assert_error(client.request(method, path, headers=AUTH, **body), 404, "not_found")
    assert_error(
        client.post("/v1/segments/estimate", json={"segment_id": segment_id}, headers=AUTH),
        404,
        "not_found",
    )


def test_scopes_keep_releases_apart_from_definitions(client: TestClient) -> None:
    refused = assert_error(
        client.post("/v1/segments", json={"name": "X", "rule": SHANGHAI_BUYERS}, headers=ANALYST),
        403,
        "forbidden",
    )
    assert "segments:write" in refused["message"]
    created = ok(
        client.post(
            "/v1/segments",
            json={"name": "X", "rule": SHANGHAI_BUYERS, "materialize": True},
            headers=EDITOR,
        ),
        201,
    )
    segment_id = created["segment_id"]
    assert ok(client.get(f"/v1/segments/{segment_id}", headers=ANALYST))["name"] == "X"
    for path in ("members", "export"):
        error = assert_error(
            client.get(f"/v1/segments/{segment_id}/{path}", headers=EDITOR), 403, "forbidden"
        )
        assert "segments:export" in error["message"]
    assert_error(
        client.post("/v1/segments/preview", json={"segment_id": segment_id}, headers=EDITOR),
        403,
        "forbidden",
    )
    assert_error(client.get("/v1/profiles/user_id/c-01/segments", headers=EDITOR), 403, "forbidden")
    assert_error(client.get("/v1/segments", headers=EXPORTER), 403, "forbidden")
    assert ok(client.get(f"/v1/segments/{segment_id}/members?channel=email", headers=EXPORTER))[
        "members"
    ]


def test_small_counts_are_withheld_from_keys_without_privacy_admin(client: TestClient) -> None:
    # 9 e-mailable of 16 matched of 30: releasable (9) and matched-but-not-releasable (7) are
    # small parts of the workspace, withheld together; matched, their sum, goes with them. The
    # workspace total stays: the parts withheld together are too large to be told apart.
    ask = {"rule": SHANGHAI_BUYERS, "channel": "email"}
    analyst = ok(client.post("/v1/segments/estimate", json=ask, headers=ANALYST))
    assert analyst == {
        "matched_count": None,
        "total_profiles": 30,
        "releasable_count": None,
        "channel": "email",
        "exact": True,
        "suppressed_counts": ["matched_count", "releasable_count"],
    }
    assert ok(client.post("/v1/segments/estimate", json=ask, headers=AUTH))["matched_count"] == 16
    without_channel = ok(
        client.post("/v1/segments/estimate", json={"rule": SHANGHAI_BUYERS}, headers=ANALYST)
    )
    assert (without_channel["matched_count"], without_channel["suppressed_counts"]) == (16, [])
    # 24 of 30 match: the 6 that do not would come back by subtraction.
    most = {"field": "computed.order_count", "op": ">=", "value": 1}
    nearly_all = ok(client.post("/v1/segments/estimate", json={"rule": most}, headers=ANALYST))
    assert (nearly_all["matched_count"], nearly_all["total_profiles"]) == (None, 30)

    small = {
        "all": [
            *SHANGHAI_BUYERS["all"][:1],
            {"field": "computed.order_count", "op": "=", "value": 4},
        ]
    }
    created = ok(
        client.post(
            "/v1/segments",
            json={"name": "Four orders", "rule": small, "materialize": True},
            headers=EDITOR,
        ),
        201,
    )
    assert (created["member_count"], created["suppressed_counts"]) == (None, ["member_count"])
    segment_id = created["segment_id"]
    assert ok(client.get(f"/v1/segments/{segment_id}", headers=AUTH))["member_count"] == 4
    listed = ok(client.get("/v1/segments", headers=ANALYST))["segments"]
    assert [(s["member_count"], s["suppressed_counts"]) for s in listed] == [
        (None, ["member_count"])
    ]
    refreshed = ok(
        client.post(f"/v1/segments/{segment_id}/refresh", json={"full": True}, headers=EDITOR)
    )
    assert refreshed["suppressed_counts"] == ["segment.member_count"]
    assert refreshed["segment"]["member_count"] is None
    assert (refreshed["entered_count"], refreshed["exited_count"]) == (0, 0)
    preview = ok(client.post("/v1/segments/preview", json={"rule": small}, headers=AUTH))
    assert preview["matched_count"] == 4

    members = ok(client.get(f"/v1/segments/{segment_id}/members?channel=email", headers=EXPORTER))
    # p04 and p09 may be e-mailed, p14 and p19 not: both parts small, the total of 4 too.
    assert [m["profile_id"] for m in members["members"]] == ["p04", "p09"]
    assert (members["total_count"], members["releasable_count"], members["suppressed_count"]) == (
        None,
        None,
        None,
    )
    assert members["suppressed_counts"] == ["total_count", "releasable_count", "suppressed_count"]
    exported = client.get(f"/v1/segments/{segment_id}/export?channel=email", headers=EXPORTER)
    assert exported.status_code == 200, exported.text
    assert "X-Precis-Suppressed-Count" not in exported.headers
    assert exported.headers["X-Precis-Withheld-Counts"] == "suppressed_count"
    assert exported.headers["X-Precis-Row-Count"] == "2"
    deleted = ok(client.delete(f"/v1/segments/{segment_id}", headers=EDITOR))
    assert deleted == {"exited_count": None, "suppressed_counts": ["exited_count"]}


def test_members_are_not_released_on_stale_consent(
    client: TestClient, segmentation: Segmentation
) -> None:
    segment_id = create(client, "Shanghai buyers", SHANGHAI_BUYERS, materialize=True)["segment_id"]
    assert emailable_now(client, segment_id) == EMAILABLE
    # The consent service stops answering the checks of a change it announced.
    segmentation.producers.consent.fail = True
    segmentation.producers.grant(WORKSPACE, "c-13", "marketing_email")
    wait_for(
        lambda: segmentation.app.consent_follower.lag() is None, what="the consent sync to fail"
    )
    for path in ("members?channel=email", "export?channel=email"):
        response = client.get(f"/v1/segments/{segment_id}/{path}", headers=AUTH)
        error = assert_error(response, 503, "unavailable")
        assert response.headers["Retry-After"] == "1"
        assert "segmentation" in error["message"]
    assert_error(
        client.post(
            "/v1/segments/estimate",
            json={"segment_id": segment_id, "channel": "email"},
            headers=AUTH,
        ),
        503,
        "unavailable",
    )
    # Sizes that release nobody are still answered; consent coming back releases again.
    assert ok(client.get(f"/v1/segments/{segment_id}", headers=AUTH))["member_count"] == 16
    segmentation.producers.consent.fail = False
    segmentation.producers.grant(WORKSPACE, "c-13", "marketing_email")
    wait_for(
        lambda: (
            client.get(f"/v1/segments/{segment_id}/members?channel=email", headers=AUTH).status_code
            == 200
        ),
        what="consent to be current again",
    )
    assert "p13" in emailable_now(client, segment_id)


def test_openapi_documents_the_segment_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {
        "/v1/segments",
        "/v1/segments/estimate",
        "/v1/segments/preview",
        "/v1/segments/{segment_id}",
        "/v1/segments/{segment_id}/refresh",
        "/v1/segments/{segment_id}/members",
        "/v1/segments/{segment_id}/export",
        "/v1/profiles/{identifier_type}/{value}/segments",
    } <= set(paths)
    create_op = paths["/v1/segments"]["post"]
    assert create_op["operationId"] == "createSegment" and "201" in create_op["responses"]
    assert "409" in create_op["responses"]
    schemas = spec["components"]["schemas"]
    rule = schemas["SegmentBody"]["properties"]["rule"]
    assert rule["type"] == "object" and rule["examples"][0]["all"]
    assert "rule.all[1].value" in rule["description"]
    assert schemas["SegmentBody"]["additionalProperties"] is False
    export = paths["/v1/segments/{segment_id}/export"]["get"]
    assert set(export["responses"]["200"]["content"]) == {"text/csv"}
    assert "X-Precis-Suppressed-Count" in export["responses"]["200"]["headers"]
    assert "members route" in export["description"]
    members = paths["/v1/segments/{segment_id}/members"]["get"]
    assert "X-Precis-Purpose" in [p["name"] for p in members["parameters"]]
    nullable_int = [{"type": "integer"}, {"type": "null"}]
    for model, field in (
        ("Segment", "member_count"),
        ("SegmentEstimate", "matched_count"),
        ("SegmentMembers", "suppressed_count"),
        ("SegmentDeleted", "exited_count"),
    ):
        prop = schemas[model]["properties"][field]
        assert [{"type": t["type"]} for t in prop["anyOf"]] == nullable_int, (model, field)
        assert "privacy:admin" in prop["description"]


def test_a_long_export_is_streamed_without_the_count_headers(
    client: TestClient, audited: list[consent_pb2.AuditEvent], monkeypatch: pytest.MonkeyPatch
) -> None:
    segment_id = create(client, "Shanghai buyers", SHANGHAI_BUYERS, materialize=True)["segment_id"]
    url = f"/v1/segments/{segment_id}/export?channel=email"
    whole = client.get(url, headers=AUTH)
    assert whole.headers["X-Precis-Suppressed-Count"] == "7"
    # Longer than what is read before answering: streamed as it comes.
    monkeypatch.setattr(segments, "EXPORT_BUFFER_BYTES", 1)
    streamed = client.get(url, headers=AUTH)
    assert streamed.status_code == 200, streamed.text
    assert streamed.text == whole.text and len(streamed.text.splitlines()) == 1 + len(EMAILABLE)
    assert "X-Precis-Suppressed-Count" not in streamed.headers
    assert "X-Precis-Row-Count" not in streamed.headers
    assert streamed.headers["content-disposition"] == whole.headers["content-disposition"]
    exports = [e for e in audited if e.action == consent_pb2.AUDIT_ACTION_EXPORT]
    assert [e.record_count for e in exports] == [len(EMAILABLE)] * 2
