"""Helpers the workflow test modules share."""

from __future__ import annotations

import time
from typing import Any

from objective_sweep.localcloud.runs import Deployment


def wait_for(deployment: Deployment, arn: str) -> dict[str, Any]:
    """DescribeExecution once the execution has ended."""
    sfn = deployment.client("stepfunctions")
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.2)
    return dict(described)
