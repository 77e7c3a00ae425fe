"""Predicted customer lifetime value: BG/NBD for how often a customer will buy, Gamma-Gamma for
how much, both fitted by maximum likelihood on the workspace's own purchase history.

Pure and typed (numpy + scipy, no I/O), so the computed trait ``predicted_clv`` is testable and
reproducible on its own. The models and their conventions follow the papers exactly, because the
published CDNOW estimates are how we know the code is right:

- Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the
  Pareto/NBD Model", Marketing Science 24(2) -- the BG/NBD model (eqs. 6, 9, 10 and the
  P(alive) expression of Fader, Hardie & Lee's note "Computing P(alive) using the BG/NBD model").
- Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis",
  J. Marketing Research 42(4), and Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary
  Value" -- the spend model.

Summary conventions (those of the papers and of ``lifetimes.utils.summary_data_from_transaction_
data`` with ``freq="D"``; for weeks, ``freq="D", freq_multiplier=7``):

- purchases are collapsed per calendar day: several orders on one day are one transaction whose
  value is their sum (one "repeat purchase period");
- frequency ``x`` = number of distinct purchase days after the first one, up to the observation
  end (purchases after it are ignored);
- recency ``t_x`` = time from the first to the last purchase day; age ``T`` = time from the first
  purchase day to the observation end day, both in days, or in days / 7 for weeks. This is what
  gives the paper's ``t_x = 30.43, T = 38.86`` (213 and 272 days). Note that ``lifetimes`` with
  ``freq="W"`` instead buckets purchases into calendar weeks and counts whole weeks; that is not
  the paper's convention and is not offered here;
- mean repeat value = mean of the repeat days' values (the first purchase is excluded, as in the
  Gamma-Gamma note); 0.0 for customers without a repeat purchase, as in Hardie's CDNOW files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

# scipy ships no type information (no py.typed); these are the only untyped calls in the module.
from scipy import optimize, special  # type: ignore[import-untyped]

FloatArray = NDArray[np.float64]

MIN_CUSTOMERS: Final = 20
"""Fewer customers than this cannot pin down four (or three) parameters: we refuse to fit."""

_LOG_BOUND: Final = 12.0
"""Parameters are searched on log scale within exp(+-12) (about 6e-6 .. 1.6e5). A fit that ends
on this bound means the data do not identify the model (e.g. q -> infinity when every customer
spends the same), and we report non-convergence rather than return a meaningless number."""

_GRADIENT_TOLERANCE: Final = 1e-5
"""Largest gradient component (of the mean log-likelihood per customer, on log-parameters) we
accept as converged when the optimizer itself reports a line-search failure."""

DAYS_PER_MONTH: Final = 365.25 / 12
"""Calendar-average month, used to step the CLV horizon month by month for discounting."""


class ClvError(ValueError):
    """Base class: the CLV models cannot give an answer for these inputs."""


class InvalidInputError(ClvError):
    """Negative, NaN, infinite or inconsistent inputs (e.g. recency greater than age)."""


class InsufficientDataError(ClvError):
    """Too few customers, or no repeat buyers, to fit the model."""


class ConvergenceError(ClvError):
    """The optimizer did not converge, or a parameter ran off to zero or infinity."""


class TimeUnit(StrEnum):
    """The unit of recency, age and prediction horizons. The fitted rates are per this unit."""

    DAYS = "days"
    WEEKS = "weeks"

    @property
    def days(self) -> int:
        return 7 if self is TimeUnit.WEEKS else 1

    @property
    def periods_per_month(self) -> float:
        return DAYS_PER_MONTH / self.days


# --------------------------------------------------------------------------------------------
# Per-customer summary
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Purchase:
    """One order. ``at`` is a date, or a datetime already in the workspace's local time zone:
    only its calendar day counts. ``amount`` is the order's value (None if unknown)."""

    customer_id: str
    at: date
    amount: float | None = None


