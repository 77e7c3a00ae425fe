"""Order-derived computed traits and RFM scoring for the unified profile, as pure functions.

The profile service keeps one :class:`OrderStats` per profile, folds each order event into it with
:func:`apply_order` and can rebuild it from a profile's own orders with :func:`recompute` (after an
unmerge, or to audit); both give the same value for the same set of orders, whatever order they
arrived in. RFM scores compare a profile with its workspace: :func:`compute_breaks` turns the
distribution of every profile with orders into :class:`QuintileBreaks` on a schedule, and
:meth:`QuintileBreaks.score` then scores any single profile cheaply between refreshes.
"""

from __future__ import annotations

import enum
import hashlib
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import TypeVar

from precis_common.errors import InvalidArgument, Violation

SCORE_LEVELS = 5
"""Quintiles: scores run from 1 (worst) to 5 (best)."""


# ---- orders -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineItem:
    """One product line of an order; only what the computed traits need.

    ``category`` is the catalogue's category of the product (``None`` when the event had none).
    """

    category: str | None
    product_id: str | None = None
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class Order:
    """A completed order as the profile service sees it in the events feed.

    ``placed_at`` must carry a time zone (it is stored in UTC so that equal instants compare and
    fingerprint equal); ``revenue`` is a non-negative :class:`~decimal.Decimal`, because money
    summed as floats would depend on the order of addition and break order independence.
    """

    order_id: str
    placed_at: datetime
    revenue: Decimal
    items: tuple[LineItem, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.order_id, str) or not self.order_id:
            raise InvalidArgument.field("order_id", "must be a non-empty string")
        if not isinstance(self.placed_at, datetime) or self.placed_at.utcoffset() is None:
            raise InvalidArgument.field("placed_at", "must be a datetime with a time zone")
        if not isinstance(self.revenue, Decimal) or not self.revenue.is_finite():
            raise InvalidArgument.field("revenue", "must be a finite Decimal")
        if self.revenue < 0:
            raise InvalidArgument.field(
                "revenue", f"must not be negative (got {self.revenue}); refunds are not orders"
            )
        for index, item in enumerate(self.items):
            if item.category is not None and not item.category:
                raise InvalidArgument.field(
                    f"items[{index}].category", "must be a non-empty string or absent"
                )
            if item.quantity < 1:
                raise InvalidArgument.field(
                    f"items[{index}].quantity", f"must be at least 1 (got {item.quantity})"
                )
        object.__setattr__(self, "placed_at", self.placed_at.astimezone(UTC))
        object.__setattr__(self, "items", tuple(self.items))

    def fingerprint(self) -> str:
        """A digest of the order's content, to tell a redelivery from a conflicting order."""
        items = sorted(
            (item.category or "", item.product_id or "", item.quantity) for item in self.items
        )
        canonical = repr(
            (self.order_id, self.placed_at.isoformat(), str(self.revenue.normalize()), items)
        )
        return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


class ConflictingOrder(InvalidArgument):
    """An order id arrived again with different content.

    Neither version can win without knowing which one is true (keeping the first would make the
    result depend on arrival order), so the caller records the conflict instead of guessing.
    """


# ---- per-profile statistics ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CategoryTally:
    """How many order lines of a category a profile bought, and when it last did."""

    lines: int
    last_ordered_at: datetime


@dataclass(frozen=True, slots=True)
class OrderStats:
    """Everything the order traits of one profile are derived from.

    Every field is a commutative, idempotent-per-order aggregate (sums, minimum, maximum, counts
    keyed by category), which is what makes :func:`apply_order` independent of arrival order.
    ``order_fingerprints`` holds one 32-character digest per order id so that a redelivered order
    is not counted twice; it grows with the number of orders, which per profile is small.
    """

    order_count: int = 0
    revenue: Decimal = Decimal(0)
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    categories: Mapping[str, CategoryTally] = field(default_factory=lambda: MappingProxyType({}))
    order_fingerprints: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


