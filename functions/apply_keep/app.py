"""ApplyKeep: delete the campaigns the run's ``keep`` option does not keep (they bill every hour);
deleting one that is already gone is fine, so a retry or a rerun is harmless."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from sweep_core import runtime
from sweep_core.personalize import delete_campaigns
from sweep_core.runtime import logger, step_handler
from sweep_core.steps import ApplyKeepRequest, ApplyKeepResult


@step_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ApplyKeepRequest.model_validate(event)
    logger.append_keys(experiment=request.experiment)
    deleted, gone = delete_campaigns(runtime.personalize(), request.delete_campaign_arns)
    logger.info("campaigns deleted", extra={"deleted": deleted, "alreadyGone": gone})
    return ApplyKeepResult(deleted=deleted, already_gone=gone).model_dump(mode="json", by_alias=True)
