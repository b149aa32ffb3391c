"""sweep_core's Personalize operations against the Personalize-compatible endpoint: every request
passes botocore's input validation (client side) and the endpoint's (server side), resources are
created once, an identical rerun creates nothing, the quality gate decides, cleanup removes all."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sweep_core import personalize as ops
from sweep_core.cleanup import delete_experiment
from sweep_core.compare import compare
from sweep_core.models import Sensitivity
from sweep_core.prepare import report_users
from sweep_core.steps import CompareRequest, DataFile, ImportState, LevelRecord, LevelState, Run

from .conftest import BUCKET, NO_TIMEOUT, make_run, until_done

LEVELS: tuple[Sensitivity, ...] = ("OFF", "HIGH")


@dataclass
class Swept:
    run: Run
    group_arn: str
    levels: dict[str, LevelState]
    calls: dict[str, int]


# The function whose role runs each phase.
PHASES = (
    ("solution", ops.ensure_solution, "CreateSolutionFunction"),
    ("version", ops.ensure_solution_version, "CreateSolutionVersionFunction"),
    ("campaign", ops.deploy_campaign, "DeployCampaignFunction"),
)


def sweep(as_function: Callable[..., Any], run: Run, personalize_role: str) -> Swept:
    """What the state machine does, phase by phase, for each level in turn, each phase as its function."""
    importer = as_function("ImportDatasetsFunction")
    imports, calls = until_done(
        lambda s: ops.ensure_imports(importer, run, s, personalize_role, NO_TIMEOUT), ImportState()
    )
    group_arn = imports.dataset_group_arn or ""
    levels: dict[str, LevelState] = {}
    counts = {"imports": calls}
    for sensitivity in run.config.sensitivities:
        level = LevelState(sensitivity=sensitivity, run=run, dataset_group_arn=group_arn)
        for phase, step, function in PHASES:
            pz = as_function(function)

            def advance(
                state: Any, phase: str = phase, step: Any = step, level: LevelState = level, pz: Any = pz
            ) -> Any:
                return step(pz, level.model_copy(update={phase: state}), NO_TIMEOUT)

            result, calls = until_done(advance, getattr(level, phase))
            level = level.model_copy(update={phase: result})
            counts[f"{sensitivity}.{phase}"] = calls
        levels[sensitivity] = level
    return Swept(run, group_arn, levels, counts)


def inventory(pz: Any, group_arn: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {
        "datasets": [],
        "imports": [],
        "solutions": [],
        "versions": [],
        "campaigns": [],
    }
    for dataset in pz.list_datasets(datasetGroupArn=group_arn)["datasets"]:
        found["datasets"].append(dataset["datasetArn"])
        jobs = pz.list_dataset_import_jobs(datasetArn=dataset["datasetArn"])["datasetImportJobs"]
        found["imports"] += [job["datasetImportJobArn"] for job in jobs]
    for solution in pz.list_solutions(datasetGroupArn=group_arn)["solutions"]:
        found["solutions"].append(solution["solutionArn"])
        versions = pz.list_solution_versions(solutionArn=solution["solutionArn"])["solutionVersions"]
        found["versions"] += [v["solutionVersionArn"] for v in versions]
        campaigns = pz.list_campaigns(solutionArn=solution["solutionArn"])["campaigns"]
        found["campaigns"] += [c["campaignArn"] for c in campaigns]
    return {key: sorted(values) for key, values in found.items()}


@pytest.fixture(scope="module")
def first(as_function: Callable[..., Any], data: Any, personalize_role: str) -> Swept:
    return sweep(as_function, make_run("contract", data, sensitivities=list(LEVELS)), personalize_role)


def test_first_run_creates_every_resource_as_configured(clients: dict[str, Any], first: Swept) -> None:
    pz = clients["personalize"]
    found = inventory(pz, first.group_arn)
    assert {key: len(values) for key, values in found.items()} == {
        "datasets": 2,
        "imports": 2,
        "solutions": 2,
        "versions": 2,
        "campaigns": 2,
    }
    for sensitivity, level in first.levels.items():
        solution = pz.describe_solution(solutionArn=level.solution.solution_arn)["solution"]
        assert solution["name"] == f"contract-{sensitivity.lower()}"
        assert solution["performAutoTraining"] is False
        assert solution["solutionConfig"]["optimizationObjective"] == {
            "itemAttribute": "ROYALTY",
            "objectiveSensitivity": sensitivity,
        }
        campaign = pz.describe_campaign(campaignArn=level.campaign.campaign_arn)["campaign"]
        assert campaign["solutionVersionArn"] == level.version.solution_version_arn
        assert campaign["minProvisionedTPS"] == 1
        assert level.campaign.deployment is not None
        assert level.campaign.deployment.action == "created"
    # Waiting happened through the loop (several calls), never through an exception.
    assert first.calls["OFF.version"] > 1


def test_identical_rerun_creates_nothing(
    clients: dict[str, Any], as_function: Callable[..., Any], first: Swept, personalize_role: str
) -> None:
    pz = clients["personalize"]
    before = inventory(pz, first.group_arn)
    rerun = first.run.model_copy(
        update={
            "execution_name": "rerun",
            "started_at": first.run.started_at.now(first.run.started_at.tzinfo),
        }
    )
    again = sweep(as_function, rerun, personalize_role)
    assert again.group_arn == first.group_arn
    assert inventory(pz, first.group_arn) == before
    for sensitivity, level in again.levels.items():
        assert level.version.solution_version_arn == first.levels[sensitivity].version.solution_version_arn
        assert level.campaign.deployment is not None
        assert level.campaign.deployment.action == "kept"


def test_quality_gate_compares_against_the_served_version(
    as_function: Callable[..., Any], first: Swept
) -> None:
    pz = as_function("DeployCampaignFunction")
    off, high = first.levels["OFF"], first.levels["HIGH"]
    metric = first.run.config.quality_gate.metric
    value = {
        name: pz.get_solution_metrics(solutionVersionArn=level.version.solution_version_arn)["metrics"][
            metric
        ]
        for name, level in (("OFF", off), ("HIGH", high))
    }
    better, worse = ("OFF", "HIGH") if value["OFF"] > value["HIGH"] else ("HIGH", "OFF")
    strict = first.run.config.model_copy(
        update={"quality_gate": first.run.config.quality_gate.model_copy(update={"tolerance": 0.0})}
    )
    level = off.model_copy(update={"run": first.run.model_copy(update={"config": strict})})
    arn = {"OFF": off.version.solution_version_arn or "", "HIGH": high.version.solution_version_arn or ""}
    passed, reason = ops.quality_gate(pz, level, served=arn[worse], candidate=arn[better])
    assert passed, reason
    passed, reason = ops.quality_gate(pz, level, served=arn[better], candidate=arn[worse])
    assert not passed
    assert "quality gate failed" in reason
    assert arn[better] in reason


def test_compare_writes_the_report_and_lists_campaigns_to_delete(
    clients: dict[str, Any], as_function: Callable[..., Any], first: Swept
) -> None:
    records = [
        LevelRecord(
            sensitivity=name,
            status="ACTIVE",
            solution_arn=level.solution.solution_arn,
            solution_version_arn=level.version.solution_version_arn,
            campaign_arn=level.campaign.campaign_arn,
            deployment=level.campaign.deployment,
        )
        for name, level in first.levels.items()
    ] + [
        LevelRecord(
            sensitivity="MEDIUM",
            status="FAILED",
            error="ResourceFailedError",
            cause=json.dumps(
                {"errorType": "ResourceFailedError", "errorMessage": "boom", "stackTrace": ["x"]}
            ),
        )
    ]
    config = first.run.config.model_copy(update={"keep": "none", "report_users": 10})
    # As PrepareRun would choose them for 10 report users: the first 10 of the 100 it chose.
    run = first.run.model_copy(
        update={"config": config, "report_users": report_users(config, first.run.report_users)}
    )
    result, report = compare(
        as_function("CompareSolutionsFunction"),
        as_function("CompareSolutionsFunction", "personalize-runtime"),
        clients["s3"],
        CompareRequest(run=run, levels=records),
        BUCKET,
        "objective-sweep",
    )
    assert set(result.report_uris) == {"json", "markdown", "html"}
    for uri in result.report_uris.values():
        key = uri.removeprefix(f"s3://{BUCKET}/")
        assert key.startswith("reports/contract/contract/")
        assert clients["s3"].head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0
    by_level = {level.sensitivity: level for level in report.levels}
    assert by_level["MEDIUM"].status == "FAILED"
    assert [(f.sensitivity, f.cause) for f in report.failures] == [("MEDIUM", "boom")], (
        "the message, not Lambda's JSON"
    )
    assert by_level["OFF"].users_scored == 10
    assert by_level["OFF"].metrics["normalized_discounted_cumulative_gain_at_10"] >= 0
    # keep=none: every live campaign is to be deleted.
    assert sorted(result.delete_campaign_arns) == sorted(
        level.campaign.campaign_arn or "" for level in first.levels.values()
    )


def test_cleanup_removes_the_experiment_and_is_idempotent(
    clients: dict[str, Any], as_function: Callable[..., Any], data: Any, personalize_role: str
) -> None:
    # Cleanup is the user's own command, run with their credentials.
    pz = clients["personalize"]
    swept = sweep(as_function, make_run("contract-cleanup", data, sensitivities=["OFF"]), personalize_role)
    deleted = delete_experiment(pz, "contract-cleanup", sleep=lambda _: None, interval_s=0.0, timeout_s=30)
    assert swept.levels["OFF"].campaign.campaign_arn in deleted
    assert swept.group_arn in deleted
    assert not [g for g in pz.list_dataset_groups()["datasetGroups"] if g["name"] == "contract-cleanup"]
    assert not [s for s in pz.list_schemas()["schemas"] if s["name"].startswith("contract-cleanup-")]
    assert delete_experiment(pz, "contract-cleanup", sleep=lambda _: None, timeout_s=5) == []


def _upload(s3: Any, key: str, body: bytes) -> DataFile:
    put = s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return DataFile(uri=f"s3://{BUCKET}/{key}", version=put["ETag"].strip('"'))


def _scrambled(interactions: bytes, items: list[str]) -> bytes:
    """The same users and timestamps with random items: a model trained on it ranks far worse."""
    rng = random.Random(5)
    rows = list(csv.reader(io.StringIO(interactions.decode())))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for user, _, timestamp in rows[1:]:
        writer.writerow([user, rng.choice(items), timestamp])
    return out.getvalue().encode()


def _serving(pz: Any, swept: Swept) -> dict[str, str]:
    return {
        name: pz.describe_campaign(campaignArn=level.campaign.campaign_arn)["campaign"]["solutionVersionArn"]
        for name, level in swept.levels.items()
    }


def test_retrain_moves_campaigns_only_past_the_quality_gate(
    clients: dict[str, Any], as_function: Callable[..., Any], data: Any, personalize_role: str
) -> None:
    pz, s3 = clients["personalize"], clients["s3"]
    original = {
        kind: s3.get_object(Bucket=BUCKET, Key=file.uri.removeprefix(f"s3://{BUCKET}/"))["Body"].read()
        for kind, file in data.items()
    }
    files = {kind: _upload(s3, f"retrain/{kind}.csv", body) for kind, body in original.items()}
    first = sweep(
        as_function, make_run("contract-retrain", files, sensitivities=list(LEVELS)), personalize_role
    )
    before = _serving(pz, first)

    items = [row["ITEM_ID"] for row in csv.DictReader(io.StringIO(original["items"].decode()))]
    files["interactions"] = _upload(
        s3, "retrain/interactions.csv", _scrambled(original["interactions"], items)
    )

    def retrain(tolerance: float) -> Swept:
        run = make_run("contract-retrain", files, sensitivities=list(LEVELS), mode="retrain")
        gate = run.config.quality_gate.model_copy(update={"tolerance": tolerance})
        return sweep(
            as_function,
            run.model_copy(update={"config": run.config.model_copy(update={"quality_gate": gate})}),
            personalize_role,
        )

    held = retrain(0.0)
    assert _serving(pz, held) == before, "a worse model must not reach the campaigns"
    for level in held.levels.values():
        assert level.version.solution_version_arn not in before.values()
        assert level.campaign.deployment is not None
        assert level.campaign.deployment.action == "kept"
        assert "quality gate failed" in level.campaign.deployment.reason

    moved = retrain(1.0)
    after = _serving(pz, moved)
    for name, level in moved.levels.items():
        # Same data as the held retrain: its versions are reused, not trained again.
        assert level.version.solution_version_arn == held.levels[name].version.solution_version_arn
        assert after[name] == level.version.solution_version_arn
        assert level.campaign.deployment is not None
        assert level.campaign.deployment.action == "updated"
        assert "quality gate passed" in level.campaign.deployment.reason


def test_a_rerun_after_keep_none_deploys_again_once_the_old_campaign_is_gone(
    clients: dict[str, Any], as_function: Callable[..., Any], data: Any, personalize_role: str
) -> None:
    pz = clients["personalize"]
    first = sweep(as_function, make_run("contract-keep", data, sensitivities=["OFF"]), personalize_role)
    old = first.levels["OFF"].campaign.campaign_arn or ""
    keeper = as_function("ApplyKeepFunction")
    assert ops.delete_campaigns(keeper, [old]) == ([old], [])
    assert ops.delete_campaigns(keeper, [old]) == ([], [old]), "deleting again is harmless"
    again = sweep(as_function, make_run("contract-keep", data, sensitivities=["OFF"]), personalize_role)
    level = again.levels["OFF"]
    assert level.campaign.deployment is not None
    assert level.campaign.deployment.action == "created"
    assert level.version.solution_version_arn == first.levels["OFF"].version.solution_version_arn
    assert len(inventory(pz, again.group_arn)["campaigns"]) == 1


def test_a_call_the_function_role_does_not_allow_is_refused_by_the_endpoint(
    as_function: Callable[..., Any], first: Swept
) -> None:
    campaign = first.levels["OFF"].campaign.campaign_arn or ""
    pz = as_function("CreateSolutionFunction")
    with pytest.raises(pz.exceptions.ClientError) as refused:
        pz.delete_campaign(campaignArn=campaign)
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert (
        "assumed-role/objective-sweep-CreateSolutionFunctionRole/objective-sweep-CreateSolutionFunction"
        in (error["Message"])
    )
    assert f"personalize:DeleteCampaign on resource: {campaign}" in error["Message"]
    runtime = as_function("DeployCampaignFunction", "personalize-runtime")
    with pytest.raises(runtime.exceptions.ClientError, match="personalize:GetRecommendations"):
        runtime.get_recommendations(campaignArn=campaign, userId="1")


def test_a_role_the_caller_may_not_pass_refuses_the_import_job_and_records_nothing(
    as_function: Callable[..., Any], first: Swept, stack: Any
) -> None:
    # ImportDatasets may pass only PersonalizeRole; handing Personalize another role is refused before
    # the job exists, as in AWS, so no job is left CREATE PENDING to count against the quota.
    pz = as_function("ImportDatasetsFunction")
    other_role = next(role.arn for role in stack.roles if role.logical_id == "NotifyFunctionRole")
    dataset = pz.list_datasets(datasetGroupArn=first.group_arn)["datasets"][0]["datasetArn"]
    with pytest.raises(pz.exceptions.ClientError) as refused:
        pz.create_dataset_import_job(
            jobName="contract-not-my-role",
            datasetArn=dataset,
            dataSource={"dataLocation": first.run.files["interactions"].uri},
            roleArn=other_role,
        )
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert f"iam:PassRole on resource: {other_role}" in error["Message"]
    jobs = pz.list_dataset_import_jobs(datasetArn=dataset)["datasetImportJobs"]
    assert "contract-not-my-role" not in [job["jobName"] for job in jobs]
