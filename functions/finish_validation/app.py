"""FinishValidation: after the ValidateChunks Distributed Map, merge the chunks' findings into the run
(as PrepareRun returns it for a smaller file), or fail with the file's problems at their true lines."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from sweep_core import runtime
from sweep_core.prepare import finish_validation
from sweep_core.runtime import logger, step_handler
from sweep_core.steps import FinishValidationRequest


@step_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = FinishValidationRequest.model_validate(event)
    logger.append_keys(execution_id=request.chunked.pending.execution_arn)
    result = finish_validation(runtime.s3(), request)
    logger.info("chunks merged", extra={"chunks": request.chunked.chunks})
    return result.model_dump(mode="json", by_alias=True)
