"""Least privilege, both ways, on the real template: the workflow runs every path that needs a permission
(a sweep started by an upload, a run that fails in PrepareRun on a missing file, a retrain fired by the
schedule that takes over a lease its ended holder never gave back) with IAM enforced, so a missing grant fails here with AccessDenied; and every grant the
template writes must have been the only one admitting some call of those runs, so no grant is unused
or redundant. docs/deploy.md's table must list exactly the template's grants."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.runs import succeeded, wait_for

from objective_sweep.localcloud import LocalCloud
from objective_sweep.localcloud.authorizer import LedgerEntry
from objective_sweep.localcloud.ledger import actions_by_role, grants, unexercised
from objective_sweep.localcloud.runs import (
    Deployment,
    RunFiles,
    build_config,
    find_started_execution,
    upload_run,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = "ledger"
# Grants no local run can exercise, each with the reason it stays in the template.
NOT_EXERCISED_LOCALLY = {
    (
        "PersonalizeRole",
        "action",
        "s3:ListBucket",
    ): "Personalize's import role policy asks for it (it lists a "
    "folder dataLocation); the workflow imports single files, which the local Personalize reads without listing",
    (
        "PersonalizeRole",
        "resource",
        "arn:aws:s3:::objective-sweep-databucket",
    ): "the bucket ARN is the resource of s3:ListBucket above",
    (
        "DataBucketPolicy",
        "action",
        "s3:ListBucket",
    ): "the bucket policy's half of the same grant",
    (
        "DataBucketPolicy",
        "resource",
        "arn:aws:s3:::objective-sweep-databucket",
    ): "the bucket ARN is the resource of s3:ListBucket above",
}
# The state machine's log delivery and X-Ray grants are used by the Step Functions service itself,
# which the local cloud's interpreter does not imitate (docs/local-cloud.md).
STATE_MACHINE_SERVICE_ACTIONS = re.compile(r"^(logs|xray):")
# A Distributed Map in AWS runs each item as a child execution of the state machine, started and watched
# with the state machine's own role; moto's interpreter runs the items on threads instead
# (docs/local-cloud.md). These grants (actions and their state machine / execution resources) stay.
CHILD_EXECUTION_GRANTS = re.compile(
    r"^(states:(StartExecution|DescribeExecution|StopExecution)|arn:aws:states:.*)$"
)


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    # HIGH's first campaign fails, so the sweep has a failed level holding a campaign, and the retrain
    # replaces a campaign that failed in an earlier run.
    faults = {
        "fail": [
            {"resource": "campaign", "name": f"{EXPERIMENT}-high", "reason": "Injected campaign failure"}
        ]
    }
    # Chunks of 64 KiB: the interactions file (about 150 KB) is validated by the ValidateChunks
    # Distributed Map, so its grants are exercised too.
    with LocalCloud(
        parameters={"RetrainExperiment": EXPERIMENT, "ValidationChunkBytes": "65536"},
        personalize_options={"faults": faults},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def ledger(cloud: LocalCloud, deployment: Deployment, files: RunFiles, tmp_path_factory: pytest.TempPathFactory) -> list[LedgerEntry]:  # fmt: skip
    # 1. A sweep started by uploading its run file, keeping only the recommended campaign.
    config = build_config(
        files, experiment=EXPERIMENT, sensitivities=["OFF", "HIGH"], keep="recommended",
        qualityGate={"tolerance": 1.0},
    )  # fmt: skip
    uploaded = upload_run(deployment, config, files)
    first = find_started_execution(deployment, uploaded, timeout=30)
    succeeded(deployment, first)

    # An execution that ended without giving its lease back (stopped, or timed out): the retrain in 3.
    # asks Step Functions whether it still runs, and takes the lease over.
    s3 = deployment.client("s3")
    s3.put_object(
        Bucket=deployment.bucket, Key=f"runs/{EXPERIMENT}/lease.json",
        Body=json.dumps({"owner": first, "expiresAt": "2999-01-01T00:00:00+00:00"}).encode(),
    )  # fmt: skip

    # 2. A run naming a file that is not there fails in PrepareRun (S3 answers 404 only to a caller
    # that may list the bucket).
    missing = {"experiment": "ledger-missing", "interactions": f"experiments/{EXPERIMENT}/interactions.csv",
               "items": f"experiments/{EXPERIMENT}/nowhere.csv"}  # fmt: skip
    arn = deployment.client("stepfunctions").start_execution(
        stateMachineArn=deployment.state_machine_arn, input=json.dumps(missing)
    )["executionArn"]
    failed = wait_for(deployment, arn)
    assert failed["status"] == "FAILED"
    assert "404" in failed["cause"], failed["cause"]

    # 3. New data (a new object version), then the retraining schedule fires: new versions behind the
    # quality gate, the kept campaign updated, HIGH's failed one replaced.
    cloud.faults.clear()
    s3.upload_file(str(files.interactions), deployment.bucket, f"experiments/{EXPERIMENT}/interactions.csv")
    (schedule,) = cloud.stack.schedules
    retrain = cloud.fire_schedule(schedule.name)
    succeeded(deployment, retrain)
    return list(cloud.authorizer.ledger)


def test_no_call_of_the_workflow_is_refused(ledger: list[LedgerEntry]) -> None:
    refused = [f"{e.session}: {e.action} on {e.resource}" for e in ledger if not e.allowed]
    assert refused == []


def test_every_grant_is_the_only_one_admitting_some_call(
    cloud: LocalCloud, ledger: list[LedgerEntry]
) -> None:
    unused = [
        str(grant)
        for grant in unexercised(grants(cloud.stack), ledger)
        if (grant.owner, grant.kind, grant.pattern) not in NOT_EXERCISED_LOCALLY
        and not (
            grant.owner == "SweepStateMachineRole"
            and (
                STATE_MACHINE_SERVICE_ACTIONS.match(grant.pattern)
                or CHILD_EXECUTION_GRANTS.match(grant.pattern)
            )
        )
        and not (grant.owner == "SweepStateMachineRole" and grant.kind == "resource" and grant.pattern == "*")
    ]
    assert unused == [], "grants no run needed (remove them, or list them with the reason they stay)"


def test_every_role_the_template_defines_was_used(cloud: LocalCloud, ledger: list[LedgerEntry]) -> None:
    used = {entry.role for entry in ledger}
    assert {role.logical_id for role in cloud.stack.roles} == used


def test_the_deploy_guide_lists_exactly_the_template_grants(cloud: LocalCloud) -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+) \|", guide, flags=re.MULTILINE)
    documented = {owner: re.findall(r"`([^`]+)`", actions) for owner, actions in rows}
    assert documented == actions_by_role(cloud.stack)
