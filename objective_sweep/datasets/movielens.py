"""Readers for the MovieLens 100K layout (u.data, u.item) and the latest-small layout (ratings.csv,
movies.csv) that prepare the original study's data exactly: ratings above 3 are the positive
interactions, items carry the negated ROYALTY tier and the uppercase GENRE string.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from sweep_core.errors import InvalidInputError, Problem

from objective_sweep.datasets.prepared import PreparedDataset, genre_string, write_prepared

Layout = Literal["ml-100k", "ml-latest-small"]

# Ratings strictly above this are positives (the study: "ratings > 3"); on half-star layouts
# 3.5 therefore counts as positive.
POSITIVE_THRESHOLD = 3.0

# u.item's 19 genre flags, in file order (the 100K README / u.genre).
ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
_LAYOUT_FILES: dict[Layout, tuple[str, str]] = {
    "ml-100k": ("u.data", "u.item"),
    "ml-latest-small": ("ratings.csv", "movies.csv"),
}


@dataclass(frozen=True)
class Ratings:
    """Raw ratings of one MovieLens release, as parallel arrays."""

    users: npt.NDArray[np.int64]
    items: npt.NDArray[np.int64]
    ratings: npt.NDArray[np.float64]
    timestamps: npt.NDArray[np.int64]


@dataclass(frozen=True)
class Catalogue:
    """Movies of one MovieLens release: id, title and genre names, in file order."""

    item_ids: list[int]
    titles: list[str]
    genres: list[list[str]]


def detect_layout(source: Path) -> Layout:
    """Which MovieLens layout `source` holds, judged by its files."""
    for layout, files in _LAYOUT_FILES.items():
        if all((source / name).is_file() for name in files):
            return layout
    expected = " or ".join(" + ".join(files) for files in _LAYOUT_FILES.values())
    raise InvalidInputError(
        [
            Problem(
                file=str(source),
                message=f"not a MovieLens folder: expected {expected}",
                fix="point --source at the unzipped ml-100k or ml-latest-small folder",
            )
        ]
    )


def prepare(source: Path, out: Path) -> PreparedDataset:
    """Prepare the MovieLens release in `source` (either layout) into the folder `out`."""
    layout = detect_layout(source)
    if layout == "ml-100k":
        ratings, catalogue = read_ml100k_ratings(source / "u.data"), read_ml100k_items(source / "u.item")
    else:
        ratings = read_latest_ratings(source / "ratings.csv")
        catalogue = read_latest_movies(source / "movies.csv")
    positive = ratings.ratings > POSITIVE_THRESHOLD
    known = set(catalogue.item_ids)
    unknown = sorted(set(np.unique(ratings.items[positive]).tolist()) - known)
    if unknown:
        raise InvalidInputError(
            [
                Problem(
                    file=str(source / _LAYOUT_FILES[layout][0]),
                    message=f"ratings of {len(unknown)} movie id(s) missing from the catalogue, e.g. {unknown[:5]}",
                    fix=f"use the {_LAYOUT_FILES[layout][1]} of the same MovieLens release",
                )
            ]
        )
    return write_prepared(
        out,
        users=ratings.users[positive],
        items=ratings.items[positive],
        timestamps=ratings.timestamps[positive],
        item_ids=catalogue.item_ids,
        genres=[genre_string(names) for names in catalogue.genres],
        titles=catalogue.titles,
    )


def read_ml100k_ratings(path: Path) -> Ratings:
    """u.data: user id, item id, rating, Unix seconds, tab-separated, no header."""
    return _read_ratings(path, delimiter="\t", skip_header=False)


def read_latest_ratings(path: Path) -> Ratings:
    """ratings.csv: userId,movieId,rating,timestamp with a header; half-star ratings."""
    return _read_ratings(path, delimiter=",", skip_header=True)


def read_ml100k_items(path: Path) -> Catalogue:
    """u.item: id|title|release date|video release date|IMDb URL|19 genre flags, in latin-1."""
    catalogue = Catalogue([], [], [])
    with path.open(encoding="latin-1", newline="") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("|")
            flags = fields[5:]
            if len(flags) != len(ML100K_GENRES) or not fields[0].isdigit():
                raise _bad_row(path, line_number, f"5 fields and {len(ML100K_GENRES)} genre flags")
            catalogue.item_ids.append(int(fields[0]))
            catalogue.titles.append(fields[1])
            catalogue.genres.append([g for g, flag in zip(ML100K_GENRES, flags, strict=True) if flag == "1"])
    return catalogue


def read_latest_movies(path: Path) -> Catalogue:
    """movies.csv: movieId,title,genres (genres "|"-separated) with a header, in UTF-8."""
    catalogue = Catalogue([], [], [])
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != ["movieId", "title", "genres"]:
            raise _bad_row(path, 1, "the header movieId,title,genres")
        for row in reader:
            if not row:
                continue
            if len(row) != 3 or not row[0].isdigit():
                raise _bad_row(path, reader.line_num, "3 fields: movieId,title,genres")
            catalogue.item_ids.append(int(row[0]))
            catalogue.titles.append(row[1])
            catalogue.genres.append(row[2].split("|"))
    return catalogue


def _read_ratings(path: Path, *, delimiter: str, skip_header: bool) -> Ratings:
    try:
        table = np.loadtxt(path, delimiter=delimiter, skiprows=1 if skip_header else 0, ndmin=2)
    except ValueError as error:
        raise InvalidInputError(
            [
                Problem(
                    file=str(path),
                    message=f"not 4 numeric columns (user, item, rating, timestamp): {error}",
                    fix="use the unmodified MovieLens file",
                )
            ]
        ) from error
    if table.shape[1] != 4:
        raise _bad_row(path, 1, "4 columns: user, item, rating, timestamp")
    return Ratings(
        users=table[:, 0].astype(np.int64),
        items=table[:, 1].astype(np.int64),
        ratings=table[:, 2],
        timestamps=table[:, 3].astype(np.int64),
    )


def _bad_row(path: Path, line: int, expected: str) -> InvalidInputError:
    return InvalidInputError(
        [
            Problem(
                file=str(path),
                line=line,
                message=f"expected {expected}",
                fix="use the unmodified MovieLens file",
            )
        ]
    )
