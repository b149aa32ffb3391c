"""Fixtures every test folder may use."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.s3 import s3_server

from objective_sweep.datasets.synthetic import SyntheticSpec, generate
from objective_sweep.localcloud import LocalCloud
from objective_sweep.localcloud.runs import Deployment, RunFiles

# Every test runs with the same AWS environment whichever folder ran first: fake credentials in
# moto's region and no setting that could send a client to a real account or elsewhere. A local
# cloud sets its own endpoints while it runs and gives these back when it stops.
AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
AWS_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Name the seed of the shuffled order last too: `make unit` runs quietly, without the header
    where pytest-randomly prints it, and a failure that depends on the order needs it to repeat."""
    if config.pluginmanager.hasplugin("randomly"):
        seed = config.getoption("randomly_seed")
        terminalreporter.write_line(f"random test order: --randomly-seed={seed} repeats it")


@pytest.fixture(scope="session", autouse=True)
def _aws_environment() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in AWS_ENVIRONMENT.items():
            patch.setenv(key, value)
        for key in [*AWS_UNSET, *(key for key in os.environ if key.startswith("AWS_ENDPOINT_URL"))]:
            patch.delenv(key, raising=False)
        yield


@pytest.fixture(scope="session")
def s3_server_url() -> Iterator[str]:
    """A moto S3 server in its own process, untouched by mock_aws or a local cloud in this one."""
    with s3_server() as url:
        yield url


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