@dataclass(frozen=True, slots=True)
class RfmSummary:
    """The BG/NBD sufficient statistics per customer, sorted by customer id."""

    customer_ids: tuple[str, ...]
    frequency: NDArray[np.int64]
    recency: FloatArray
    age: FloatArray
    mean_repeat_value: FloatArray | None
    """None when the purchases carried no amounts."""
    time_unit: TimeUnit

    def __len__(self) -> int:
        return len(self.customer_ids)


def summarize_purchases(
    purchases: Iterable[Purchase], *, observation_end: date, time_unit: TimeUnit
) -> RfmSummary:
    """Frequency, recency, age and mean repeat value per customer (conventions: module docstring).

    Either every purchase carries an amount or none does; a mix would silently bias the mean.
    """
    ids: list[str] = []
    days: list[int] = []
    amounts: list[float] = []
    with_amount = 0
    for purchase in purchases:
        ids.append(purchase.customer_id)
        days.append(_calendar_day(purchase.at).toordinal())
        if purchase.amount is not None:
            with_amount += 1
            amounts.append(float(purchase.amount))
    if with_amount not in (0, len(ids)):
        raise InvalidInputError(
            f"{with_amount} of {len(ids)} purchases carry an amount: either all or none must"
        )
    return summarize_purchase_arrays(
        np.asarray(ids, dtype=np.str_),
        np.asarray(days, dtype=np.int64),
        np.asarray(amounts, dtype=np.float64) if with_amount else None,
        observation_end=observation_end,
        time_unit=time_unit,
    )


def summarize_purchase_arrays(
    customer_ids: NDArray[np.str_],
    day_ordinals: NDArray[np.int64],
    amounts: FloatArray | None,
    *,
    observation_end: date,
    time_unit: TimeUnit,
) -> RfmSummary:
    """The vectorized core of :func:`summarize_purchases`, for large batches.

    ``day_ordinals`` are ``date.toordinal()`` values (any integer day count works: only
    differences matter, and ``observation_end`` is converted the same way).
    """
    customer_ids = np.asarray(customer_ids)
    day_ordinals = np.asarray(day_ordinals, dtype=np.int64)
    if customer_ids.shape != day_ordinals.shape or customer_ids.ndim != 1:
        raise InvalidInputError("customer ids and days must be 1-D arrays of the same length")
    if amounts is not None:
        amounts = np.asarray(amounts, dtype=np.float64)
        if amounts.shape != day_ordinals.shape:
            raise InvalidInputError("amounts must have one value per purchase")
        bad = ~np.isfinite(amounts) | (amounts < 0)
        if bad.any():
            raise InvalidInputError(
                f"{int(bad.sum())} purchase amounts are negative, NaN or infinite "
                f"(first: {amounts[bad][0]!r}); net refunds out before summarizing"
            )
    end = _calendar_day(observation_end).toordinal()
    kept = day_ordinals <= end
    customer_ids, day_ordinals = customer_ids[kept], day_ordinals[kept]
    if amounts is not None:
        amounts = amounts[kept]

    unique_ids, customer = np.unique(customer_ids, return_inverse=True)
    order = np.lexsort((day_ordinals, customer))
    customer, day_ordinals = customer[order], day_ordinals[order]
    # One row per (customer, day): same-day orders are one transaction.
    new_day = np.ones(len(customer), dtype=bool)
    new_day[1:] = (customer[1:] != customer[:-1]) | (day_ordinals[1:] != day_ordinals[:-1])
    day_start = np.flatnonzero(new_day)
    day_customer, day = customer[day_start], day_ordinals[day_start]

    n = len(unique_ids)
    days_per_customer = np.bincount(day_customer, minlength=n)
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, day_customer, day)
    np.maximum.at(last, day_customer, day)
    unit = float(time_unit.days)
    frequency = (days_per_customer - 1).astype(np.int64)
    recency = (last - first) / unit if n else np.zeros(0)
    age = (end - first) / unit if n else np.zeros(0)

    mean_value: FloatArray | None = None
    if amounts is not None:
        day_value = np.add.reduceat(amounts[order], day_start) if len(day_start) else np.zeros(0)
        is_first_day = np.ones(len(day_customer), dtype=bool)
        is_first_day[1:] = day_customer[1:] != day_customer[:-1]
        repeat_total = np.bincount(
            day_customer[~is_first_day], weights=day_value[~is_first_day], minlength=n
        )
        mean_value = np.divide(
            repeat_total, frequency, out=np.zeros(n), where=frequency > 0
        ).astype(np.float64)
    return RfmSummary(
        customer_ids=tuple(str(c) for c in unique_ids),
        frequency=frequency,
        recency=np.asarray(recency, dtype=np.float64),
        age=np.asarray(age, dtype=np.float64),
        mean_repeat_value=mean_value,
        time_unit=time_unit,
    )


