"""Small-cell suppression: every aggregate count of profiles the gateway shows passes through here,
so that no count from 1 to k-1 reaches a caller without privacy:admin (k is the setting
gateway_small_cell_k, 10 by default; 1 turns the rule off).

What the caller sees. A withheld count is null in the response, and the response's
`suppressed_counts` lists the field paths that were withheld (`cells.hibernating`,
`profile_count`), so that a client tells "withheld" from "absent" without knowing k. Keys with
privacy:admin see every count exactly, with `suppressed_counts` empty.

The rules, and why:

- A count c with 0 < c < k is withheld. A group that small singles people out: "the one
  customer in cell X" is about a person, not a population.
- 0 is shown. A true zero says that nobody is in the group, which is about nobody; withholding
  only 1..k-1 is the usual practice of statistical publishers, and a report full of nulls for
  empty cells would be unreadable.
- Parts shown next to their total (RFM cells and the population they partition): one withheld
  part would come back as total minus the shown parts. So suppression goes on with the smallest
  shown non-zero parts (complementary suppression; ties by name, so the answer is stable) until
  at least two parts are withheld and the withheld parts together hold at least
  (k - 1) + (number withheld - 1). Every withheld part is at least 1, so subtraction then
  bounds none of them below k - 1: it cannot tell a part of 1 from a part of k - 1. When the
  shown non-zero parts run out first, the total is withheld too. A zero part is never the
  complement: it would add nothing to the sum that hides the small one (and as zeros are always
  shown, every null is known to be at least 1, as the bound assumes). Someone who also reasons
  about which parts were picked as complements can sometimes narrow a withheld part a little
  more; ruling that out takes rounding or noise, not suppression.
- Counts tied by arithmetic that is not a plain sum (the merge-rule dry run: profiles after =
  before - merged + split-off pieces) are withheld all together when any of them is small
  (`disclose_together`); working out complements through such relations is not worth the risk.
- Withheld entries carry no position: a list ordered by size puts them last, by name, because
  their place among the shown ones would bound their size.

What this does not do: a caller who can define rule tags (workspace:admin) can ask overlapping
questions and subtract across them (a "tracker"); suppression per response cannot stop that,
which is one reason such definitions need workspace:admin. And where the same caller may list
the profiles themselves (profiles:read pages through them), a withheld total is consistency, not
secrecy: the rule protects the keys that see only aggregates.

Segmentation and measurement call `disclose` with their own counts (segment sizes, report cells)
and the caller from `CallerDep`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from precis_gateway.scopes import Caller


@dataclass(frozen=True, slots=True)
class ShownCounts:
    """Counts as one caller may see them: `counts` in input order, None where withheld, and the
    names withheld (in input order), for the response's `suppressed_counts`."""

    counts: dict[str, int | None]
    suppressed: list[str]

    def __getitem__(self, name: str) -> int | None:
        return self.counts[name]


def disclose(
    counts: Mapping[str, int], caller: Caller, *, k: int, total: str | None = None
) -> ShownCounts:
    """`counts` as `caller` may see them under threshold `k`. Without `total` the counts are
    independent (each withheld on its own size). With `total`, the entry of that name is the sum
    of the others, which partition it, and complementary suppression protects the parts."""
    _check(counts, k)
    if total is not None and total not in counts:
        raise ValueError(f"the total {total!r} is not one of the counts")
    if caller.is_admin or k <= 1:
        return ShownCounts(dict(counts), [])
    withheld = {name for name, count in counts.items() if _small(count, k)}
    if total is not None and total not in withheld:
        parts = {name: count for name, count in counts.items() if name != total}
        if withheld:  # a part is withheld while the total is shown
            spare = sorted((count, name) for name, count in parts.items() if count >= k)
            while not _protected([parts[name] for name in withheld], k):
                if not spare:
                    withheld.add(total)
                    break
                withheld.add(spare.pop(0)[1])
    return _shown(counts, withheld)


def disclose_together(counts: Mapping[str, int], caller: Caller, *, k: int) -> ShownCounts:
    """`counts` tied to each other by arithmetic other than a plain sum: if any one is small,
    every non-zero one is withheld."""
    _check(counts, k)
    if caller.is_admin or k <= 1:
        return ShownCounts(dict(counts), [])
    if not any(_small(count, k) for count in counts.values()):
        return ShownCounts(dict(counts), [])
    return _shown(counts, {name for name, count in counts.items() if count != 0})


def _small(count: int, k: int) -> bool:
    return 0 < count < k


def _protected(withheld: list[int], k: int) -> bool:
    """Whether subtracting from the total leaves every withheld part possibly k - 1 or more:
    the others could each be 1, so the largest any one could be is sum - (n - 1)."""
    return len(withheld) >= 2 and sum(withheld) - (len(withheld) - 1) >= k - 1


def _shown(counts: Mapping[str, int], withheld: set[str]) -> ShownCounts:
    return ShownCounts(
        {name: None if name in withheld else count for name, count in counts.items()},
        [name for name in counts if name in withheld],
    )


def _check(counts: Mapping[str, int], k: int) -> None:
    if k < 1:
        raise ValueError("k must be at least 1")
    negative = [name for name, count in counts.items() if count < 0]
    if negative:
        raise ValueError(f"counts must not be negative: {', '.join(negative)}")
