"""Least privilege, proven from the authorizer's ledger: every Allow the template grants (each action
and each resource of every statement of every role and of the bucket policy) must have admitted at
least one call that nothing else would have admitted. Such a grant cannot be removed without that
call being refused; a grant that never was the only one to admit a call is either unused or
redundant, and either way more privilege than the stack needs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from objective_sweep.localcloud.authorizer import LedgerEntry
from objective_sweep.localcloud.iam import Match, Statement, StatementRef, parse_policy
from objective_sweep.localcloud.template import LocalStack


@dataclass(frozen=True)
class Grant:
    """One removable piece of an Allow statement: an action pattern or a resource pattern."""

    owner: str
    statement: StatementRef
    kind: Literal["action", "resource"]
    pattern: str

    def __str__(self) -> str:
        return f"{self.owner}: {self.kind} {self.pattern} ({self.statement})"


def template_statements(stack: LocalStack) -> list[Statement]:
    """The Allow statements the template itself writes: the roles' inline policies (SAM's policy
    templates included) and the bucket policy. AWS managed policies SAM attaches are not the
    template's to trim."""
    statements: list[Statement] = []
    for role in stack.roles:
        inline = set(role.inline_documents)
        statements += [s for s in role.policies if s.ref.policy in inline and s.effect == "Allow"]
    if stack.bucket_policy and stack.bucket_policy_id:
        bucket_policy = parse_policy(stack.bucket_policy, stack.bucket_policy_id, "bucket policy")
        statements += [s for s in bucket_policy if s.effect == "Allow"]
    return statements


def grants(stack: LocalStack) -> list[Grant]:
    found = []
    for statement in template_statements(stack):
        found += [Grant(statement.ref.owner, statement.ref, "action", a) for a in statement.actions]
        found += [Grant(statement.ref.owner, statement.ref, "resource", r) for r in statement.resources]
    return found


def _sole(grant: Grant, matches: tuple[Match, ...]) -> bool:
    """Whether every match admitting a call goes through this grant (so removing it refuses the call)."""
    if not matches:
        return False
    pattern = (lambda m: m.action) if grant.kind == "action" else (lambda m: m.resource)
    return all(m.statement == grant.statement and pattern(m) == grant.pattern for m in matches)


def unexercised(all_grants: Iterable[Grant], ledger: Iterable[LedgerEntry]) -> list[Grant]:
    """The grants that never were the only way a recorded call was admitted."""
    entries = [entry for entry in ledger if entry.allowed]
    return [
        grant
        for grant in all_grants
        if not any(_sole(grant, entry.allows) or _sole(grant, entry.grants) for entry in entries)
    ]


def actions_by_role(stack: LocalStack) -> dict[str, list[str]]:
    """Role (or bucket policy) -> the actions the template grants it, in template order."""
    table: dict[str, list[str]] = {}
    for statement in template_statements(stack):
        actions = table.setdefault(statement.ref.owner, [])
        actions += [action for action in statement.actions if action not in actions]
    return table
