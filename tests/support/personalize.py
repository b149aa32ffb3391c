"""Helpers for the tests of the local Personalize endpoint (tests/personalize, fixtures in its
conftest.py): boto3 clients that check every response against botocore's output shapes, small
deterministic data, and the steps that build, train and deploy through the API."""

from __future__ import annotations

import csv
import http.client
import io
import json
import random
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.validate import ParamValidator
from sweep_core.schemas import build_schema, schema_json

from objective_sweep.datasets.prepared import INTERACTION_COLUMNS, ITEM_COLUMNS, OBJECTIVE, ROYALTY_TIERS
from support.poll import poll

BUCKET = "personalize-tests"
# The synthetic files below have the study's columns (as the contract tests' generated data does),
# and these are the schemas the workflow would create for them.
INTERACTIONS_SCHEMA = schema_json(build_schema("interactions", INTERACTION_COLUMNS))
ITEMS_SCHEMA = schema_json(build_schema("items", ITEM_COLUMNS, objective=OBJECTIVE))
RECIPE = "arn:aws:personalize:::recipe/aws-user-personalization"
ROLE = "arn:aws:iam::123456789012:role/PersonalizeS3"


def synthetic_interactions(users: int = 60, items: int = 90, per_user: int = 25) -> str:
    """A deterministic CSV of users who prefer one of three item clusters."""
    rng = random.Random(7)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["USER_ID", "ITEM_ID", "TIMESTAMP"])
    for user in range(users):
        cluster = user % 3
        liked = [i for i in range(items) if i % 3 == cluster]
        others = [i for i in range(items) if i % 3 != cluster]
        chosen = rng.sample(liked, per_user - 5) + rng.sample(others, 5)
        for step, item in enumerate(chosen):
            writer.writerow([f"u{user}", f"i{item}", 1_600_000_000 + user * 1000 + step])
    return out.getvalue()


def synthetic_items(items: int = 90) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["ITEM_ID", "ROYALTY", "GENRE"])
    for item in range(items):
        writer.writerow(
            [f"i{item}", -ROYALTY_TIERS[item % len(ROYALTY_TIERS)], "" if item % 5 == 0 else f"G{item % 3}"]
        )
    return out.getvalue()


# Errors any AWS operation may answer without declaring them (throttling is injected by fault rules;
# unimplemented operations say so).
COMMON_ERRORS = frozenset({"ThrottlingException", "LimitExceededException", "UnknownOperationException"})


@dataclass
class ShapeChecker:
    """Validates every successful response, raw and parsed, with botocore's own ParamValidator, and
    checks that every error is one botocore's model declares for the operation."""

    checked: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def attach(self, client: Any) -> Any:
        client.meta.events.register("after-call", self._after_call)
        return client

    def _after_call(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if http_response.status_code != 200:
            code = parsed.get("Error", {}).get("Code")
            declared = {shape.name for shape in model.error_shapes} | COMMON_ERRORS
            if code not in declared:
                self.problems.append(f"{model.name} answered {code}, which botocore does not declare for it")
            return
        raw = json.loads(http_response.content or b"{}")
        parsed_body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
        for label, body in (("raw JSON", raw), ("parsed", parsed_body)):
            if model.output_shape is None:
                if body:
                    self.problems.append(
                        f"{model.name} ({label}): body {body} for an operation without output"
                    )
                continue
            report = ParamValidator().validate(body, model.output_shape)
            if report.has_errors():
                self.problems.append(f"{model.name} ({label}): {report.generate_report()}")
        self.checked.add(model.name)


@dataclass
class Clients:
    personalize: Any
    runtime: Any
    checker: ShapeChecker


def make_clients(url: str, checker: ShapeChecker | None = None, region: str = "us-east-1") -> Clients:
    checker = checker or ShapeChecker()
    # No retries: tests must see throttling and quota errors as the service sends them.
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, region_name=region)
    return Clients(
        personalize=checker.attach(boto3.client("personalize", endpoint_url=url, config=config)),
        runtime=checker.attach(boto3.client("personalize-runtime", endpoint_url=url, config=config)),
        checker=checker,
    )


