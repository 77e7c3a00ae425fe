"""The CDNOW purchase log (69,659 real CD orders of 23,570 customers, 1997-01..1998-06).

The file ships inside the wheel of the PyPI package ``lifetimes==0.11.3`` (MIT). It is fetched
into a cache with pip and read out of the wheel; the data itself is never committed.
Line format (whitespace-separated, after one header line):
``00001 19970101  1   11.77`` = zero-padded customer id, date, number of CDs, dollars.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from precis_client import IdentifyEvent, TrackEvent
from precis_devstack import wheels

PACKAGE = "lifetimes"
VERSION = "0.11.3"
MEMBER = "lifetimes/datasets/CDNOW_master.txt"
TRANSACTIONS = 69_659
CUSTOMERS = 23_570
ORDER_EVENT = "Order Completed"


class CdnowError(RuntimeError):
    """The data could not be fetched or is not what it should be."""


@dataclass(frozen=True, slots=True)
class Transaction:
    """One line of the log. ``line_no`` counts data lines from 1 (the header is not counted)."""

    line_no: int
    customer_id: str
    date: date
    quantity: int
    amount: float

    @property
    def user_id(self) -> str:
        return user_id(self.customer_id)


def user_id(customer_id: str) -> str:
    """The Precis user_id of a CDNOW customer: ``cdnow-00001``."""
    return f"cdnow-{customer_id}"


def parse_cdnow(text: str) -> list[Transaction]:
    """Parses the log; the header line and blank lines are skipped, anything else must parse."""
    transactions: list[Transaction] = []
    for file_line, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0] == "customer_id":
            continue
        if len(fields) != 4:
            raise CdnowError(f"line {file_line}: expected 4 fields, got {line!r}")
        customer_id, day, quantity, amount = fields
        try:
            transaction = Transaction(
                line_no=len(transactions) + 1,
                customer_id=customer_id,
                date=datetime.strptime(day, "%Y%m%d").date(),
                quantity=int(quantity),
                amount=float(amount),
            )
        except ValueError as exc:
            raise CdnowError(f"line {file_line}: {exc} in {line!r}") from exc
        if not customer_id.isdigit():
            raise CdnowError(f"line {file_line}: customer id {customer_id!r} is not numeric")
        transactions.append(transaction)
    return transactions


def find_wheel(cache_dir: Path) -> Path | None:
    """The cached lifetimes wheel, if one was downloaded before."""
    return wheels.find_wheel(cache_dir, PACKAGE, VERSION)


def download_wheel(cache_dir: Path) -> Path:
    """Fetches the wheel with pip (no dependencies, binary only) unless it is cached."""
    return wheels.download_wheel(cache_dir, PACKAGE, VERSION, CdnowError)


def read_wheel(wheel: Path) -> str:
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(MEMBER).decode("ascii")
    except (KeyError, zipfile.BadZipFile) as exc:
        raise CdnowError(f"{wheel} does not contain {MEMBER}: {exc}") from exc


def load_cdnow(cache_dir: Path) -> list[Transaction]:
    """Every transaction of the log, downloading the wheel into ``cache_dir`` if needed."""
    return parse_cdnow(read_wheel(download_wheel(Path(cache_dir))))


def _midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def identify_event(customer_id: str, first_purchase: date) -> IdentifyEvent:
    return IdentifyEvent(
        user_id=user_id(customer_id),
        traits={"cdnow_customer_id": customer_id, "source": "cdnow"},
        timestamp=_midnight_utc(first_purchase),
        message_id=f"cdnow-identify-{customer_id}",
    )


def order_event(transaction: Transaction) -> TrackEvent:
    return TrackEvent(
        event=ORDER_EVENT,
        user_id=transaction.user_id,
        properties={
            "order_id": f"cdnow-{transaction.line_no}",
            "revenue": transaction.amount,
            "quantity": transaction.quantity,
            "currency": "USD",
        },
        timestamp=_midnight_utc(transaction.date),
        message_id=f"cdnow-order-{transaction.line_no}",
    )


def cdnow_events(transactions: Iterable[Transaction]) -> Iterator[IdentifyEvent | TrackEvent]:
    """One identify per customer (before its first order), then one track per transaction.

    Message ids are derived from the data, so sending the log twice only yields duplicates.
    """
    first_purchase: dict[str, date] = {}
    ordered = list(transactions)
    for t in ordered:
        seen = first_purchase.get(t.customer_id)
        if seen is None or t.date < seen:
            first_purchase[t.customer_id] = t.date
    identified: set[str] = set()
    for t in ordered:
        if t.customer_id not in identified:
            identified.add(t.customer_id)
            yield identify_event(t.customer_id, first_purchase[t.customer_id])
        yield order_event(t)


def customer_count(transactions: Iterable[Transaction]) -> int:
    return len({t.customer_id for t in transactions})
