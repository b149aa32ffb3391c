"""The run's notifications: success messages come ready-made from the report; a failure message is
built here from the Step Functions Error/Cause the Catch recorded and from what settling the run's
campaigns left billing. Both end the run, so both give up the experiment's lease."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sweep_core import names
from sweep_core.errors import readable_cause
from sweep_core.report.format import money
from sweep_core.report.summary import SUBJECT_LIMIT, ascii_safe
from sweep_core.s3 import S3Location, release_lease
from sweep_core.steps import ApplyKeepResult, ChunkedValidation, NotifyRequest, NotifyResult, Run

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient

# The error a Distributed Map state fails with when more of its items failed than it tolerates.
MAP_RUN_FAILED = "States.ExceedToleratedFailureThreshold"


def failure_message(request: NotifyRequest) -> tuple[str, str]:
    state = request.state or {}
    failure = state.get("failure") or {}
    error = str(failure.get("Error", "UnknownError"))
    cause = readable_cause(str(failure.get("Cause", "")))
    if error == MAP_RUN_FAILED and "chunked" in state:
        # The Map's Catch sees only that its run failed; the failed chunk's own error is in its logs.
        file = ((state.get("chunked") or {}).get("job") or {}).get("file") or "the interactions file"
        cause = (
            f"{file} was not validated: ValidateChunk failed on at least one of its chunks — its logs, and "
            f"the Map Run of this execution in the Step Functions console, name the chunk and its error ({cause})"
        )
    name = request.execution_arn.rsplit(":", 1)[-1]
    subject = f"Objective Sweep run {name} failed: {error}"
    message = f"The run {request.execution_arn} failed.\n\nError: {error}\n\nCause:\n{cause}\n"
    return subject, message + _billing_lines(state)


def _billing_lines(state: dict[str, Any]) -> str:
    """What the failure left billing: nothing was created (PrepareRun failed), the settled campaigns,
    or, when settling them failed too, that they must be checked."""
    # No run yet: PrepareRun failed, or a chunked validation did (its state carries "run": null).
    if not state.get("run"):
        return "\nNothing was created in Personalize.\n"
    experiment = str(state["run"]["config"]["experiment"])
    settled = state.get("keep") or {}
    if "billing" not in settled:
        problem = readable_cause(str((state.get("settleFailure") or settled).get("Cause", "")))
        return (
            f"\nThe campaigns of {experiment} could not be settled after the failure ({problem}). Check "
            f"them in the Personalize console, or remove the experiment: sweep cleanup --experiment {experiment}\n"
        )
    keep = ApplyKeepResult.model_validate(settled)
    if not keep.billing:
        return "\nNothing of this run is left billing.\n"
    total = sum(campaign.monthly_usd for campaign in keep.billing)
    lines = [f"\nStill billing: {len(keep.billing)} campaign(s), about {money(total)} per month:"]
    lines += [
        f"  {c.sensitivity:<7} {c.campaign_arn} ({c.status}, {c.min_provisioned_tps} TPS) {money(c.monthly_usd)}/month"
        for c in keep.billing
    ]
    lines += [f"Remove them and everything else of the experiment: {keep.cleanup}", ""]
    return "\n".join(lines)


def publish(sns: SNSClient, topic_arn: str | None, request: NotifyRequest) -> NotifyResult:
    if not topic_arn:
        raise RuntimeError("TOPIC_ARN is not set: template.yaml gives it to every function")
    if request.state is not None:
        subject, message = failure_message(request)
    else:
        subject, message = request.subject or "Objective Sweep run finished", request.message or ""
    subject = ascii_safe(subject)[:SUBJECT_LIMIT]
    response = sns.publish(TopicArn=topic_arn, Subject=subject, Message=message)
    return NotifyResult(message_id=response.get("MessageId"))


def release(s3: S3Client, bucket: str, request: NotifyRequest) -> bool:
    """Give up the experiment's lease if this execution holds it (the run has ended either way)."""
    state = request.state or {}
    raw = request.run.model_dump(mode="json", by_alias=True) if request.run else state.get("run")
    if raw:
        run = Run.model_validate(raw)
        experiment, owner = run.config.experiment, run.execution_arn
    elif state.get("chunked"):
        # A large interactions file failed its chunked validation: the run was never built.
        pending = ChunkedValidation.model_validate(state["chunked"]).pending
        experiment, owner = pending.config.experiment, pending.execution_arn
    else:
        return False
    return release_lease(s3, S3Location(bucket, names.lease_key(experiment)), owner)