class _Accumulator:
    """The mutable twin of OrderStats, so that recompute is one pass rather than n copies."""

    def __init__(self, stats: OrderStats) -> None:
        self.order_count = stats.order_count
        self.revenue = stats.revenue
        self.first_order_at = stats.first_order_at
        self.last_order_at = stats.last_order_at
        self.categories = dict(stats.categories)
        self.fingerprints = dict(stats.order_fingerprints)

    def add(self, order: Order) -> None:
        fingerprint = order.fingerprint()
        known = self.fingerprints.get(order.order_id)
        if known == fingerprint:
            return  # redelivery of an order already counted
        if known is not None:
            reason = f"order {order.order_id!r} was already recorded with different content"
            raise ConflictingOrder(f"order_id: {reason}", [Violation("order_id", reason)])
        self.fingerprints[order.order_id] = fingerprint
        self.order_count += 1
        self.revenue += order.revenue
        at = order.placed_at
        self.first_order_at = at if self.first_order_at is None else min(self.first_order_at, at)
        self.last_order_at = at if self.last_order_at is None else max(self.last_order_at, at)
        for item in order.items:
            if item.category is None:
                continue
            tally = self.categories.get(item.category)
            if tally is None:
                self.categories[item.category] = CategoryTally(1, at)
            else:
                self.categories[item.category] = CategoryTally(
                    tally.lines + 1, max(tally.last_ordered_at, at)
                )

    def freeze(self) -> OrderStats:
        return OrderStats(
            order_count=self.order_count,
            revenue=self.revenue,
            first_order_at=self.first_order_at,
            last_order_at=self.last_order_at,
            categories=MappingProxyType(self.categories),
            order_fingerprints=MappingProxyType(self.fingerprints),
        )


def apply_order(stats: OrderStats, order: Order) -> OrderStats:
    """The stats with one more order; the same order id with the same content is a no-op.

    Raises :class:`ConflictingOrder` when the id was counted before with different content.
    """
    accumulator = _Accumulator(stats)
    accumulator.add(order)
    return accumulator.freeze()


def recompute(orders: Iterable[Order]) -> OrderStats:
    """The stats of a profile from all its orders; equal to folding :func:`apply_order`."""
    accumulator = _Accumulator(OrderStats())
    for order in orders:
        accumulator.add(order)
    return accumulator.freeze()


# ---- computed traits ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderTraits:
    """The order-derived computed traits shown on a profile (``None`` when there are no orders)."""

    order_count: int
    revenue: Decimal
    average_order_value: Decimal | None
    first_order_at: datetime | None
    last_order_at: datetime | None
    days_since_last_order: int | None
    favourite_category: str | None


def days_between(earlier: datetime, later: datetime) -> int:
    """Whole days elapsed, never negative.

    An order stamped after ``later`` (clock skew on the sender) counts as zero days old rather
    than as a negative recency that no rule or score expects.
    """
    return max(0, (later - earlier).days)


def favourite_category(stats: OrderStats) -> str | None:
    """The category bought on the most order lines.

    Lines, not units: one bulk pack of 12 is one purchase decision, so quantity does not count.
    Ties go to the category bought most recently (current interest), then to the
    alphabetically first name so that the answer is deterministic.
    """
    best: tuple[int, datetime] | None = None
    chosen: str | None = None
    for name in sorted(stats.categories):
        tally = stats.categories[name]
        key = (tally.lines, tally.last_ordered_at)
        if best is None or key > best:
            best, chosen = key, name
    return chosen


def order_traits(stats: OrderStats, as_of: datetime) -> OrderTraits:
    """The computed traits of a profile as of a moment (``as_of`` only moves the day count).

    The average order value is exact (Decimal division at 28 significant digits); rounding to
    a currency's minor unit is left to presentation.
    """
    _require_aware(as_of, "as_of")
    return OrderTraits(
        order_count=stats.order_count,
        revenue=stats.revenue,
        average_order_value=stats.revenue / stats.order_count if stats.order_count else None,
        first_order_at=stats.first_order_at,
        last_order_at=stats.last_order_at,
        days_since_last_order=(
            None if stats.last_order_at is None else days_between(stats.last_order_at, as_of)
        ),
        favourite_category=favourite_category(stats),
    )


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidArgument.field(name, "must be a datetime with a time zone")


# ---- RFM ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RfmValues:
    """Raw RFM measures of one profile as of a moment.

    ``monetary`` is total revenue, not the average order value: RFM ranks customers by what
    they are worth to the brand, and F and M are read together in the segment map, so a
    one-off big basket should not outrank a regular. The average order value stays available
    as its own trait (and is what the Gamma-Gamma spend model uses).
    """

    recency_days: int
    frequency: int
    monetary: Decimal


def rfm_values(stats: OrderStats, as_of: datetime) -> RfmValues | None:
    """The profile's RFM measures, or ``None`` for a profile without orders (it is not scored)."""
    _require_aware(as_of, "as_of")
    if stats.last_order_at is None:
        return None
    return RfmValues(
        recency_days=days_between(stats.last_order_at, as_of),
        frequency=stats.order_count,
        monetary=stats.revenue,
    )


