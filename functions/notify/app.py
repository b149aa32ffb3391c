"""Notify / NotifyFailure: give up the experiment's lease (the run has ended), then publish the run's
outcome to the project's SNS topic: the report summary, or the error and cause that stopped the run
and what it left billing."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from sweep_core import runtime
from sweep_core.notify import publish, release
from sweep_core.runtime import logger, step_handler
from sweep_core.steps import NotifyRequest


@step_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = NotifyRequest.model_validate(event)
    logger.append_keys(execution_id=request.execution_arn)
    released = release(runtime.s3(), runtime.settings().bucket_name, request)
    result = publish(runtime.sns(), runtime.settings().topic_arn, request)
    logger.info("notification sent", extra={"messageId": result.message_id, "leaseReleased": released})
    return result.model_dump(mode="json", by_alias=True)
