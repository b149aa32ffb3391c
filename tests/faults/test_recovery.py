"""Failures as a careful AWS user meets them, on the local cloud running the real state machine: each
scenario asserts the end state — the execution's status, the report's levels and what it says still
bills, the notification, and Personalize's inventory (no duplicate resource, no campaign left up that
nobody chose) — and that running the same thing again recovers once the cause is gone.
docs/reliability.md keeps the table of these scenarios."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.runs import entered_states, start_upload, wait_for

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


def _notices(cloud: LocalCloud) -> list[dict[str, Any]]:
    from moto.sns.models import sns_backends

    topic = sns_backends["123456789012"]["us-east-1"].topics[str(cloud.stack.topic_arn)]
    return [
        {"message": message, "subject": subject} for _, message, subject, _, _ in topic.sent_notifications
    ]


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
    while "TrainLevels" not in entered_states(deployment, arn):
        time.sleep(0.05)
    s3.delete_object(Bucket=deployment.bucket, Key=f"experiments/{experiment}/titles.csv")
    described = wait_for(deployment, arn)
    assert described["status"] == "FAILED"
    assert "titles.csv" in described["cause"]
    assert entered_states(deployment, arn)[-3:] == ["SettleAfterFailure", "NotifyFailure", "RunFailed"]
    billing = _billing(_campaigns(deployment, experiment))
    (notice,) = [n for n in _notices(cloud) if arn in n["message"]]
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
