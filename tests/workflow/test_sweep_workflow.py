"""The real workflow end to end on the local cloud: template.yaml's state machine and handlers, the
Personalize-compatible endpoint training for real, started the ways users start it. Assertions are on
the execution history, the report and Personalize's state, not only on the final status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.runs import wait_for
from sweep_core.models import RunConfig

from objective_sweep.localcloud import LocalCloud
from objective_sweep.localcloud.runs import (
    Deployment,
    RunFiles,
    build_config,
    execution_history,
    fetch_report_files,
    find_started_execution,
    start_console_run,
    upload_run,
)

pytestmark = pytest.mark.slow

FAULT_REASON = "Injected failure: HIGH level"
FAULTS = {"fail": [{"resource": "solutionVersion", "name": "faulty-high*", "reason": FAULT_REASON}]}
FAILURE_EVENTS = {"TaskFailed", "LambdaFunctionFailed", "ExecutionFailed", "MapIterationFailed"}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(personalize_options={"faults": FAULTS}) as running:
        yield running


def _upload_and_run(deployment: Deployment, config: RunConfig, files: RunFiles) -> tuple[str, dict[str, Any]]:
    uploaded = upload_run(deployment, config, files)
    arn = find_started_execution(deployment, uploaded, timeout=30)
    return arn, wait_for(deployment, arn)


def _failures(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for event in history if event["type"] in FAILURE_EVENTS]


def _report(deployment: Deployment, experiment: str, arn: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(fetch_report_files(deployment, experiment, arn)["report.json"])
    return report


def _inventory(deployment: Deployment, experiment: str) -> dict[str, list[str]]:
    """ARNs of every Personalize resource of the experiment's dataset group."""
    pz = deployment.client("personalize")
    groups = [
        g["datasetGroupArn"] for g in pz.list_dataset_groups()["datasetGroups"] if g["name"] == experiment
    ]
    found: dict[str, list[str]] = {
        "datasetGroups": groups,
        "datasets": [],
        "solutions": [],
        "versions": [],
        "campaigns": [],
    }
    for group in groups:
        found["datasets"] += [d["datasetArn"] for d in pz.list_datasets(datasetGroupArn=group)["datasets"]]
        for solution in pz.list_solutions(datasetGroupArn=group)["solutions"]:
            found["solutions"].append(solution["solutionArn"])
            versions = pz.list_solution_versions(solutionArn=solution["solutionArn"])["solutionVersions"]
            found["versions"] += [v["solutionVersionArn"] for v in versions]
            found["campaigns"] += [
                c["campaignArn"] for c in pz.list_campaigns(solutionArn=solution["solutionArn"])["campaigns"]
            ]
    return found


@pytest.fixture(scope="module")
def happy(deployment: Deployment, files: RunFiles) -> tuple[str, dict[str, Any]]:
    """One sweep of all four levels, keeping every campaign, shared by the tests that read it or run it
    again (the default, keep=recommended, would delete three of them)."""
    return _upload_and_run(deployment, build_config(files, experiment="happy", keep="all"), files)


def test_happy_path_trains_and_deploys_four_levels(
    deployment: Deployment, happy: tuple[str, dict[str, Any]]
) -> None:
    arn, described = happy
    history = execution_history(deployment, arn)
    assert described["status"] == "SUCCEEDED", described
    # Waiting on Personalize is done by states, never by failing tasks.
    assert _failures(history) == []
    entered = {e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e}
    assert {"PrepareRun", "ImportDatasets", "CompareSolutions"} <= entered

    report = _report(deployment, "happy", arn)
    levels = {level["sensitivity"]: level for level in report["levels"]}
    assert list(levels) == ["OFF", "LOW", "MEDIUM", "HIGH"]
    assert {level["status"] for level in levels.values()} == {"ACTIVE"}
    for level in levels.values():
        assert "normalized_discounted_cumulative_gain_at_10" in level["metrics"]
        assert level["meanTopKObjectiveSum"] is not None
    # ROYALTY is negated, so maximising it lowers the royalty paid: HIGH's lists cost less than OFF's.
    assert levels["HIGH"]["meanTopKObjectiveSum"] > levels["OFF"]["meanTopKObjectiveSum"]
    inventory = _inventory(deployment, "happy")
    assert len(inventory["campaigns"]) == 4
    assert sorted(inventory["campaigns"]) == sorted(level["campaignArn"] for level in levels.values())


