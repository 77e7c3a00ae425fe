"""Real marketing data sets of the book *Data Mining for Business Analytics* (Shmueli et al.).

They ship gzip-compressed inside the wheel of the PyPI package ``dmba==0.2.4`` (MIT). The wheel
is fetched into a cache with pip (no dependencies, like :mod:`precis_devstack.cdnow`) and the
CSV read out of it; the data itself is never committed.

:func:`load_charles_book_club`: 4,000 members of a book club who were mailed an offer for
"The Art History of Florence", with their recency (R, months since last purchase), frequency
(F, purchases), monetary (M, dollars spent), months since first purchase, purchases per book
category, and whether they bought the offered book (``Florence``, the response; about 8.5%).
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from precis_devstack import wheels

PACKAGE = "dmba"
VERSION = "0.2.4"
CHARLES_BOOK_CLUB = "dmba/csvFiles/CharlesBookClub.csv.gz"
CHARLES_BOOK_CLUB_ROWS = 4_000


class DmbaError(RuntimeError):
    """The data could not be fetched or is not what it should be."""


@dataclass(frozen=True, slots=True)
class Table:
    """A CSV file of the package: its header and its rows as numbers (every column is numeric)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[float, ...], ...]

    def column(self, name: str) -> list[float]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]


def find_wheel(cache_dir: Path) -> Path | None:
    """The cached dmba wheel, if one was downloaded before."""
    return wheels.find_wheel(cache_dir, PACKAGE, VERSION)


def download_wheel(cache_dir: Path) -> Path:
    """Fetches the wheel with pip (no dependencies, binary only) unless it is cached."""
    return wheels.download_wheel(cache_dir, PACKAGE, VERSION, DmbaError)


def parse_numeric_csv(text: str) -> Table:
    """A CSV with a header line and numeric cells only; anything else is a DmbaError."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = tuple(next(reader))
    except StopIteration as exc:
        raise DmbaError("empty CSV") from exc
    rows: list[tuple[float, ...]] = []
    for line_no, cells in enumerate(reader, start=2):
        if not cells:
            continue
        if len(cells) != len(header):
            raise DmbaError(f"line {line_no}: {len(cells)} cells for {len(header)} columns")
        try:
            rows.append(tuple(float(cell) for cell in cells))
        except ValueError as exc:
            raise DmbaError(f"line {line_no}: {exc}") from exc
    return Table(header, tuple(rows))


def read_member(wheel: Path, member: str) -> str:
    """A (possibly gzip-compressed) text member of the wheel."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(member)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise DmbaError(f"{wheel} does not contain {member}: {exc}") from exc
    if member.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8-sig")


def load_charles_book_club(cache_dir: Path) -> Table:
    """The Charles Book Club table, downloading the wheel into ``cache_dir`` if needed."""
    table = parse_numeric_csv(read_member(download_wheel(Path(cache_dir)), CHARLES_BOOK_CLUB))
    if len(table.rows) != CHARLES_BOOK_CLUB_ROWS or "Florence" not in table.columns:
        raise DmbaError(
            f"{CHARLES_BOOK_CLUB}: expected {CHARLES_BOOK_CLUB_ROWS} rows with a Florence "
            f"column, got {len(table.rows)} rows and columns {table.columns}"
        )
    return table
