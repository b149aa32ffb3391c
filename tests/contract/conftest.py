"""Fixtures for running sweep_core's Personalize operations against the project's Personalize-compatible
endpoint (which validates every request against botocore's input shapes) with S3 on a moto server.
The endpoint enforces template.yaml's IAM roles: each step calls as its own function's role
(`as_function`), so an operation the role does not allow fails here as it would in AWS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from pydantic import BaseModel
from support.personalize import INTERACTIONS_SCHEMA, ITEMS_SCHEMA
from support.poll import poll
from sweep_core.models import RunConfig
from sweep_core.prepare import report_users
from sweep_core.report.model import DatasetFacts
from sweep_core.steps import DataFile, Run, WaitPolicy

from objective_sweep.datasets.synthetic import SyntheticSpec, generate
from objective_sweep.localcloud.authorizer import LAMBDA, Authorizer
from objective_sweep.localcloud.template import ACCOUNT_ID, LocalStack, read_stack
from objective_sweep.personalize.server import LocalPersonalize

BUCKET = "sweep-contract"
TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
# Waits are driven by the test's own loop; the policy only must never time out.
NO_TIMEOUT = WaitPolicy(initial_seconds=1, max_seconds=1, budget_seconds=10**6)
SMALL = SyntheticSpec(users=120, items=200, interactions=4_000, seed=11)

State = TypeVar("State", bound=BaseModel)


@pytest.fixture(scope="session")
def s3_url(s3_server_url: str) -> str:
    boto3.client("s3", endpoint_url=s3_server_url).create_bucket(Bucket=BUCKET)
    return s3_server_url


@pytest.fixture(scope="session")
def stack() -> LocalStack:
    return read_stack(TEMPLATE)


@pytest.fixture(scope="session")
def authorizer(stack: LocalStack) -> Authorizer:
    return Authorizer(stack.roles, account=ACCOUNT_ID)


@pytest.fixture(scope="session")
def personalize_role(stack: LocalStack) -> str:
    """The role ImportDatasets hands to Personalize's import jobs (PERSONALIZE_ROLE_ARN)."""
    return next(role.arn for role in stack.roles if role.logical_id == "PersonalizeRole")


@pytest.fixture(scope="session")
def endpoint(s3_url: str, authorizer: Authorizer) -> Iterator[str]:
    with LocalPersonalize(port=0, s3_endpoint_url=s3_url, status_delay=0.02, authorizer=authorizer) as local:
        yield local.url


@pytest.fixture(scope="session")
def as_function(stack: LocalStack, authorizer: Authorizer, endpoint: str) -> Callable[..., Any]:
    """`as_function("ImportDatasetsFunction")`: a Personalize client (or `service`'s) with that
    function's role credentials, as Lambda would give them."""

    def client(logical_id: str, service: str = "personalize") -> Any:
        function = next(f for f in stack.functions if f.logical_id == logical_id)
        session = authorizer.assume(function.role_arn, LAMBDA, function.name)
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=endpoint,
            aws_access_key_id=session.access_key,
            aws_secret_access_key=session.secret_key,
            aws_session_token=session.token,
        )

    return client


@pytest.fixture(scope="session")
def clients(s3_url: str, endpoint: str) -> dict[str, Any]:
    return {
        "s3": boto3.client("s3", endpoint_url=s3_url),
        "personalize": boto3.client("personalize", endpoint_url=endpoint),
        "runtime": boto3.client("personalize-runtime", endpoint_url=endpoint),
    }


@pytest.fixture(scope="session")
def data(tmp_path_factory: pytest.TempPathFactory, clients: dict[str, Any]) -> dict[str, DataFile]:
    prepared = generate(SMALL, tmp_path_factory.mktemp("synthetic"))
    files: dict[str, DataFile] = {}
    for kind, path in (
        ("interactions", prepared.interactions_csv),
        ("items", prepared.items_csv),
        ("titles", prepared.path / "titles.csv"),
    ):
        key = f"data/{kind}.csv"
        put = clients["s3"].put_object(Bucket=BUCKET, Key=key, Body=Path(path).read_bytes())
        files[kind] = DataFile(uri=f"s3://{BUCKET}/{key}", version=put["ETag"].strip('"'))
    return files


def make_run(experiment: str, files: dict[str, DataFile], **config: Any) -> Run:
    """A Run as PrepareRun would produce it for the uploaded synthetic data."""
    run_config = RunConfig(
        experiment=experiment,
        interactions=files["interactions"].uri,
        items=files["items"].uri,
        titles=files["titles"].uri,
        **config,
    )
    return Run(
        config=run_config,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:sweep:{experiment}",
        execution_name=experiment,
        started_at=datetime.now(UTC),
        trigger="console",
        files={k: v for k, v in files.items()},
        fingerprint=files["interactions"].version[:8],
        dataset=DatasetFacts(interactions=SMALL.interactions, users=SMALL.users, items=SMALL.items),
        schemas={
            "interactions": INTERACTIONS_SCHEMA,
            "items": ITEMS_SCHEMA,
        },
        # The synthetic generator gives every user 1..users interactions, so these are the first ids.
        report_users=report_users(run_config, [str(user) for user in range(1, SMALL.users + 1)]),
    )


def until_done(
    step: Callable[[State], State],
    state: State,
    *,
    limit_s: float = 30.0,
    poll_of: Callable[[State], Any] = lambda state: state.poll,  # type: ignore[attr-defined]
) -> tuple[State, int]:
    """Drive a wait loop the way the state machine does (Choice on poll.done, `poll_of` saying where
    the state keeps its poll), with short real sleeps; the final state and how many calls it took."""
    calls = 0

    def advance() -> State:
        nonlocal state, calls
        state = step(state)
        calls += 1
        return state

    final = poll(
        advance,
        lambda current: bool(poll_of(current).done),
        timeout=limit_s,
        what=lambda current: f"still {poll_of(current).status}",
    )
    return final, calls
