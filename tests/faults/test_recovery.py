"""Failures as a careful AWS user meets them, on the local cloud running the real state machine: each
scenario asserts the end state — the execution's status, the report's levels and what it says still
bills, the notification, and Personalize's inventory (no duplicate resource, no campaign left up that
nobody chose) — and that running the same thing again recovers once the cause is gone.
docs/reliability.md keeps the table of these scenarios."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from support.poll import poll
from support.runs import entered_states, notices, start_upload, wait_for

from objective_sweep.localcloud import LocalCloud
from objective_sweep.localcloud.runs import Deployment, RunFiles

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud() as running:
        yield running


@pytest.fixture
def faults(cloud: LocalCloud) -> Iterator[Any]:
    """Posts fault rules to the local endpoint; clears them when the test ends, whatever happened."""

    yield cloud.faults.add
    cloud.faults.clear()


def _run(
    deployment: Deployment, files: RunFiles, experiment: str, **fields: Any
) -> tuple[str, dict[str, Any]]:
    arn = start_upload(deployment, files, experiment, **fields)
    return arn, wait_for(deployment, arn)


def _report(deployment: Deployment, experiment: str, arn: str) -> dict[str, Any]:
    name = arn.rsplit(":", 1)[1]
    body = deployment.client("s3").get_object(
        Bucket=deployment.bucket, Key=f"reports/{experiment}/{name}/report.json"
    )
    report: dict[str, Any] = json.loads(body["Body"].read())
    return report


def _campaigns(deployment: Deployment, experiment: str) -> dict[str, str]:
    """Campaign name -> status, for the experiment's campaigns (deleted ones gone or going)."""
    pz = deployment.client("personalize")
    return {
        c["name"]: pz.describe_campaign(campaignArn=c["campaignArn"])["campaign"]["status"]
        for c in pz.list_campaigns()["campaigns"]
        if c["name"].startswith(f"{experiment}-")
    }


def _billing(campaigns: dict[str, str]) -> dict[str, str]:
    return {
        name: status
        for name, status in campaigns.items()
        if not status.startswith(("DELETE", "CREATE FAILED"))
    }


def _versions(deployment: Deployment, experiment: str, level: str) -> list[dict[str, Any]]:
    pz = deployment.client("personalize")
    (solution,) = [s for s in pz.list_solutions()["solutions"] if s["name"] == f"{experiment}-{level}"]
    return list(pz.list_solution_versions(solutionArn=solution["solutionArn"])["solutionVersions"])


@pytest.mark.parametrize(
    ("stage", "resource", "name", "ends"),
    [
        ("import", "datasetImportJob", "failimport-interactions-*", "FAILED"),
        ("training", "solutionVersion", "failtraining-high-*", "SUCCEEDED"),
        ("campaign", "campaign", "failcampaign-high", "SUCCEEDED"),
    ],
    ids=["import", "training", "campaign"],
)
def test_a_stage_that_failed_recovers_when_the_same_run_is_started_again(
    cloud: LocalCloud, deployment: Deployment, files: RunFiles, faults: Any,
    stage: str, resource: str, name: str, ends: str,
) -> None:  # fmt: skip
    experiment = name.split("-")[0]
    faults({"fail": [{"resource": resource, "name": name, "reason": f"Injected {stage} failure"}]})
    first, described = _run(deployment, files, experiment, sensitivities=["OFF", "HIGH"], keep="all")
    assert described["status"] == ends, described
    if ends == "SUCCEEDED":
        report = _report(deployment, experiment, first)
        assert [f["sensitivity"] for f in report["failures"]] == ["HIGH"]
        assert f"Injected {stage} failure" in report["failures"][0]["cause"]
    else:
        assert f"Injected {stage} failure" in described["cause"]
    cloud.faults.clear()

    second, described = _run(deployment, files, experiment, sensitivities=["OFF", "HIGH"], keep="all")
    assert described["status"] == "SUCCEEDED", described
    levels = {
        level["sensitivity"]: level["status"] for level in _report(deployment, experiment, second)["levels"]
    }
    assert levels == {"OFF": "ACTIVE", "HIGH": "ACTIVE"}
    # The failed resource was replaced, not reused; nothing else was duplicated.
    assert _billing(_campaigns(deployment, experiment)) == {
        f"{experiment}-off": "ACTIVE",
        f"{experiment}-high": "ACTIVE",
    }
    assert len(_versions(deployment, experiment, "off")) == 1
    statuses = sorted(v["status"] for v in _versions(deployment, experiment, "high"))
    assert statuses == (["ACTIVE", "CREATE FAILED"] if stage == "training" else ["ACTIVE"])