def wait_until(
    describe: Callable[..., dict[str, Any]],
    key: str,
    done: tuple[str, ...] = ("ACTIVE", "CREATE FAILED"),
    timeout: float = 120,
    **arguments: str,
) -> dict[str, Any]:
    """Poll a Describe call until the resource (or its `key` path) reaches a final status."""

    def read() -> dict[str, Any]:
        record = describe(**arguments)
        for part in key.split("."):
            record = record[part]
        return record

    return poll(
        read,
        lambda record: record["status"] in done,
        timeout=timeout,
        what=lambda record: f"{key} still {record['status']}",
    )


@dataclass
class Group:
    """A dataset group with interactions (and items) imported and ACTIVE."""

    arn: str
    interactions: str
    items: str | None


def build_group(
    clients: Clients, name: str, interactions_uri: str, items_uri: str | None, wait: bool = True
) -> Group:
    p = clients.personalize
    group = p.create_dataset_group(name=name)["datasetGroupArn"]
    wait_until(p.describe_dataset_group, "datasetGroup", datasetGroupArn=group)
    schemas = {
        kind: p.create_schema(name=f"{name}-{kind.lower()}", schema=text)["schemaArn"]
        for kind, text in (("Interactions", INTERACTIONS_SCHEMA), ("Items", ITEMS_SCHEMA))
    }
    uris = {"Interactions": interactions_uri, "Items": items_uri}
    datasets: dict[str, str] = {}
    for kind, uri in uris.items():
        if uri is None:
            continue
        datasets[kind] = p.create_dataset(
            name=f"{name}-{kind.lower()}", schemaArn=schemas[kind], datasetGroupArn=group, datasetType=kind
        )["datasetArn"]
    jobs = []
    for kind, dataset in datasets.items():
        wait_until(p.describe_dataset, "dataset", datasetArn=dataset)
        jobs.append(
            p.create_dataset_import_job(
                jobName=f"{name}-{kind.lower()}-import",
                datasetArn=dataset,
                dataSource={"dataLocation": uris[kind]},
                roleArn=ROLE,
            )["datasetImportJobArn"]
        )
    if wait:
        for job in jobs:
            record = wait_until(p.describe_dataset_import_job, "datasetImportJob", datasetImportJobArn=job)
            assert record["status"] == "ACTIVE", record.get("failureReason")
    return Group(group, datasets["Interactions"], datasets.get("Items"))


def train(clients: Clients, group: Group, name: str, sensitivity: str | None = "OFF", **solution: Any) -> str:
    """Create a solution and one ACTIVE solution version; returns the version ARN."""
    p = clients.personalize
    config = solution.pop("solutionConfig", {})
    if sensitivity is not None:
        config["optimizationObjective"] = {"itemAttribute": "ROYALTY", "objectiveSensitivity": sensitivity}
    solution_arn = p.create_solution(
        name=name,
        datasetGroupArn=group.arn,
        recipeArn=solution.pop("recipeArn", RECIPE),
        performAutoTraining=solution.pop("performAutoTraining", False),
        solutionConfig=config,
        **solution,
    )["solutionArn"]
    wait_until(p.describe_solution, "solution", solutionArn=solution_arn)
    version = p.create_solution_version(solutionArn=solution_arn)["solutionVersionArn"]
    record = wait_until(p.describe_solution_version, "solutionVersion", solutionVersionArn=version)
    assert record["status"] == "ACTIVE", record.get("failureReason")
    return str(version)


def deploy(clients: Clients, name: str, version: str) -> str:
    p = clients.personalize
    campaign = p.create_campaign(name=name, solutionVersionArn=version, minProvisionedTPS=1)["campaignArn"]
    record = wait_until(p.describe_campaign, "campaign", campaignArn=campaign)
    assert record["status"] == "ACTIVE", record.get("failureReason")
    return str(campaign)


def admin(url: str, method: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """Call the endpoint's fault admin route; returns the status and the JSON answer."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=10)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(
            method, "/_local/faults", body=payload, headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()
