"""A stopped local cloud leaves nothing behind: no thread, no listening port, no patch of moto, no
environment variable. Its own module, because the other local-cloud tests share one running cloud."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

from objective_sweep.localcloud import LocalCloud

TOY = Path(__file__).parent / "toy" / "template.yaml"


def test_stop_leaves_no_thread_port_patch_or_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    # A developer's own S3 endpoint must neither reach the handlers nor be lost afterwards.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    original_invoke = LambdaSimpleBackend.invoke
    threads_before = set(threading.enumerate())
    endpoint_before = os.environ.get("AWS_ENDPOINT_URL")
    with LocalCloud(TOY, personalize=False, time_scale=0.0005) as cloud:
        port = int(cloud.endpoint_url.rsplit(":", 1)[1])
        sfn = cloud.client("stepfunctions")
        # An execution still waiting when the cloud stops must not outlive it.
        sfn.start_execution(stateMachineArn=cloud.stack.state_machine_arn, input=json.dumps({"items": [1]}))
        assert os.environ["AWS_ENDPOINT_URL"] == cloud.endpoint_url
        assert "AWS_ENDPOINT_URL_S3" not in os.environ
    assert set(threading.enumerate()) <= threads_before
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    assert LambdaSimpleBackend.invoke is original_invoke
    assert os.environ.get("AWS_ENDPOINT_URL") == endpoint_before
    assert os.environ["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:9"
