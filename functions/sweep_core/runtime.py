"""What every handler shares: Powertools' logger/tracer/metrics, the settings read once from the
environment template.yaml gives each function, and the AWS clients (created once per container)."""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from botocore.config import Config
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.exceptions import HTTPClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sweep_core.errors import TransientServiceError
from sweep_core.models import ALL_SENSITIVITIES, Sensitivity
from sweep_core.steps import LevelRequest, LevelState, WaitPolicy

if TYPE_CHECKING:
    from mypy_boto3_personalize import PersonalizeClient
    from mypy_boto3_personalize_runtime import PersonalizeRuntimeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_stepfunctions import SFNClient

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Most steps publish only the cold-start metric (CompareSolutions emits its own per level), so an
# empty flush is the normal case, not something to warn about on every invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

# Step Functions owns long retries (Retry with backoff on ResourceLimitError); the SDK only smooths
# over short blips so that a throttled call does not hold a Lambda for minutes.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})


class Settings(BaseModel):
    """The functions' environment (template.yaml Globals), validated once per container."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    bucket_name: str = Field(alias="BUCKET_NAME", min_length=3)
    topic_arn: str | None = Field(default=None, alias="TOPIC_ARN")
    personalize_role_arn: str | None = Field(default=None, alias="PERSONALIZE_ROLE_ARN")
    default_objective: str = Field(default="ROYALTY", alias="DEFAULT_OBJECTIVE")
    default_sensitivities: list[Sensitivity] = Field(
        default_factory=lambda: list(ALL_SENSITIVITIES), alias="DEFAULT_SENSITIVITIES"
    )
    stack_name: str = Field(default="objective-sweep", alias="STACK_NAME")
    # An interactions file larger than this is validated in chunks of this size by a Distributed Map.
    validation_chunk_bytes: int | None = Field(default=None, alias="VALIDATION_CHUNK_BYTES", gt=0)

    @field_validator("default_sensitivities", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().upper() for part in value.split(",") if part.strip()]
        return value

    @field_validator("topic_arn", "personalize_role_arn", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return value or None


@cache
def settings() -> Settings:
    try:
        return Settings.model_validate(dict(os.environ))
    except ValidationError as error:
        raise RuntimeError(
            f"The function's environment is incomplete (template.yaml Globals): {error}"
        ) from error


@cache
def personalize() -> PersonalizeClient:
    return boto3.client("personalize", config=_CLIENT_CONFIG)


@cache
def personalize_runtime() -> PersonalizeRuntimeClient:
    # Hundreds of GetRecommendations per comparison: adaptive retries slow the client down when the
    # campaigns throttle, instead of every call spending its attempts at once.
    return boto3.client("personalize-runtime", config=Config(retries={"mode": "adaptive", "max_attempts": 6}))


@cache
def s3() -> S3Client:
    return boto3.client("s3", config=_CLIENT_CONFIG)


@cache
def stepfunctions() -> SFNClient:
    return boto3.client("stepfunctions", config=_CLIENT_CONFIG)


@cache
def sns() -> SNSClient:
    return boto3.client("sns", config=_CLIENT_CONFIG)


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def step_handler(handler: Handler) -> Handler:
    """What every step's handler is wrapped in: Powertools' logger (the Lambda context on every line),
    tracer and metrics, and one translation — a call whose answer was lost after the SDK's retries
    becomes TransientServiceError, the error the state machine retries."""

    @functools.wraps(handler)
    def call(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return handler(event, context)
        except (BotocoreConnectionError, HTTPClientError) as error:
            raise TransientServiceError(f"{type(error).__name__}: {error}") from error

    wrapped = metrics.log_metrics(capture_cold_start_metric=True)(call)
    wrapped = tracer.capture_lambda_handler(wrapped)
    return logger.inject_lambda_context(log_event=False, clear_state=True)(wrapped)


class _LevelOperation(Protocol):
    def __call__(self, pz: PersonalizeClient, level: LevelState, policy: WaitPolicy) -> BaseModel: ...


def level_step(event: dict[str, Any], operation: _LevelOperation, what: str) -> dict[str, Any]:
    """The body every Map-iteration handler shares: parse, tag the logs with the level, call, dump."""
    request = LevelRequest.model_validate(event)
    level = request.level
    logger.append_keys(execution_id=level.run.execution_arn, sensitivity=level.sensitivity)
    state = operation(personalize(), level, request.wait)
    result = state.model_dump(mode="json", by_alias=True)
    logger.info(what, extra={key: value for key, value in result.items() if key != "poll"} | result["poll"])
    return result