def test_identical_rerun_creates_nothing(
    deployment: Deployment, files: RunFiles, happy: tuple[str, dict[str, Any]]
) -> None:
    assert happy[1]["status"] == "SUCCEEDED", happy[1]
    before = _inventory(deployment, "happy")
    assert len(before["campaigns"]) == 4
    arn, described = _upload_and_run(deployment, build_config(files, experiment="happy", keep="all"), files)
    assert described["status"] == "SUCCEEDED", described
    assert _failures(execution_history(deployment, arn)) == []
    assert _inventory(deployment, "happy") == before


def test_failing_level_is_reported_and_the_run_succeeds(deployment: Deployment, files: RunFiles) -> None:
    arn, described = _upload_and_run(deployment, build_config(files, experiment="faulty", keep="all"), files)
    assert described["status"] == "SUCCEEDED", described
    report = _report(deployment, "faulty", arn)
    levels = {level["sensitivity"]: level for level in report["levels"]}
    assert levels["HIGH"]["status"] == "FAILED"
    assert FAULT_REASON in levels["HIGH"]["error"]["cause"]
    assert [f["sensitivity"] for f in report["failures"]] == ["HIGH"]
    assert {levels[s]["status"] for s in ("OFF", "LOW", "MEDIUM")} == {"ACTIVE"}
    campaigns = _inventory(deployment, "faulty")["campaigns"]
    assert len(campaigns) == 3


def test_invalid_input_fails_in_prepare_run_and_creates_nothing(
    deployment: Deployment, files: RunFiles, tmp_path: Path
) -> None:
    too_few = tmp_path / "interactions.csv"
    lines = files.interactions.read_text(encoding="utf-8").splitlines()[:200]
    too_few.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = RunFiles(too_few, files.items)
    arn, described = _upload_and_run(deployment, build_config(bad, experiment="invalid"), bad)
    assert described["status"] == "FAILED"
    history = execution_history(deployment, arn)
    failed = [e for e in history if e["type"] == "TaskFailed"]
    assert failed
    assert failed[0]["taskFailedEventDetails"]["error"] == "InvalidInputError"
    scheduled = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert "ImportDatasets" not in scheduled
    assert "1000" in (described.get("cause") or "") or "1000" in failed[0]["taskFailedEventDetails"]["cause"]
    assert _inventory(deployment, "invalid")["datasetGroups"] == []


def test_console_input_with_keep_recommended_leaves_one_campaign(
    cloud: LocalCloud, deployment: Deployment, files: RunFiles
) -> None:
    s3 = cloud.client("s3")
    bucket = cloud.stack.bucket_name
    for name, path in files.by_name().items():
        s3.upload_file(str(path), bucket, f"console/{name}")
    run_input = {
        "experiment": "console",
        "interactions": f"s3://{bucket}/console/interactions.csv",
        "items": f"s3://{bucket}/console/items.csv",
        "sensitivities": ["OFF", "HIGH"],
        "keep": "recommended",
    }
    arn = start_console_run(deployment, run_input)
    described = wait_for(deployment, arn)
    assert described["status"] == "SUCCEEDED", described
    assert _failures(execution_history(deployment, arn)) == []
    report = _report(deployment, "console", arn)
    recommended = report["recommendation"]["sensitivity"]
    assert recommended in ("OFF", "HIGH")
    (campaign,) = _inventory(deployment, "console")["campaigns"]
    level = next(level for level in report["levels"] if level["sensitivity"] == recommended)
    assert campaign == level["campaignArn"]
