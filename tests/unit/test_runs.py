"""Finding executions through public APIs (objective_sweep.localcloud.runs), on moto's Step Functions and
S3: which execution an upload started (the version id decides, never the ETag of equal bytes), and the
latest execution of an experiment however it was started."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from objective_sweep.localcloud.runs import (
    Deployment,
    RunError,
    UploadedRun,
    find_started_execution,
    latest_execution,
    run_fields,
)

BUCKET = "sweep-runs"
KEY = "experiments/shop/sweep.json"
ROLE = "arn:aws:iam::123456789012:role/states"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


@pytest.fixture
def deployment(empty_moto: None) -> Deployment:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.create_state_machine(name="sweep", definition=DEFINITION, roleArn=ROLE)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    return Deployment(BUCKET, machine["stateMachineArn"], region="us-east-1")


def _s3_event(key: str, etag: str, version: str | None) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": key, "etag": etag, "size": 10, "sequencer": "0A"}
    if version is not None:
        obj["version-id"] = version
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": BUCKET}, "object": obj},
    }


def _start(deployment: Deployment, run_input: dict[str, Any]) -> str:
    sfn = deployment.client("stepfunctions")
    # Named, as EventBridge's UUIDs do: moto's own default name depends on its process-wide config,
    # which an earlier local cloud in the same process may have changed.
    started = sfn.start_execution(
        stateMachineArn=deployment.state_machine_arn, name=str(uuid.uuid4()), input=json.dumps(run_input)
    )
    return str(started["executionArn"])


def _uploaded(version: str | None, etag: str = "same-bytes") -> UploadedRun:
    return UploadedRun("shop", KEY, version, etag, datetime.now(UTC))


def test_a_versioned_upload_is_found_by_its_version_never_by_an_equal_etag(deployment: Deployment) -> None:
    # Two uploads of the same bytes: equal ETags, different versions; the other one's event comes first.
    other = _start(deployment, _s3_event(KEY, "same-bytes", "v-other"))
    mine = _start(deployment, _s3_event(KEY, "same-bytes", "v-mine"))
    assert find_started_execution(deployment, _uploaded("v-mine"), timeout=2) == mine
    assert find_started_execution(deployment, _uploaded("v-other"), timeout=2) == other
    with pytest.raises(RunError, match="started no execution"):
        find_started_execution(deployment, _uploaded("v-never"), timeout=0.1)


def test_an_unversioned_upload_is_found_by_its_etag(deployment: Deployment) -> None:
    _start(deployment, _s3_event(KEY, "other-bytes", None))
    mine = _start(deployment, _s3_event(KEY, "my-bytes", None))
    _start(deployment, _s3_event("experiments/else/sweep.json", "my-bytes", None))
    assert find_started_execution(deployment, _uploaded(None, "my-bytes"), timeout=2) == mine
    # S3 reports "null" as the version id of an object in an unversioned bucket.
    assert find_started_execution(deployment, _uploaded("null", "my-bytes"), timeout=2) == mine


def test_run_fields_read_every_kind_of_input(deployment: Deployment) -> None:
    s3 = deployment.client("s3")
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=json.dumps({"sensitivities": ["OFF", "HIGH"]}).encode())
    from_event = run_fields(deployment, _s3_event(KEY, "e", None))
    assert from_event == {"sensitivities": ["OFF", "HIGH"], "experiment": "shop"}
    assert run_fields(deployment, {"runFile": f"s3://{BUCKET}/{KEY}"})["experiment"] == "shop"
    assert run_fields(deployment, {"mode": "retrain", "experiment": "shop"})["sensitivities"] == [
        "OFF",
        "HIGH",
    ]
    console = {"experiment": "direct", "interactions": "s3://b/i.csv", "items": "s3://b/t.csv"}
    assert run_fields(deployment, console) == console
    # A run file gone since: the experiment still comes from its key.
    assert run_fields(deployment, _s3_event("experiments/gone/sweep.json", "e", "v1")) == {
        "experiment": "gone"
    }


def test_latest_execution_of_an_experiment(deployment: Deployment) -> None:
    first = _start(deployment, {"experiment": "shop", "interactions": "i", "items": "t"})
    _start(deployment, {"experiment": "other", "interactions": "i", "items": "t"})
    assert latest_execution(deployment, "shop") == first
    second = _start(deployment, _s3_event(KEY, "e", None))
    assert latest_execution(deployment, "shop") == second
    with pytest.raises(RunError, match="no execution of experiment shp"):
        latest_execution(deployment, "shp")
