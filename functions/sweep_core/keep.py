"""What a run leaves billing. After the comparison, ApplyKeep deletes the campaigns the run's `keep`
option does not keep; after a failure, it settles the run's campaigns the same way without a
recommendation; either way it lists what still bills, at what monthly cost, and the command that
removes it.

A failure never costs money nobody chose: a campaign this run created is deleted unless keep=all
(with keep=recommended there is nothing recommended to keep), while one that existed before the run
(kept by an earlier run, perhaps serving traffic) is left as it is, even if this run updated it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sweep_core import names
from sweep_core.personalize import delete_campaigns, describe_campaign, service_errors, since
from sweep_core.report.build import HOURS_PER_MONTH
from sweep_core.steps import ApplyKeepResult, Billing, Run

if TYPE_CHECKING:
    from mypy_boto3_personalize import PersonalizeClient

# Campaigns in these states bill nothing: being deleted, or never created.
_NOT_BILLING = ("DELETE PENDING", "DELETE IN_PROGRESS", "CREATE FAILED")


def cleanup_command(experiment: str, stack: str) -> str:
    return f"sweep cleanup --experiment {experiment} --stack {stack}"


def run_campaigns(pz: PersonalizeClient, run: Run) -> list[dict[str, Any]]:
    """The campaigns of the run's levels, found by their names (the state may not know every ARN: a
    level can fail between creating its campaign and recording it)."""
    wanted = {names.campaign(run.config.experiment, level): level for level in run.config.sensitivities}
    found = []
    for page in pz.get_paginator("list_campaigns").paginate():
        for summary in page["campaigns"]:
            if summary["name"] not in wanted:
                continue
            described = describe_campaign(pz, summary["campaignArn"])
            # None: listed while its deletion finished (ListCampaigns still shows a campaign going).
            if described is not None:
                found.append({**described, "sensitivity": wanted[summary["name"]]})
    return found


def billing(campaigns: list[dict[str, Any]], run: Run, deleted: set[str]) -> list[Billing]:
    """The campaigns still billing, each at minProvisionedTPS x hours a month x the TPS-hour price."""
    found = []
    for campaign in campaigns:
        if campaign["campaignArn"] in deleted or campaign["status"] in _NOT_BILLING:
            continue
        tps = int(campaign.get("minProvisionedTPS") or run.config.min_provisioned_tps)
        found.append(
            Billing(
                sensitivity=campaign["sensitivity"],
                campaign_arn=campaign["campaignArn"],
                status=campaign["status"],
                min_provisioned_tps=tps,
                monthly_usd=round(tps * HOURS_PER_MONTH * run.config.campaign_tps_hour_price, 2),
            )
        )
    return found


def apply_keep(pz: PersonalizeClient, run: Run, delete_arns: list[str], stack: str) -> ApplyKeepResult:
    """Delete what the comparison decided, then list what of the run still bills."""
    with service_errors():
        deleted, gone = delete_campaigns(pz, delete_arns)
        campaigns = run_campaigns(pz, run)
    return _result(run, campaigns, deleted, gone, stack)


def settle_after_failure(
    pz: PersonalizeClient, run: Run, decided: list[str] | None, stack: str
) -> ApplyKeepResult:
    """After a failure: if the comparison had decided (the run failed after it), carry out its
    decision; otherwise delete the campaigns this run created unless keep=all."""
    with service_errors():
        campaigns = run_campaigns(pz, run)
        if decided is None:
            decided = [
                campaign["campaignArn"]
                for campaign in campaigns
                if run.config.keep != "all"
                and since(campaign.get("creationDateTime"), run.started_at)
                and not campaign["status"].startswith("DELETE")
            ]
        deleted, gone = delete_campaigns(pz, decided)
    return _result(run, campaigns, deleted, gone, stack)


def _result(
    run: Run, campaigns: list[dict[str, Any]], deleted: list[str], gone: list[str], stack: str
) -> ApplyKeepResult:
    return ApplyKeepResult(
        deleted=deleted,
        already_gone=gone,
        billing=billing(campaigns, run, set(deleted) | set(gone)),
        cleanup=cleanup_command(run.config.experiment, stack),
    )
