"""Who may do what on the local cloud. The roles come from template.yaml after the SAM transform; a
function, the state machine, a rule, a schedule or Personalize gets credentials for its role only if
the role's trust policy admits that service, and every call signed with them is checked against the
role's policies (and a bucket policy, for S3) by the services of the local cloud. Every decision is
kept in a ledger, which the least-privilege tests read.

Calls signed with keys the authorizer did not issue come from the account's own user (the CLI, the
tests, the AWS CLI against `sweep local up`): the local account has one administrator, as a fresh
AWS account has its root user, and those calls are allowed and not recorded.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from objective_sweep.localcloud.iam import Decision, Match, Principal, Request, Statement, evaluate

# What a role's trust policy is asked when a service assumes it.
LAMBDA = "lambda.amazonaws.com"
STATES = "states.amazonaws.com"
EVENTS = "events.amazonaws.com"
SCHEDULER = "scheduler.amazonaws.com"
PERSONALIZE = "personalize.amazonaws.com"


@dataclass(frozen=True)
class Role:
    """An IAM role as the transformed template defines it: trust policy and permission policies
    (inline and managed) parsed for evaluation, and the documents as written, to create the role."""

    logical_id: str
    name: str
    arn: str
    trust: tuple[Statement, ...]
    policies: tuple[Statement, ...]
    trust_document: dict[str, Any] = field(default_factory=dict, compare=False)
    inline_documents: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False)
    managed_policy_arns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Session:
    """Temporary credentials of a role assumed by a service, as Lambda hands its function.

    `resource_grant_required`: the service reads the customer's data for them (Personalize importing
    from S3), which AWS allows only when the role's policy *and* the resource's policy (the bucket
    policy naming the service) both grant it."""

    role: Role
    name: str
    service: str
    account: str
    access_key: str
    secret_key: str
    token: str
    resource_grant_required: bool = False

    @property
    def arn(self) -> str:
        partition = self.role.arn.split(":")[1]
        return f"arn:{partition}:sts::{self.account}:assumed-role/{self.role.name}/{self.name}"

    def environment(self) -> dict[str, str]:
        """The variables Lambda sets for a function's credentials."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_SESSION_TOKEN": self.token,
        }


class AccessDenied(Exception):
    """A call its caller's policies do not allow; the message has AWS's form (caller, action, resource)."""

    def __init__(self, message: str, *, action: str, resource: str, caller: str) -> None:
        super().__init__(message)
        self.message = message
        self.action = action
        self.resource = resource
        self.caller = caller


@dataclass(frozen=True)
class LedgerEntry:
    """One authorization decision: which role's session asked for what, and the Allow entries that
    admitted it — `allows` from the role's policies (and the resource's own policy), `grants` from
    the resource's policy for a service that reads the customer's data (both were required)."""

    role: str
    session: str
    action: str
    resource: str
    allowed: bool
    allows: tuple[Match, ...]
    grants: tuple[Match, ...] = ()


class Authorizer:
    """Issues role credentials and decides every call made with them; thread-safe."""

    def __init__(self, roles: Iterable[Role], *, account: str) -> None:
        self.roles = {role.arn: role for role in roles}
        self.account = account
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.ledger: list[LedgerEntry] = []

    def role(self, arn: str) -> Role:
        role = self.roles.get(arn)
        if role is None:
            raise AccessDenied(
                f"The role {arn} does not exist in this account.",
                action="sts:AssumeRole",
                resource=arn,
                caller="",
            )
        return role

    def assume(
        self,
        role_arn: str,
        service: str,
        session_name: str,
        *,
        access_key: str | None = None,
        resource_grant_required: bool = False,
    ) -> Session:
        """Credentials for `service` acting as the role, if the role's trust policy admits the service
        for this account (aws:SourceAccount); `access_key` fixes the key a caller insists on."""
        role = self.role(role_arn)
        principal = Principal(arn=service, account=self.account, service=service)
        request = Request(principal, "sts:AssumeRole", role.arn, {"aws:SourceAccount": (self.account,)})
        if not evaluate(request, role.trust).allowed:
            raise AccessDenied(
                f"{service} is not authorized to perform: sts:AssumeRole on resource: {role.arn} "
                "(the role's trust policy does not name the service)",
                action="sts:AssumeRole",
                resource=role.arn,
                caller=service,
            )
        session = Session(
            role=role,
            name=session_name,
            service=service,
            account=self.account,
            access_key=access_key or "ASIA" + secrets.token_hex(8).upper(),
            secret_key=secrets.token_urlsafe(30),
            token=secrets.token_urlsafe(60),
            resource_grant_required=resource_grant_required,
        )
        with self._lock:
            self._sessions[session.access_key] = session
        return session

    def session(self, access_key: str) -> Session | None:
        with self._lock:
            return self._sessions.get(access_key)

    def check(
        self,
        access_key: str | None,
        action: str,
        resource: str,
        *,
        context: Mapping[str, str] | None = None,
        resource_policy: tuple[Statement, ...] = (),
    ) -> None:
        """Allow the call or raise AccessDenied. `resource_policy` is the target's own policy (a
        bucket policy), evaluated together with the caller's role as AWS does within one account."""
        session = self.session(access_key) if access_key else None
        if session is None:
            return
        values = {
            "aws:SecureTransport": ("true",),
            "aws:PrincipalAccount": (self.account,),
            "aws:PrincipalArn": (session.role.arn,),
            "aws:SourceAccount": (self.account,),
            **{key: (value,) for key, value in (context or {}).items()},
        }
        caller = Principal(arn=session.arn, account=self.account)
        decision = evaluate(
            # The role's policies as they are now: a policy changed after the session began applies at once.
            Request(caller, action, resource, values),
            (*self.role(session.role.arn).policies, *resource_policy),
        )
        reason = _refusal(decision, resource_policy, action)
        granted = Decision(allowed=True)
        if decision.allowed and session.resource_grant_required:
            service = Principal(arn=session.service, account=self.account, service=session.service)
            granted = evaluate(Request(service, action, resource, values), resource_policy)
            if not granted.allowed:
                reason = _refusal(granted, resource_policy, action, resource_grant=True)
        allowed = decision.allowed and granted.allowed
        entry = LedgerEntry(
            role=session.role.logical_id,
            session=session.name,
            action=action,
            resource=resource,
            allowed=allowed,
            allows=decision.allows if allowed else (),
            grants=granted.allows if allowed else (),
        )
        with self._lock:
            self.ledger.append(entry)
        if not allowed:
            raise AccessDenied(
                f"User: {session.arn} is not authorized to perform: {action} on resource: {resource} {reason}",
                action=action,
                resource=resource,
                caller=session.arn,
            )


def _refusal(
    decision: Decision, resource_policy: tuple[Statement, ...], action: str, *, resource_grant: bool = False
) -> str:
    """The end of AWS's AccessDenied message: why the call was refused."""
    if decision.denied_by is not None:
        where = (
            "a resource-based"
            if decision.denied_by in {s.ref for s in resource_policy}
            else "an identity-based"
        )
        return f"with an explicit deny in {where} policy"
    if resource_grant:
        return f"because no resource-based policy allows the {action} action for the service"
    return f"because no identity-based policy allows the {action} action"
