"""Handlers of the toy template: they report the environment they see and fail on purpose."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

_attempts: dict[str, int] = {}
_lock = threading.Lock()


class NotReadyError(Exception):
    """Raised on a first attempt so the state machine's Retry runs."""


class BoomError(Exception):
    """Always raised so the state machine's Catch runs."""


def echo(event: Any, context: Any) -> dict[str, Any]:
    return {
        "item": event,
        "who": os.environ["WHO"],
        "bucket": os.environ["BUCKET"],
        "topic": os.environ["TOPIC_ARN"],
        "greeting": os.environ["GREETING"],
        "function": context.function_name,
    }


def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with _lock:
        _attempts[event["token"]] = _attempts.get(event["token"], 0) + 1
        attempts = _attempts[event["token"]]
    if attempts == 1:
        raise NotReadyError("first attempt always fails")
    return {"attempts": attempts, "who": os.environ["WHO"]}


def boom(event: Any, context: Any) -> None:
    raise BoomError("boom on purpose")


def reader(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Reads an object of the toy bucket with the function's own credentials."""
    import boto3

    body = boto3.client("s3").get_object(Bucket=os.environ["BUCKET"], Key=event["key"])["Body"].read()
    return {"bytes": len(body)}


def sleepy(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Outlives its function's Timeout when asked to."""
    time.sleep(float(event.get("seconds", 0)))
    return {"remaining_ms": context.get_remaining_time_in_millis()}
