"""CreateSolution: describe-or-create one level's solution (objective sensitivity, no auto-training unless
asked) and report its status to the wait loop until it is ACTIVE."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from sweep_core.personalize import ensure_solution
from sweep_core.runtime import level_step, step_handler


@step_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return level_step(event, ensure_solution, "solution")
