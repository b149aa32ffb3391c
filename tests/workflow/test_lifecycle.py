"""How sweeps start, retrain and end, on the local cloud through the `sweep` CLI where a user would use
it: the S3 trigger (one execution per run file version, none for other uploads or repeated events),
retraining behind the quality gate (asserted on which version each campaign serves), and cleanup."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.runs import wait_for

from objective_sweep.cli import main
from objective_sweep.localcloud import LocalCloud
from objective_sweep.localcloud.runs import (
    Deployment,
    RunFiles,
    build_config,
    find_started_execution,
    upload_run,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud() as running:
        yield running


def _executions(deployment: Deployment) -> list[str]:
    sfn = deployment.client("stepfunctions")
    return [
        e["executionArn"]
        for e in sfn.list_executions(stateMachineArn=deployment.state_machine_arn)["executions"]
    ]


def _served_versions(deployment: Deployment, experiment: str) -> dict[str, str]:
    """Campaign name -> the solution version it serves now."""
    pz = deployment.client("personalize")
    served = {}
    for campaign in pz.list_campaigns()["campaigns"]:
        if campaign["name"].startswith(f"{experiment}-"):
            described = pz.describe_campaign(campaignArn=campaign["campaignArn"])["campaign"]
            served[campaign["name"]] = described["solutionVersionArn"]
    return served


def _sweep(files: RunFiles, out: Path, *options: str) -> int:
    return main(["run", "--interactions", str(files.interactions), "--items", str(files.items), "--out", str(out),
                 *options])  # fmt: skip


def test_run_file_upload_starts_exactly_one_execution_with_its_config(
    deployment: Deployment, files: RunFiles
) -> None:
    before = set(_executions(deployment))
    s3 = deployment.client("s3")
    s3.upload_file(str(files.items), deployment.bucket, "experiments/trigger/items.csv")
    assert set(_executions(deployment)) == before, "a data upload must start nothing"

    config = build_config(files, experiment="trigger", sensitivities=["OFF"], keep="none")
    uploaded = upload_run(deployment, config, files)
    (arn,) = set(_executions(deployment)) - before
    described = wait_for(deployment, arn)
    assert described["status"] == "SUCCEEDED", described
    history = deployment.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)[
        "events"
    ]
    prepared = next(
        json.loads(e["stateExitedEventDetails"]["output"])
        for e in history
        if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "PrepareRun"
    )
    run_config = json.dumps(prepared)
    assert '"experiment": "trigger"' in run_config
    assert '"sensitivities": ["OFF"]' in run_config
    assert '"keep": "none"' in run_config

    assert set(_executions(deployment)) - before == {arn}
    assert uploaded.key == "experiments/trigger/sweep.json"
    # keep=none: the campaign deployed for the comparison is being deleted, nothing is left billing.
    campaigns = deployment.client("personalize").list_campaigns()["campaigns"]
    assert [c["status"] for c in campaigns if c["name"].startswith("trigger-")] in (
        [],
        ["DELETE PENDING"],
        ["DELETE IN_PROGRESS"],
    )


def test_a_repeated_event_ends_as_a_duplicate_before_anything_is_created(
    cloud: LocalCloud, deployment: Deployment, files: RunFiles
) -> None:
    """EventBridge delivers at least once and a rule cannot name executions, so a repeated event starts a
    second execution, as in AWS: PrepareRun's claim on the object version must end it at once."""
    config = build_config(files, experiment="repeat", sensitivities=["OFF"], keep="none")
    uploaded = upload_run(deployment, config, files)
    first = find_started_execution(deployment, uploaded, timeout=30)
    event = json.loads(deployment.client("stepfunctions").describe_execution(executionArn=first)["input"])
    (delivery,) = cloud.bridge.put_event("123456789012", "us-east-1", event)
    assert delivery.error is None
    assert delivery.execution_arn is not None
    assert delivery.execution_arn != first
    duplicate = wait_for(deployment, delivery.execution_arn)
    assert duplicate["status"] == "SUCCEEDED"
    output = json.loads(duplicate["output"])
    assert output["duplicate"] is True
    assert output["duplicateOf"] == first
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in deployment.client("stepfunctions").get_execution_history(
            executionArn=delivery.execution_arn, maxResults=1000
        )["events"]
        if "stateEnteredEventDetails" in e
    ]
    assert "ImportDatasets" not in entered
    assert wait_for(deployment, first)["status"] == "SUCCEEDED"


def test_an_experiment_runs_again_after_cleanup(deployment: Deployment, files: RunFiles) -> None:
    """Personalize keeps listing a deleted dataset's import jobs under the ARN the recreated dataset gets
    again: the rerun must import anew, not take the old job for its own."""
    from sweep_core.cleanup import delete_experiment

    config = build_config(files, experiment="again", sensitivities=["OFF"], keep="none")
    first = find_started_execution(deployment, upload_run(deployment, config, files), timeout=30)
    assert wait_for(deployment, first)["status"] == "SUCCEEDED"
    pz = deployment.client("personalize")
    delete_experiment(pz, "again", sleep=lambda _: None, interval_s=0.05)

    second = find_started_execution(deployment, upload_run(deployment, config, files), timeout=30)
    described = wait_for(deployment, second)
    assert described["status"] == "SUCCEEDED", described
    (group,) = [g for g in pz.list_dataset_groups()["datasetGroups"] if g["name"] == "again"]
    datasets = pz.list_datasets(datasetGroupArn=group["datasetGroupArn"])["datasets"]
    for dataset in datasets:
        created = pz.describe_dataset(datasetArn=dataset["datasetArn"])["dataset"]["creationDateTime"]
        jobs = pz.list_dataset_import_jobs(datasetArn=dataset["datasetArn"])["datasetImportJobs"]
        assert len(jobs) == 2, "the deleted dataset's job is still listed, and the rerun made its own"
        assert sum(job["creationDateTime"] >= created for job in jobs) == 1


