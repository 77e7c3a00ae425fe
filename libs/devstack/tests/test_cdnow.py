"""The CDNOW parser and its mapping onto Precis events, on lines copied from the real file."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import pytest

from precis_client import IdentifyEvent, TrackEvent
from precis_client.models import batch_item_json
from precis_devstack import cdnow

# The first lines of CDNOW_master.txt as shipped: a header, CRLF endings, leading spaces,
# zero-padded ids, and a customer (00002) who bought twice on one day.
SAMPLE = (
    " customer_id  date number_of_cds  dollar_value\r\n"
    " 00001 19970101  1   11.77\r\n"
    " 00002 19970112  1   12.00\r\n"
    " 00002 19970112  5   77.00\r\n"
    " 00003 19970102  2   20.76\r\n"
    " 00003 19970330  2   20.76\r\n"
    " 00003 19970402  2   19.54\r\n"
    " 00004 19970101  2   29.33\r\n"
    " 23570 19970326  2    0.00\r\n"
)


def test_parse_reads_every_field_and_numbers_data_lines_from_one() -> None:
    transactions = cdnow.parse_cdnow(SAMPLE)
    assert len(transactions) == 8
    first = transactions[0]
    assert first == cdnow.Transaction(
        line_no=1, customer_id="00001", date=date(1997, 1, 1), quantity=1, amount=11.77
    )
    assert first.user_id == "cdnow-00001"
    assert [t.line_no for t in transactions] == list(range(1, 9))
    assert transactions[2].quantity == 5
    assert transactions[2].amount == 77.0
    assert transactions[-1].amount == 0.0
    assert cdnow.customer_count(transactions) == 5


def test_parse_refuses_a_malformed_line_naming_it() -> None:
    with pytest.raises(cdnow.CdnowError, match="line 3"):
        cdnow.parse_cdnow(
            " customer_id date n v\n 00001 19970101 1 11.77\n 00002 1997-01-12 1 12\n"
        )
    with pytest.raises(cdnow.CdnowError, match="expected 4 fields"):
        cdnow.parse_cdnow(" 00001 19970101 1\n")


def test_events_identify_each_customer_once_then_track_each_order() -> None:
    events = list(cdnow.cdnow_events(cdnow.parse_cdnow(SAMPLE)))
    identifies = [e for e in events if isinstance(e, IdentifyEvent)]
    orders = [e for e in events if isinstance(e, TrackEvent)]
    assert len(identifies) == 5
    assert len(orders) == 8
    # Each customer's identify comes before its first order.
    assert [getattr(e, "message_id", None) for e in events[:4]] == [
        "cdnow-identify-00001",
        "cdnow-order-1",
        "cdnow-identify-00002",
        "cdnow-order-2",
    ]

    customer_3 = next(e for e in identifies if e.user_id == "cdnow-00003")
    assert batch_item_json(customer_3) == {
        "type": "identify",
        "message_id": "cdnow-identify-00003",
        "user_id": "cdnow-00003",
        "traits": {"cdnow_customer_id": "00003", "source": "cdnow"},
        "timestamp": "1997-01-02T00:00:00Z",  # the first purchase
    }
    assert batch_item_json(orders[2]) == {
        "type": "track",
        "event": "Order Completed",
        "message_id": "cdnow-order-3",
        "user_id": "cdnow-00002",
        "properties": {
            "order_id": "cdnow-3",
            "revenue": 77.0,
            "quantity": 5,
            "currency": "USD",
        },
        "timestamp": "1997-01-12T00:00:00Z",
    }


def test_identify_uses_the_earliest_purchase_even_out_of_order() -> None:
    text = " 00009 19970315 1 10.00\n 00009 19970105 1 10.00\n"
    events = list(cdnow.cdnow_events(cdnow.parse_cdnow(text)))
    assert isinstance(events[0], IdentifyEvent)
    assert events[0].to_json()["timestamp"] == "1997-01-05T00:00:00Z"


def test_message_ids_are_deterministic_and_unique_even_for_identical_lines() -> None:
    text = SAMPLE + " 00004 19970101  2   29.33\r\n"  # the real file repeats some lines
    first = [e.message_id for e in cdnow.cdnow_events(cdnow.parse_cdnow(text))]
    second = [e.message_id for e in cdnow.cdnow_events(cdnow.parse_cdnow(text))]
    assert first == second
    assert len(set(first)) == len(first)


def _fake_wheel(folder: Path, name: str = "Lifetimes-0.11.3-py3-none-any.whl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / name
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(cdnow.MEMBER, SAMPLE)
    return wheel


def test_load_reads_a_cached_wheel_without_downloading(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    wheel = _fake_wheel(cache)
    assert cdnow.find_wheel(cache) == wheel
    assert cdnow.download_wheel(cache) == wheel  # cached: pip is not run
    transactions = cdnow.load_cdnow(cache)
    assert len(transactions) == 8
    assert transactions[0].customer_id == "00001"


def test_a_wheel_without_the_data_is_reported(tmp_path: Path) -> None:
    wheel = tmp_path / "lifetimes-0.11.3-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("lifetimes/__init__.py", "")
    with pytest.raises(cdnow.CdnowError, match="does not contain"):
        cdnow.load_cdnow(tmp_path)


def test_other_versions_in_the_cache_are_ignored(tmp_path: Path) -> None:
    _fake_wheel(tmp_path, "Lifetimes-0.11.1-py3-none-any.whl")
    assert cdnow.find_wheel(tmp_path) is None
