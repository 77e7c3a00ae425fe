"""Multi-touch attribution: how much of the conversions (and revenue) of customer journeys each
channel gets under rule-based models, a first-order Markov chain and Shapley values.

Rules shared by every model:

* Touches are put in time order (a stable sort: equal times keep the given order).
* A journey without touches says nothing about channels: it counts in the totals
  (``journeys``, ``conversions``, ``revenue``) but no model credits it. What the models share out
  is ``attributed_conversions`` / ``attributed_revenue``: the converted journeys with at least one
  touch. Every model's credits sum to those (up to floating error).
* A journey that did not convert gives no credit under the rule-based models and Shapley; the
  Markov chain uses it (its path ends in the null state), which is why it must be passed in.
* Every channel seen in any journey is reported, with 0 when it earned nothing; credits are
  sorted largest first, then by channel name.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from scipy import linalg  # type: ignore[import-untyped]  # scipy ships no type information

DEFAULT_HALF_LIFE = timedelta(days=7)
DEFAULT_FIRST_TOUCH_WEIGHT = 0.4
DEFAULT_LAST_TOUCH_WEIGHT = 0.4
# Up to this many channels Shapley values are computed exactly over every coalition.
SHAPLEY_EXACT_MAX_CHANNELS = 12
DEFAULT_SHAPLEY_PERMUTATIONS = 2000


class AttributionModel(enum.IntEnum):
    """Mirrors precis.measurement.v1.AttributionModel (same numbers)."""

    FIRST_TOUCH = 1
    LAST_TOUCH = 2
    LINEAR = 3
    TIME_DECAY = 4
    POSITION_BASED = 5
    MARKOV = 6
    SHAPLEY = 7


@dataclass(frozen=True, slots=True)
class Touchpoint:
    """One touch: the channel ("email", "paid_search", ...) and when it happened."""

    channel: str
    time: datetime


@dataclass(frozen=True, slots=True)
class Journey:
    """One subject's touches and whether they ended in a conversion. ``conversion_time`` is only
    read by time decay; when missing, the last touch's time stands in for it."""

    touchpoints: tuple[Touchpoint, ...]
    converted: bool
    revenue: float = 0.0
    conversion_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChannelCredit:
    """Credit of one channel under one model. ``removal_effect`` is 0 except under Markov."""

    channel: str
    conversions: float
    revenue: float
    share: float
    removal_effect: float = 0.0


@dataclass(frozen=True, slots=True)
class ModelAttribution:
    """The result of one model: credit per channel, largest first."""

    model: AttributionModel
    credits: tuple[ChannelCredit, ...]


@dataclass(frozen=True, slots=True)
class AttributionResult:
    """What ComputeAttributionResponse carries, plus what was attributable."""

    results: tuple[ModelAttribution, ...]
    journeys: int
    conversions: int
    revenue: float
    attributed_conversions: int
    attributed_revenue: float


@dataclass(frozen=True, slots=True)
class _Path:
    """A journey with touches, ready for the models: channels in time order."""

    channels: tuple[str, ...]
    ages: tuple[float, ...]  # seconds from each touch to the conversion (>= 0)
    converted: bool
    revenue: float


@dataclass(slots=True)
class _Credit:
    conversions: dict[str, float] = field(default_factory=dict)
    revenue: dict[str, float] = field(default_factory=dict)

    def add(self, channel: str, weight: float, revenue: float) -> None:
        self.conversions[channel] = self.conversions.get(channel, 0.0) + weight
        self.revenue[channel] = self.revenue.get(channel, 0.0) + weight * revenue


def _paths(journeys: Iterable[Journey]) -> list[_Path]:
    paths = []
    for journey in journeys:
        if not journey.touchpoints:
            continue
        touches = sorted(journey.touchpoints, key=lambda t: t.time)
        end = journey.conversion_time or touches[-1].time
        # A touch logged just after the conversion (clocks of two sources) counts as at the
        # conversion rather than weighing more than one that was.
        ages = tuple(max(0.0, (end - t.time).total_seconds()) for t in touches)
        paths.append(
            _Path(tuple(t.channel for t in touches), ages, journey.converted, journey.revenue)
        )
    return paths


