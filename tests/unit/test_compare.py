"""CompareSolutions' data gathering: the report users PrepareRun chose are the same on every run
(sample users first, then ids in natural order), and only the listed items' objective values and
titles are read from S3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from sweep_core.compare import item_objective, item_titles
from sweep_core.errors import DataUnavailableError
from sweep_core.models import RunConfig
from sweep_core.prepare import report_users
from sweep_core.validation import natural_order

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


def _chosen(*, report_users_count: int, sample_users: list[str] | None = None) -> list[str]:
    config = RunConfig(
        experiment="x",
        interactions=f"s3://{BUCKET}/i.csv",
        items=f"s3://{BUCKET}/t.csv",
        report_users=report_users_count,
        sample_users=sample_users or [],
    )
    users = {line.split(",")[0] for line in INTERACTIONS.splitlines()[1:]}
    return report_users(config, sorted(users, key=natural_order))


def test_report_users_are_numeric_ids_in_numeric_order_then_others() -> None:
    assert _chosen(report_users_count=10) == ["1", "2", "10", "u7"]
    assert _chosen(report_users_count=2) == ["1", "2"]


def test_sample_users_come_first_and_are_not_counted_twice() -> None:
    assert _chosen(report_users_count=2, sample_users=["10"]) == ["10", "1", "2"]


def test_only_listed_items_are_looked_up(s3: Any) -> None:
    assert item_objective(s3, f"s3://{BUCKET}/t.csv", "ROYALTY", {"a", "c", "zz"}) == {"a": -0.1, "c": -0.05}
    assert item_titles(s3, f"s3://{BUCKET}/n.csv", {"a"}) == {"a": "Alpha, The"}


def test_a_file_the_role_may_not_read_is_not_called_deleted() -> None:
    # S3 answers 403 both for a missing key (to a role that may not list the bucket) and for a role that
    # may not read it; the message keeps S3's own words, which name the action and the role.
    client = boto3.client("s3", region_name="us-east-1")
    denied = (
        "User: arn:aws:sts::123456789012:assumed-role/CompareSolutionsFunctionRole/fn is not authorized to "
        "perform: s3:GetObject on resource: arn:aws:s3:::bucket/items.csv"
    )
    with Stubber(client) as stub:
        stub.add_client_error("get_object", "AccessDenied", denied, http_status_code=403)
        with pytest.raises(DataUnavailableError) as refused:
            item_objective(client, "s3://bucket/items.csv", "ROYALTY", {"1"})
    assert "not authorized to perform: s3:GetObject" in str(refused.value)
    assert "CompareSolutions' role may not read it" in str(refused.value)
