"""Fixtures every test folder may use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from objective_sweep.datasets.synthetic import SyntheticSpec, generate
from objective_sweep.localcloud import LocalCloud
from objective_sweep.localcloud.runs import Deployment, RunFiles

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


# Small enough to train four levels in a few seconds, above Personalize's minimums.
SMALL = SyntheticSpec(users=200, items=400, interactions=8_000, seed=7)


@pytest.fixture(scope="module")
def deployment(cloud: LocalCloud) -> Deployment:
    """The module's local cloud (each module that runs the workflow defines its own `cloud`)."""
    return cloud.deployment()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> RunFiles:
    data = generate(SMALL, tmp_path_factory.mktemp("small"))
    return RunFiles(data.interactions_csv, data.items_csv, titles=data.titles_csv)
