"""Unit tests: moto's in-process mocks (never a real account) answer every AWS call, with the
environment tests/conftest.py sets for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from moto import mock_aws

BUCKET = "sweep-unit"
# moto's documented reset API, answered by mock_aws itself (no server): it empties every backend.
MOTO_RESET = "http://motoapi.amazonaws.com/moto-api/reset"


@pytest.fixture(scope="module")
def _module_moto() -> Iterator[None]:
    """One mock_aws for the module: starting one costs a new boto3 session that loads every service
    model again (about 0.2 s a test)."""
    with mock_aws():
        yield


@pytest.fixture
def empty_moto(_module_moto: None) -> None:
    """moto with nothing in it for this test: the module's mock_aws, every backend emptied first."""
    requests.post(MOTO_RESET, timeout=10).raise_for_status()
