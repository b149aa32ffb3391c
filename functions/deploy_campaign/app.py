"""DeployCampaign: create the level's campaign or move it to the new version (retrain: only if the
quality gate passes), and report its status to the wait loop until it is ACTIVE."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from sweep_core.personalize import deploy_campaign
from sweep_core.runtime import level_step, logger, metrics, tracer


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return level_step(event, deploy_campaign, "campaign")
