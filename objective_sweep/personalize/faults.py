"""Fault injection for tests: make named resources fail, throttle operations, slow down work.

Rules come from `LocalPersonalize(faults=...)` or `POST /_local/faults` as JSON (documented in
docs/local-personalize.md); they are matched by resource name with shell-style globs."""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass
from typing import Any

from objective_sweep.personalize.protocol import ApiError, invalid

# Resource kinds a failure can target, named like the Personalize resource they stand for.
FAILABLE = ("datasetGroup", "dataset", "datasetImportJob", "solution", "solutionVersion", "campaign")
THROTTLE_ERRORS = ("ThrottlingException", "LimitExceededException")


@dataclass
class _Failure:
    resource: str
    name: str
    reason: str


@dataclass
class _Throttle:
    operation: str
    remaining: int
    error: str


@dataclass
class _Slow:
    resource: str
    name: str
    seconds: float


class Faults:
    """The active rules; safe to change while requests are served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[_Failure] = []
        self._throttles: list[_Throttle] = []
        self._slow: list[_Slow] = []

    def add(self, rules: dict[str, Any]) -> None:
        """Add rules: {"fail": [{"resource", "name", "reason"}], "throttle": [{"operation", "count",
        "error"}], "slow": [{"resource", "name", "seconds"}], "slowTraining": [{"name", "seconds"}]};
        raises InvalidInputException on a bad rule."""
        if not isinstance(rules, dict):
            raise invalid("faults must be a JSON object with fail, throttle, slow and/or slowTraining lists")
        unknown = sorted(set(rules) - {"fail", "throttle", "slow", "slowTraining"})
        if unknown:
            raise invalid(
                f"unknown fault kind(s) {', '.join(unknown)}; use fail, throttle, slow or slowTraining"
            )
        failures = [self._failure(r) for r in _rule_list(rules, "fail")]
        throttles = [self._throttle(r) for r in _rule_list(rules, "throttle")]
        slow = [self._slowdown(r, r.get("resource", "solutionVersion")) for r in _rule_list(rules, "slow")]
        slow += [self._slowdown(r, "solutionVersion") for r in _rule_list(rules, "slowTraining")]
        with self._lock:
            self._failures.extend(failures)
            self._throttles.extend(throttles)
            self._slow.extend(slow)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._throttles.clear()
            self._slow.clear()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "fail": [vars(f).copy() for f in self._failures],
                "throttle": [
                    {"operation": t.operation, "count": t.remaining, "error": t.error}
                    for t in self._throttles
                ],
                "slow": [vars(s).copy() for s in self._slow],
            }

    @staticmethod
    def _failure(rule: dict[str, Any]) -> _Failure:
        resource = _resource(rule, "fail")
        name = _string(rule, "name", "fail")
        reason = rule.get("reason", f"Injected failure for {resource} {name}")
        return _Failure(resource, name, str(reason))

    @staticmethod
    def _throttle(rule: dict[str, Any]) -> _Throttle:
        operation = _string(rule, "operation", "throttle")
        count = rule.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise invalid("throttle.count must be a positive integer (calls to reject)")
        error = rule.get("error", "ThrottlingException")
        if error not in THROTTLE_ERRORS:
            raise invalid(f"throttle.error must be one of {', '.join(THROTTLE_ERRORS)}")
        return _Throttle(operation, count, error)

    @staticmethod
    def _slowdown(rule: dict[str, Any], resource: str) -> _Slow:
        seconds = rule.get("seconds")
        if not isinstance(seconds, int | float) or seconds < 0:
            raise invalid("slow.seconds must be a non-negative number")
        return _Slow(_resource({"resource": resource}, "slow"), str(rule.get("name", "*")), float(seconds))

    def check_throttle(self, operation: str) -> None:
        """Raise the configured throttling error if this call is one of the N to reject."""
        with self._lock:
            for rule in self._throttles:
                if rule.remaining > 0 and fnmatch.fnmatchcase(operation, rule.operation):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._throttles.remove(rule)
                    raise ApiError(rule.error, f"Rate exceeded for {operation} (injected by a fault rule)")

    def failure_for(self, resource: str, names: tuple[str, ...]) -> str | None:
        """The injected failureReason for a resource known by any of `names`, if a rule matches."""
        with self._lock:
            for rule in self._failures:
                if rule.resource == resource and any(fnmatch.fnmatchcase(n, rule.name) for n in names):
                    return rule.reason
        return None

    def delay(self, resource: str, names: tuple[str, ...]) -> float:
        """Extra seconds a matching resource spends in CREATE IN_PROGRESS."""
        with self._lock:
            return sum(
                s.seconds
                for s in self._slow
                if s.resource == resource and any(fnmatch.fnmatchcase(n, s.name) for n in names)
            )


def _rule_list(rules: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    value = rules.get(kind, [])
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise invalid(f"faults.{kind} must be a list of objects")
    return value


def _resource(rule: dict[str, Any], kind: str) -> str:
    resource = rule.get("resource", "solutionVersion")
    if resource not in FAILABLE:
        raise invalid(f"{kind}.resource {resource!r} is not one of {', '.join(FAILABLE)}")
    return str(resource)


def _string(rule: dict[str, Any], key: str, kind: str) -> str:
    value = rule.get(key)
    if not isinstance(value, str) or not value:
        raise invalid(f"{kind}.{key} is required: a name or shell-style glob such as '*-high'")
    return value