# --- rule-based models ------------------------------------------------------------------------


def _rule_based(paths: Sequence[_Path], weights_of: _WeightRule) -> _Credit:
    credit = _Credit()
    for path in paths:
        if not path.converted:
            continue
        for channel, weight in zip(path.channels, weights_of(path), strict=True):
            credit.add(channel, weight, path.revenue)
    return credit


class _WeightRule:
    """Weights of a converted path's touches, summing to 1."""

    def __call__(self, path: _Path) -> list[float]:
        raise NotImplementedError


class _FirstTouch(_WeightRule):
    def __call__(self, path: _Path) -> list[float]:
        return [1.0] + [0.0] * (len(path.channels) - 1)


class _LastTouch(_WeightRule):
    def __call__(self, path: _Path) -> list[float]:
        return [0.0] * (len(path.channels) - 1) + [1.0]


class _Linear(_WeightRule):
    """Equal credit per touch: a channel touched twice gets two shares."""

    def __call__(self, path: _Path) -> list[float]:
        k = len(path.channels)
        return [1.0 / k] * k


class _TimeDecay(_WeightRule):
    """Weight 2^(-age / half_life), normalized over the journey's touches."""

    def __init__(self, half_life: timedelta) -> None:
        self._half_life = half_life.total_seconds()

    def __call__(self, path: _Path) -> list[float]:
        # Shift by the youngest age so the largest weight is 1: no underflow to an all-zero row
        # for journeys whose touches are all many half-lives old.
        youngest = min(path.ages)
        raw = [2.0 ** (-(age - youngest) / self._half_life) for age in path.ages]
        total = sum(raw)
        return [w / total for w in raw]


class _PositionBased(_WeightRule):
    """``first`` to the first touch, ``last`` to the last, the rest split equally among the
    touches between. One touch takes everything; two touches split in the ratio
    first : last (equally when both weights are 0)."""

    def __init__(self, first: float, last: float) -> None:
        self._first, self._last = first, last

    def __call__(self, path: _Path) -> list[float]:
        k = len(path.channels)
        if k == 1:
            return [1.0]
        if k == 2:
            ends = self._first + self._last
            if ends == 0.0:
                return [0.5, 0.5]
            return [self._first / ends, self._last / ends]
        middle = (1.0 - self._first - self._last) / (k - 2)
        return [self._first] + [middle] * (k - 2) + [self._last]


# --- Markov chain -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MarkovChain:
    """First-order transition probabilities between start, the channels, conversion and null,
    counted from every path (converting or not)."""

    channels: tuple[str, ...]
    # Rows and columns: start, the channels in order, conversion, null.
    transitions: np.ndarray

    @property
    def start(self) -> int:
        return 0

    @property
    def conversion(self) -> int:
        return len(self.channels) + 1

    @property
    def null(self) -> int:
        return len(self.channels) + 2

    def conversion_probability(self, without: str | None = None) -> float:
        """Probability of being absorbed in conversion from start, solved exactly:
        with Q the transitions among transient states (start and channels) and r the column into
        conversion, x = (I - Q)^-1 r and the answer is x[start]. ``without`` removes a channel:
        every path through it ends in null (its row is emptied, so it absorbs into nothing)."""
        transient = len(self.channels) + 1
        q = self.transitions[:transient, :transient].copy()
        r = self.transitions[:transient, self.conversion].copy()
        if without is not None:
            index = 1 + self.channels.index(without)
            q[index, :] = 0.0
            r[index] = 0.0
        x = linalg.solve(np.eye(transient) - q, r)
        return float(x[self.start])


def markov_chain(journeys: Iterable[Journey]) -> MarkovChain:
    """The chain of the journeys' paths: start -> touches -> conversion or null. Repeated touches
    of one channel are self-loops; they do not change any absorption probability."""
    paths = _paths(journeys)
    channels = tuple(sorted({c for p in paths for c in p.channels}))
    index = {c: i + 1 for i, c in enumerate(channels)}
    size = len(channels) + 3
    counts = np.zeros((size, size))
    for path in paths:
        states = [0] + [index[c] for c in path.channels]
        states.append(size - 2 if path.converted else size - 1)
        for a, b in itertools.pairwise(states):
            counts[a, b] += 1.0
    totals = counts.sum(axis=1, keepdims=True)
    transitions = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    return MarkovChain(channels, transitions)


