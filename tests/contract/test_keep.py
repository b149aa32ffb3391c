"""ApplyKeep's listing of a run's campaigns against Personalize's eventual consistency: a campaign
still listed but already deleted is not billing, and is not an error."""

from __future__ import annotations

from typing import Any, cast

from botocore.exceptions import ClientError
from sweep_core.keep import run_campaigns
from sweep_core.steps import DataFile

from .conftest import make_run

PREFIX = "arn:aws:personalize:us-east-1:123456789012:campaign/"


class _ListedButGone:
    """Personalize as it answers while a deletion finishes: ListCampaigns still shows x-off, whose
    DescribeCampaign already answers ResourceNotFoundException."""

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_campaigns"
        names = ("x-off", "x-high", "other-off")
        campaigns = [{"name": name, "campaignArn": PREFIX + name} for name in names]
        return type("Paginator", (), {"paginate": lambda _: iter([{"campaigns": campaigns}])})()

    def describe_campaign(self, campaignArn: str) -> dict[str, Any]:
        if campaignArn.endswith("x-off"):
            error = {"Error": {"Code": "ResourceNotFoundException", "Message": "Could not find campaign"}}
            raise ClientError(error, "DescribeCampaign")  # type: ignore[arg-type]
        return {"campaign": {"campaignArn": campaignArn, "status": "ACTIVE"}}


def test_a_campaign_deleted_between_listing_and_describing_is_left_out() -> None:
    files = {
        kind: DataFile(uri=f"s3://bucket/{kind}.csv", version="v1")
        for kind in ("interactions", "items", "titles")
    }
    run = make_run("x", files, sensitivities=["OFF", "HIGH"])
    found = run_campaigns(cast(Any, _ListedButGone()), run)
    assert [(c["campaignArn"], c["sensitivity"]) for c in found] == [(PREFIX + "x-high", "HIGH")]
