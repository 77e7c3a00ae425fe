"""The RFM cells family: the eleven named cells of the R-vs-FM map, each sized from the read model
and with a rule (the rule language of README.md) that selects its members.

The profile service scores R, F and M (1..5 quintiles) and names the cell; the segmentation
consumer flattens its ``rfm`` object into ``computed.rfm_cell`` etc. (readmodel.flatten_computed),
so a cell is selected by ``{"field": "computed.rfm_cell", "op": "=", "value": <cell>}`` and
counted here with the same JSON access the rule compiler uses: a cell's ``profile_count`` is
exactly the number of profiles its rule selects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from precis_segmentation.compile import JsonNumber, JsonString
from precis_segmentation.store import seg_profiles

RFM_CELL_FIELD = "computed.rfm_cell"
"""Where the read model keeps a profile's cell (the profile's ``rfm.cell``, flattened)."""
MONETARY_KEY = "revenue"
"""The computed trait RFM's M is measured on: total order revenue (precis_profile.rfm.RfmValues)."""


@dataclass(frozen=True, slots=True)
class CellDefinition:
    """One cell of the map: a rectangle of recency score by combined FM score.

    ``name`` is the proto's name (RfmCell.name); ``stored_value`` is what the profile service
    writes into ``rfm.cell`` and therefore what rules compare with. They differ for one cell:
    the profile service says "cant_lose" where the contract says "cannot_lose".
    """

    name: str
    stored_value: str
    description: str
    recency_min: int
    recency_max: int
    fm_min: int
    fm_max: int

    def contains(self, recency: int, fm: int) -> bool:
        return self.recency_min <= recency <= self.recency_max and self.fm_min <= fm <= self.fm_max

    def rule(self) -> dict[str, Any]:
        """The rule document selecting the cell's members (parse_rule accepts it)."""
        return {"field": RFM_CELL_FIELD, "op": "=", "value": self.stored_value}


def fm_score(frequency: int, monetary: int) -> int:
    """F and M as one axis: their mean rounded down (as precis_profile.rfm.fm_score)."""
    return (frequency + monetary) // 2


# Copied from services/profile/src/precis_profile/rfm.py (rfm_cell's table and _SEGMENT_GRID),
# the service that assigns cells; this package must not import another service.
# test_families_rfm.py checks the two agree on all 125 (R, F, M) combinations.
CELLS: tuple[CellDefinition, ...] = (
    CellDefinition(
        "champions", "champions", "bought very recently, often, and spent the most", 5, 5, 4, 5
    ),
    CellDefinition("loyal", "loyal", "buy regularly and spend well; fairly recent", 3, 4, 4, 5),
    CellDefinition(
        "potential_loyalist",
        "potential_loyalist",
        "recent customers with average frequency and spend",
        4,
        5,
        2,
        3,
    ),
    CellDefinition("new", "new", "bought very recently for the first time or little", 5, 5, 1, 1),
    CellDefinition("promising", "promising", "recent, but bought little so far", 4, 4, 1, 1),
    CellDefinition(
        "need_attention",
        "need_attention",
        "average recency, frequency and spend; slipping",
        3,
        3,
        3,
        3,
    ),
    CellDefinition(
        "about_to_sleep",
        "about_to_sleep",
        "average recency, low frequency and spend; will be lost without a nudge",
        3,
        3,
        1,
        2,
    ),
    CellDefinition(
        "at_risk",
        "at_risk",
        "bought often and spent well, but long ago",
        1,
        2,
        3,
        4,
    ),
    CellDefinition(
        "cannot_lose",
        "cant_lose",
        "the best frequency and spend, but have not bought in a long time",
        1,
        2,
        5,
        5,
    ),
    CellDefinition(
        "hibernating",
        "hibernating",
        "last bought long ago, little and seldom",
        2,
        2,
        1,
        2,
    ),
    CellDefinition("lost", "lost", "lowest recency, frequency and spend", 1, 1, 1, 2),
)


def cell_of(recency: int, frequency: int, monetary: int) -> CellDefinition:
    """The cell of a profile's (R, F, M) scores, from the table above."""
    fm = fm_score(frequency, monetary)
    for cell in CELLS:
        if cell.contains(recency, fm):
            return cell
    raise ValueError(f"scores out of range: R={recency} F={frequency} M={monetary}")


@dataclass(frozen=True, slots=True)
class RfmCellSize:
    """A cell with its size now; the fields of the proto's RfmCell (without segment_id).

    ``share`` is of the profiles that have a cell (scored: at least one order).
    ``average_monetary`` is the mean of their numeric ``computed.revenue`` (0 when none has one).
    """

    definition: CellDefinition
    profile_count: int
    share: float
    average_monetary: float

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def rule(self) -> dict[str, Any]:
        return self.definition.rule()


def cells(session: Session, workspace_id: str) -> list[RfmCellSize]:
    """Every cell of the map (in the table's order, empty ones included) with its size now.

    One GROUP BY over the workspace's profiles. Profiles whose stored cell is not one of the
    eleven are not counted (nor in the shares): no rule of this family could select them.
    """
    cell = JsonString(seg_profiles.c.computed, "rfm_cell")
    monetary = JsonNumber(seg_profiles.c.computed, MONETARY_KEY)
    rows = session.execute(
        select(cell, func.count(), func.coalesce(func.sum(monetary), 0.0), func.count(monetary))
        .where(seg_profiles.c.workspace_id == workspace_id, cell.is_not(None))
        .group_by(cell)
    ).all()
    by_value = {
        str(value): (int(count), float(total), int(valued)) for value, count, total, valued in rows
    }
    known = {definition.stored_value for definition in CELLS}
    scored = sum(count for value, (count, _, _) in by_value.items() if value in known)
    out: list[RfmCellSize] = []
    for definition in CELLS:
        count, total, valued = by_value.get(definition.stored_value, (0, 0.0, 0))
        out.append(
            RfmCellSize(
                definition=definition,
                profile_count=count,
                share=count / scored if scored else 0.0,
                average_monetary=total / valued if valued else 0.0,
            )
        )
    return out