def removal_effects(journeys: Iterable[Journey]) -> dict[str, float]:
    """1 - P(conversion without the channel) / P(conversion), per channel; all 0 when nothing
    converts."""
    chain = markov_chain(journeys)
    base = chain.conversion_probability()
    if base <= 0.0:
        return dict.fromkeys(chain.channels, 0.0)
    # Clamped at 0: removing a channel can only lose paths, so a negative value is rounding.
    return {
        c: max(0.0, 1.0 - chain.conversion_probability(without=c) / base) for c in chain.channels
    }


def _markov(paths: Sequence[_Path], effects: Mapping[str, float]) -> _Credit:
    credit = _Credit()
    conversions = sum(1 for p in paths if p.converted)
    revenue = sum(p.revenue for p in paths if p.converted)
    total = sum(effects.values())
    if total <= 0.0:
        return credit
    for channel, effect in effects.items():
        credit.conversions[channel] = conversions * effect / total
        credit.revenue[channel] = revenue * effect / total
    return credit


# --- Shapley values ---------------------------------------------------------------------------


def _shapley(paths: Sequence[_Path], *, permutations: int, seed: int) -> _Credit:
    """Shapley values of the game v(S) = conversions (or revenue) of the converted journeys whose
    set of channels is a subset of S (Zhao, Mahboobi and Bagheri 2018, "Shapley value methods for
    attribution modeling in online advertising", arXiv:1804.05327, following Dalessandro et al.
    2012 with conversions counted instead of rates). v(all channels) is every attributed
    conversion, so the values sum to it (efficiency).

    Exact over all coalitions up to SHAPLEY_EXACT_MAX_CHANNELS channels; beyond, the average of
    the marginal contributions over ``permutations`` orders drawn with ``seed``. In one order a
    journey's conversion is the marginal contribution of the last of its channels to arrive, so
    each order shares out exactly v(all channels) and the estimate keeps efficiency.
    (For this game the exact value is also each journey's conversion split equally among its
    distinct channels; the tests use that as an oracle.)"""
    channels = sorted({c for p in paths for c in p.channels if p.converted})
    credit = _Credit()
    if not channels:
        return credit
    bit = {c: 1 << i for i, c in enumerate(channels)}
    conversions_of: defaultdict[int, float] = defaultdict(float)
    revenue_of: defaultdict[int, float] = defaultdict(float)
    for p in paths:
        if p.converted:
            mask = 0
            for c in p.channels:
                mask |= bit[c]
            conversions_of[mask] += 1
            revenue_of[mask] += p.revenue
    n = len(channels)
    if n <= SHAPLEY_EXACT_MAX_CHANNELS:
        conv, rev = _exact_shapley(n, conversions_of), _exact_shapley(n, revenue_of)
    else:
        conv, rev = _sampled_shapley(n, conversions_of, revenue_of, permutations, seed)
    for i, c in enumerate(channels):
        credit.conversions[c] = float(conv[i])
        credit.revenue[c] = float(rev[i])
    return credit


def _exact_shapley(n: int, worth_of_set: Mapping[int, float]) -> np.ndarray:
    """phi_j = sum over S not holding j of |S|! (n - |S| - 1)! / n! (v(S + j) - v(S))."""
    size = 1 << n
    # v(S) = sum of the worths of the subsets of S: the zeta transform over subsets.
    v = np.zeros(size)
    for mask, worth in worth_of_set.items():
        v[mask] += worth
    for i in range(n):
        step = 1 << i
        for mask in range(size):
            if mask & step:
                v[mask] += v[mask ^ step]
    popcount = np.array([bin(m).count("1") for m in range(size)])
    weight_by_size = np.array(
        [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)]
    )
    masks = np.arange(size)
    phi = np.zeros(n)
    for j in range(n):
        without = masks[(masks >> j) & 1 == 0]
        phi[j] = float(
            np.sum(weight_by_size[popcount[without]] * (v[without | (1 << j)] - v[without]))
        )
    return phi


