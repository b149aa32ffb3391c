"""DeployCampaign: create the level's campaign or move it to the new version (retrain: only if the
quality gate passes), and report its status to the wait loop until it is ACTIVE."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from sweep_core.personalize import deploy_campaign
from sweep_core.runtime import level_step, step_handler


@step_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return level_step(event, deploy_campaign, "campaign")
