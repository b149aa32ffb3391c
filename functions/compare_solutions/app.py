"""CompareSolutions: gather every level's metrics and top-K lists, write report.json/md/html to S3,
publish the offline metrics as CloudWatch metrics per sensitivity, and return a small summary."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from sweep_core import runtime
from sweep_core.compare import compare
from sweep_core.report.model import Report
from sweep_core.runtime import logger, step_handler
from sweep_core.steps import CompareRequest


@step_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = CompareRequest.model_validate(event)
    logger.append_keys(execution_id=request.run.execution_arn, experiment=request.run.config.experiment)
    result, report = compare(
        runtime.personalize(),
        runtime.personalize_runtime(),
        runtime.s3(),
        request,
        runtime.settings().bucket_name,
        runtime.settings().stack_name,
    )
    _publish_level_metrics(report)
    logger.info("report written", extra={"reportUris": result.report_uris})
    return result.model_dump(mode="json", by_alias=True)


def _publish_level_metrics(report: Report) -> None:
    # One EMF document per metric and level: the sensitivity is a dimension, so dashboards can
    # chart a metric across levels and experiments.
    for level in report.levels:
        values = dict(level.metrics)
        if level.mean_top_k_objective_sum is not None:
            values["mean_top_k_objective_sum"] = level.mean_top_k_objective_sum
        for name, value in values.items():
            with single_metric(name=name, unit=MetricUnit.NoUnit, value=value) as metric:
                metric.add_dimension(name="experiment", value=report.run.experiment)
                metric.add_dimension(name="sensitivity", value=level.sensitivity)
