"""ApplyKeep: after the comparison, delete the campaigns the run's ``keep`` option does not keep; after
a failure, settle the run's campaigns the same way (no recommendation exists then). Either way it
returns what still bills. Deleting a campaign already gone is fine, so a retry or a rerun is harmless."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from sweep_core import runtime
from sweep_core.keep import apply_keep, settle_after_failure
from sweep_core.runtime import logger, step_handler
from sweep_core.steps import ApplyKeepRequest, Run, SettleRequest


@step_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    stack = runtime.settings().stack_name
    if "state" in event:
        state = SettleRequest.model_validate(event).state
        run = Run.model_validate(state["run"])
        comparison = state.get("comparison") or {}
        decided = comparison.get("deleteCampaignArns")
        logger.append_keys(execution_id=run.execution_arn, experiment=run.config.experiment)
        result = settle_after_failure(runtime.personalize(), run, decided, stack)
    else:
        request = ApplyKeepRequest.model_validate(event)
        run = request.run
        logger.append_keys(execution_id=run.execution_arn, experiment=run.config.experiment)
        result = apply_keep(runtime.personalize(), run, request.delete_campaign_arns, stack)
    logger.info("campaigns settled", extra=result.model_dump(mode="json", by_alias=True))
    return result.model_dump(mode="json", by_alias=True)
