"""The AWS managed policies SAM attaches to the roles it generates (every function gets
AWSLambdaBasicExecutionRole; `Tracing: Active` adds AWSXrayWriteOnlyAccess), with the documents AWS
publishes for them, so the local cloud evaluates a generated role exactly as IAM would. A template
naming any other managed policy is refused until its document is added here."""

from __future__ import annotations

from typing import Any

MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "AWSLambdaBasicExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ],
    },
    "AWSXrayWriteOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "Resource": ["*"],
            }
        ],
    },
}
