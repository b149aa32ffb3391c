"""End to end on MovieLens latest-small prepared as in the study: four sensitivities trained, deployed
and compared; the objective must cut royalties while keeping relevance (issue 2's acceptance bar)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from support.personalize import RECIPE, ROLE, make_clients, wait_until

from objective_sweep.personalize.server import LocalPersonalize
from objective_sweep.personalize.training import is_test_user

pytestmark = pytest.mark.slow
LEVELS = ("OFF", "LOW", "MEDIUM", "HIGH")
NDCG10 = "normalized_discounted_cumulative_gain_at_10"


@dataclass
class Sweep:
    metrics: dict[str, dict[str, float]]
    lists: dict[str, dict[str, list[str]]]
    royalty_sum: dict[str, float]


def run_levels(url: str, movielens: Any, name: str, levels: tuple[str, ...], users: list[str]) -> Sweep:
    clients = make_clients(url)
    p, rt = clients.personalize, clients.runtime
    group = p.create_dataset_group(name=name)["datasetGroupArn"]
    wait_until(p.describe_dataset_group, "datasetGroup", datasetGroupArn=group)
    jobs = []
    for kind, schema, uri in (
        ("Interactions", movielens.interactions_schema, movielens.interactions),
        ("Items", movielens.items_schema, movielens.items),
    ):
        schema_arn = p.create_schema(name=f"{name}-{kind}", schema=schema)["schemaArn"]
        dataset = p.create_dataset(
            name=f"{name}-{kind}", schemaArn=schema_arn, datasetGroupArn=group, datasetType=kind
        )["datasetArn"]
        wait_until(p.describe_dataset, "dataset", datasetArn=dataset)
        jobs.append(
            p.create_dataset_import_job(
                jobName=f"{name}-{kind}",
                datasetArn=dataset,
                dataSource={"dataLocation": uri},
                roleArn=ROLE,
            )["datasetImportJobArn"]
        )
    for job in jobs:
        assert (
            wait_until(p.describe_dataset_import_job, "datasetImportJob", datasetImportJobArn=job)["status"]
            == "ACTIVE"
        )
    solutions = {}
    for level in levels:
        solutions[level] = p.create_solution(
            name=f"{name}-{level.lower()}",
            datasetGroupArn=group,
            recipeArn=RECIPE,
            performAutoTraining=False,
            solutionConfig={
                "optimizationObjective": {"itemAttribute": "ROYALTY", "objectiveSensitivity": level}
            },
        )["solutionArn"]
    for arn in solutions.values():
        wait_until(p.describe_solution, "solution", solutionArn=arn)
    versions = {
        level: p.create_solution_version(solutionArn=arn)["solutionVersionArn"]
        for level, arn in solutions.items()
    }
    for version in versions.values():
        record = wait_until(p.describe_solution_version, "solutionVersion", solutionVersionArn=version)
        assert record["status"] == "ACTIVE", record.get("failureReason")
    metrics = {
        level: p.get_solution_metrics(solutionVersionArn=v)["metrics"] for level, v in versions.items()
    }
    campaigns = {
        level: p.create_campaign(name=f"{name}-{level.lower()}", solutionVersionArn=v)["campaignArn"]
        for level, v in versions.items()
    }
    for campaign in campaigns.values():
        wait_until(p.describe_campaign, "campaign", campaignArn=campaign)
    lists = {
        level: {
            user: [i["itemId"] for i in rt.get_recommendations(campaignArn=campaign, userId=user)["itemList"]]
            for user in users
        }
        for level, campaign in campaigns.items()
    }
    royalty = {
        level: sum(-sum(movielens.objective[i] for i in items) for items in per_user.values()) / len(users)
        for level, per_user in lists.items()
    }
    assert clients.checker.problems == []
    return Sweep(metrics, lists, royalty)


@pytest.fixture(scope="module")
def sweep(s3_endpoint: str, movielens: Any) -> Sweep:
    """The four levels, with top-25 lists for the users the offline metrics evaluate."""
    users = [u for u in movielens.users if is_test_user(u)]
    with LocalPersonalize(port=0, s3_endpoint_url=s3_endpoint, status_delay=0.02) as local:
        return run_levels(local.url, movielens, "ml-sweep", LEVELS, users)


def test_all_nine_metrics_for_every_level(sweep: Sweep) -> None:
    for level in LEVELS:
        assert len(sweep.metrics[level]) == 9, level
        assert all(0 <= value <= 1 for value in sweep.metrics[level].values())
    assert sweep.metrics["OFF"][NDCG10] > 0.02


def test_high_cuts_royalties_and_keeps_relevance(sweep: Sweep) -> None:
    off, high = sweep.metrics["OFF"], sweep.metrics["HIGH"]
    assert sweep.royalty_sum["HIGH"] <= 0.40 * sweep.royalty_sum["OFF"], sweep.royalty_sum
    assert high[NDCG10] >= 0.90 * off[NDCG10], (off[NDCG10], high[NDCG10])


def test_low_and_medium_lie_between_off_and_high(sweep: Sweep) -> None:
    royalty = sweep.royalty_sum
    assert royalty["OFF"] > royalty["LOW"] > royalty["MEDIUM"] > royalty["HIGH"], royalty
    rewards = [sweep.metrics[level]["average_rewards_at_k"] for level in LEVELS]
    assert rewards == sorted(rewards), rewards


def test_same_data_and_settings_give_the_same_results(sweep: Sweep, s3_endpoint: str, movielens: Any) -> None:
    users = sorted(sweep.lists["HIGH"])[:40]
    with LocalPersonalize(port=0, s3_endpoint_url=s3_endpoint, status_delay=0.02) as fresh:
        again = run_levels(fresh.url, movielens, "ml-again", ("HIGH",), users)
    assert again.metrics["HIGH"] == sweep.metrics["HIGH"]
    assert again.lists["HIGH"] == {user: sweep.lists["HIGH"][user] for user in users}
