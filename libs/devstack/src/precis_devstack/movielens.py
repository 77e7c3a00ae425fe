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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from precis_client.models import TrackEvent
from precis_devstack import wheels

PACKAGE = "recbole"
VERSION = "1.2.1"
INTERACTIONS = "recbole/dataset_example/ml-100k/ml-100k.inter"
HEADER = ("user_id:token", "item_id:token", "rating:float", "timestamp:float")
MOVIES = "recbole/dataset_example/ml-100k/ml-100k.item"
MOVIE_HEADER = ("item_id:token", "movie_title:token_seq", "release_year:token", "class:token_seq")
# As events: every rating is a "Product Viewed" of the movie by user "ml-<user id>".
VIEW_EVENT = "Product Viewed"
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


def _read(cache_dir: Path, member: str) -> str:
    wheel = download_wheel(cache_dir)
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(member).decode("utf-8", errors="replace")
    except (KeyError, zipfile.BadZipFile) as exc:
        raise MovieLensError(f"cannot read {member} from {wheel}: {exc}") from exc


def load_ratings(cache_dir: Path) -> list[Rating]:
    """All 100,000 ratings, in file order."""
    return parse_interactions(_read(cache_dir, INTERACTIONS))


@dataclass(frozen=True, slots=True)
class Movie:
    """A movie: its id (as in the ratings), title, release year and genres."""

    item_id: str
    title: str
    year: str
    genres: tuple[str, ...]

    def catalog_item(self) -> dict[str, Any]:
        """The movie as a catalog item (PUT /v1/catalog/items): category "Movies > <first
        genre>", no price, available."""
        genre = self.genres[0] if self.genres else "Unknown"
        return {
            "item_id": self.item_id,
            "title": f"{self.title} ({self.year})" if self.year else self.title,
            "category": f"Movies > {genre}",
            "price": 0.0,
            "currency": "USD",
            "available": True,
            "attributes": {"year": self.year, "genres": list(self.genres)},
        }


def parse_movies(text: str) -> list[Movie]:
    """The ``.item`` file: the header above, then one tab-separated movie a line."""
    lines = text.splitlines()
    if not lines or tuple(lines[0].split("\t")) != MOVIE_HEADER:
        raise MovieLensError(f"unexpected header in {MOVIES}: {lines[:1]!r}")
    movies = []
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        cells = line.split("\t")
        if len(cells) != len(MOVIE_HEADER):
            raise MovieLensError(f"line {number} of {MOVIES} has {len(cells)} cells")
        movies.append(Movie(cells[0], cells[1].strip(), cells[2].strip(), tuple(cells[3].split())))
    return movies


def load_movies(cache_dir: Path) -> list[Movie]:
    """All 1,682 movies."""
    return parse_movies(_read(cache_dir, MOVIES))


def user_id(rating: Rating) -> str:
    return f"ml-{rating.user_id}"


def rating_events(ratings: Iterable[Rating]) -> Iterator[TrackEvent]:
    """Each rating as a "Product Viewed" event at the rating's time; message ids come from the
    data, so sending twice only yields duplicates."""
    for r in ratings:
        yield TrackEvent(
            event=VIEW_EVENT,
            user_id=user_id(r),
            properties={"product_id": r.item_id, "rating": r.rating},
            timestamp=datetime.fromtimestamp(r.timestamp, UTC),
            message_id=f"ml100k-{r.user_id}-{r.item_id}",
        )
