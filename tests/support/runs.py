"""Following executions on a deployment (local cloud or AWS) from a test."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from objective_sweep.localcloud.runs import (
    Deployment,
    RunFiles,
    build_config,
    find_started_execution,
    upload_run,
)
from support.poll import poll

if TYPE_CHECKING:
    from objective_sweep.localcloud import LocalCloud


def wait_for(
    deployment: Deployment, arn: str, *, timeout: float = 300, interval: float = 0.2
) -> dict[str, Any]:
    """DescribeExecution once the execution has ended."""
    sfn = deployment.client("stepfunctions")
    return poll(
        lambda: dict(sfn.describe_execution(executionArn=arn)),
        lambda described: described["status"] != "RUNNING",
        timeout=timeout,
        interval=interval,
        what=lambda described: f"{arn} still {described['status']}",
    )


def start_upload(deployment: Deployment, files: RunFiles, experiment: str, **fields: Any) -> str:
    """Upload a run the way `sweep run` does (data, then the run file) and return the execution the
    upload started."""
    config = build_config(files, experiment=experiment, **fields)
    return find_started_execution(deployment, upload_run(deployment, config, files), timeout=30)


def entered_states(deployment: Deployment, arn: str) -> list[str]:
    """The names of the states the execution entered, in order."""
    events = deployment.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)
    return [
        e["stateEnteredEventDetails"]["name"] for e in events["events"] if "stateEnteredEventDetails" in e
    ]


def succeeded(deployment: Deployment, arn: str) -> dict[str, Any]:
    """Wait for the execution and fail the test unless it SUCCEEDED, with every task failure's cause
    in the message (an AccessDenied names the action and the role of the function that was refused)."""
    described = wait_for(deployment, arn)
    if described["status"] != "SUCCEEDED":
        events = deployment.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)
        causes = [
            f"{details.get('error')}: {details.get('cause')}"
            for event in events["events"]
            for key, details in event.items()
            if key.endswith("FailedEventDetails") and isinstance(details, dict)
        ]
        raise AssertionError(
            f"{arn} ended {described['status']}:\n" + "\n".join(causes or [str(described.get("cause"))])
        )
    return described


def notices(cloud: LocalCloud) -> list[dict[str, Any]]:
    """What the stack's SNS topic has published on the local cloud (moto keeps the sent messages)."""
    from moto.sns.models import sns_backends

    topic = sns_backends["123456789012"]["us-east-1"].topics[str(cloud.stack.topic_arn)]
    return [
        {"message": message, "subject": subject} for _, message, subject, _, _ in topic.sent_notifications
    ]
