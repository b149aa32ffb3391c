"""IAM policy evaluation as AWS documents it ("Policy evaluation logic", IAM User Guide): an explicit
Deny in any applicable policy wins, otherwise an Allow is needed, otherwise the request is implicitly
denied. Statements match on Action/NotAction (case-insensitive wildcards), Resource/NotResource
(case-sensitive wildcards), Principal in resource-based and trust policies, and Condition blocks.

No well-kept Python library evaluates identity and resource policies with conditions, and moto's own
evaluator (moto.iam.access_control) turns an Allow whose condition fails into a Deny and ignores
principals in bucket policies, so the local cloud carries this small evaluator. What it cannot
evaluate (an unknown condition operator, NotPrincipal, policy variables) it refuses with a
PolicyError naming the statement, so a template never passes locally because a check was skipped.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Effect = Literal["Allow", "Deny"]


class PolicyError(Exception):
    """A policy uses something this evaluator cannot decide; the message names the statement."""


@dataclass(frozen=True)
class StatementRef:
    """Where a statement comes from: the policy's owner (a role or a bucket), the policy's name and the
    statement's position, for messages and for the least-privilege ledger."""

    owner: str
    policy: str
    index: int
    sid: str | None = None

    def __str__(self) -> str:
        label = f"{self.owner} / {self.policy} statement {self.index + 1}"
        return f"{label} ({self.sid})" if self.sid else label


@dataclass(frozen=True)
class Principal:
    """Who makes a request: an IAM role's session (a function, the state machine...) or an AWS
    service acting on the account's behalf."""

    arn: str
    account: str
    service: str | None = None

    def matches(self, principal_element: Any) -> bool:
        """Whether a statement's Principal names this caller."""
        if principal_element == "*":
            return True
        if not isinstance(principal_element, Mapping):
            raise PolicyError(f"Principal must be '*' or an object, not {principal_element!r}")
        for kind, values in principal_element.items():
            names = _as_tuple(values)
            if kind == "Service" and self.service is not None and self.service in names:
                return True
            if kind == "AWS" and self.service is None and any(self._is_aws(name) for name in names):
                return True
        return False

    def _is_aws(self, name: str) -> bool:
        if name in ("*", self.account, f"arn:aws:iam::{self.account}:root"):
            return True
        # A role ARN names every session of that role.
        role_arn = _role_of_session(self.arn)
        return name in (self.arn, role_arn)


def _role_of_session(session_arn: str) -> str | None:
    match = re.fullmatch(r"arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/.+", session_arn)
    if not match:
        return None
    partition, account, role = match.groups()
    return f"arn:{partition}:iam::{account}:role/{role}"


@dataclass(frozen=True)
class Match:
    """One statement entry that applies to a request: the Action and Resource patterns that matched
    ("" where the statement has none, as in a trust policy)."""

    statement: StatementRef
    action: str
    resource: str


@dataclass(frozen=True)
class Statement:
    """One parsed policy statement."""

    effect: Effect
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    principal: Any
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]]
    ref: StatementRef

    @classmethod
    def parse(cls, raw: Mapping[str, Any], ref: StatementRef) -> Statement:
        if "NotPrincipal" in raw:
            raise PolicyError(f"{ref}: NotPrincipal is not supported by the local cloud's evaluator")
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"{ref}: Effect must be Allow or Deny, not {effect!r}")
        if ("Action" in raw) == ("NotAction" in raw):
            raise PolicyError(f"{ref}: a statement needs exactly one of Action and NotAction")
        if "Resource" in raw and "NotResource" in raw:
            raise PolicyError(f"{ref}: a statement takes Resource or NotResource, not both")
        conditions = {
            operator: {key: _as_tuple(values) for key, values in block.items()}
            for operator, block in (raw.get("Condition") or {}).items()
        }
        for operator in conditions:
            _condition_test(operator, ref)
        statement = cls(
            effect=effect,
            actions=_as_tuple(raw.get("Action", raw.get("NotAction"))),
            not_action="NotAction" in raw,
            resources=_as_tuple(raw.get("Resource", raw.get("NotResource", ()))),
            not_resource="NotResource" in raw,
            principal=raw.get("Principal"),
            conditions=conditions,
            ref=ref,
        )
        for text in (*statement.actions, *statement.resources):
            if "${" in text:
                raise PolicyError(f"{ref}: policy variables ({text}) are not supported by the local cloud")
        return statement

    def applies(self, request: Request) -> list[Match]:
        """The (action, resource) pattern pairs of this statement that match the request; empty when
        the statement does not apply (other action, resource, principal, or a condition is false)."""
        if self.principal is not None and not request.principal.matches(self.principal):
            return []
        actions = self._matching(self.actions, self.not_action, request.action, case_sensitive=False)
        if not actions:
            return []
        if self.resources or self.not_resource:
            resources = self._matching(
                self.resources, self.not_resource, request.resource, case_sensitive=True
            )
        else:
            # A trust policy's statements have no Resource: they apply to the role that holds them.
            resources = [""]
        if not resources or not self._conditions_hold(request.context):
            return []
        return [Match(self.ref, action, resource) for action in actions for resource in resources]

    @staticmethod
    def _matching(patterns: Sequence[str], negated: bool, value: str, *, case_sensitive: bool) -> list[str]:
        hits = [p for p in patterns if _wildcard(p, case_sensitive).fullmatch(value)]
        if negated:
            # NotAction/NotResource: the statement applies to everything the list does not name.
            return [] if hits else ["Not:" + ",".join(patterns)]
        return hits

    def _conditions_hold(self, context: Mapping[str, tuple[str, ...]]) -> bool:
        for operator, block in self.conditions.items():
            test = _condition_test(operator, self.ref)
            for key, expected in block.items():
                if not test(context.get(key), expected):
                    return False
        return True


