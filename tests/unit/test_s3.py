"""S3 helpers: paths relative to the run file, streaming CSV lines across chunk boundaries, and the
conditional-write claim that lets only one execution start per run-file version."""

from __future__ import annotations

import io
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from sweep_core.errors import DataUnavailableError
from sweep_core.s3 import S3Location, claim, object_size, read_range, resolve, text_lines


def test_resolve_relative_to_the_run_file_folder() -> None:
    base = S3Location("b", "experiments/demo/sweep.json")
    assert resolve("items.csv", bucket="other", base=base).uri == "s3://b/experiments/demo/items.csv"
    assert (
        resolve("../shared/items.csv", bucket="other", base=base).uri == "s3://b/experiments/shared/items.csv"
    )
    assert resolve("s3://x/y.csv", bucket="other", base=base).uri == "s3://x/y.csv"
    assert resolve("data/items.csv", bucket="proj").uri == "s3://proj/data/items.csv"


@pytest.mark.parametrize("path", ["../../../etc/passwd", "../../..", "s3://bucket-only", "s3:///key"])
def test_resolve_rejects_paths_outside_a_bucket(path: str) -> None:
    with pytest.raises(ValueError, match=r"outside the bucket|needs a bucket and a key"):
        resolve(path, bucket="b", base=S3Location("b", "experiments/demo/sweep.json"))


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1 << 20])
def test_text_lines_survive_any_chunk_boundary(chunk: int) -> None:
    text = '\ufeffUSER_ID,ITEM_ID\r\n1,é\r\n2,"a\nb"\n3,z'
    lines = list(text_lines(io.BytesIO(text.encode("utf-8")), chunk_size=chunk))
    assert "".join(lines) == text.removeprefix("\ufeff")
    assert lines[0] == "USER_ID,ITEM_ID\r\n"
    assert lines[-1] == "3,z"


@pytest.fixture
def s3() -> Iterator[object]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="sweep-unit")
        yield client


def test_claim_is_won_once_and_reported_to_the_loser(s3: object) -> None:
    location = S3Location("sweep-unit", "runs/demo/claims/abc.json")
    assert claim(s3, location, "arn:first") == "arn:first"  # type: ignore[arg-type]
    assert claim(s3, location, "arn:second") == "arn:first"  # type: ignore[arg-type]
    # A retried PrepareRun of the winning execution still owns it.
    assert claim(s3, location, "arn:first") == "arn:first"  # type: ignore[arg-type]


def test_a_range_is_read_only_from_the_object_version_validated() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="ranged")
        s3.put_object(Bucket="ranged", Key="k.csv", Body=b"USER_ID,ITEM_ID\n1,2\n")
        location = S3Location("ranged", "k.csv")
        size, etag = object_size(s3, location)
        assert size == 20
        assert read_range(s3, location, etag, 16, 18) == b"1,2"
        s3.put_object(Bucket="ranged", Key="k.csv", Body=b"USER_ID,ITEM_ID\n3,4\n")
        with pytest.raises(DataUnavailableError, match="was replaced while the run was validating it"):
            read_range(s3, location, etag, 16, 18)
