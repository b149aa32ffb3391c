"""Fixtures every test folder may use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The team's copy of MovieLens latest-small lives beside the checkout, never in it (its licence
# forbids redistribution here); OBJECTIVE_SWEEP_ML_LATEST_SMALL points elsewhere.
ML_LATEST_SMALL = Path(
    os.environ.get(
        "OBJECTIVE_SWEEP_ML_LATEST_SMALL",
        Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-latest-small",
    )
)


@pytest.fixture(scope="session")
def ml_latest_small() -> Path:
    """The real MovieLens latest-small folder; the test is skipped, saying where it looked, without it."""
    if not (ML_LATEST_SMALL / "ratings.csv").is_file():
        pytest.skip(
            f"MovieLens latest-small is not at {ML_LATEST_SMALL} (set OBJECTIVE_SWEEP_ML_LATEST_SMALL)"
        )
    return ML_LATEST_SMALL
