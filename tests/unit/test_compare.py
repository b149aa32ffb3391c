"""CompareSolutions' data gathering from S3: the report users are the same on every run (sample users
first, then ids in natural order), and only the listed items' objective values and titles are read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from sweep_core.compare import item_objective, item_titles, report_users
from sweep_core.models import RunConfig
from sweep_core.report.model import DatasetFacts
from sweep_core.steps import DataFile, Run

from .conftest import BUCKET

INTERACTIONS = "USER_ID,ITEM_ID,TIMESTAMP\n10,a,1\n2,b,2\nu7,c,3\n1,a,4\n2,c,5\n10,b,6\n"
ITEMS = "ITEM_ID,ROYALTY,GENRE\na,-0.1,X\nb,0,\nc,-0.05,Y|Z\n"
TITLES = 'ITEM_ID,TITLE\na,"Alpha, The"\nb,Beta\nc,Gamma\n'


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        for name, body in (("i.csv", INTERACTIONS), ("t.csv", ITEMS), ("n.csv", TITLES)):
            client.put_object(Bucket=BUCKET, Key=name, Body=body.encode())
        yield client


def _run(**config: Any) -> Run:
    files = {"interactions": f"s3://{BUCKET}/i.csv", "items": f"s3://{BUCKET}/t.csv"}
    return Run(
        config=RunConfig(experiment="x", **files, **config),
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:sweep:x",
        execution_name="x",
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        trigger="console",
        files={kind: DataFile(uri=uri, version="v") for kind, uri in files.items()},
        fingerprint="f",
        dataset=DatasetFacts(interactions=6, users=4, items=3),
        schemas={},
    )


def test_report_users_are_numeric_ids_in_numeric_order_then_others(s3: Any) -> None:
    assert report_users(s3, _run(report_users=10)) == ["1", "2", "10", "u7"]
    assert report_users(s3, _run(report_users=2)) == ["1", "2"]


def test_sample_users_come_first_and_are_not_counted_twice(s3: Any) -> None:
    assert report_users(s3, _run(report_users=2, sample_users=["10"])) == ["10", "1", "2"]


def test_only_listed_items_are_looked_up(s3: Any) -> None:
    assert item_objective(s3, f"s3://{BUCKET}/t.csv", "ROYALTY", {"a", "c", "zz"}) == {"a": -0.1, "c": -0.05}
    assert item_titles(s3, f"s3://{BUCKET}/n.csv", {"a"}) == {"a": "Alpha, The"}