def _calendar_day(at: date) -> date:
    return at.date() if isinstance(at, datetime) else at


# --------------------------------------------------------------------------------------------
# BG/NBD: how many purchases
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BgNbdModel:
    """Fitted BG/NBD: purchase rates ~ Gamma(shape r, rate alpha) per ``time_unit``; the
    probability of dropping out after each purchase ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    time_unit: TimeUnit
    log_likelihood: float = math.nan
    n_customers: int = 0

    def expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` periods (FHL 2005, eq. 10).

        The paper writes the numerator with 2F1(r+x, b+x; a+b+x-1; z) (1-z)^(r+x), whose two
        factors overflow and underflow for heavy buyers. Euler's transformation
        2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) turns it into the algebraically equal
        (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), in which x only enters the third argument,
        so it stays finite for any x. Precision degrades only as a -> 1 (the 1/(a-1) factor
        cancels a difference that goes to 0).
        """
        t_, x, t_x, big_t = _broadcast_history(t, frequency, recency, age)
        if_alive = _expected_purchases_if_alive(self.r, self.alpha, self.a, self.b, t_, x, big_t)
        result = if_alive * self.probability_alive(x, t_x, big_t)
        return _finite(result, "expected purchases")

    def probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
    ) -> FloatArray:
        """P(still active | x, t_x, T) = 1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)).

        Evaluated as expit(-log odds) so that long-silent heavy buyers get a tiny probability
        instead of 1/inf or a NaN.
        """
        _, x, t_x, big_t = _broadcast_history(0.0, frequency, recency, age)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = (
                np.log(self.a)
                - np.log(self.b + x - 1.0)
                + (self.r + x) * (np.log(self.alpha + big_t) - np.log(self.alpha + t_x))
            )
        return np.where(x > 0, special.expit(-log_odds), 1.0).astype(np.float64)

    def expected_purchases_new_customer(self, t: ArrayLike) -> FloatArray:
        """E[X(t)] for a customer just acquired (FHL 2005, eq. 9), e.g. a prospect's value."""
        t_ = _nonnegative(t, "t")
        zero = np.zeros_like(t_)
        # Eq. 9 is eq. 10 at x = t_x = T = 0, where P(alive) = 1.
        if_alive = _expected_purchases_if_alive(self.r, self.alpha, self.a, self.b, t_, zero, zero)
        return _finite(if_alive, "expected purchases")


_SINGULARITY_STEP: Final = 1e-4
_INTEGER_STEP: Final = 1e-7


def _expected_purchases_if_alive(
    r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray, big_t: FloatArray
) -> FloatArray:
    """The numerator of eq. 10, (c/(a-1)) [1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z)] with
    c = a+b+x-1 and z = t/(alpha+T+t) (the Euler-transformed form, see expected_purchases).

    scipy's hyp2f1 takes a special branch when c - A - B (here x + 1 + r - a) is an integer, and
    that branch returns inf for large c and z > 0.9 (scipy 1.17; cf. scipy issue #8083 for the
    same branch going wrong elsewhere). Exactly-integer r - a is rare in a fit but not in
    hand-set parameters, so there we average the values at r +- 1e-7: exact to ~1e-14.
    """
    if abs((r - a) - round(r - a)) < _INTEGER_STEP:
        h = 2 * _INTEGER_STEP
        return 0.5 * (
            _hypergeometric_numerator(r + h, alpha, a, b, t, x, big_t)
            + _hypergeometric_numerator(r - h, alpha, a, b, t, x, big_t)
        )
    return _hypergeometric_numerator(r, alpha, a, b, t, x, big_t)


