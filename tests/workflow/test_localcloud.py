"""The local cloud's mechanics on a toy template: intrinsics resolved from the template, real handlers
with their own environment, Lambda's error shape seen by Retry/Catch, compressed Wait/Retry, the S3
upload trigger and a clean shutdown. The real workflow is exercised in test_sweep_workflow.py."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from support.runs import wait_for
from support.toy import TOY_SCALE
from support.toy import TOY_TEMPLATE as TOY

from objective_sweep.localcloud import LocalCloud
from objective_sweep.localcloud.template import read_stack
from objective_sweep.localcloud.triggers import object_created_event


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(TOY, personalize=False, time_scale=TOY_SCALE) as running:
        yield running


def _finish(cloud: LocalCloud, arn: str) -> dict[str, Any]:
    return wait_for(cloud.deployment(), arn, timeout=60, interval=0.1)


def test_template_intrinsics_resolve_to_local_names() -> None:
    stack = read_stack(TOY, stack_name="toy", parameters={"Greeting": "hi"})
    echo = next(f for f in stack.functions if f.logical_id == "EchoFunction")
    assert echo.environment == {
        "BUCKET": stack.bucket_name,
        "TOPIC_ARN": f"arn:aws:sns:us-east-1:123456789012:{stack.topic_name}",
        "GREETING": "hi-us-east-1",
        "WHO": "echo",
    }
    assert echo.handler == "toy_handlers.echo"
    assert f'"FunctionName": "{echo.arn}"' in stack.definition
    assert "${" not in stack.definition
    (rule,) = stack.rules
    assert rule.pattern["detail"]["bucket"]["name"] == [stack.bucket_name]
    assert rule.target_arn == stack.state_machine_arn
    assert stack.outputs == {"BucketName": stack.bucket_name, "StateMachineArn": stack.state_machine_arn}


def test_execution_runs_real_handlers_with_retry_and_catch(cloud: LocalCloud) -> None:
    sfn = cloud.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=cloud.stack.state_machine_arn, input=json.dumps({"items": [1, 2, 3]})
    )["executionArn"]
    result = _finish(cloud, arn)
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    # Each function sees its own WHO although Map iterations and other functions share the process.
    assert [echo["item"] for echo in output["echoes"]] == [1, 2, 3]
    assert {echo["who"] for echo in output["echoes"]} == {"echo"}
    assert output["echoes"][0]["greeting"] == "hello-us-east-1"
    assert output["flaky"] == {"attempts": 2, "who": "flaky"}
    assert output["caught"]["Error"] == "BoomError"
    assert json.loads(output["caught"]["Cause"])["errorMessage"] == "boom on purpose"
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    failures = [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]
    assert sorted(failures) == ["BoomError", "NotReadyError"]
    assert any(e["type"] == "WaitStateExited" for e in events)


def test_time_compression_patches_the_pinned_interpreter(cloud: LocalCloud) -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    # If a moto upgrade renames these, the patch silently stops applying: fail loudly instead.
    assert WaitFunction._wait_interval.__name__ == "wait_interval"
    assert retrier_decl.time.sleep is not time.sleep


def test_run_file_upload_starts_exactly_one_execution(cloud: LocalCloud) -> None:
    s3 = cloud.client("s3")
    bucket = cloud.stack.bucket_name
    before = len(cloud.bridge.deliveries)
    s3.put_object(Bucket=bucket, Key="experiments/up/data.csv", Body=b"USER_ID\n1\n")
    assert len(cloud.bridge.deliveries) == before, "a non-run upload must start nothing"

    put = s3.put_object(
        Bucket=bucket, Key="experiments/up/run.json", Body=json.dumps({"items": [7]}).encode()
    )
    (delivery,) = cloud.bridge.deliveries[before:]
    assert delivery.error is None
    assert delivery.execution_arn is not None
    # The toy state machine expects items, so this run fails; what matters is the input it was given.
    event = json.loads(_finish(cloud, delivery.execution_arn)["input"])
    assert event["detail-type"] == "Object Created"
    assert event["detail"]["object"]["key"] == "experiments/up/run.json"
    assert event["detail"]["object"]["version-id"] == put["VersionId"]
    assert event["detail"]["object"]["etag"] == put["ETag"].strip('"')

    # EventBridge delivers at least once and cannot name executions: a repeated event starts a second
    # execution, named like the first with a UUID. Telling them apart is the workflow's own job.
    again = object_created_event(
        "123456789012",
        "us-east-1",
        bucket,
        "experiments/up/run.json",
        10,
        put["ETag"],
        put["VersionId"],
        "PutObject",
    )
    (repeat,) = cloud.bridge.put_event("123456789012", "us-east-1", again)
    assert repeat.error is None
    assert repeat.execution_arn not in (None, delivery.execution_arn)
    for arn in (delivery.execution_arn, repeat.execution_arn):
        assert uuid.UUID(str(arn).rsplit(":", 1)[1])


def test_an_unnamed_execution_gets_a_uuid_and_bad_names_are_refused(cloud: LocalCloud) -> None:
    sfn = cloud.client("stepfunctions")
    started = sfn.start_execution(stateMachineArn=cloud.stack.state_machine_arn, input="{}")
    assert uuid.UUID(started["executionArn"].rsplit(":", 1)[1])
    with pytest.raises(sfn.exceptions.InvalidName):
        sfn.start_execution(stateMachineArn=cloud.stack.state_machine_arn, name="two words", input="{}")


def test_stack_outputs_are_discoverable_through_cloudformation(cloud: LocalCloud) -> None:
    stack = cloud.client("cloudformation").describe_stacks(StackName=cloud.stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs == cloud.stack.outputs


def test_a_function_past_its_timeout_is_stopped_and_replaced(cloud: LocalCloud) -> None:
    sleepy = next(f for f in cloud.stack.functions if f.logical_id == "SleepyFunction")
    client = cloud.client("lambda")
    timed_out = client.invoke(FunctionName=sleepy.name, Payload=json.dumps({"seconds": 3}).encode())
    assert timed_out["FunctionError"] == "Unhandled"
    error = json.loads(timed_out["Payload"].read())
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    # Lambda discards the environment of a timed-out invocation; the next one gets a fresh container.
    quick = client.invoke(FunctionName=sleepy.name, Payload=b"{}")
    assert "FunctionError" not in quick
    assert 0 < json.loads(quick["Payload"].read())["remaining_ms"] <= 1000
