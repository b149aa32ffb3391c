"""Fault injection for tests: make named resources fail, throttle operations, lose answers, slow down work.

Rules come from `LocalPersonalize(faults=...)` or `POST /_local/faults` as JSON (documented in
docs/local-personalize.md); resources are matched by name and operations by name, with shell-style
globs. A rule that fires by chance (`probability`) draws from its own generator seeded by `seed`, so
one rule's sequence of decisions is the same on every run."""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from objective_sweep.personalize.protocol import ApiError, invalid

# Resource kinds a failure can target, named like the Personalize resource they stand for.
FAILABLE = ("datasetGroup", "dataset", "datasetImportJob", "solution", "solutionVersion", "campaign")
THROTTLE_ERRORS = ("ThrottlingException", "LimitExceededException")
KINDS = ("fail", "throttle", "loseAnswer", "slow", "slowTraining")


@dataclass
class _Failure:
    resource: str
    name: str
    reason: str


@dataclass
class _Chance:
    """When an operation rule fires: on each of the next `remaining` calls (None: no limit), or, with a
    `probability`, on that share of them."""

    operation: str
    remaining: int | None
    probability: float | None
    seed: int
    draw: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.draw = random.Random(self.seed)

    def fires(self, operation: str) -> bool:
        """Whether this call is hit; called under the rules' lock."""
        if not fnmatch.fnmatchcase(operation, self.operation) or self.remaining == 0:
            return False
        if self.probability is not None and self.draw.random() >= self.probability:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"operation": self.operation}
        if self.remaining is not None:
            described["count"] = self.remaining
        if self.probability is not None:
            described.update(probability=self.probability, seed=self.seed)
        return described


@dataclass
class _Throttle:
    chance: _Chance
    error: str


@dataclass
class _LostAnswer:
    chance: _Chance
    seconds: float


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
        self._lost: list[_LostAnswer] = []
        self._slow: list[_Slow] = []

    def add(self, rules: dict[str, Any]) -> None:
        """Add rules: {"fail": [{"resource", "name", "reason"}], "throttle": [{"operation", "count" |
        "probability" and "seed", "error"}], "loseAnswer": [{"operation", "count" | "probability" and
        "seed", "seconds"}], "slow": [{"resource", "name", "seconds"}], "slowTraining": [{"name",
        "seconds"}]}; raises InvalidInputException on a bad rule."""
        if not isinstance(rules, dict):
            raise invalid(f"faults must be a JSON object with {_either(KINDS)} lists")
        unknown = sorted(set(rules) - set(KINDS))
        if unknown:
            raise invalid(f"unknown fault kind(s) {', '.join(unknown)}; use {_either(KINDS)}")
        failures = [self._failure(r) for r in _rule_list(rules, "fail")]
        throttles = [self._throttle(r) for r in _rule_list(rules, "throttle")]
        lost = [self._lost_answer(r) for r in _rule_list(rules, "loseAnswer")]
        slow = [self._slowdown(r, r.get("resource", "solutionVersion")) for r in _rule_list(rules, "slow")]
        slow += [self._slowdown(r, "solutionVersion") for r in _rule_list(rules, "slowTraining")]
        with self._lock:
            self._failures.extend(failures)
            self._throttles.extend(throttles)
            self._lost.extend(lost)
            self._slow.extend(slow)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._throttles.clear()
            self._lost.clear()
            self._slow.clear()

    def describe(self) -> dict[str, Any]:
        """The active rules; a counted rule shows the calls it has left."""
        with self._lock:
            return {
                "fail": [vars(f).copy() for f in self._failures],
                "throttle": [{**t.chance.describe(), "error": t.error} for t in self._throttles],
                "loseAnswer": [{**lost.chance.describe(), "seconds": lost.seconds} for lost in self._lost],
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
        error = rule.get("error", "ThrottlingException")
        if error not in THROTTLE_ERRORS:
            raise invalid(f"throttle.error must be one of {', '.join(THROTTLE_ERRORS)}")
        return _Throttle(_chance(rule, "throttle"), error)

    @staticmethod
    def _lost_answer(rule: dict[str, Any]) -> _LostAnswer:
        seconds = rule.get("seconds", 0)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds <= 600:
            raise invalid("loseAnswer.seconds must be a number of seconds from 0 to 600")
        return _LostAnswer(_chance(rule, "loseAnswer"), float(seconds))

    @staticmethod
    def _slowdown(rule: dict[str, Any], resource: str) -> _Slow:
        seconds = rule.get("seconds")
        if not isinstance(seconds, int | float) or seconds < 0:
            raise invalid("slow.seconds must be a non-negative number")
        return _Slow(_resource({"resource": resource}, "slow"), str(rule.get("name", "*")), float(seconds))

    def check_throttle(self, operation: str) -> None:
        """Raise the configured throttling error if a throttle rule hits this call."""
        with self._lock:
            for rule in self._throttles:
                if rule.chance.fires(operation):
                    if rule.chance.remaining == 0:
                        self._throttles.remove(rule)
                    raise ApiError(rule.error, f"Rate exceeded for {operation} (injected by a fault rule)")

    def lost_answer(self, operation: str) -> float | None:
        """For a call that did its work: None to answer it, else the seconds to hold the connection
        before closing it unanswered (the client sees its read timeout, or the connection closed)."""
        with self._lock:
            for rule in self._lost:
                if rule.chance.fires(operation):
                    if rule.chance.remaining == 0:
                        self._lost.remove(rule)
                    return rule.seconds
        return None

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


def _chance(rule: dict[str, Any], kind: str) -> _Chance:
    operation = _string(rule, "operation", kind)
    probability = rule.get("probability")
    if probability is not None and (
        not isinstance(probability, int | float) or isinstance(probability, bool) or not 0 < probability <= 1
    ):
        raise invalid(f"{kind}.probability must be a number above 0 and at most 1 (0.3: 30% of calls)")
    seed = rule.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise invalid(f"{kind}.seed must be an integer")
    # Without a probability a rule hits the next `count` calls (one unless told); with one, every
    # matching call may be hit until the rules are cleared, unless a count limits the hits.
    count = rule.get("count", 1 if probability is None else None)
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise invalid(f"{kind}.count must be a positive integer (calls to hit)")
    return _Chance(operation, count, None if probability is None else float(probability), seed)


def _either(kinds: tuple[str, ...]) -> str:
    return ", ".join(kinds[:-1]) + " or " + kinds[-1]


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
        example = "'*-high'" if key == "name" else "'Create*'"
        raise invalid(f"{kind}.{key} is required: a name or shell-style glob such as {example}")
    return value