@pytest.mark.parametrize("keep", ["none", "recommended", "all"])
def test_a_comparison_that_fails_leaves_billing_only_what_was_chosen(
    cloud: LocalCloud, deployment: Deployment, files: RunFiles, keep: str
) -> None:
    """The titles file vanishes while the levels train: CompareSolutions cannot finish. With
    keep=none or keep=recommended (nothing was recommended) the campaigns this run created are
    deleted; keep=all keeps them, and the failure notice lists them, their cost and the cleanup."""
    experiment = f"nocompare{keep}"
    s3 = deployment.client("s3")
    arn = start_upload(deployment, files, experiment, sensitivities=["OFF", "HIGH"], keep=keep)
    poll(
        lambda: entered_states(deployment, arn),
        lambda states: "TrainLevels" in states,
        timeout=240,
        interval=0.05,
    )
    s3.delete_object(Bucket=deployment.bucket, Key=f"experiments/{experiment}/titles.csv")
    described = wait_for(deployment, arn)
    assert described["status"] == "FAILED"
    assert "titles.csv" in described["cause"]
    assert entered_states(deployment, arn)[-3:] == ["SettleAfterFailure", "NotifyFailure", "RunFailed"]
    billing = _billing(_campaigns(deployment, experiment))
    (notice,) = [n for n in notices(cloud) if arn in n["message"]]
    if keep == "all":
        assert billing == {f"{experiment}-off": "ACTIVE", f"{experiment}-high": "ACTIVE"}
        assert "Still billing: 2 campaign(s), about $292.00 per month:" in notice["message"]
        assert f"sweep cleanup --experiment {experiment} --stack objective-sweep" in notice["message"]
    else:
        assert billing == {}
        assert "Nothing of this run is left billing." in notice["message"]
    # The lease was given back: the experiment can run again at once.
    assert "Contents" not in s3.list_objects_v2(
        Bucket=deployment.bucket, Prefix=f"runs/{experiment}/lease.json"
    )


def test_a_second_start_of_a_running_experiment_ends_at_once_touching_nothing(
    cloud: LocalCloud, deployment: Deployment, files: RunFiles, faults: Any
) -> None:
    # Slow training keeps the first execution running while the second starts.
    faults({"slowTraining": [{"name": "twice-*", "seconds": 2}]})
    first = start_upload(deployment, files, "twice", sensitivities=["OFF"], keep="none")
    sfn = deployment.client("stepfunctions")
    second = sfn.start_execution(
        stateMachineArn=deployment.state_machine_arn,
        input=json.dumps({"runFile": f"s3://{deployment.bucket}/experiments/twice/sweep.json"}),
    )["executionArn"]
    busy = wait_for(deployment, second)
    assert busy["status"] == "FAILED"
    assert busy["error"] == "ExperimentBusyError"
    assert f"experiment twice is already running: {first}" in busy["cause"]
    assert "ImportDatasets" not in entered_states(deployment, second)
    assert wait_for(deployment, first)["status"] == "SUCCEEDED"
    assert len(_versions(deployment, "twice", "off")) == 1


def _inventory(deployment: Deployment, experiment: str) -> dict[str, list[str]]:
    """Every live Personalize resource of the experiment, by kind, as "name STATUS" (an import job and
    a solution version by their dataset's and solution's name): a duplicate shows twice. Deleted ones,
    and import jobs listed from a dataset deleted earlier, are left out."""
    pz = deployment.client("personalize")
    found: dict[str, list[str]] = {}

    def add(kind: str, name: str, status: str) -> None:
        if not status.startswith("DELETE"):
            found.setdefault(kind, []).append(f"{name} {status}")

    for group in pz.list_dataset_groups()["datasetGroups"]:
        if group["name"] != experiment:
            continue
        add("datasetGroup", group["name"], group["status"])
        for dataset in pz.list_datasets(datasetGroupArn=group["datasetGroupArn"])["datasets"]:
            add("dataset", dataset["name"], dataset["status"])
            created = pz.describe_dataset(datasetArn=dataset["datasetArn"])["dataset"]["creationDateTime"]
            for job in pz.list_dataset_import_jobs(datasetArn=dataset["datasetArn"])["datasetImportJobs"]:
                if job["creationDateTime"] >= created:
                    add("datasetImportJob", dataset["name"], job["status"])
        for solution in pz.list_solutions(datasetGroupArn=group["datasetGroupArn"])["solutions"]:
            add("solution", solution["name"], solution["status"])
            for version in pz.list_solution_versions(solutionArn=solution["solutionArn"])["solutionVersions"]:
                add("solutionVersion", solution["name"], version["status"])
    for name, status in _campaigns(deployment, experiment).items():
        add("campaign", name, status)
    return {kind: sorted(entries) for kind, entries in found.items()}