def _scrambled(files: RunFiles, folder: Path) -> RunFiles:
    """The same users, items and timestamps with the items shuffled: nothing left to learn."""
    lines = files.interactions.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], [line.split(",") for line in lines[1:]]
    items = [row[1] for row in rows]
    random.Random(5).shuffle(items)
    seen: set[tuple[str, str]] = set()
    out = [header]
    for row, item in zip(rows, items, strict=True):
        if (row[0], item) not in seen:
            seen.add((row[0], item))
            out.append(f"{row[0]},{item},{row[2]}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "interactions.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return RunFiles(path, files.items)


@pytest.mark.parametrize(
    ("experiment", "tolerance", "moves"),
    [("gatepass", "1.0", True), ("gatefail", "0.0", False)],
)
def test_retrain_moves_campaigns_only_when_the_gate_passes(
    cloud: LocalCloud, deployment: Deployment, files: RunFiles, tmp_path: Path,
    experiment: str, tolerance: str, moves: bool,
) -> None:  # fmt: skip
    config = build_config(files, experiment=experiment, sensitivities=["OFF"],
                          qualityGate={"tolerance": float(tolerance)})  # fmt: skip
    uploaded = upload_run(deployment, config, files)
    first = find_started_execution(deployment, uploaded, timeout=30)
    assert wait_for(deployment, first)["status"] == "SUCCEEDED"
    served_before = _served_versions(deployment, experiment)
    assert len(served_before) == 1

    # New data under the same keys (new object versions); uploading data files starts nothing.
    new = _scrambled(files, tmp_path / "new")
    deployment.client("s3").upload_file(
        str(new.interactions), deployment.bucket, f"experiments/{experiment}/interactions.csv"
    )
    status = main(
        [
            "retrain",
            "--experiment",
            experiment,
            "--endpoint",
            cloud.endpoint_url,
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert status == 0
    served_after = _served_versions(deployment, experiment)
    report = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    (level,) = report["levels"]
    pz = deployment.client("personalize")
    versions = pz.list_solution_versions(solutionArn=level["solutionArn"])["solutionVersions"]
    assert len(versions) == 2, "retraining trains one new FULL version"
    new_version = level["solutionVersionArn"]
    assert new_version not in served_before.values()
    if moves:
        assert list(served_after.values()) == [new_version]
        assert level["deployment"]["action"] == "updated"
    else:
        assert served_after == served_before
        assert level["deployment"]["action"] == "kept"
        assert "quality gate failed" in level["deployment"]["reason"]


def test_cli_run_report_and_cleanup(cloud: LocalCloud, deployment: Deployment, files: RunFiles, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out = tmp_path / "run"
    # A local run file, the same sweep.json one would upload: paths relative to it, any RunConfig field.
    run_file = tmp_path / "input" / "sweep.json"
    run_file.parent.mkdir()
    relative = {
        name: os.path.relpath(getattr(files, name), run_file.parent) for name in ("interactions", "items")
    }
    fields = {
        "experiment": "tidy",
        "sensitivities": ["OFF", "LOW", "HIGH"],
        "reportUsers": 30,
        "numResults": 10,
    }
    run_file.write_text(json.dumps({**relative, **fields}), encoding="utf-8")
    options = ["--run-file", str(run_file), "--endpoint", cloud.endpoint_url, "--sensitivities", "OFF,HIGH"]
    assert main(["run", *options, "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"report.json", "report.md", "report.html", "history.json"}
    assert len(_served_versions(deployment, "tidy")) == 1, (
        "keep=recommended (the default) leaves one campaign"
    )
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert (report["run"]["reportUsers"], report["run"]["k"]) == (30, 10), "the run file's fields apply"
    assert [level["sensitivity"] for level in report["levels"]] == ["OFF", "HIGH"], "options override it"
    capsys.readouterr()
    # --stack finds the stack through CloudFormation, here the local cloud's (its endpoint is exported).
    assert main(["report", report["run"]["executionArn"], "--stack", cloud.stack_name]) == 0
    from_execution = capsys.readouterr().out
    assert "HIGH" in from_execution
    assert main(["report", str(out / "report.json")]) == 0
    assert capsys.readouterr().out == from_execution

    assert main(["cleanup", "--experiment", "tidy", "--endpoint", cloud.endpoint_url]) == 0
    pz = deployment.client("personalize")
    assert [g for g in pz.list_dataset_groups()["datasetGroups"] if g["name"] == "tidy"] == []
    assert _served_versions(deployment, "tidy") == {}
    assert [s for s in pz.list_schemas()["schemas"] if s["name"].startswith("tidy-")] == []
    # Harmless a second time; it says there was nothing left to match (exit status 4).
    assert main(["cleanup", "--experiment", "tidy", "--endpoint", cloud.endpoint_url]) == 4


def test_cli_run_that_fails_exits_1_with_the_cause(
    cloud: LocalCloud, files: RunFiles, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    request.addfinalizer(cloud.faults.clear)
    cloud.faults.add(
        {"fail": [{"resource": "datasetImportJob", "name": "broken-*", "reason": "Injected import failure"}]}
    )
    out = tmp_path / "broken"
    # --stack finds the local cloud's stack through CloudFormation (its endpoint variables are set here).
    assert (
        _sweep(files, out, "--stack", cloud.stack_name, "--experiment", "broken", "--sensitivities", "OFF")
        == 1
    )
    stderr = capsys.readouterr().err
    assert "the run FAILED: ResourceFailedError: " in stderr
    assert "Injected import failure" in stderr
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    assert history[-1]["type"] == "ExecutionFailed"