def _hypergeometric_numerator(
    r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray, big_t: FloatArray
) -> FloatArray:
    """See :func:`_expected_purchases_if_alive`. The expression has removable singularities at
    a = 1 and, for x = 0, at a + b = 1 (c = 0, a pole of 2F1 that the factor c cancels). Close
    to them it is evaluated a step h = 1e-4 either side and interpolated linearly: exact to
    O(h^2) ~ 1e-8 relative, with rounding error ~ eps / h ~ 1e-12, instead of 0/0 or a NaN.
    """

    def direct(a_: float, b_: float) -> FloatArray:
        c = a_ + b_ + x - 1.0
        z = t / (alpha + big_t + t)
        term = np.exp((a_ - 1.0) * np.log1p(-z)) * special.hyp2f1(a_ + b_ - 1.0 - r, a_ - 1.0, c, z)
        value: FloatArray = c / (a_ - 1.0) * (1.0 - term)
        return value

    h = _SINGULARITY_STEP
    if abs(a - 1.0) < h:
        below, above = direct(1.0 - h, b), direct(1.0 + h, b)
        return below + (a - (1.0 - h)) / (2.0 * h) * (above - below)
    near_pole = np.abs(a + b + x - 1.0) < h
    if not near_pole.any():
        return direct(a, b)
    # Only x = 0 rows can be here (b > 0, so c >= a + b > 0 once x >= 1). Interpolate in b
    # between c = -h and c = +h; if b cannot go that low (b < 2h: all dropout mass at p = 1),
    # take the one-sided value.
    b_low, b_high = 1.0 - a - h, 1.0 - a + h
    above = direct(a, b_high)
    if b_low > 0:
        below = direct(a, b_low)
        interpolated = below + (b - b_low) / (2.0 * h) * (above - below)
    else:
        interpolated = above
    with np.errstate(invalid="ignore", divide="ignore"):  # the pole rows are discarded here
        elsewhere = direct(a, b)
    return np.where(near_pole, interpolated, elsewhere).astype(np.float64)


