"""ValidateChunk: one item of the ValidateChunks Distributed Map. Checks the lines that start in one
byte range of a large interactions file and stores its findings in S3 for FinishValidation."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from sweep_core import runtime
from sweep_core.prepare import validate_chunk_object
from sweep_core.runtime import logger, step_handler
from sweep_core.steps import ChunkRequest


@step_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ChunkRequest.model_validate(event)
    logger.append_keys(experiment=request.job.experiment, chunk=request.chunk.index)
    result = validate_chunk_object(runtime.s3(), request)
    logger.info("chunk validated", extra={"lines": result.lines, "problems": len(result.problems)})
    # The findings are in S3; the Map's output stays small whatever the number of chunks.
    return {"index": result.index, "lines": result.lines}
