"""PrepareRun: turn any entry point's input into one validated Run, checking the data in S3 before
anything is created in Personalize (a bad run fails here with InvalidInputError)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from sweep_core import runtime
from sweep_core.prepare import execution_running, prepare_run
from sweep_core.runtime import logger, step_handler
from sweep_core.steps import PrepareRunRequest


@step_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = PrepareRunRequest.model_validate(event)
    logger.append_keys(execution_id=request.execution_arn)
    result = prepare_run(
        runtime.s3(), request, runtime.settings(), execution_running(runtime.stepfunctions())
    )
    if result.run:
        logger.append_keys(experiment=result.run.config.experiment)
        logger.info(
            "run prepared", extra={"trigger": result.run.trigger, "fingerprint": result.run.fingerprint}
        )
    else:
        logger.info(
            "duplicate event: this object version already started a run", extra={"owner": result.duplicate_of}
        )
    return result.model_dump(mode="json", by_alias=True)
