"""RFM cells: the copied cell table agrees with the profile service's, partitions the R x FM
grid, and the cells are sized from the read model exactly as their rules select (SQLite and
PostgreSQL)."""

from __future__ import annotations

import itertools

import pytest
from segmentation_support import NOW, ReadModel
from sqlalchemy.orm import Session

from precis_segmentation.evaluate import Dataset, ProfileRow
from precis_segmentation.families import rfm
from precis_segmentation.rules import FieldCondition, parse_rule

# The cell names of proto/precis/segmentation/v1/segmentation.proto, message RfmCell.
PROTO_NAMES = (
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cannot_lose",
    "hibernating",
    "lost",
)
SCORES = range(1, 6)


def test_the_copied_table_agrees_with_the_profile_service() -> None:
    """Every one of the 125 (R, F, M) combinations lands in the same cell as the profile
    service's rfm_cell, and the stored values are exactly its RfmCell values."""
    profile_rfm = pytest.importorskip("precis_profile.rfm")
    for recency, frequency, monetary in itertools.product(SCORES, SCORES, SCORES):
        expected = profile_rfm.rfm_cell(recency, frequency, monetary).value
        assert rfm.cell_of(recency, frequency, monetary).stored_value == expected
        assert rfm.fm_score(frequency, monetary) == profile_rfm.fm_score(frequency, monetary)
    assert {c.stored_value for c in rfm.CELLS} == {c.value for c in profile_rfm.RfmCell}


def test_cells_partition_the_grid_and_carry_the_proto_names() -> None:
    assert tuple(c.name for c in rfm.CELLS) == PROTO_NAMES
    for recency, fm in itertools.product(SCORES, SCORES):
        holders = [c.name for c in rfm.CELLS if c.contains(recency, fm)]
        assert len(holders) == 1, (recency, fm, holders)
    for cell in rfm.CELLS:
        assert 1 <= cell.recency_min <= cell.recency_max <= 5
        assert 1 <= cell.fm_min <= cell.fm_max <= 5
        assert cell.description


def test_every_rule_is_accepted_by_the_rule_language() -> None:
    for cell in rfm.CELLS:
        parsed = parse_rule(cell.rule())
        assert parsed == FieldCondition("computed", "rfm_cell", "=", cell.stored_value)


def profile(pid: str, **computed: object) -> ProfileRow:
    return ProfileRow(pid, computed=computed)


DATASET = Dataset(
    profiles=[
        profile("c1", rfm_cell="champions", revenue=500.0),
        profile("c2", rfm_cell="champions", revenue=300),
        profile("c3", rfm_cell="champions"),  # no revenue: counted, not in the average
        profile("k1", rfm_cell="cant_lose", revenue=900.5),
        profile("l1", rfm_cell="lost", revenue="12"),  # a string is not a number
        profile("x1", rfm_cell="mystery", revenue=1.0),  # not a cell of the map
        profile("n1", order_count=0),  # never ordered: not scored
    ]
)


def test_cells_are_sized_as_their_rules_select(read_model: ReadModel) -> None:
    read_model.load(DATASET)
    read_model.load(
        Dataset(profiles=[profile("c9", rfm_cell="champions", revenue=1.0)]),
        workspace_id="ws_other",
    )
    with Session(read_model.database.read_engine) as session:
        sized = rfm.cells(session, "ws_test")
    assert [c.name for c in sized] == list(PROTO_NAMES)
    by_name = {c.name: c for c in sized}
    assert by_name["champions"].profile_count == 3
    assert by_name["champions"].share == pytest.approx(3 / 5)
    assert by_name["champions"].average_monetary == pytest.approx(400.0)
    assert (by_name["cannot_lose"].profile_count, by_name["cannot_lose"].average_monetary) == (
        1,
        pytest.approx(900.5),
    )
    assert (by_name["lost"].profile_count, by_name["lost"].average_monetary) == (1, 0.0)
    assert by_name["loyal"].profile_count == 0 and by_name["loyal"].share == 0
    assert sum(c.share for c in sized) == pytest.approx(1.0)
    for cell in sized:
        members = read_model.select(parse_rule(cell.rule), now=NOW)
        assert len(members) == cell.profile_count, cell.name
    assert read_model.select(parse_rule(by_name["champions"].rule)) == {"c1", "c2", "c3"}


def test_an_unscored_workspace_has_empty_cells(read_model: ReadModel) -> None:
    with Session(read_model.database.read_engine) as session:
        sized = rfm.cells(session, "ws_empty")
    assert len(sized) == 11
    assert all(c.profile_count == 0 and c.share == 0 and c.average_monetary == 0 for c in sized)
