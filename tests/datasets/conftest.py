"""Hand-written files in the two MovieLens layouts. They are stored with a `.handwritten` suffix so
that no file in the repository carries a MovieLens file name (MovieLens itself may not be committed);
the fixture lays them out under the names the readers expect."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HANDWRITTEN = Path(__file__).parent / "fixtures"
SUFFIX = ".handwritten"


@pytest.fixture(scope="session")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding `ml-100k/` (u.data, u.item) and `ml-latest-small/` (ratings.csv, movies.csv)."""
    root = tmp_path_factory.mktemp("movielens-layouts")
    for stored in HANDWRITTEN.glob(f"*/*{SUFFIX}"):
        target = root / stored.parent.name / stored.name.removesuffix(SUFFIX)
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(stored, target)
    return root
