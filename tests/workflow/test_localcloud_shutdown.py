"""A stopped local cloud leaves nothing behind: no thread, no Lambda container, no listening port, no
patch of moto, no environment variable. Its own module, because the other local-cloud tests share one running cloud."""

from __future__ import annotations

import json
import os
import socket
import threading

import boto3
import pytest
from moto import mock_aws
from support.poll import poll
from support.toy import TOY_SCALE
from support.toy import TOY_TEMPLATE as TOY

from objective_sweep.localcloud import LocalCloud


def test_stop_leaves_no_thread_port_patch_or_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.authorization import ActionAuthenticatorMixin

    # A developer's own S3 endpoint must neither reach the handlers nor be lost afterwards.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    original_invoke = LambdaSimpleBackend.invoke
    original_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action
    threads_before = set(threading.enumerate())
    endpoint_before = os.environ.get("AWS_ENDPOINT_URL")
    with LocalCloud(TOY, personalize=False, time_scale=TOY_SCALE) as cloud:
        port = int(cloud.endpoint_url.rsplit(":", 1)[1])
        sfn = cloud.client("stepfunctions")
        # An execution still waiting when the cloud stops must not outlive it.
        sfn.start_execution(stateMachineArn=cloud.stack.state_machine_arn, input=json.dumps({"items": [1]}))
        # A warm container of a function, which must not outlive the cloud either.
        cloud.client("lambda").invoke(FunctionName=cloud.stack.functions[0].name, Payload=b"{}")
        processes = cloud.runtime.processes()
        assert len(processes) >= 2, "the zygote and a container"
        assert os.environ["AWS_ENDPOINT_URL"] == cloud.endpoint_url
        assert "AWS_ENDPOINT_URL_S3" not in os.environ
    assert set(threading.enumerate()) <= threads_before
    # A killed container may need a moment to be reaped.
    poll(
        lambda: [pid for pid in processes if _alive(pid)], lambda alive: alive == [], timeout=5, interval=0.05
    )
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    assert LambdaSimpleBackend.invoke is original_invoke
    assert ActionAuthenticatorMixin._authenticate_and_authorize_action is original_authorize
    assert os.environ.get("AWS_ENDPOINT_URL") == endpoint_before
    assert os.environ["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:9"


def test_after_the_cloud_mock_aws_names_an_unnamed_execution_again() -> None:
    # moto's settings are process-wide: the interpreter the cloud switched on, without the cloud's
    # patches, would name an unnamed execution "None" in a later mock_aws of the same process.
    with LocalCloud(TOY, personalize=False, time_scale=TOY_SCALE):
        pass
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        role = "arn:aws:iam::123456789012:role/sfn"
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
        machine = sfn.create_state_machine(name="m", definition=definition, roleArn=role)["stateMachineArn"]
        first = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        second = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert first != second
    assert not first.endswith(":None")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
