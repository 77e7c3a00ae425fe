"""Computed traits of a profile, glued to the events feed and the store: which events are
orders, how order statistics are stored, and the computed traits shown on a profile.

Orders follow the e-commerce event spec clients already send: a track event named
"Order Completed" whose properties carry `order_id` (the message id when absent), `revenue`
(or `total`) and optionally `products` with `category`, `product_id` and `quantity`. An order
that cannot be read (negative or missing revenue, a non-numeric amount) still counts as an
event but not as an order; the skip is logged with the event's message id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

import orjson

from precis_common.errors import InvalidArgument
from precis_profile.lifestage import DEFAULT_CONFIG, LifeStageConfig, life_stage
from precis_profile.rfm import (
    CategoryTally,
    LineItem,
    Order,
    OrderStats,
    QuintileBreaks,
    apply_order,
    order_traits,
    score_profile,
)

log = logging.getLogger(__name__)

ORDER_EVENT = "Order Completed"
MAX_ITEMS = 500


def order_of(
    event_name: str, properties_json: bytes, message_id: str, at: datetime
) -> Order | None:
    """The order an event records, or None when it is not an order or cannot be read."""
    if event_name != ORDER_EVENT:
        return None
    try:
        props = orjson.loads(properties_json) if properties_json else {}
        raw = props.get("revenue", props.get("total"))
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise InvalidArgument.field("properties.revenue", "must be a number")
        revenue = Decimal(str(raw))
        items = tuple(
            LineItem(
                category=_text(p.get("category")),
                product_id=_text(p.get("product_id")),
                quantity=int(p.get("quantity") or 1),
            )
            for p in (props.get("products") or [])[:MAX_ITEMS]
            if isinstance(p, dict)
        )
        order_id = _text(props.get("order_id")) or message_id
        return Order(order_id=order_id, placed_at=at, revenue=revenue, items=items)
    except (InvalidArgument, InvalidOperation, ValueError, TypeError, AttributeError) as exc:
        log.warning(
            "event %s is not a readable order (%s); counted as an event only", message_id, exc
        )
        return None


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def fold_orders(stats: OrderStats, orders: Iterable[Order]) -> OrderStats:
    """Apply orders one by one; an order id seen before with other content keeps the first."""
    for order in orders:
        try:
            stats = apply_order(stats, order)
        except InvalidArgument as exc:
            log.warning("order %s skipped: %s", order.order_id, exc.message)
    return stats


def stats_to_json(stats: OrderStats) -> dict[str, Any]:
    return {
        "order_count": stats.order_count,
        "revenue": str(stats.revenue),
        "first_order_at": stats.first_order_at.isoformat() if stats.first_order_at else None,
        "last_order_at": stats.last_order_at.isoformat() if stats.last_order_at else None,
        "categories": {
            name: [tally.lines, tally.last_ordered_at.isoformat()]
            for name, tally in stats.categories.items()
        },
        "orders": dict(stats.order_fingerprints),
    }


def stats_from_json(doc: Mapping[str, Any] | None) -> OrderStats:
    if not doc:
        return OrderStats()
    return OrderStats(
        order_count=int(doc["order_count"]),
        revenue=Decimal(doc["revenue"]),
        first_order_at=_time(doc.get("first_order_at")),
        last_order_at=_time(doc.get("last_order_at")),
        categories=MappingProxyType(
            {
                name: CategoryTally(int(lines), datetime.fromisoformat(at))
                for name, (lines, at) in doc.get("categories", {}).items()
            }
        ),
        order_fingerprints=MappingProxyType(dict(doc.get("orders", {}))),
    )


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def breaks_to_json(breaks: QuintileBreaks) -> dict[str, Any]:
    return {
        "as_of": breaks.as_of.isoformat(),
        "population": breaks.population,
        "recency_days": list(breaks.recency_days),
        "frequency": list(breaks.frequency),
        "monetary": [None if m is None else str(m) for m in breaks.monetary],
    }


def breaks_from_json(doc: Mapping[str, Any] | None) -> QuintileBreaks | None:
    if not doc:
        return None
    r2, r3, r4, r5 = doc["recency_days"]
    f2, f3, f4, f5 = doc["frequency"]
    m2, m3, m4, m5 = (None if m is None else Decimal(m) for m in doc["monetary"])
    return QuintileBreaks(
        as_of=datetime.fromisoformat(doc["as_of"]),
        population=int(doc["population"]),
        recency_days=(r2, r3, r4, r5),
        frequency=(f2, f3, f4, f5),
        monetary=(m2, m3, m4, m5),
    )


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value, 2))


def computed_traits(
    *,
    stats: OrderStats,
    traits: Mapping[str, Any],
    event_count: int,
    first_seen: datetime | None,
    last_seen: datetime | None,
    breaks: QuintileBreaks | None,
    as_of: datetime,
    clv: Mapping[str, Any] | None = None,
    life: LifeStageConfig = DEFAULT_CONFIG,
) -> dict[str, Any]:
    """The computed traits shown on a profile, as of `as_of` (day counts and recency move with
    time; the stored statistics do not)."""
    orders = order_traits(stats, as_of)
    out: dict[str, Any] = {
        "event_count": event_count,
        "first_seen": first_seen.isoformat() if first_seen else None,
        "last_seen": last_seen.isoformat() if last_seen else None,
        "order_count": orders.order_count,
        "revenue": _money(orders.revenue),
        "average_order_value": _money(orders.average_order_value),
        "first_order_at": orders.first_order_at.isoformat() if orders.first_order_at else None,
        "last_order_at": orders.last_order_at.isoformat() if orders.last_order_at else None,
        "days_since_last_order": orders.days_since_last_order,
        "favourite_category": orders.favourite_category,
        "rfm": None,
        "life_stage": None,
    }
    if breaks is not None:
        scores = score_profile(stats, breaks, as_of)
        if scores is not None:
            out["rfm"] = {
                "recency": scores.recency,
                "frequency": scores.frequency,
                "monetary": scores.monetary,
                "code": scores.code,
                "cell": scores.cell.value,
                "scored_against": breaks.as_of.isoformat(),
            }
    out["life_stage"] = _life_stage(traits, as_of.date(), life)
    if clv:
        out["predicted_clv"] = dict(clv)
    return out


def _life_stage(traits: Mapping[str, Any], today: date, config: LifeStageConfig) -> str | None:
    """The stage from the traits the workspace's configuration names (a mother-and-baby brand
    sends a due date or children's birth dates); None when there are no such dates."""
    due = _date(traits.get(config.due_date_trait))
    births: list[date] = []
    for name in config.birth_date_traits:
        value = traits.get(name)
        values = value if isinstance(value, list) else [value]
        births.extend(d for d in (_date(v) for v in values) if d is not None)
    if due is None and not births:
        return None
    try:
        return life_stage(due_date=due, birth_dates=births, as_of=today, rule=config.rule).stage
    except InvalidArgument:
        return None  # an implausible date is shown as no stage rather than failing the read


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def now() -> datetime:
    return datetime.now(UTC)
