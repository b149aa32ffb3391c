"""Unit-test environment: fake credentials and no endpoint overrides, so moto's in-process mocks
(never a real account) answer every AWS call."""

from __future__ import annotations

import pytest

BUCKET = "sweep-unit"


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_PERSONALIZE", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(key, raising=False)
