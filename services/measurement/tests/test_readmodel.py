"""Which events become exposures, conversions and touches (readmodel.event_rows)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from measurement_support import event

from precis_measurement.readmodel import event_rows, exposure_kind

AT = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
CONVERSIONS = frozenset({"Order Completed", "Trial Started"})


def rows(name: str, properties: dict[str, object]) -> dict[str, dict[str, object]]:
    return event_rows("ws", "p1", event(name, properties, AT, "m1"), CONVERSIONS)


def test_message_events_are_exposures_with_their_channel() -> None:
    assert exposure_kind("Email Link Clicked") == "clicked"
    assert exposure_kind("Push Notification Received") == "delivered"
    assert exposure_kind("Push Notification Tapped") == "clicked"
    assert exposure_kind(" Sent") is None
    sent = rows("Email Sent", {"campaign_id": "c1"})["ms_exposures"]
    assert (sent["kind"], sent["channel"], sent["campaign_id"]) == ("sent", "email", "c1")
    tapped = rows("Push Notification Tapped", {})["ms_exposures"]
    assert (tapped["kind"], tapped["channel"], tapped["campaign_id"]) == ("clicked", "push", "")
    wechat = rows("Message Opened", {"channel": "WeChat"})["ms_exposures"]
    assert (wechat["kind"], wechat["channel"]) == ("opened", "wechat")
    # Browsing is not a message: no campaign, no channel.
    assert rows("Product Clicked", {"product_id": "sku-1"}) == {}
    # A send without a campaign says nothing about any campaign.
    assert rows("Email Sent", {}) == {}


def test_conversions_touches_and_what_is_ignored() -> None:
    order = rows("Order Completed", {"revenue": 59.5, "tax": 3, "coupon": "X", "big": 1e400})
    conversion = order["ms_conversions"]
    assert conversion["revenue"] == 59.5
    assert conversion["amounts"] == {"revenue": 59.5, "tax": 3.0}
    assert rows("Order Completed", {"revenue": -5})["ms_conversions"]["revenue"] == 0.0
    assert rows("Trial Started", {})["ms_conversions"]["event"] == "Trial Started"
    assert rows("Signed Up", {"revenue": 5}) == {}
    touch = rows("Page Viewed", {"utm_source": " Baidu ", "utm_medium": "CPC"})["ms_touches"]
    assert (touch["source"], touch["medium"]) == ("baidu", "cpc")
    both = rows("Order Completed", {"utm_source": "wechat", "revenue": 10})
    assert set(both) == {"ms_conversions", "ms_touches"}
    bad = event("Order Completed", {}, AT, "m2")
    bad.properties_json = b"not json"
    assert event_rows("ws", "p1", bad, CONVERSIONS) == {}