class RfmCell(enum.StrEnum):
    """Named cells of the R-vs-FM segment map (values are stable identifiers for rules)."""

    CHAMPIONS = "champions"
    LOYAL = "loyal"
    POTENTIAL_LOYALIST = "potential_loyalist"
    NEW = "new"
    PROMISING = "promising"
    NEED_ATTENTION = "need_attention"
    ABOUT_TO_SLEEP = "about_to_sleep"
    AT_RISK = "at_risk"
    CANT_LOSE = "cant_lose"
    HIBERNATING = "hibernating"
    LOST = "lost"


_C = RfmCell
# Row = R score, column = FM score 1..5. Kept as a literal grid so that it reads like the table
# in rfm_cell's docstring, which is the documentation users see.
_SEGMENT_GRID: Mapping[int, tuple[RfmCell, RfmCell, RfmCell, RfmCell, RfmCell]] = {
    5: (_C.NEW, _C.POTENTIAL_LOYALIST, _C.POTENTIAL_LOYALIST, _C.CHAMPIONS, _C.CHAMPIONS),
    4: (_C.PROMISING, _C.POTENTIAL_LOYALIST, _C.POTENTIAL_LOYALIST, _C.LOYAL, _C.LOYAL),
    3: (_C.ABOUT_TO_SLEEP, _C.ABOUT_TO_SLEEP, _C.NEED_ATTENTION, _C.LOYAL, _C.LOYAL),
    2: (_C.HIBERNATING, _C.HIBERNATING, _C.AT_RISK, _C.AT_RISK, _C.CANT_LOSE),
    1: (_C.LOST, _C.LOST, _C.AT_RISK, _C.AT_RISK, _C.CANT_LOSE),
}


