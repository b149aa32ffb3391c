"""Fixtures shared by the workflow test modules; each module starts its own `cloud` (one per module)."""

from __future__ import annotations

import pytest

from objective_sweep.datasets.synthetic import SyntheticSpec, generate
from objective_sweep.localcloud import LocalCloud
from objective_sweep.localcloud.runs import Deployment, RunFiles

# Small enough to train four levels in a few seconds, above Personalize's minimums.
SMALL = SyntheticSpec(users=200, items=400, interactions=8_000, seed=7)


@pytest.fixture(scope="module")
def deployment(cloud: LocalCloud) -> Deployment:
    return cloud.deployment()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> RunFiles:
    data = generate(SMALL, tmp_path_factory.mktemp("small"))
    return RunFiles(data.interactions_csv, data.items_csv, titles=data.titles_csv)
