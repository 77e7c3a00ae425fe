"""MovieLens 100k (GroupLens; MovieLens terms of use) as shipped inside the ``recbole==1.2.1``
wheel (MIT): ``recbole/dataset_example/ml-100k/ml-100k.inter``, 100,000 ratings of 943 users on
1,682 movies, tab-separated with the header
``user_id:token  item_id:token  rating:float  timestamp:float``.

The wheel is fetched into a cache with pip (no dependencies, binary only; recbole is never
installed) and the file read out of it; the data itself is never committed.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from precis_devstack import wheels

PACKAGE = "recbole"
VERSION = "1.2.1"
INTERACTIONS = "recbole/dataset_example/ml-100k/ml-100k.inter"
HEADER = ("user_id:token", "item_id:token", "rating:float", "timestamp:float")
RATINGS = 100_000
USERS = 943
ITEMS = 1_682


class MovieLensError(RuntimeError):
    """The data could not be fetched or is not what it should be."""


@dataclass(frozen=True, slots=True)
class Rating:
    """One rating: a user rated a movie 1..5 at a Unix time (seconds)."""

    user_id: str
    item_id: str
    rating: float
    timestamp: int


def download_wheel(cache_dir: Path) -> Path:
    """Fetches the recbole wheel with pip (no dependencies, binary only) unless it is cached."""
    return wheels.download_wheel(cache_dir, PACKAGE, VERSION, MovieLensError)


def parse_interactions(text: str) -> list[Rating]:
    """The ``.inter`` file: the header above, then one tab-separated rating a line."""
    lines = io.StringIO(text).read().splitlines()
    if not lines or tuple(lines[0].split("\t")) != HEADER:
        raise MovieLensError(f"unexpected header in {INTERACTIONS}: {lines[:1]!r}")
    ratings: list[Rating] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        cells = line.split("\t")
        if len(cells) != len(HEADER):
            raise MovieLensError(f"line {number} of {INTERACTIONS} has {len(cells)} cells")
        try:
            ratings.append(Rating(cells[0], cells[1], float(cells[2]), int(float(cells[3]))))
        except ValueError as exc:
            raise MovieLensError(f"line {number} of {INTERACTIONS}: {exc}") from exc
    return ratings


def load_ratings(cache_dir: Path) -> list[Rating]:
    """All 100,000 ratings, in file order."""
    wheel = download_wheel(cache_dir)
    try:
        with zipfile.ZipFile(wheel) as archive:
            text = archive.read(INTERACTIONS).decode("utf-8")
    except (KeyError, zipfile.BadZipFile) as exc:
        raise MovieLensError(f"cannot read {INTERACTIONS} from {wheel}: {exc}") from exc
    return parse_interactions(text)
