"""Settling a run's campaigns while Personalize deletes them: a campaign that vanishes between two
calls (ListCampaigns still shows a campaign whose deletion is finishing; a delete races another) is
gone, not an error that fails the run after everything was paid for. botocore's Stubber answers as
the service does, with the real client checking every request against the model."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from sweep_core.keep import run_campaigns
from sweep_core.models import RunConfig
from sweep_core.personalize import delete_campaigns
from sweep_core.report.model import DatasetFacts
from sweep_core.steps import DataFile, Run

CAMPAIGN = "arn:aws:personalize:us-east-1:123456789012:campaign/x-high"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def personalize() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("personalize", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _run() -> Run:
    files: dict[str, Any] = {"interactions": "s3://b/x/i.csv", "items": "s3://b/x/t.csv"}
    return Run(
        config=RunConfig(experiment="x", sensitivities=["OFF", "HIGH"], **files),
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:sweep:x",
        execution_name="x",
        started_at=WHEN,
        trigger="console",
        files={kind: DataFile(uri=uri, version="v") for kind, uri in files.items()},
        fingerprint="f",
        dataset=DatasetFacts(interactions=6, users=4, items=3),
        schemas={},
        report_users=["1"],
    )


def _summary(status: str) -> dict[str, Any]:
    return {"name": "x-high", "campaignArn": CAMPAIGN, "status": status, "creationDateTime": WHEN}


def test_a_campaign_listed_while_its_deletion_finishes_is_not_the_runs_any_more(
    personalize: tuple[Any, Stubber],
) -> None:
    client, stubber = personalize
    stubber.add_response("list_campaigns", {"campaigns": [_summary("DELETE IN_PROGRESS")]})
    stubber.add_client_error(
        "describe_campaign",
        "ResourceNotFoundException",
        "Could not find campaign",
        400,
        {"campaignArn": CAMPAIGN},
    )
    assert run_campaigns(client, _run()) == []


def test_a_campaign_deleted_between_describe_and_delete_is_gone(personalize: tuple[Any, Stubber]) -> None:
    client, stubber = personalize
    described = {**_summary("ACTIVE"), "solutionVersionArn": f"{CAMPAIGN}/v1", "minProvisionedTPS": 1}
    stubber.add_response("describe_campaign", {"campaign": described}, {"campaignArn": CAMPAIGN})
    stubber.add_client_error(
        "delete_campaign",
        "ResourceNotFoundException",
        "Could not find campaign",
        400,
        {"campaignArn": CAMPAIGN},
    )
    assert delete_campaigns(client, [CAMPAIGN]) == ([], [CAMPAIGN])