def bg_nbd_log_likelihood(
    params: tuple[float, float, float, float],
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    """Total log-likelihood of (r, alpha, a, b) (FHL 2005, eq. 6), for reporting and tests."""
    _, x, t_x, big_t = _broadcast_history(0.0, frequency, recency, age)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    return float(np.dot(w, _bg_nbd_individual_ll(np.log(params), x, t_x, big_t)))


def _bg_nbd_individual_ll(
    log_params: FloatArray, x: FloatArray, t_x: FloatArray, big_t: FloatArray
) -> FloatArray:
    return _bg_nbd_ll_and_gradient(log_params, x, t_x, big_t, gradient=False)[0]


def _bg_nbd_ll_and_gradient(
    log_params: FloatArray, x: FloatArray, t_x: FloatArray, big_t: FloatArray, *, gradient: bool
) -> tuple[FloatArray, FloatArray | None]:
    """Per-customer log-likelihood, and optionally its gradient with respect to the
    log-parameters (shape (4, n)). ll = A1 + log(exp(A2) + exp(A3)) with the paper's A terms;
    the analytic gradient (digamma terms) lets L-BFGS-B converge tightly in few evaluations."""
    r, alpha, a, b = np.exp(log_params)
    repeat = x > 0
    log_alpha_t = np.log(alpha + big_t)
    log_alpha_tx = np.log(alpha + t_x)
    log_a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    log_a2 = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * log_alpha_t
    # The second term exists only for repeat buyers; b + x - 1 would be negative for x = 0.
    x_rep = np.where(repeat, x, 1.0)
    log_a3 = np.where(
        repeat,
        special.betaln(a + 1.0, b + x_rep - 1.0) - special.betaln(a, b) - (r + x) * log_alpha_tx,
        -np.inf,
    )
    log_mix = np.logaddexp(log_a2, log_a3)
    ll: FloatArray = log_a1 + log_mix
    if not gradient:
        return ll, None
    w2 = np.exp(log_a2 - log_mix)  # share of the "still alive at T" branch
    w3 = 1.0 - w2
    psi_abx = special.digamma(a + b + x)
    d_r = (
        special.digamma(r + x)
        - special.digamma(r)
        + np.log(alpha)
        - w2 * log_alpha_t
        - w3 * log_alpha_tx
    )
    d_alpha = r / alpha - (r + x) * (w2 / (alpha + big_t) + w3 / (alpha + t_x))
    common = special.digamma(a) - special.digamma(a + b)
    d_a = w2 * (special.digamma(a) - psi_abx) + w3 * (special.digamma(a + 1.0) - psi_abx) - common
    d_b = (
        w2 * (special.digamma(b + x) - psi_abx)
        + w3 * (special.digamma(b + x_rep - 1.0) - psi_abx)
        - (special.digamma(b) - special.digamma(a + b))
    )
    # Chain rule for log-parameters: d/d(log v) = v * d/dv.
    grad = np.stack([r * d_r, alpha * d_alpha, a * d_a, b * d_b])
    return ll, grad


def fit_bg_nbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    *,
    time_unit: TimeUnit,
) -> BgNbdModel:
    """Maximum-likelihood (r, alpha, a, b) from one row per customer.

    Identical (x, t_x, T) rows are collapsed and weighted by their count: with a daily grain
    and a shared observation end, many customers share a row (all one-time buyers acquired on
    the same day do), and the likelihood is evaluated once per distinct row.
    """
    _, x, t_x, big_t = _broadcast_history(0.0, frequency, recency, age)
    if x.ndim != 1:
        raise InvalidInputError("frequency, recency and age must be 1-D, one entry per customer")
    _require_customers(len(x), "BG/NBD")
    if not (x > 0).any():
        raise InsufficientDataError(
            "BG/NBD needs repeat buyers: no customer has a repeat purchase, so the dropout "
            "process is not identified"
        )
    rows, counts = np.unique(np.stack([x, t_x, big_t], axis=1), axis=0, return_counts=True)
    ux, ut_x, ut = rows[:, 0], rows[:, 1], rows[:, 2]

    def log_likelihood(
        log_params: FloatArray, gradient: bool
    ) -> tuple[FloatArray, FloatArray | None]:
        return _bg_nbd_ll_and_gradient(log_params, ux, ut_x, ut, gradient=gradient)

    # r / alpha is the mean purchase rate: start alpha so that r = 1 matches the observed one,
    # which makes the start scale-free (days or weeks alike). a and b from 1, and from a
    # second point with a lower mean dropout probability, since the likelihood in (a, b) is
    # flat and can have a poor local optimum (seen in simulations from one start).
    mean_rate = float(np.average(x / np.maximum(big_t, 1e-9))) or 1.0
    log_alpha = math.log(1.0 / max(mean_rate, 1e-6))
    starts = [
        np.array([0.0, log_alpha, 0.0, 0.0]),
        np.array([0.0, log_alpha, 0.0, math.log(4.0)]),
    ]
    fit = _maximize(log_likelihood, counts, starts, ("r", "alpha", "a", "b"))
    r, alpha, a, b = fit.params
    return BgNbdModel(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        time_unit=time_unit,
        log_likelihood=fit.log_likelihood,
        n_customers=len(x),
    )


