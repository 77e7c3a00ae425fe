"""Small-cell suppression: a key without privacy:admin never sees an aggregate count from 1 to
k-1, nor one it could work out by subtraction; an admin key sees exact counts. The rule itself
(precis_gateway.disclosure), then RFM cells, tag counts, the profile total and the merge-rule dry
run on real data through the real profile service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gateway_support import AUTH, KEY, WORKSPACE, MakeClient
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider

from precis_gateway.disclosure import disclose, disclose_together
from precis_gateway.scopes import ALL_SCOPES, Caller, Scope
from precis_gateway.settings import GatewaySettings
from precis_ingestion.app import IngestionApp
from precis_profile.app import ProfileApp, build, start
from precis_profile.settings import ProfileSettings

ADMIN = Caller(workspace=WORKSPACE, key_id="key:00000000", scopes=ALL_SCOPES)
ANALYST = Caller(
    workspace=WORKSPACE,
    key_id="key:11111111",
    scopes=frozenset({Scope.WORKSPACE_ADMIN, Scope.PROFILES_READ}),
)
# A key that configures the workspace and reads profiles, but is no privacy administrator.
ANALYST_KEY = "test-key-analyst-0123456789abcdef"
ANALYST_AUTH = {"X-API-Key": ANALYST_KEY}
KEYS = {
    KEY: WORKSPACE,
    ANALYST_KEY: {"workspace": WORKSPACE, "scopes": ["workspace:admin", "profiles:read"]},
}


# --------------------------------------------------------------------------------------------
# The rule
# --------------------------------------------------------------------------------------------


def _parts(**parts: int) -> dict[str, int]:
    """Parts with their total first, as the gateway hands RFM cells to `disclose`."""
    return {"total": sum(parts.values()), **parts}


def test_admin_callers_and_k_of_one_see_exact_counts() -> None:
    counts = {"a": 1, "b": 9, "c": 0}
    for shown in (disclose(counts, ADMIN, k=10), disclose(counts, ANALYST, k=1)):
        assert shown.counts == counts and shown.suppressed == []
    together = disclose_together(counts, ADMIN, k=10)
    assert together.counts == counts and together.suppressed == []


def test_counts_from_one_to_k_minus_one_are_withheld_zero_and_k_are_shown() -> None:
    shown = disclose({"zero": 0, "one": 1, "nine": 9, "ten": 10, "many": 5000}, ANALYST, k=10)
    assert shown.counts == {"zero": 0, "one": None, "nine": None, "ten": 10, "many": 5000}
    assert shown.suppressed == ["one", "nine"]


def test_a_small_part_next_to_its_total_takes_the_smallest_other_part_with_it() -> None:
    # Without the complement, "lonely" would be 61 - 10 - 10 - 40 = 1.
    shown = disclose(_parts(lonely=1, beta=10, alpha=10, big=40), ANALYST, k=10, total="total")
    assert shown.counts == {"total": 61, "lonely": None, "beta": 10, "alpha": None, "big": 40}
    assert shown.suppressed == ["lonely", "alpha"]  # of the two 10s, the first by name


def test_small_parts_adding_up_to_little_take_a_complement_too() -> None:
    # Two withheld parts adding up to 2 would both be 1: each one must possibly be k - 1.
    shown = disclose(_parts(a=1, b=1, c=12, d=30), ANALYST, k=10, total="total")
    assert shown.suppressed == ["a", "b", "c"]
    assert shown["total"] == 44 and shown["d"] == 30


def test_small_parts_adding_up_to_enough_need_no_complement() -> None:
    # 40 - 30 = 10 for the two: either could be anything from 1 to 9.
    shown = disclose(_parts(a=4, b=6, c=30), ANALYST, k=10, total="total")
    assert shown.counts == {"total": 40, "a": None, "b": None, "c": 30}


def test_the_total_is_withheld_when_no_part_is_left_to_complement() -> None:
    shown = disclose(_parts(a=1, b=1, c=8), ANALYST, k=10, total="total")
    assert shown.suppressed == ["total", "a", "b", "c"]
    small_total = disclose(_parts(a=2, b=3, c=0), ANALYST, k=10, total="total")
    assert small_total.counts == {"total": None, "a": None, "b": None, "c": 0}


def test_zero_parts_are_shown_and_never_the_complement() -> None:
    shown = disclose(_parts(empty=0, one=1, other=0, big=20), ANALYST, k=10, total="total")
    assert shown.counts == {"total": 21, "empty": 0, "one": None, "other": 0, "big": None}


def test_counts_tied_together_are_withheld_together() -> None:
    shown = disclose_together({"after": 97, "merged": 3, "split": 0}, ANALYST, k=10)
    assert shown.counts == {"after": None, "merged": None, "split": 0}
    assert shown.suppressed == ["after", "merged"]
    large = {"after": 97, "merged": 30, "split": 0}
    assert disclose_together(large, ANALYST, k=10).counts == large


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        disclose({"a": -1}, ANALYST, k=10)
    with pytest.raises(ValueError, match="not one of the counts"):
        disclose({"a": 1}, ANALYST, k=10, total="population")
    with pytest.raises(ValueError, match="at least 1"):
        disclose_together({"a": 1}, ANALYST, k=0)


def test_the_threshold_setting_defaults_to_ten_and_refuses_zero() -> None:
    assert GatewaySettings().gateway_small_cell_k == 10
    with pytest.raises(ValueError, match="gateway_small_cell_k"):
        GatewaySettings(gateway_small_cell_k=0)


@given(
    parts=st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=12),
    k=st.integers(min_value=1, max_value=15),
)
def test_what_an_analyst_can_work_out_from_any_partition(parts: list[int], k: int) -> None:
    """The guarantee, checked the way an attacker would use the output: a shown count is never
    from 1 to k-1; with the total shown, each withheld part (at least 1, like every other
    withheld part) could be as large as k-1 for all that subtraction tells."""
    counts = {"total": sum(parts)} | {f"p{i}": n for i, n in enumerate(parts)}
    shown = disclose(counts, ANALYST, k=k, total="total")
    for name, value in shown.counts.items():
        assert value is None or value == counts[name]
        assert value is None or not 0 < value < k
        assert value is not None or counts[name] > 0  # zeros are never withheld
    withheld = [n for n in shown.suppressed if n != "total"]
    if shown["total"] is not None and withheld:
        rest = shown["total"] - sum(v for n, v in shown.counts.items() if n != "total" and v)
        largest_possible = rest - (len(withheld) - 1)
        assert len(withheld) >= 2 and largest_possible >= k - 1
    assert disclose(counts, ADMIN, k=k, total="total").counts == counts


# --------------------------------------------------------------------------------------------
# Through the gateway, on real data
# --------------------------------------------------------------------------------------------


@pytest.fixture
def profile_service(
    tmp_path: Path, ingestion: IngestionApp, provider: TracerProvider
) -> Iterator[ProfileApp]:
    settings = ProfileSettings(
        state_dir=tmp_path / "profile",
        profile_grpc_port=0,
        profile_ingestion_target=f"127.0.0.1:{ingestion.port}",
        profile_consume=False,  # the test applies the feed itself, deterministically
        profile_rfm_refresh_seconds=0,  # only the refreshes the test asks for
    )
    app = start(build(settings, tracer_provider=provider, configure_logs=False))
    yield app
    app.stop(0)


def _shop(client: TestClient, profile_service: ProfileApp, customers: int = 54) -> None:
    """54 customers with 1 to 5 orders of 10 to 106 over 2025: RFM cells of 1 to 9 profiles."""
    batch = [
        {
            "type": "track",
            "event": "Order Completed",
            "user_id": f"c-{c}",
            "message_id": f"o-{c}-{n}",
            "properties": {"order_id": f"o-{c}-{n}", "revenue": 10 + (c * 21) % 97},
            "timestamp": f"2025-{1 + (c * 13 + n) % 12:02d}-{1 + c % 27:02d}T10:00:00Z",
        }
        for c in range(customers)
        for n in range(1 + (c * 7) % 5)
    ]
    for start_at in range(0, len(batch), 500):
        chunk = batch[start_at : start_at + 500]
        sent = client.post("/v1/batch", json={"batch": chunk}, headers=AUTH)
        assert sent.json()["accepted"] == len(chunk), sent.text
    while profile_service.consumer.run_once():
        pass


def _refresh(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.post("/v1/rfm/refresh", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_rfm_cells_are_exact_for_an_admin_and_protected_for_an_analyst(
    make_client: MakeClient, profile_service: ProfileApp
) -> None:
    target = f"127.0.0.1:{profile_service.port}"
    client = make_client(gateway_profile_target=target, gateway_api_keys=KEYS)
    _shop(client, profile_service)

    exact = _refresh(client, AUTH)
    cells: dict[str, int] = exact["cells"]
    assert exact["suppressed_counts"] == []
    assert exact["population"] == 54 == sum(cells.values())
    assert list(cells.values()) == sorted(cells.values(), reverse=True)
    sizes = sorted(cells.values())
    assert sizes[0] == 1 and sizes[1] >= 2, f"the data should give one cell of 1: {cells}"

    # k = 10 (the default) and k = 5: the cells under k are withheld, and they are many enough
    # that subtracting from the population tells nothing more; the others are exact.
    for k in (10, 5):
        small = {c for c, n in cells.items() if n < k}
        assert len(small) >= 2 and sum(cells[c] for c in small) - (len(small) - 1) >= k - 1
        analyst = _refresh(
            make_client(
                gateway_profile_target=target, gateway_api_keys=KEYS, gateway_small_cell_k=k
            ),
            ANALYST_AUTH,
        )
        assert analyst["population"] == 54
        assert {c for c, n in analyst["cells"].items() if n is None} == small
        assert sorted(analyst["suppressed_counts"]) == sorted(f"cells.{c}" for c in small)
        assert [(c, n) for c, n in analyst["cells"].items() if n is not None] == [
            (c, n) for c, n in cells.items() if c not in small
        ]
        assert list(analyst["cells"])[len(cells) - len(small) :] == sorted(small)  # by name
        assert analyst["boundaries"] == exact["boundaries"]

    # k = 2: the one cell of 1 alone would be 54 minus the others: the smallest other goes too.
    strict = make_client(
        gateway_profile_target=target, gateway_api_keys=KEYS, gateway_small_cell_k=2
    )
    lonely = next(c for c, n in cells.items() if n == 1)
    complement = min((n, c) for c, n in cells.items() if n >= 2)[1]
    shown = _refresh(strict, ANALYST_AUTH)
    assert shown["population"] == 54
    assert {c for c, n in shown["cells"].items() if n is None} == {lonely, complement}
    assert set(shown["suppressed_counts"]) == {f"cells.{lonely}", f"cells.{complement}"}
    assert all(shown["cells"][c] == n for c, n in cells.items() if c not in {lonely, complement})
    assert _refresh(strict, AUTH)["cells"] == cells


def test_tag_counts_and_the_profile_total_for_an_analyst(
    make_client: MakeClient, profile_service: ProfileApp
) -> None:
    client = make_client(
        gateway_profile_target=f"127.0.0.1:{profile_service.port}", gateway_api_keys=KEYS
    )
    _shop(client, profile_service)
    _refresh(client, AUTH)
    few = {"kind": "rule", "rule": {"trait": "computed.revenue", "op": "gte", "value": 400}}
    many = {"kind": "rule", "rule": {"trait": "computed.order_count", "op": "gte", "value": 2}}

    put = client.put("/v1/tag-definitions/big_spender", json=few, headers=ANALYST_AUTH).json()
    exact_few = client.put("/v1/tag-definitions/big_spender", json=few, headers=AUTH).json()
    assert exact_few["profile_count"] == 4 and exact_few["suppressed_counts"] == []
    assert put["profile_count"] is None and put["suppressed_counts"] == ["profile_count"]
    exact_many = client.put("/v1/tag-definitions/repeat", json=many, headers=AUTH).json()
    assert exact_many["profile_count"] >= 10

    listed = client.get("/v1/tag-definitions", headers=ANALYST_AUTH).json()["definitions"]
    assert [(d["tag"], d["profile_count"], d["suppressed_counts"]) for d in listed] == [
        ("big_spender", None, ["profile_count"]),
        ("repeat", exact_many["profile_count"], []),
    ]
    admin_listed = client.get("/v1/tag-definitions", headers=AUTH).json()["definitions"]
    assert [d["profile_count"] for d in admin_listed] == [
        exact_few["profile_count"],
        exact_many["profile_count"],
    ]

    deleted = client.delete("/v1/tag-definitions/big_spender", headers=ANALYST_AUTH).json()
    assert deleted == {"profiles_untagged": None, "suppressed_counts": ["profiles_untagged"]}
    assert client.delete("/v1/tag-definitions/repeat", headers=ANALYST_AUTH).json() == {
        "profiles_untagged": exact_many["profile_count"],
        "suppressed_counts": [],
    }

    page = client.get("/v1/profiles", params={"page_size": 1}, headers=ANALYST_AUTH).json()
    assert page["total_count"] == 54 and page["suppressed_counts"] == []
    tiny = make_client(
        gateway_profile_target=f"127.0.0.1:{profile_service.port}",
        gateway_api_keys=KEYS,
        gateway_small_cell_k=55,
    )
    page = tiny.get("/v1/profiles", params={"page_size": 1}, headers=ANALYST_AUTH).json()
    assert page["total_count"] is None and page["suppressed_counts"] == ["total_count"]
    assert tiny.get("/v1/profiles", headers=AUTH).json()["total_count"] == 54


def test_dry_run_outcomes_are_withheld_together(
    make_client: MakeClient, profile_service: ProfileApp
) -> None:
    client = make_client(
        gateway_profile_target=f"127.0.0.1:{profile_service.port}",
        gateway_api_keys=KEYS,
        gateway_small_cell_k=2,
    )
    # Two customers share a family address; two others stand alone.
    for message_id, uid, email in (
        ("d-1", "c-1", "family@example.com"),
        ("d-2", "c-2", "family@example.com"),
        ("d-3", "c-3", "three@example.com"),
        ("d-4", "c-4", "four@example.com"),
    ):
        body = {"message_id": message_id, "user_id": uid, "traits": {"email": email}}
        client.post("/v1/identify", json=body, headers=AUTH)
    profile_service.consumer.run_once()
    rules = {"rules": [{"type": "user_id", "max_per_profile": 2}]}

    exact = client.post("/v1/merge-rules/dry-run", json=rules, headers=AUTH).json()
    assert exact == {
        "profiles_before": 4,
        "profiles_after": 3,
        "profiles_merged": 1,
        "profiles_split": 0,
        "profiles_unchanged": 2,
        "events_evaluated": 4,
        "suppressed_counts": [],
    }
    # One merge is small, and after = before - merged: 3 and 2 would give it away.
    shown = client.post("/v1/merge-rules/dry-run", json=rules, headers=ANALYST_AUTH).json()
    assert shown == {
        "profiles_before": 4,
        "profiles_after": None,
        "profiles_merged": None,
        "profiles_split": 0,
        "profiles_unchanged": None,
        "events_evaluated": 4,
        "suppressed_counts": ["profiles_after", "profiles_merged", "profiles_unchanged"],
    }


def test_openapi_marks_the_counts_that_can_be_withheld(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    nullable_int = [{"type": "integer"}, {"type": "null"}]
    for model, field in (
        ("RfmRefresh", "population"),
        ("ProfilePage", "total_count"),
        ("TagDefinition", "profile_count"),
        ("TagDeleted", "profiles_untagged"),
        ("DryRunResult", "profiles_merged"),
    ):
        prop = schemas[model]["properties"][field]
        assert [{"type": t["type"]} for t in prop["anyOf"]] == nullable_int, (model, field)
        assert "privacy:admin" in prop["description"]
        assert schemas[model]["properties"]["suppressed_counts"]["type"] == "array"
    cells = schemas["RfmRefresh"]["properties"]["cells"]["additionalProperties"]
    assert [{"type": t["type"]} for t in cells["anyOf"]] == nullable_int