def _check_score(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= SCORE_LEVELS:
        raise InvalidArgument.field(name, f"must be an integer score from 1 to 5 (got {value!r})")


def fm_score(frequency: int, monetary: int) -> int:
    """F and M read as one axis: the mean of the two scores, rounded down.

    Rounding down means a profile only reaches an FM band when F and M together earn it; a
    single large order (F=1, M=5) lands in the middle (3), not at the top.
    """
    _check_score(frequency, "frequency")
    _check_score(monetary, "monetary")
    return (frequency + monetary) // 2


def rfm_cell(recency: int, frequency: int, monetary: int) -> RfmCell:
    """The named cell of a profile's (R, F, M) scores, on the widely used R-vs-FM segment map.

    The map is the 5x5 grid of R score against FM score (:func:`fm_score`) that most RFM guides
    draw (Putler's segment table, resolved into a partition), with Putler's "lost" taken out of
    "hibernating" as its least recent row. Every one of the 125 (R, F, M) combinations falls in
    exactly one cell:

    ==================  ========  =========
    cell                R         FM
    ==================  ========  =========
    champions           5         4-5
    loyal               3-4       4-5
    potential_loyalist  4-5       2-3
    new                 5         1
    promising           4         1
    need_attention      3         3
    about_to_sleep      3         1-2
    at_risk             1-2       3-4
    cant_lose           1-2       5
    hibernating         2         1-2
    lost                1         1-2
    ==================  ========  =========
    """
    _check_score(recency, "recency")
    return _SEGMENT_GRID[recency][fm_score(frequency, monetary) - 1]


@dataclass(frozen=True, slots=True)
class RfmScores:
    """A profile's 1-5 quintile scores; 5 is best on every axis (most recent, most, highest)."""

    recency: int
    frequency: int
    monetary: int

    def __post_init__(self) -> None:
        _check_score(self.recency, "recency")
        _check_score(self.frequency, "frequency")
        _check_score(self.monetary, "monetary")

    @property
    def fm(self) -> int:
        return fm_score(self.frequency, self.monetary)

    @property
    def cell(self) -> RfmCell:
        return rfm_cell(self.recency, self.frequency, self.monetary)

    @property
    def code(self) -> str:
        """The conventional three-digit RFM code, e.g. ``"545"``."""
        return f"{self.recency}{self.frequency}{self.monetary}"


_K = TypeVar("_K", int, Decimal)


def _rank_thresholds(values: Sequence[_K]) -> tuple[_K | None, _K | None, _K | None, _K | None]:
    """Lowest value that reaches each score 2..5 (higher value = better), ``None`` if none does.

    Score of a value v among n values = 1 + floor(5 * (number of values strictly below v) / n):
    rank-based quintiles where a group of ties takes the rank of its first member, so ties
    never split and a group straddling a quintile boundary falls into the lower bucket.
    """
    ordered = sorted(values)
    n = len(ordered)
    thresholds: list[_K | None] = [None] * (SCORE_LEVELS - 1)
    below = 0
    while below < n:
        value = ordered[below]
        score = 1 + SCORE_LEVELS * below // n
        for reached in range(2, score + 1):
            if thresholds[reached - 2] is None:
                thresholds[reached - 2] = value
        below = bisect_right(ordered, value, lo=below)
    return thresholds[0], thresholds[1], thresholds[2], thresholds[3]


def _validate_thresholds(
    thresholds: Sequence[int | Decimal | None], name: str, *, ascending: bool
) -> None:
    if len(thresholds) != SCORE_LEVELS - 1:
        raise InvalidArgument.field(name, f"must hold 4 thresholds (got {len(thresholds)})")
    previous: int | Decimal | None = None
    for index, value in enumerate(thresholds):
        if value is None:
            if any(later is not None for later in thresholds[index:]):
                raise InvalidArgument.field(
                    f"{name}[{index}]", "an unreachable score must not precede a reachable one"
                )
            return
        if previous is not None and (value < previous if ascending else value > previous):
            order = "ascending" if ascending else "descending"
            raise InvalidArgument.field(f"{name}[{index}]", f"thresholds must be {order}")
        previous = value


@dataclass(frozen=True, slots=True)
class QuintileBreaks:
    """A workspace's RFM score boundaries, computed on a schedule by :func:`compute_breaks`.

    Each tuple holds the boundaries of scores 2, 3, 4 and 5; ``None`` marks a score no profile
    reached (ties can leave a score empty, for example when most customers ordered once).
    Recency boundaries are in days and are upper bounds (fewer days = more recent = higher
    score); frequency and monetary boundaries are lower bounds. Scoring a profile is four
    comparisons per axis, so the profile service can rescore on every order between refreshes.
    A value between two boundaries of the population scores like the population value below it.
    """

    as_of: datetime
    population: int
    recency_days: tuple[int | None, int | None, int | None, int | None]
    frequency: tuple[int | None, int | None, int | None, int | None]
    monetary: tuple[Decimal | None, Decimal | None, Decimal | None, Decimal | None]

    def __post_init__(self) -> None:
        _require_aware(self.as_of, "as_of")
        if self.population < 0:
            raise InvalidArgument.field("population", "must not be negative")
        _validate_thresholds(self.recency_days, "recency_days", ascending=False)
        _validate_thresholds(self.frequency, "frequency", ascending=True)
        _validate_thresholds(self.monetary, "monetary", ascending=True)

    def recency_score(self, recency_days: int) -> int:
        return 1 + sum(1 for t in self.recency_days if t is not None and recency_days <= t)

    def frequency_score(self, frequency: int) -> int:
        return 1 + sum(1 for t in self.frequency if t is not None and frequency >= t)

    def monetary_score(self, monetary: Decimal) -> int:
        return 1 + sum(1 for t in self.monetary if t is not None and monetary >= t)

    def score(self, values: RfmValues) -> RfmScores:
        """Scores of one profile's measures against this workspace distribution."""
        return RfmScores(
            recency=self.recency_score(values.recency_days),
            frequency=self.frequency_score(values.frequency),
            monetary=self.monetary_score(values.monetary),
        )


def compute_breaks(values: Iterable[RfmValues], *, as_of: datetime) -> QuintileBreaks:
    """The workspace's quintile boundaries from the RFM measures of every profile with orders.

    ``values`` must all be measured as of ``as_of`` (recency is relative to it). Method: see
    :func:`_rank_thresholds`; each score holds about 20% of profiles wherever ties allow. With
    fewer than five profiles the quintiles are degenerate (a lone profile scores 1, 1, 1).
    """
    _require_aware(as_of, "as_of")
    measured = list(values)
    negated_recency = _rank_thresholds([-v.recency_days for v in measured])
    r2, r3, r4, r5 = (None if t is None else -t for t in negated_recency)
    return QuintileBreaks(
        as_of=as_of,
        population=len(measured),
        recency_days=(r2, r3, r4, r5),
        frequency=_rank_thresholds([v.frequency for v in measured]),
        monetary=_rank_thresholds([v.monetary for v in measured]),
    )


def score_profile(stats: OrderStats, breaks: QuintileBreaks, as_of: datetime) -> RfmScores | None:
    """A profile's RFM scores now, against the last computed workspace boundaries.

    Recency is measured at ``as_of`` (normally now, which may be after ``breaks.as_of``): a
    customer who stops buying loses R score as the days pass, even before the next refresh.
    """
    values = rfm_values(stats, as_of)
    return None if values is None else breaks.score(values)