# --------------------------------------------------------------------------------------------
# Gamma-Gamma: how much per purchase
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GammaGammaModel:
    """Fitted Gamma-Gamma: a transaction's value ~ Gamma(p, nu), the customer's nu ~
    Gamma(q, gamma). Assumes spend is independent of purchase frequency; check that on the
    data (the correlation of x and mean value among repeat buyers should be near 0)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float = math.nan
    n_customers: int = 0

    @property
    def population_mean_spend(self) -> float:
        """E[Z] = p gamma / (q - 1); infinite when q <= 1 (too heavy a tail to have a mean)."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else math.inf

    def expected_spend(self, frequency: ArrayLike, mean_repeat_value: ArrayLike) -> FloatArray:
        """E[Z | x, z_bar] = p (gamma + x z_bar) / (p x + q - 1) (Fader & Hardie 2013).

        A weighted average of the population mean and the customer's own mean, whose weight on
        the latter grows with x; customers with x = 0 get the population mean.
        """
        x = _nonnegative(frequency, "frequency")
        m = _nonnegative(mean_repeat_value, "mean repeat value")
        x, m = np.broadcast_arrays(x, m)
        _require_integers(x, "frequency")
        denominator = self.p * x + self.q - 1.0
        if (denominator <= 0).any():
            raise InvalidInputError(
                f"q = {self.q:.4g} <= 1: the population mean spend is infinite, so customers "
                "without repeat purchases have no expected spend"
            )
        m = np.where(x > 0, m, 0.0)
        return _finite(self.p * (self.gamma + x * m) / denominator, "expected spend")


def gamma_gamma_log_likelihood(
    params: tuple[float, float, float], frequency: ArrayLike, mean_repeat_value: ArrayLike
) -> float:
    """Total log-likelihood of (p, q, gamma) over repeat buyers (Fader & Hardie 2013)."""
    x, m = _repeat_buyers(frequency, mean_repeat_value)
    return float(_gamma_gamma_individual_ll(np.log(params), x, m).sum())


def _gamma_gamma_individual_ll(log_params: FloatArray, x: FloatArray, m: FloatArray) -> FloatArray:
    return _gamma_gamma_ll_and_gradient(log_params, x, m, gradient=False)[0]


def _gamma_gamma_ll_and_gradient(
    log_params: FloatArray, x: FloatArray, m: FloatArray, *, gradient: bool
) -> tuple[FloatArray, FloatArray | None]:
    """Per-customer log-density of the mean repeat value, and optionally its gradient with
    respect to the log-parameters (shape (3, n))."""
    p, q, gamma = np.exp(log_params)
    px = p * x
    log_gamma_xm = np.log(gamma + x * m)
    ll: FloatArray = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_gamma_xm
    )
    if not gradient:
        return ll, None
    psi_pxq = special.digamma(px + q)
    d_p = x * (psi_pxq - special.digamma(px) + np.log(m) + np.log(x) - log_gamma_xm)
    d_q = psi_pxq - special.digamma(q) + np.log(gamma) - log_gamma_xm
    d_gamma = q / gamma - (px + q) / (gamma + x * m)
    return ll, np.stack([p * d_p, q * d_q, gamma * d_gamma])


def fit_gamma_gamma(frequency: ArrayLike, mean_repeat_value: ArrayLike) -> GammaGammaModel:
    """Maximum-likelihood (p, q, gamma) from the customers with x > 0 (the others carry no spend
    information beyond the first purchase, which the model excludes by construction)."""
    x, m = _repeat_buyers(frequency, mean_repeat_value)
    _require_customers(len(x), "Gamma-Gamma", what="repeat buyers with a positive mean value")
    if float(np.ptp(m)) <= 1e-9 * float(np.max(m)):
        # Every customer spends the same: the likelihood keeps rising as q -> infinity, so
        # there is no finite maximum; where the optimizer gives up depends on the machine's
        # floating point, so refuse before it starts.
        raise ConvergenceError(
            "every repeat buyer has the same mean spend: the spend model has no finite maximum "
            "(q ran off to infinity)"
        )
    rows, counts = np.unique(np.stack([x, m], axis=1), axis=0, return_counts=True)
    ux, um = rows[:, 0], rows[:, 1]

    def log_likelihood(
        log_params: FloatArray, gradient: bool
    ) -> tuple[FloatArray, FloatArray | None]:
        return _gamma_gamma_ll_and_gradient(log_params, ux, um, gradient=gradient)

    # With p = q = 2, gamma = mean spend the implied mean spend p gamma / (q - 1) is twice the
    # observed one: the right order of magnitude in any currency. A second start with a
    # lighter tail (q = 5) guards against a poor local optimum.
    mean_value = float(np.mean(m))
    starts = [
        np.log([2.0, 2.0, mean_value]),
        np.log([5.0, 5.0, mean_value]),
    ]
    fit = _maximize(log_likelihood, counts, starts, ("p", "q", "gamma"))
    p, q, gamma = fit.params
    return GammaGammaModel(
        p=p, q=q, gamma=gamma, log_likelihood=fit.log_likelihood, n_customers=len(x)
    )