@dataclass(frozen=True)
class Request:
    """What is asked: who, which action on which resource, and the request's condition keys."""

    principal: Principal
    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """The outcome: allowed or not, the Allow entries that allowed it, the Deny that refused it."""

    allowed: bool
    allows: tuple[Match, ...] = ()
    denied_by: StatementRef | None = None


def parse_policy(document: Mapping[str, Any], owner: str, policy: str) -> tuple[Statement, ...]:
    """The statements of one policy document (Statement may be one object or a list)."""
    raw = document.get("Statement")
    items = raw if isinstance(raw, list) else [raw]
    return tuple(
        Statement.parse(item, StatementRef(owner, policy, index, item.get("Sid")))
        for index, item in enumerate(items)
        if item is not None
    )


def evaluate(request: Request, statements: Iterable[Statement]) -> Decision:
    """Explicit Deny first, then Allow, else the implicit deny."""
    allows: list[Match] = []
    for statement in statements:
        matches = statement.applies(request)
        if not matches:
            continue
        if statement.effect == "Deny":
            return Decision(allowed=False, denied_by=statement.ref)
        allows.extend(matches)
    return Decision(allowed=bool(allows), allows=tuple(allows))


# -- wildcards and conditions ------------------------------------------------------------------


@functools.cache
def _wildcard(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, 0 if case_sensitive else re.IGNORECASE)


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return (str(value),)


def _string_equals(actual: str, expected: str) -> bool:
    return actual == expected


def _string_equals_ignore_case(actual: str, expected: str) -> bool:
    return actual.lower() == expected.lower()


def _string_like(actual: str, expected: str) -> bool:
    return bool(_wildcard(expected, True).fullmatch(actual))


def _bool(actual: str, expected: str) -> bool:
    return actual.lower() == expected.lower()


def _numeric(compare: str) -> Any:
    def test(actual: str, expected: str) -> bool:
        try:
            a, e = float(actual), float(expected)
        except ValueError:
            return False
        return {
            "Equals": a == e,
            "LessThan": a < e,
            "LessThanEquals": a <= e,
            "GreaterThan": a > e,
            "GreaterThanEquals": a >= e,
        }[compare]

    return test


def _ip_address(actual: str, expected: str) -> bool:
    try:
        return ipaddress.ip_address(actual) in ipaddress.ip_network(expected, strict=False)
    except ValueError:
        return False


# Positive operators: true when any value of the key matches any expected value. The Not forms
# are their negation, and (as AWS documents) hold when the key is absent.
_OPERATORS = {
    "StringEquals": _string_equals,
    "StringEqualsIgnoreCase": _string_equals_ignore_case,
    "StringLike": _string_like,
    "ArnEquals": _string_like,
    "ArnLike": _string_like,
    "Bool": _bool,
    "NumericEquals": _numeric("Equals"),
    "NumericLessThan": _numeric("LessThan"),
    "NumericLessThanEquals": _numeric("LessThanEquals"),
    "NumericGreaterThan": _numeric("GreaterThan"),
    "NumericGreaterThanEquals": _numeric("GreaterThanEquals"),
    "IpAddress": _ip_address,
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
    "NotIpAddress": "IpAddress",
}


def _condition_test(operator: str, ref: StatementRef) -> Any:
    """A function (actual values or None, expected values) -> bool for a condition operator."""
    base = operator.removesuffix("IfExists")
    if_exists = base != operator
    if operator == "Null":
        return lambda actual, expected: (actual is None) == (expected[0].lower() == "true")
    if base.startswith(("ForAnyValue:", "ForAllValues:")):
        raise PolicyError(f"{ref}: set operators ({operator}) are not supported by the local cloud")
    negated = base in _NEGATED
    compare = _OPERATORS.get(_NEGATED.get(base, base))
    if compare is None:
        raise PolicyError(f"{ref}: the condition operator {operator} is not supported by the local cloud")

    def test(actual: tuple[str, ...] | None, expected: tuple[str, ...]) -> bool:
        if actual is None:
            return if_exists or negated
        hit = any(compare(value, wanted) for value in actual for wanted in expected)
        return not hit if negated else hit

    return test
