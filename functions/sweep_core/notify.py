"""The run's notifications: success messages come ready-made from the report; a failure message is
built here from the Step Functions Error/Cause the Catch recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sweep_core.errors import readable_cause
from sweep_core.report.summary import SUBJECT_LIMIT, ascii_safe
from sweep_core.steps import NotifyRequest, NotifyResult

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


def failure_message(request: NotifyRequest) -> tuple[str, str]:
    failure = request.failure or {}
    error = str(failure.get("Error", "UnknownError"))
    cause = readable_cause(str(failure.get("Cause", "")))
    name = request.execution_arn.rsplit(":", 1)[-1]
    subject = f"Objective Sweep run {name} failed: {error}"
    message = f"The run {request.execution_arn} failed.\n\nError: {error}\n\nCause:\n{cause}\n"
    return subject, message


def publish(sns: SNSClient, topic_arn: str | None, request: NotifyRequest) -> NotifyResult:
    if not topic_arn:
        raise RuntimeError("TOPIC_ARN is not set: template.yaml gives it to every function")
    if request.failure is not None:
        subject, message = failure_message(request)
    else:
        subject, message = request.subject or "Objective Sweep run finished", request.message or ""
    subject = ascii_safe(subject)[:SUBJECT_LIMIT]
    response = sns.publish(TopicArn=topic_arn, Subject=subject, Message=message)
    return NotifyResult(message_id=response.get("MessageId"))