def _repeat_buyers(frequency: ArrayLike, mean_repeat_value: ArrayLike) -> tuple[FloatArray, ...]:
    x = _nonnegative(frequency, "frequency")
    m = _nonnegative(mean_repeat_value, "mean repeat value")
    if x.shape != m.shape or x.ndim != 1:
        raise InvalidInputError("frequency and mean repeat value must be 1-D, of the same length")
    _require_integers(x, "frequency")
    # A repeat buyer whose repeat orders were all free has no log-density; leave them out
    # like the non-repeat buyers rather than fail the whole fit.
    keep = (x > 0) & (m > 0)
    return x[keep], m[keep]


# --------------------------------------------------------------------------------------------
# CLV
# --------------------------------------------------------------------------------------------


def customer_lifetime_value(
    purchases_model: BgNbdModel,
    spend_model: GammaGammaModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    mean_repeat_value: ArrayLike,
    *,
    horizon: float,
    monthly_discount_rate: float = 0.0,
) -> FloatArray:
    """Expected (discounted) spend over the next ``horizon`` periods of the model's time unit.

        CLV = E[Z | x, z_bar] * sum_{m=1..M} (E[Y(tau_m)] - E[Y(tau_{m-1})]) / (1 + d)^(tau_m / k)

    with k the periods per calendar-average month (30.44 days, 4.348 weeks), tau_m =
    min(m k, horizon), M = ceil(horizon / k), d the monthly discount rate and E[Y(.)] the
    BG/NBD conditional expectation. This is ``lifetimes``' ``customer_lifetime_value``
    (purchases of month m discounted as if paid at its end), except that the horizon need not be
    a whole number of months: the last, partial month is discounted at its fractional end. With
    d = 0 it is simply E[Y(horizon)] * E[Z]. Spend and purchases are multiplied as independent,
    which is the Gamma-Gamma model's assumption.
    """
    if not math.isfinite(horizon) or horizon < 0:
        raise InvalidInputError(f"horizon must be a non-negative number, got {horizon!r}")
    if not math.isfinite(monthly_discount_rate) or monthly_discount_rate < 0:
        raise InvalidInputError(
            f"monthly discount rate must be non-negative, got {monthly_discount_rate!r}"
        )
    spend = spend_model.expected_spend(frequency, mean_repeat_value)
    k = purchases_model.time_unit.periods_per_month
    months = max(1, math.ceil(horizon / k - 1e-9))
    ends = np.minimum(np.arange(1, months + 1) * k, horizon)
    previous = np.zeros_like(spend)
    discounted = np.zeros_like(spend)
    for end in ends:
        cumulative = purchases_model.expected_purchases(end, frequency, recency, age)
        discounted = discounted + (cumulative - previous) / (1.0 + monthly_discount_rate) ** (
            end / k
        )
        previous = cumulative
    return _finite(spend * discounted, "customer lifetime value")


# --------------------------------------------------------------------------------------------
# Shared mechanics
# --------------------------------------------------------------------------------------------


LogLikelihood = Callable[[FloatArray, bool], tuple[FloatArray, FloatArray | None]]
"""(log-parameters, want gradient) -> (per-row log-likelihood, per-row gradient or None)."""


@dataclass(frozen=True, slots=True)
class _Fit:
    params: tuple[float, ...]
    log_likelihood: float


