"""ImportDatasets: describe-or-create the dataset group, schemas, datasets and one import job per file
version; called again by the state machine's wait loop until every import is ACTIVE."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from sweep_core import runtime
from sweep_core.personalize import ensure_imports
from sweep_core.runtime import logger, step_handler
from sweep_core.steps import ImportRequest


@step_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ImportRequest.model_validate(event)
    logger.append_keys(execution_id=request.run.execution_arn, experiment=request.run.config.experiment)
    state = ensure_imports(
        runtime.personalize(),
        request.run,
        request.imports,
        runtime.settings().personalize_role_arn,
        request.wait,
    )
    logger.info("imports", extra={"status": state.poll.status, "done": state.poll.done})
    return state.model_dump(mode="json", by_alias=True)