def _sampled_shapley(
    n: int,
    conversions_of: Mapping[int, float],
    revenue_of: Mapping[int, float],
    permutations: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sets = list(conversions_of)
    members = [[i for i in range(n) if mask >> i & 1] for mask in sets]
    conv, rev = np.zeros(n), np.zeros(n)
    for _ in range(permutations):
        position = np.empty(n, dtype=np.int64)
        position[rng.permutation(n)] = np.arange(n)
        for mask, member in zip(sets, members, strict=True):
            last = max(member, key=lambda i: position[i])
            conv[last] += conversions_of[mask]
            rev[last] += revenue_of[mask]
    return conv / permutations, rev / permutations


# --- the entry point --------------------------------------------------------------------------


def compute_attribution(
    journeys: Sequence[Journey],
    *,
    models: Sequence[AttributionModel] = (),
    half_life: timedelta = DEFAULT_HALF_LIFE,
    first_touch_weight: float = DEFAULT_FIRST_TOUCH_WEIGHT,
    last_touch_weight: float = DEFAULT_LAST_TOUCH_WEIGHT,
    shapley_permutations: int = DEFAULT_SHAPLEY_PERMUTATIONS,
    seed: int = 0,
) -> AttributionResult:
    """Credits per channel under each of ``models`` (every model when empty), in the order asked.

    Raises ValueError for a non-positive half-life, weights outside 0..1 or summing above 1, a
    non-positive number of permutations, or a negative or non-finite revenue."""
    if half_life <= timedelta(0):
        raise ValueError(f"half_life must be positive, got {half_life}")
    if not (0.0 <= first_touch_weight <= 1.0 and 0.0 <= last_touch_weight <= 1.0):
        raise ValueError("first_touch_weight and last_touch_weight must be in 0..1")
    if first_touch_weight + last_touch_weight > 1.0 + 1e-12:
        raise ValueError("first_touch_weight + last_touch_weight must not exceed 1")
    if shapley_permutations < 1:
        raise ValueError("shapley_permutations must be positive")
    if any(not math.isfinite(j.revenue) or j.revenue < 0.0 for j in journeys):
        raise ValueError("revenue must be finite and non-negative")
    paths = _paths(journeys)
    channels = sorted({c for p in paths for c in p.channels})
    attributed = [p for p in paths if p.converted]
    results = []
    for model in models or tuple(AttributionModel):
        effects: dict[str, float] = {}
        if model is AttributionModel.FIRST_TOUCH:
            credit = _rule_based(paths, _FirstTouch())
        elif model is AttributionModel.LAST_TOUCH:
            credit = _rule_based(paths, _LastTouch())
        elif model is AttributionModel.LINEAR:
            credit = _rule_based(paths, _Linear())
        elif model is AttributionModel.TIME_DECAY:
            credit = _rule_based(paths, _TimeDecay(half_life))
        elif model is AttributionModel.POSITION_BASED:
            credit = _rule_based(paths, _PositionBased(first_touch_weight, last_touch_weight))
        elif model is AttributionModel.MARKOV:
            effects = removal_effects(journeys)
            credit = _markov(paths, effects)
        else:
            credit = _shapley(paths, permutations=shapley_permutations, seed=seed)
        results.append(ModelAttribution(model, _credits(channels, credit, effects)))
    return AttributionResult(
        results=tuple(results),
        journeys=len(journeys),
        conversions=sum(1 for j in journeys if j.converted),
        revenue=sum(j.revenue for j in journeys if j.converted),
        attributed_conversions=len(attributed),
        attributed_revenue=sum(p.revenue for p in attributed),
    )


def _credits(
    channels: Sequence[str], credit: _Credit, effects: Mapping[str, float]
) -> tuple[ChannelCredit, ...]:
    total = sum(credit.conversions.values())
    rows = [
        ChannelCredit(
            channel=c,
            conversions=credit.conversions.get(c, 0.0),
            revenue=credit.revenue.get(c, 0.0),
            share=credit.conversions.get(c, 0.0) / total if total > 0.0 else 0.0,
            removal_effect=effects.get(c, 0.0),
        )
        for c in channels
    ]
    return tuple(sorted(rows, key=lambda r: (-r.conversions, r.channel)))