def _maximize(
    log_likelihood: LogLikelihood,
    counts: NDArray[np.int64],
    starts: list[FloatArray],
    names: tuple[str, ...],
) -> _Fit:
    """Maximizes a count-weighted log-likelihood over log-parameters with L-BFGS-B.

    Log-parameters make the positivity constraints disappear; bounds keep a degenerate fit
    from wandering to 1e300. The objective is the mean negative log-likelihood per customer, so
    tolerances mean the same for 100 or 10^7 customers. The best of the starts wins; it must
    have converged and be away from the bounds.
    """
    weights = counts.astype(np.float64)
    total = float(weights.sum())

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        ll, grad = log_likelihood(log_params, True)
        value = -float(np.dot(weights, ll)) / total
        if not math.isfinite(value) or grad is None:
            # Tells L-BFGS-B to step back rather than crash on an overflow far from the optimum.
            return math.inf, np.zeros_like(log_params)
        return value, -(grad @ weights) / total

    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(names)
    results = [
        optimize.minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-14, "gtol": 1e-8, "maxiter": 2000},
        )
        for start in starts
    ]
    best = min(results, key=lambda result: float(result.fun))
    if not math.isfinite(float(best.fun)):
        raise ConvergenceError("the likelihood is not finite anywhere the optimizer looked")
    # L-BFGS-B sometimes stops with "ABNORMAL" when its line search cannot improve on a point
    # that is already optimal to float precision; a vanishing gradient says which case it is.
    gradient_norm = float(np.max(np.abs(best.jac)))
    if not (best.success or gradient_norm < _GRADIENT_TOLERANCE):
        raise ConvergenceError(
            f"the optimizer did not converge ({best.message}; largest gradient component "
            f"{gradient_norm:.2g} per customer)"
        )
    at_bound = [n for n, v in zip(names, best.x, strict=True) if abs(v) > _LOG_BOUND - 1e-3]
    if at_bound:
        raise ConvergenceError(
            f"{', '.join(at_bound)} ran off to 0 or infinity (|log value| at {_LOG_BOUND}): "
            "the data do not identify the model"
        )
    return _Fit(
        params=tuple(float(v) for v in np.exp(best.x)),
        log_likelihood=-float(best.fun) * total,
    )


def _require_customers(n: int, model: str, what: str = "customers") -> None:
    if n < MIN_CUSTOMERS:
        raise InsufficientDataError(
            f"{model} needs at least {MIN_CUSTOMERS} {what} to fit, got {n}"
        )


def _nonnegative(values: ArrayLike, name: str) -> FloatArray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be numeric: {exc}") from exc
    bad = ~np.isfinite(array) | (array < 0)
    if bad.any():
        raise InvalidInputError(
            f"{name} must be finite and non-negative; {int(bad.sum())} value(s) are not "
            f"(first: {array[bad].flat[0]!r})"
        )
    return array


def _require_integers(x: FloatArray, name: str) -> None:
    if (x != np.floor(x)).any():
        raise InvalidInputError(f"{name} counts purchases and must be whole numbers")


def _broadcast_history(
    t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    t_ = _nonnegative(t, "t")
    x = _nonnegative(frequency, "frequency")
    t_x = _nonnegative(recency, "recency")
    big_t = _nonnegative(age, "age")
    try:
        t_, x, t_x, big_t = np.broadcast_arrays(t_, x, t_x, big_t)
    except ValueError as exc:
        raise InvalidInputError(f"inputs have incompatible shapes: {exc}") from exc
    _require_integers(x, "frequency")
    if (t_x > big_t).any():
        raise InvalidInputError("recency (time of the last purchase) cannot exceed age")
    if ((x == 0) & (t_x != 0)).any():
        raise InvalidInputError("a customer without repeat purchases must have recency 0")
    return t_, x, t_x, big_t


def _finite(values: FloatArray, what: str) -> FloatArray:
    result = np.asarray(values, dtype=np.float64)
    if not np.isfinite(result).all():
        raise ConvergenceError(f"{what} is not finite for some customers (numerical overflow)")
    return result
