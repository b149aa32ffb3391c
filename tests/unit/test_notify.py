"""Notifications: a failure message shows the Lambda error's message rather than its JSON wrapper,
and subjects are made acceptable to SNS (ASCII, one line, fewer than 100 characters)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends
from sweep_core.notify import failure_message, publish
from sweep_core.steps import NotifyRequest

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:sweep:run-42"


def test_failure_message_unwraps_lambda_errors() -> None:
    cause = json.dumps(
        {
            "errorType": "InvalidInputError",
            "errorMessage": "items.csv, line 3: ROYALTY is empty",
            "stackTrace": [],
        }
    )
    subject, message = failure_message(
        NotifyRequest(
            state={"failure": {"Error": "InvalidInputError", "Cause": cause}}, execution_arn=EXECUTION
        )
    )
    assert subject == "Objective Sweep run run-42 failed: InvalidInputError"
    assert "items.csv, line 3: ROYALTY is empty" in message
    assert "stackTrace" not in message
    assert "Nothing was created in Personalize." in message


def test_a_chunked_validation_failure_says_nothing_was_created() -> None:
    # The ValidateChunks route carries "run": null until FinishValidation builds the run.
    state = {"run": None, "chunked": {}, "failure": {"Error": "InvalidInputError", "Cause": "line 9: bad"}}
    _, message = failure_message(NotifyRequest(state=state, execution_arn=EXECUTION))
    assert "line 9: bad" in message
    assert "Nothing was created in Personalize." in message


def test_a_failed_chunk_is_explained_in_plain_words() -> None:
    state = {
        "run": None,
        "chunked": {"job": {"file": "s3://bucket/experiments/big/interactions.csv"}},
        "failure": {
            "Error": "States.ExceedToleratedFailureThreshold",
            "Cause": "The specified tolerated failure threshold was exceeded",
        },
    }
    _, message = failure_message(NotifyRequest(state=state, execution_arn=EXECUTION))
    assert (
        "s3://bucket/experiments/big/interactions.csv was not validated: ValidateChunk failed on at least "
        "one of its chunks" in message
    )
    assert "Nothing was created in Personalize." in message


def test_failure_message_keeps_plain_causes() -> None:
    _, message = failure_message(
        NotifyRequest(
            state={"failure": {"Error": "WaitTimeout", "Cause": "still CREATE PENDING"}},
            execution_arn=EXECUTION,
        )
    )
    assert "Error: WaitTimeout" in message
    assert "still CREATE PENDING" in message


RUN = {"config": {"experiment": "royalty"}}
BILLING = {
    "sensitivity": "HIGH",
    "campaignArn": "arn:aws:personalize:us-east-1:123456789012:campaign/royalty-high",
    "status": "ACTIVE",
    "minProvisionedTPS": 1,
    "monthlyUsd": 146.0,
}


def test_a_failure_message_lists_what_still_bills_and_how_to_remove_it() -> None:
    keep = {
        "deleted": [],
        "alreadyGone": [],
        "billing": [BILLING],
        "cleanup": "sweep cleanup --experiment royalty --stack s",
    }
    state = {"failure": {"Error": "ResourceFailedError", "Cause": "boom"}, "run": RUN, "keep": keep}
    _, message = failure_message(NotifyRequest(state=state, execution_arn=EXECUTION))
    assert "Still billing: 1 campaign(s), about $146.00 per month:" in message
    assert (
        "HIGH    arn:aws:personalize:us-east-1:123456789012:campaign/royalty-high (ACTIVE, 1 TPS) $146.00/month"
        in message
    )
    assert "sweep cleanup --experiment royalty --stack s" in message
    nothing = {**state, "keep": {**keep, "billing": []}}
    assert (
        "Nothing of this run is left billing."
        in failure_message(NotifyRequest(state=nothing, execution_arn=EXECUTION))[1]
    )
    unsettled = {**state, "keep": {"Error": "ResourceLimitError", "Cause": "throttled"}}
    _, message = failure_message(NotifyRequest(state=unsettled, execution_arn=EXECUTION))
    assert "could not be settled after the failure (throttled)" in message
    assert "sweep cleanup --experiment royalty" in message


@mock_aws
def test_publish_sends_an_sns_safe_subject() -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="sweep")["TopicArn"]
    request = NotifyRequest(subject="Ship HIGH — " + "x" * 200, message="body", execution_arn=EXECUTION)
    result = publish(sns, topic, request)
    assert result.message_id
    sent = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].topics[topic].sent_notifications
    ((_, message, subject, _, _),) = sent
    assert message == "body"
    assert subject is not None
    assert len(subject) == 99
    assert subject.isascii()


def test_publish_without_a_topic_says_what_is_missing() -> None:
    with pytest.raises(RuntimeError, match="TOPIC_ARN"):
        publish(None, None, NotifyRequest(subject="s", message="m", execution_arn=EXECUTION))  # type: ignore[arg-type]
