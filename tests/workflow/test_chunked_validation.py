"""An interactions file over ValidationChunkBytes is validated by the ValidateChunks Distributed Map
through the real state machine on the local cloud (the threshold lowered so a small file makes
several chunks), and a bad row is reported at its true line; a file under the threshold is validated
by PrepareRun alone, as before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support.runs import entered_states, notices, wait_for

from objective_sweep.localcloud import LocalCloud
from objective_sweep.localcloud.runs import Deployment, RunFiles, start_console_run

pytestmark = pytest.mark.slow

CHUNK_BYTES = 36 * 1024


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    # Validation fails before anything reaches Personalize: no endpoint needed.
    with LocalCloud(parameters={"ValidationChunkBytes": str(CHUNK_BYTES)}, personalize=False) as running:
        yield running


def _run(
    deployment: Deployment, experiment: str, interactions: bytes, items: bytes
) -> tuple[str, dict[str, Any]]:
    s3 = deployment.client("s3")
    for name, body in (("interactions.csv", interactions), ("items.csv", items)):
        s3.put_object(Bucket=deployment.bucket, Key=f"experiments/{experiment}/{name}", Body=body)
    config = {
        "experiment": experiment,
        "interactions": f"s3://{deployment.bucket}/experiments/{experiment}/interactions.csv",
        "items": f"s3://{deployment.bucket}/experiments/{experiment}/items.csv",
    }
    arn = start_console_run(deployment, config)
    return arn, wait_for(deployment, arn)


def test_a_bad_row_in_the_third_chunk_is_reported_at_its_true_line(
    cloud: LocalCloud, deployment: Deployment, files: RunFiles
) -> None:
    data = files.interactions.read_bytes()
    data_start = data.index(b"\n") + 1
    third = data_start + 2 * CHUNK_BYTES
    # The first line that starts inside the third chunk, and the one after it.
    start = data.index(b"\n", third) + 1
    end = data.index(b"\n", start)
    line = data.count(b"\n", 0, start) + 1
    user, item, _ = data[start:end].split(b",")
    bad = data[:start] + user + b"," + item + b",1600000000000" + data[end:]

    arn, described = _run(deployment, "chunked", bad, files.items.read_bytes())

    assert described["status"] == "FAILED"
    assert described["error"] == "InvalidInputError"
    where = f"s3://{deployment.bucket}/experiments/chunked/interactions.csv, line {line}, column TIMESTAMP"
    assert f"{where}: TIMESTAMP 1600000000000 looks like milliseconds" in described["cause"]
    states = entered_states(deployment, arn)
    assert states[:3] == ["PrepareRun", "IsDuplicateEvent", "ValidateChunks"]
    assert "FinishValidation" in states
    assert "ImportDatasets" not in states
    manifest = deployment.client("s3").get_object(
        Bucket=deployment.bucket, Key=f"runs/chunked/validation/{arn.rsplit(':', 1)[-1]}/manifest.json"
    )
    chunks = json.loads(manifest["Body"].read())
    assert len(chunks) >= 4
    assert chunks[2]["start"] <= start < chunks[2]["end"]
    # NotifyFailure gave the experiment's lease back (the run was never built: it found the experiment
    # in the chunked state).
    with pytest.raises(ClientError, match="NoSuchKey"):
        deployment.client("s3").get_object(Bucket=deployment.bucket, Key="runs/chunked/lease.json")
    # ...and the failure notice went out, with the row's line and nothing left billing.
    (notice,) = [n for n in notices(cloud) if arn in n["message"]]
    assert f"line {line}, column TIMESTAMP" in notice["message"]
    assert "Nothing was created in Personalize." in notice["message"]


def test_a_chunk_that_fails_fails_the_map_run_and_the_run_is_notified(
    cloud: LocalCloud, deployment: Deployment, files: RunFiles
) -> None:
    # A bucket policy refuses ValidateChunk the write of the second chunk's result: that item fails, and
    # with no tolerated failures (the Map sets none) the Map Run fails, as in AWS.
    s3 = deployment.client("s3")
    saved = s3.get_bucket_policy(Bucket=deployment.bucket)["Policy"]
    policy = json.loads(saved)
    policy["Statement"].append(
        {
            "Sid": "NoSecondChunkResult",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{deployment.bucket}/runs/chunkfail/validation/*/chunk-00001.json",
        }
    )
    s3.put_bucket_policy(Bucket=deployment.bucket, Policy=json.dumps(policy))
    try:
        arn, described = _run(
            deployment, "chunkfail", files.interactions.read_bytes(), files.items.read_bytes()
        )
    finally:
        s3.put_bucket_policy(Bucket=deployment.bucket, Policy=saved)

    assert described["status"] == "FAILED"
    assert described["error"] == "States.ExceedToleratedFailureThreshold"
    assert described["cause"] == "The specified tolerated failure threshold was exceeded"
    states = entered_states(deployment, arn)
    assert "ValidateChunks" in states
    assert "FinishValidation" not in states
    assert states[-2:] == ["NotifyFailure", "RunFailed"]
    events = deployment.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)
    kinds = [event["type"] for event in events["events"]]
    assert "MapRunFailed" in kinds
    assert "MapStateFailed" in kinds
    assert "MapRunSucceeded" not in kinds
    # NotifyFailure gave the lease back and sent the notice.
    with pytest.raises(ClientError, match="NoSuchKey"):
        s3.get_object(Bucket=deployment.bucket, Key="runs/chunkfail/lease.json")
    (notice,) = [n for n in notices(cloud) if arn in n["message"]]
    assert "Error: States.ExceedToleratedFailureThreshold" in notice["message"]
    interactions = f"s3://{deployment.bucket}/experiments/chunkfail/interactions.csv"
    assert (
        f"{interactions} was not validated: ValidateChunk failed on at least one of its chunks"
        in notice["message"]
    )
    assert "Nothing was created in Personalize." in notice["message"]


def test_a_file_under_the_threshold_is_validated_by_prepare_run_alone(
    deployment: Deployment, files: RunFiles
) -> None:
    lines = files.interactions.read_bytes().splitlines(keepends=True)
    small = b"".join(lines[:200])
    assert len(small) < CHUNK_BYTES
    arn, described = _run(deployment, "whole", small, files.items.read_bytes())
    assert described["status"] == "FAILED"
    assert "199 interactions; Personalize trains on at least 1000" in described["cause"]
    states = entered_states(deployment, arn)
    assert states[0] == "PrepareRun"
    assert "ValidateChunks" not in states
    assert "FinishValidation" not in states