def _clean(experiment: str, levels: list[str], campaigns: list[str]) -> dict[str, list[str]]:
    """The inventory of a sweep that went right: one of everything, ACTIVE."""
    per_level = sorted(f"{experiment}-{level.lower()} ACTIVE" for level in levels)
    datasets = [f"{experiment}-interactions ACTIVE", f"{experiment}-items ACTIVE"]
    inventory = {
        "datasetGroup": [f"{experiment} ACTIVE"],
        "dataset": datasets,
        "datasetImportJob": datasets,
        "solution": per_level,
        "solutionVersion": per_level,
        "campaign": sorted(f"{experiment}-{level.lower()} ACTIVE" for level in campaigns),
    }
    return {kind: entries for kind, entries in inventory.items() if entries}


def _succeeded_cleanly(
    cloud: LocalCloud, deployment: Deployment, experiment: str, arn: str, levels: list[str]
) -> dict[str, Any]:
    """The end state of a run that recovered from its faults: every level ACTIVE in the report, the
    campaigns it says bill are exactly those up, one of each resource, one success notice. Returns
    what happened on the way, for the record."""
    described = wait_for(deployment, arn)
    history = deployment.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)
    task_failures = [
        e["type"] for e in history["events"] if e["type"] in ("TaskFailed", "LambdaFunctionFailed")
    ]
    assert described["status"] == "SUCCEEDED", (described.get("cause"), task_failures)
    report = _report(deployment, experiment, arn)
    assert {level["sensitivity"]: level["status"] for level in report["levels"]} == dict.fromkeys(
        levels, "ACTIVE"
    )
    for level in report["levels"]:
        # A user whose lists kept failing is left out and counted, never silently lost.
        assert level["usersScored"] + level["usersDropped"] == report["run"]["reportUsers"]
        assert level["usersScored"] >= report["run"]["reportUsers"] / 2
    billed = {c["sensitivity"] for c in report["cost"]["campaigns"]}
    pz = deployment.client("personalize")
    up = {
        c["campaignArn"]
        for c in pz.list_campaigns()["campaigns"]
        if c["name"] in _billing(_campaigns(deployment, experiment))
    }
    assert {c["campaignArn"] for c in report["cost"]["campaigns"]} == up, (
        "up is exactly what the report bills"
    )
    assert _inventory(deployment, experiment) == _clean(experiment, levels, sorted(billed))
    name = arn.rsplit(":", 1)[1]
    (notice,) = [n for n in notices(cloud) if f"execution {name}:" in n["message"]]
    assert f"{len(levels)} of {len(levels)} level(s) ACTIVE" in notice["message"]
    assert f"Cost: {len(billed)} campaign(s) left running" in notice["message"]
    return {
        "taskFailures": len(task_failures),
        "usersDropped": sum(level["usersDropped"] for level in report["levels"]),
    }


def test_throttling_of_30_percent_of_every_call_runtime_included_is_ridden_out(
    cloud: LocalCloud, deployment: Deployment, files: RunFiles, faults: Any, record_property: Any
) -> None:
    """Three in ten Personalize calls — control plane and GetRecommendations alike — are throttled
    from the first to the last step. The SDK's retries, the state machine's ResourceLimitError retry
    and the comparison's adaptive retries absorb them: the run ends as if nothing had happened."""
    faults({"throttle": [{"operation": "*", "probability": 0.3, "seed": 30}]})
    # 20 report users per level, not 100: the comparison's adaptive retries slow the client to about
    # one call a second under throttling that does not ease with a lower rate (docs/reliability.md).
    arn = start_upload(
        deployment, files, "throttled", sensitivities=["OFF", "HIGH"], keep="recommended", reportUsers=20
    )
    observed = _succeeded_cleanly(cloud, deployment, "throttled", arn, ["OFF", "HIGH"])
    record_property("observed", observed)


