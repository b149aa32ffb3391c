"""Contract: every implemented operation, driven by boto3 over HTTP, answers what botocore's output
shape for that operation allows (checked by botocore's ParamValidator on the raw and parsed body)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support.personalize import RECIPE, build_group, deploy, make_clients, train, wait_until
from support.poll import poll
from sweep_core.models import METRIC_NAMES

from objective_sweep.personalize.server import LocalPersonalize


def test_every_operation_answers_botocore_output_shapes(
    endpoint: LocalPersonalize, s3_data: dict[str, str]
) -> None:
    clients = make_clients(endpoint.url)
    p, rt = clients.personalize, clients.runtime

    recipes = p.list_recipes()["recipes"]
    assert RECIPE in {r["recipeArn"] for r in recipes}
    assert p.describe_recipe(recipeArn=RECIPE)["recipe"]["recipeType"] == "USER_PERSONALIZATION"

    group = build_group(clients, "contract", s3_data["interactions"], s3_data["items"])
    assert group.arn == "arn:aws:personalize:us-east-1:123456789012:dataset-group/contract"
    assert "contract" in {g["name"] for g in p.list_dataset_groups()["datasetGroups"]}
    schemas = p.list_schemas()["schemas"]
    schema_arn = next(s["schemaArn"] for s in schemas if s["name"] == "contract-items")
    assert json.loads(p.describe_schema(schemaArn=schema_arn)["schema"]["schema"])["name"] == "Items"
    assert {d["datasetType"] for d in p.list_datasets(datasetGroupArn=group.arn)["datasets"]} == {
        "INTERACTIONS",
        "ITEMS",
    }
    jobs = p.list_dataset_import_jobs(datasetArn=group.interactions)["datasetImportJobs"]
    assert [j["status"] for j in jobs] == ["ACTIVE"]

    version = train(clients, group, "contract-high", "HIGH")
    solution_arn = version.rsplit("/", 1)[0]
    solution = p.describe_solution(solutionArn=solution_arn)["solution"]
    assert solution["performAutoTraining"] is False
    assert solution["latestSolutionVersion"]["status"] == "ACTIVE"
    assert solution_arn in {
        s["solutionArn"] for s in p.list_solutions(datasetGroupArn=group.arn)["solutions"]
    }
    described = p.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert described["trainingMode"] == "FULL"
    assert 0 < described["trainingHours"] < 0.1
    assert [
        v["solutionVersionArn"]
        for v in p.list_solution_versions(solutionArn=solution_arn)["solutionVersions"]
    ] == [version]
    metrics = p.get_solution_metrics(solutionVersionArn=version)["metrics"]
    assert set(metrics) == set(METRIC_NAMES)

    campaign = deploy(clients, "contract-high", version)
    assert campaign in {c["campaignArn"] for c in p.list_campaigns(solutionArn=solution_arn)["campaigns"]}
    response = rt.get_recommendations(campaignArn=campaign, userId="u1")
    assert len(response["itemList"]) == 25
    assert response["recommendationId"]

    # UPDATE keeps the item factors and refreshes users; the campaign switches only once the update is ACTIVE.
    updated = p.create_solution_version(solutionArn=solution_arn, trainingMode="UPDATE")["solutionVersionArn"]
    wait_until(p.describe_solution_version, "solutionVersion", solutionVersionArn=updated)
    endpoint.faults.add({"slow": [{"resource": "campaign", "name": "contract-high", "seconds": 60}]})
    p.update_campaign(campaignArn=campaign, solutionVersionArn=updated, minProvisionedTPS=2)
    pending = p.describe_campaign(campaignArn=campaign)["campaign"]
    assert pending["latestCampaignUpdate"]["status"] in ("CREATE PENDING", "CREATE IN_PROGRESS")
    assert pending["solutionVersionArn"] == version
    endpoint.faults.clear()
    final = wait_until(p.describe_campaign, "campaign.latestCampaignUpdate", campaignArn=campaign)
    assert final["status"] == "ACTIVE"
    assert p.describe_campaign(campaignArn=campaign)["campaign"]["solutionVersionArn"] == updated

    ranking_version = train(
        clients,
        group,
        "contract-ranking",
        "OFF",
        recipeArn="arn:aws:personalize:::recipe/aws-personalized-ranking",
    )
    ranking_campaign = deploy(clients, "contract-ranking", ranking_version)
    ranked = rt.get_personalized_ranking(
        campaignArn=ranking_campaign, userId="u2", inputList=["i1", "i2", "i3", "unknown-item"]
    )["personalizedRanking"]
    assert sorted(r["itemId"] for r in ranked) == ["i1", "i2", "i3", "unknown-item"]
    assert ranked[-1]["itemId"] == "unknown-item"

    endpoint.faults.add({"slowTraining": [{"name": "contract-stopped", "seconds": 30}]})
    stopped_solution = p.create_solution(
        name="contract-stopped", datasetGroupArn=group.arn, recipeArn=RECIPE
    )["solutionArn"]
    wait_until(p.describe_solution, "solution", solutionArn=stopped_solution)
    assert p.describe_solution(solutionArn=stopped_solution)["solution"]["performAutoTraining"] is True
    to_stop = p.create_solution_version(solutionArn=stopped_solution)["solutionVersionArn"]
    p.stop_solution_version_creation(solutionVersionArn=to_stop)
    # The held job notices the stop within a poll, so either status may be seen here.
    assert p.describe_solution_version(solutionVersionArn=to_stop)["solutionVersion"]["status"] in (
        "CREATE STOPPING",
        "CREATE STOPPED",
    )
    endpoint.faults.clear()
    stopped = wait_until(
        p.describe_solution_version, "solutionVersion", done=("CREATE STOPPED",), solutionVersionArn=to_stop
    )
    assert "trainingHours" not in stopped

    for arn in (campaign, ranking_campaign):
        p.delete_campaign(campaignArn=arn)
        _wait_gone(lambda arn=arn: p.describe_campaign(campaignArn=arn))
    p.delete_solution(solutionArn=solution_arn)
    _wait_gone(lambda: p.describe_solution(solutionArn=solution_arn))

    assert clients.checker.problems == []
    expected = set(endpoint.service.implemented_operations()) if endpoint.service else set()
    expected -= {"DeleteDataset", "DeleteSchema", "DeleteDatasetGroup"}  # exercised by the next test
    assert expected <= clients.checker.checked, expected - clients.checker.checked
    assert {"GetRecommendations", "GetPersonalizedRanking"} <= clients.checker.checked


def _wait_gone(describe: Any) -> None:
    """Poll until Describe answers ResourceNotFoundException (deletes pass through DELETE PENDING)."""

    def error_code() -> str | None:
        try:
            describe()
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return None

    assert poll(error_code, lambda code: code is not None, timeout=10) == "ResourceNotFoundException"


def test_deletes_follow_personalize_ordering(endpoint: LocalPersonalize, s3_data: dict[str, str]) -> None:
    clients = make_clients(endpoint.url)
    p = clients.personalize
    group = build_group(clients, "deletes", s3_data["interactions"], None)
    schema = p.describe_dataset(datasetArn=group.interactions)["dataset"]["schemaArn"]
    with pytest.raises(p.exceptions.ResourceInUseException, match="delete its solutions"):
        p.delete_dataset_group(datasetGroupArn=group.arn)
    with pytest.raises(p.exceptions.ResourceInUseException, match="used by"):
        p.delete_schema(schemaArn=schema)
    p.delete_dataset(datasetArn=group.interactions)
    _wait_gone(lambda: p.describe_dataset(datasetArn=group.interactions))
    p.delete_schema(schemaArn=schema)
    p.delete_dataset_group(datasetGroupArn=group.arn)
    _wait_gone(lambda: p.describe_dataset_group(datasetGroupArn=group.arn))
    assert clients.checker.problems == []
    assert {"DeleteDataset", "DeleteSchema", "DeleteDatasetGroup"} <= clients.checker.checked


def test_aws_cli_lists_what_boto3_created(endpoint: LocalPersonalize) -> None:
    p = make_clients(endpoint.url).personalize
    p.create_dataset_group(name="made-by-boto3")
    aws = Path(sys.executable).with_name("aws")
    result = subprocess.run(
        [str(aws), "personalize", "list-dataset-groups", "--endpoint-url", endpoint.url, "--output", "json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
        timeout=60,
    )
    names = {g["name"] for g in json.loads(result.stdout)["datasetGroups"]}
    assert "made-by-boto3" in names
