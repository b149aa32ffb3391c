"""The S3 → EventBridge → Step Functions path moto lacks (its EventBridge cannot target Step
Functions): an object created in the bucket becomes the event AWS sends, the template's rules match
it with moto's pattern matcher, and a match starts the state machine (or invokes a function) the
way the rule's target would."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

LOG = logging.getLogger(__name__)
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


def execution_name_for_object(key: str, version_or_etag: str) -> str:
    """Deterministic execution name for an uploaded object: the same object version always maps to
    the same name, so a repeated event cannot start a second run (names are at most 80 characters)."""
    digest = hashlib.sha256(f"{key}\0{version_or_etag}".encode()).hexdigest()[:16]
    # The last two path parts (experiments/<name>/sweep.json -> <name>-sweep-json) say what ran.
    readable = _NAME_CHARS.sub("-", "/".join(key.split("/")[-2:])).strip("-")[-60:].lstrip("-_")
    return f"{readable}-{digest}" if readable else digest


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
    duplicate: bool = False
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
    structure"); version-id is present only in versioned buckets."""
    obj: dict[str, Any] = {
        "key": key,
        "size": size,
        "etag": etag.strip('"'),
        "sequencer": uuid.uuid4().hex[:18].upper(),
    }
    if version_id and version_id != "null":
        obj["version-id"] = version_id
    return {
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


@dataclass
class EventBridgeBridge:
    """While installed, objects created in an EventBridge-enabled bucket produce AWS's event, and
    every rule of the default bus whose pattern matches delivers it to its Step Functions or Lambda
    targets."""

    endpoint_url: str
    region: str
    deliveries: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _saved: Any = None

    def install(self) -> None:
        from moto.s3 import notifications

        self._saved = notifications._send_event_bridge_message
        notifications._send_event_bridge_message = self._on_s3_event

    def uninstall(self) -> None:
        from moto.s3 import notifications

        if self._saved is not None:
            notifications._send_event_bridge_message = self._saved
            self._saved = None

    def _on_s3_event(self, account_id: str, bucket: Any, event_name: str, key: Any) -> None:
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
        """Deliver one matched event to one target, recording the outcome."""
        arn = str(target["Arn"])
        delivery = Delivery(rule=rule_name, target=arn)
        try:
            payload = apply_input_path(event, target.get("InputPath"))
            if "Input" in target:
                payload = json.loads(target["Input"])
            if arn.split(":")[2] == "states":
                self._start(delivery, arn, payload, event)
            else:
                client = boto3.client("lambda", endpoint_url=self.endpoint_url, region_name=self.region)
                # EventBridge invokes functions asynchronously.
                client.invoke(FunctionName=arn, InvocationType="Event", Payload=json.dumps(payload).encode())
        except Exception as error:
            delivery.error = f"{type(error).__name__}: {error}"
            LOG.warning("rule %s could not deliver to %s: %s", rule_name, arn, delivery.error)
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    def _start(self, delivery: Delivery, machine_arn: str, payload: Any, event: dict[str, Any]) -> None:
        client = boto3.client("stepfunctions", endpoint_url=self.endpoint_url, region_name=self.region)
        detail = event.get("detail") or {}
        kwargs: dict[str, Any] = {"stateMachineArn": machine_arn, "input": json.dumps(payload)}
        obj = detail.get("object") if isinstance(detail, dict) else None
        if obj and "key" in obj:
            version = obj.get("version-id") or obj.get("eTag") or ""
            kwargs["name"] = execution_name_for_object(str(obj["key"]), str(version))
            existing = f"{machine_arn.replace(':stateMachine:', ':execution:')}:{kwargs['name']}"
            try:
                client.describe_execution(executionArn=existing)
            except client.exceptions.ExecutionDoesNotExist:
                pass
            else:
                delivery.duplicate = True
                delivery.execution_arn = existing
                return
        delivery.execution_arn = client.start_execution(**kwargs)["executionArn"]