def test_answers_lost_after_every_create_neither_fail_the_run_nor_duplicate_anything(
    cloud: LocalCloud, deployment: Deployment, files: RunFiles, faults: Any, record_property: Any
) -> None:
    """Every Create* call does its work and its answer never arrives (the connection closes): the
    retried call meets the resource it created, and describe-or-create takes it as its own."""
    faults({"loseAnswer": [{"operation": "Create*", "probability": 1}]})
    arn = start_upload(deployment, files, "lostanswers", sensitivities=["OFF", "HIGH"], keep="all")
    observed = _succeeded_cleanly(cloud, deployment, "lostanswers", arn, ["OFF", "HIGH"])
    # Absorbed inside each step: a create retried over a busy solution finds its own version by name.
    assert observed["taskFailures"] == 0
    lost = cloud.faults.describe()["loseAnswer"]
    assert lost == [{"operation": "Create*", "probability": 1.0, "seed": 0, "seconds": 0.0}]
    record_property("observed", observed)


def test_cleanup_then_the_same_run_again_builds_everything_anew(
    cloud: LocalCloud, deployment: Deployment, files: RunFiles, faults: Any, record_property: Any
) -> None:
    """The careful user's path after a level failed: `sweep cleanup` as the report says, then the same
    run file again. Nothing of the first run is in the way: one of each resource, all ACTIVE."""
    from sweep_core.cleanup import delete_experiment

    faults({"fail": [{"resource": "campaign", "name": "tidied-high", "reason": "Injected campaign failure"}]})
    first, described = _run(deployment, files, "tidied", sensitivities=["OFF", "HIGH"], keep="all")
    assert described["status"] == "SUCCEEDED", described
    report = _report(deployment, "tidied", first)
    assert [f["sensitivity"] for f in report["failures"]] == ["HIGH"]
    assert "sweep cleanup --experiment tidied" in report["cost"]["cleanupCommand"]
    cloud.faults.clear()
    deleted = delete_experiment(deployment.client("personalize"), "tidied", interval_s=0.05)
    assert _inventory(deployment, "tidied") == {}

    second = start_upload(deployment, files, "tidied", sensitivities=["OFF", "HIGH"], keep="all")
    observed = _succeeded_cleanly(cloud, deployment, "tidied", second, ["OFF", "HIGH"])
    record_property("observed", {**observed, "deletedByCleanup": len(deleted)})


@pytest.mark.parametrize(
    ("state", "hold", "ends"),
    [
        (
            "WaitForImports",
            {"slow": [{"resource": "datasetImportJob", "seconds": 60}]},
            "ABORTED",
        ),
        # Stopped inside the Map, moto 5.2.5's interpreter ends the execution FAILED (States.Runtime)
        # where Step Functions says ABORTED; either way it has ended without giving its lease back.
        ("WaitForSolutionVersion", {"slowTraining": [{"seconds": 60}]}, "FAILED"),
    ],
    ids=["importing", "training"],
)
def test_an_execution_stopped_mid_run_then_the_same_run_again_resumes_it(
    cloud: LocalCloud, deployment: Deployment, files: RunFiles, faults: Any, record_property: Any,
    state: str, hold: dict[str, Any], ends: str,
) -> None:  # fmt: skip
    """The run is stopped while it waits on Personalize (StopExecution — what the console's Stop, or
    stopping the local cloud, does): no step after that runs, so its lease is never given back. The
    same run started again takes the lease over (its holder has ended), reuses the imports or versions
    still in progress and finishes the run: nothing imported or trained twice."""
    experiment = f"stopped{state.lower()}"
    faults({kind: [{**rule, "name": f"{experiment}-*"} for rule in rules] for kind, rules in hold.items()})
    first = start_upload(deployment, files, experiment, sensitivities=["OFF", "HIGH"], keep="none")
    poll(
        lambda: entered_states(deployment, first), lambda states: state in states, timeout=240, interval=0.05
    )
    deployment.client("stepfunctions").stop_execution(executionArn=first, cause="stopped mid-run by the test")
    assert wait_for(deployment, first)["status"] == ends
    s3 = deployment.client("s3")
    lease = json.loads(
        s3.get_object(Bucket=deployment.bucket, Key=f"runs/{experiment}/lease.json")["Body"].read()
    )
    assert lease["owner"] == first, "the stopped execution never gave its lease back"
    cloud.faults.clear()

    second = start_upload(deployment, files, experiment, sensitivities=["OFF", "HIGH"], keep="none")
    observed = _succeeded_cleanly(cloud, deployment, experiment, second, ["OFF", "HIGH"])
    assert "Contents" not in s3.list_objects_v2(
        Bucket=deployment.bucket, Prefix=f"runs/{experiment}/lease.json"
    )
    record_property("observed", observed)
