"""Progress of long reads: reported at most every few seconds while a stream is read, and at its end;
the run view shows PrepareRun's report for its own execution only."""

from __future__ import annotations

import io

import boto3
from moto import mock_aws
from sweep_core.names import progress_key
from sweep_core.progress import REPORT_EVERY_SECONDS, ProgressReader, ReadProgress, describe_bytes

from objective_sweep.localcloud.runs import Deployment, Follower

from .conftest import BUCKET


def test_progress_is_reported_at_most_every_few_seconds_and_at_the_end() -> None:
    now = [0.0]
    heard: list[tuple[int, int | None]] = []
    reader = ProgressReader(
        io.BytesIO(b"x" * 10), 10, lambda done, total: heard.append((done, total)), clock=lambda: now[0]
    )
    reader.read(2)
    now[0] = REPORT_EVERY_SECONDS / 2
    reader.read(2)
    now[0] = REPORT_EVERY_SECONDS
    reader.read(2)
    reader.read(4)
    assert reader.read(4) == b""
    assert heard == [(6, 10), (10, 10)]


def test_progress_reads_in_a_unit_that_fits_the_total() -> None:
    mb = 1024 * 1024
    assert describe_bytes(120 * mb, 576 * mb) == "120 of 576 MB (21%)"
    assert describe_bytes(5 * mb, None) == "5.0 MB"
    # A small file does not read "0 of 0 MB"; a large one moves visibly.
    assert describe_bytes(300, 900) == "300 of 900 bytes (33%)"
    assert describe_bytes(12 * 1024, 40 * 1024) == "12 of 40 KB (30%)"
    assert describe_bytes(1536 * mb, 2048 * mb) == "1.5 of 2.0 GB (75%)"
    progress = ReadProgress(
        execution_name="e", file="s3://b/experiments/x/interactions.csv", bytes_read=mb, bytes_total=4 * mb
    )
    assert progress.describe() == "validating interactions.csv: 1.0 of 4.0 MB (25%)"


def test_the_run_view_shows_only_its_own_executions_validation_progress() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        deployment = Deployment(
            bucket=BUCKET, state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:s", region="us-east-1"
        )
        follower = Follower(
            deployment, "arn:aws:states:us-east-1:1:execution:s:run-7", "demo", ["OFF"], io.StringIO()
        )
        assert follower._validation_progress() is None, "nothing reported yet"
        for execution in ("run-6", "run-7"):
            state = ReadProgress(
                execution_name=execution, file="s3://b/interactions.csv", bytes_read=1, bytes_total=2
            )
            s3.put_object(
                Bucket=BUCKET, Key=progress_key("demo"), Body=state.model_dump_json(by_alias=True).encode()
            )
            progress = follower._validation_progress()
            assert (progress.execution_name if progress else None) == (
                "run-7" if execution == "run-7" else None
            )
