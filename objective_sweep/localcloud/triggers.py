"""The S3 → EventBridge → Step Functions path moto lacks (its EventBridge cannot target Step
Functions): an object created in the bucket becomes the event AWS sends, the template's rules match
it with moto's pattern matcher, and a match starts the state machine the way the rule's target does
in AWS — as the target's role, with no execution name (so the execution gets a UUID, and telling a
repeated event apart is PrepareRun's job, exactly as in AWS)."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel

from objective_sweep.localcloud.authorizer import EVENTS, AccessDenied, Authorizer

LOG = logging.getLogger(__name__)


def apply_input_path(event: dict[str, Any], path: str | None) -> Any:
    """The subset of JSONPath EventBridge's InputPath uses: `$` or `$.a.b`."""
    if not path or path == "$":
        return event
    node: Any = event
    for part in path.removeprefix("$.").split("."):
        node = node[part]
    return node


@dataclass
class Delivery:
    """What one matched event did: the execution it started, or why it started none."""

    rule: str
    target: str
    execution_arn: str | None = None
    error: str | None = None


_REASONS = {
    "Put": "PutObject",
    "Post": "PostObject",
    "Copy": "CopyObject",
    "CompleteMultipartUpload": "CompleteMultipartUpload",
}


def object_created_event(
    account_id: str,
    region: str,
    bucket: str,
    key: str,
    size: int,
    etag: str,
    version_id: str | None,
    reason: str,
) -> dict[str, Any]:
    """The "Object Created" event S3 sends EventBridge (S3 user guide, "EventBridge message
    structure"); version-id is present only in versioned buckets. It is checked against Powertools'
    model of that event, the same model PrepareRun reads it with, so the two cannot drift."""
    obj: dict[str, Any] = {
        "key": key,
        "size": size,
        "etag": etag.strip('"'),
        "sequencer": uuid.uuid4().hex[:18].upper(),
    }
    if version_id and version_id != "null":
        obj["version-id"] = version_id
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account_id,
            "source-ip-address": "127.0.0.1",
            "reason": reason,
        },
    }
    S3EventNotificationEventBridgeModel.model_validate(event)
    return event


@dataclass
class EventBridgeBridge:
    """Objects created in an EventBridge-enabled bucket produce AWS's event (moto_compat.S3EventPatch
    routes moto's S3 notifications to `on_s3_event`), and every enabled rule of the default bus whose
    pattern matches delivers it to its targets."""

    region: str
    authorizer: Authorizer
    endpoint_url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_s3_event(self, account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        kind, _, action = str(getattr(event_name, "value", event_name)).removeprefix("s3:").partition(":")
        if kind != "ObjectCreated":
            return
        event = object_created_event(
            account_id,
            bucket.region_name,
            bucket.name,
            key.name,
            key.size,
            key.etag,
            key.version_id,
            _REASONS.get(action, action),
        )
        self.put_event(account_id, bucket.region_name, event)

    def put_event(self, account_id: str, region: str, event: dict[str, Any]) -> list[Delivery]:
        """Match an event against the default bus's rules (moto's matcher) and deliver it."""
        from moto.events.models import events_backends

        delivered = []
        bus = events_backends[account_id][region].event_buses.get("default")
        for rule in list(bus.rules.values()) if bus else []:
            matches = rule.event_pattern.matches_event(event)  # type: ignore[arg-type]
            if rule.state != "ENABLED" or not matches:
                continue
            for target in rule.targets:
                delivered.append(self.deliver(rule.name, target, event))
        return delivered

    def deliver(self, rule_name: str, target: dict[str, Any], event: dict[str, Any]) -> Delivery:
        """Deliver one matched event to one Step Functions target as the target's role."""
        arn = str(target["Arn"])
        delivery = Delivery(rule=rule_name, target=arn)
        try:
            payload = (
                json.loads(target["Input"])
                if "Input" in target
                else apply_input_path(event, target.get("InputPath"))
            )
            if arn.split(":")[2] != "states":
                raise NotImplementedError(
                    f"the local cloud delivers rule targets to Step Functions only, not {arn}"
                )
            if not target.get("RoleArn"):
                raise AccessDenied(
                    f"rule {rule_name} has no RoleArn for its Step Functions target {arn}",
                    action="states:StartExecution",
                    resource=arn,
                    caller=EVENTS,
                )
            session = self.authorizer.assume(str(target["RoleArn"]), EVENTS, rule_name)
            client = boto3.client(
                "stepfunctions",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=session.access_key,
                aws_secret_access_key=session.secret_key,
                aws_session_token=session.token,
            )
            started = client.start_execution(stateMachineArn=arn, input=json.dumps(payload))
            delivery.execution_arn = started["executionArn"]
        except Exception as error:
            delivery.error = f"{type(error).__name__}: {error}"
            LOG.warning("rule %s could not deliver to %s: %s", rule_name, arn, delivery.error)
        with self._lock:
            self.deliveries.append(delivery)
        return delivery
