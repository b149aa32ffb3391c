"""The prepared dataset folder every source is turned into: Personalize-ready interactions and
items CSVs, their Avro schemas, and a titles file kept only for the report.

The study's item rules live here once: ROYALTY by ITEM_ID % 8, negated, and genre names
normalised to the study's uppercase spelling.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sweep_core.schemas import Column, DatasetKind, build_schema

INTERACTIONS_FILE = "interactions.csv"
ITEMS_FILE = "items.csv"
TITLES_FILE = "titles.csv"
INTERACTIONS_SCHEMA_FILE = "interactions.schema.json"
ITEMS_SCHEMA_FILE = "items.schema.json"
OBJECTIVE = "ROYALTY"

# The study's royalty per ITEM_ID % 8, in dollars; negated so Personalize's "maximise" favours
# the titles that cost least.
ROYALTY_TIERS = (0.0, 0.005, 0.01, 0.015, 0.02, 0.025, 0.05, 0.10)

INTERACTION_COLUMNS = (
    Column(name="USER_ID", type="string"),
    Column(name="ITEM_ID", type="string"),
    Column(name="TIMESTAMP", type="long"),
)
ITEM_COLUMNS = (
    Column(name="ITEM_ID", type="string"),
    Column(name=OBJECTIVE, type="float"),
    Column(name="GENRE", type="string", nullable=True),
)

# MovieLens spells a few genres differently across releases; both map onto the 100K names the
# study used, so one vocabulary serves every layout.
_GENRE_ALIASES = {"CHILDREN": "CHILDRENS"}
# Markers for "no genre": the item gets an empty (null) GENRE rather than a fake category.
_NO_GENRE = frozenset({"UNKNOWN", "(NO GENRES LISTED)"})

# Rows per formatted block when writing large CSVs: large enough to amortise Python overhead,
# small enough to keep the text buffer to tens of megabytes.
_WRITE_BLOCK = 1_000_000


@dataclass(frozen=True)
class PreparedDataset:
    """Where a prepared dataset lives and how big it is."""

    path: Path
    interactions: int
    users: int
    items: int

    @property
    def interactions_csv(self) -> Path:
        return self.path / INTERACTIONS_FILE

    @property
    def items_csv(self) -> Path:
        return self.path / ITEMS_FILE

    @property
    def titles_csv(self) -> Path:
        return self.path / TITLES_FILE


def royalty(item_ids: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The study's negated royalty for each integer ITEM_ID (0.0, never -0.0, for the free tier)."""
    tiers = np.asarray(ROYALTY_TIERS)
    return 0.0 - tiers[np.asarray(item_ids, dtype=np.int64) % len(tiers)]


def genre_string(names: Iterable[str]) -> str:
    """Genre names as one GENRE value: uppercase, apostrophes dropped ("Children's" ->
    CHILDRENS), joined by "|" in the given order; "" when the item has none."""
    tokens: list[str] = []
    for name in names:
        token = name.strip().upper().replace("'", "")
        token = _GENRE_ALIASES.get(token, token)
        if token and token not in _NO_GENRE and token not in tokens:
            tokens.append(token)
    return "|".join(tokens)


def write_prepared(
    out: Path,
    *,
    users: npt.NDArray[np.integer],
    items: npt.NDArray[np.integer],
    timestamps: npt.NDArray[np.integer],
    item_ids: Sequence[int] | npt.NDArray[np.integer],
    genres: Sequence[str],
    titles: Sequence[str],
) -> PreparedDataset:
    """Write a prepared folder: one interaction per (users[i], items[i], timestamps[i]) and one
    catalogue row per item_ids[j] with its genre string and title."""
    out.mkdir(parents=True, exist_ok=True)
    ids = np.asarray(item_ids, dtype=np.int64)
    if not (len(ids) == len(genres) == len(titles)):
        raise ValueError("item_ids, genres and titles must have one entry per item")
    _write_interactions(out / INTERACTIONS_FILE, users, items, timestamps)
    with (out / ITEMS_FILE).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([c.name for c in ITEM_COLUMNS])
        writer.writerows(zip(ids.tolist(), royalty(ids).tolist(), genres, strict=True))
    with (out / TITLES_FILE).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["ITEM_ID", "TITLE"])
        writer.writerows(zip(ids.tolist(), titles, strict=True))
    schemas: tuple[tuple[str, DatasetKind, tuple[Column, ...]], ...] = (
        (INTERACTIONS_SCHEMA_FILE, "interactions", INTERACTION_COLUMNS),
        (ITEMS_SCHEMA_FILE, "items", ITEM_COLUMNS),
    )
    for name, kind, columns in schemas:
        schema = build_schema(kind, columns, objective=OBJECTIVE)
        (out / name).write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    return PreparedDataset(
        path=out,
        interactions=len(users),
        users=int(np.count_nonzero(np.bincount(users))) if len(users) else 0,
        items=len(ids),
    )


def _write_interactions(
    path: Path,
    users: npt.NDArray[np.integer],
    items: npt.NDArray[np.integer],
    timestamps: npt.NDArray[np.integer],
) -> None:
    if not (len(users) == len(items) == len(timestamps)):
        raise ValueError("users, items and timestamps must have the same length")
    # %-formatting a whole block in one call is ~10x faster than csv.writer on tens of millions
    # of integer rows.
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(c.name for c in INTERACTION_COLUMNS) + "\n")
        for start in range(0, len(users), _WRITE_BLOCK):
            stop = min(start + _WRITE_BLOCK, len(users))
            block = np.empty((stop - start, 3), dtype=np.int64)
            block[:, 0] = users[start:stop]
            block[:, 1] = items[start:stop]
            block[:, 2] = timestamps[start:stop]
            handle.write(("%d,%d,%d\n" * (stop - start)) % tuple(block.ravel().tolist()))
