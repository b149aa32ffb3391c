"""Fixtures for the local Personalize tests: a moto S3 server with small deterministic data, running
endpoints and their checked clients; the helpers the tests call are in tests/support/personalize.py."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from support.personalize import BUCKET, Clients, make_clients, synthetic_interactions, synthetic_items

from objective_sweep.personalize.server import LocalPersonalize


@pytest.fixture(scope="session")
def s3_endpoint(s3_server_url: str) -> str:
    boto3.client("s3", endpoint_url=s3_server_url).create_bucket(Bucket=BUCKET)
    return s3_server_url


@pytest.fixture(scope="session")
def s3_data(s3_endpoint: str) -> dict[str, str]:
    """Uploads small good and bad files; returns name -> s3:// URI."""
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    files = {
        "interactions": synthetic_interactions(),
        "items": synthetic_items(),
        "few": synthetic_interactions(users=20, per_user=10),
        "bad-timestamp": "USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1600000000\nu1,i2,yesterday\n",
        "missing-column": "USER_ID,ITEM_ID\nu1,i1\n",
    }
    for name, body in files.items():
        s3.put_object(Bucket=BUCKET, Key=f"data/{name}.csv", Body=body.encode())
    return {name: f"s3://{BUCKET}/data/{name}.csv" for name in files}


@pytest.fixture(scope="module")
def endpoint(s3_endpoint: str) -> Iterator[LocalPersonalize]:
    with LocalPersonalize(port=0, s3_endpoint_url=s3_endpoint, status_delay=0.02) as local:
        yield local


@pytest.fixture(scope="module")
def clients(endpoint: LocalPersonalize) -> Iterator[Clients]:
    shared = make_clients(endpoint.url)
    yield shared
    assert shared.checker.problems == []


@dataclass(frozen=True)
class MovieLensInS3:
    interactions: str
    items: str
    interactions_schema: str
    items_schema: str
    objective: dict[str, float]
    users: tuple[str, ...]


@pytest.fixture(scope="session")
def movielens(
    s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory, ml_latest_small: Path
) -> MovieLensInS3:
    """ml-latest-small prepared the study's way (H2's preparation), uploaded to the moto S3."""
    from objective_sweep.datasets import prepared
    from objective_sweep.datasets.movielens import prepare

    folder = prepare(ml_latest_small, tmp_path_factory.mktemp("ml-latest-small")).path
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    for name in (prepared.INTERACTIONS_FILE, prepared.ITEMS_FILE):
        s3.upload_file(str(folder / name), BUCKET, f"ml-latest-small/{name}")
    with (folder / prepared.ITEMS_FILE).open() as items:
        objective = {row["ITEM_ID"]: float(row[prepared.OBJECTIVE]) for row in csv.DictReader(items)}
    with (folder / prepared.INTERACTIONS_FILE).open() as interactions:
        users = tuple(sorted({row["USER_ID"] for row in csv.DictReader(interactions)}, key=int))
    return MovieLensInS3(
        interactions=f"s3://{BUCKET}/ml-latest-small/{prepared.INTERACTIONS_FILE}",
        items=f"s3://{BUCKET}/ml-latest-small/{prepared.ITEMS_FILE}",
        interactions_schema=(folder / prepared.INTERACTIONS_SCHEMA_FILE).read_text(),
        items_schema=(folder / prepared.ITEMS_SCHEMA_FILE).read_text(),
        objective=objective,
        users=users,
    )
