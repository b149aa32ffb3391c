"""The local cloud's IAM policy evaluation, case by case against AWS's documented rules, including the
template's own bucket policy and roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from objective_sweep.localcloud.authorizer import LAMBDA, PERSONALIZE, AccessDenied, Authorizer
from objective_sweep.localcloud.iam import PolicyError, Principal, Request, evaluate, parse_policy
from objective_sweep.localcloud.template import read_stack

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
ROLE_SESSION = Principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/r/f", ACCOUNT)


def _allows(statements: list[dict[str, Any]], action: str, resource: str, **context: str) -> bool:
    policy = parse_policy({"Statement": statements}, "test", "policy")
    values = {key.replace("__", ":"): (value,) for key, value in context.items()}
    return evaluate(Request(ROLE_SESSION, action, resource, values), policy).allowed


ALLOW_GET = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}


def test_an_allow_matches_action_and_resource_wildcards() -> None:
    assert _allows([ALLOW_GET], "s3:GetObject", "arn:aws:s3:::b/data/x.csv")
    # Actions compare without case, resources with it.
    assert _allows([ALLOW_GET], "S3:getobject", "arn:aws:s3:::b/x")
    assert not _allows([ALLOW_GET], "s3:GetObject", "arn:aws:s3:::B/x")
    assert not _allows([ALLOW_GET], "s3:PutObject", "arn:aws:s3:::b/x")
    assert not _allows([ALLOW_GET], "s3:GetObject", "arn:aws:s3:::other/x")
    assert _allows([{**ALLOW_GET, "Action": "s3:Get?bject"}], "s3:GetObject", "arn:aws:s3:::b/x")


def test_nothing_is_allowed_without_an_allow_and_an_explicit_deny_wins() -> None:
    assert not _allows([], "s3:GetObject", "arn:aws:s3:::b/x")
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    assert not _allows([ALLOW_GET, deny], "s3:GetObject", "arn:aws:s3:::b/x")


def test_not_action_and_not_resource_apply_to_everything_else() -> None:
    everything_but_delete = {"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "*"}
    assert _allows([everything_but_delete], "s3:GetObject", "arn:aws:s3:::b/x")
    assert not _allows([everything_but_delete], "s3:DeleteObject", "arn:aws:s3:::b/x")
    outside = {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/secret/*"}
    assert not _allows([outside], "s3:GetObject", "arn:aws:s3:::b/secret/key")


def test_a_condition_that_does_not_hold_makes_a_statement_not_apply() -> None:
    pass_role = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": "arn:aws:iam::123456789012:role/r",
        "Condition": {"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}},
    }
    role = "arn:aws:iam::123456789012:role/r"
    assert _allows([pass_role], "iam:PassRole", role, iam__PassedToService="personalize.amazonaws.com")
    assert not _allows([pass_role], "iam:PassRole", role, iam__PassedToService="lambda.amazonaws.com")
    assert not _allows([pass_role], "iam:PassRole", role)
    # A Deny whose condition is false does not deny (moto's evaluator gets this wrong).
    tls_only = {
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert _allows([ALLOW_GET, tls_only], "s3:GetObject", "arn:aws:s3:::b/x", aws__SecureTransport="true")
    assert not _allows(
        [ALLOW_GET, tls_only], "s3:GetObject", "arn:aws:s3:::b/x", aws__SecureTransport="false"
    )


@pytest.mark.parametrize(
    ("operator", "expected", "actual", "holds"),
    [
        ("StringLike", "arn:aws:s3:::b/*", "arn:aws:s3:::b/k", True),
        ("StringNotEquals", "a", "b", True),
        ("StringNotEquals", "a", None, True),
        ("StringEqualsIfExists", "a", None, True),
        ("StringEquals", "a", None, False),
        ("ArnLike", "arn:aws:iam::*:role/r", "arn:aws:iam::1:role/r", True),
        ("NumericLessThan", "10", "9", True),
        ("IpAddress", "127.0.0.0/8", "127.0.0.1", True),
        ("Null", "true", None, True),
        ("Null", "false", None, False),
    ],
)
def test_condition_operators(operator: str, expected: str, actual: str | None, holds: bool) -> None:
    statement = {**ALLOW_GET, "Condition": {operator: {"k": expected}}}
    context = {} if actual is None else {"k": actual}
    assert _allows([statement], "s3:GetObject", "arn:aws:s3:::b/x", **context) is holds


def test_what_cannot_be_evaluated_is_refused_not_skipped() -> None:
    with pytest.raises(PolicyError, match="SomethingNew"):
        parse_policy({"Statement": [{**ALLOW_GET, "Condition": {"SomethingNew": {"k": "v"}}}]}, "r", "p")
    with pytest.raises(PolicyError, match="NotPrincipal"):
        parse_policy({"Statement": [{**ALLOW_GET, "NotPrincipal": {"AWS": "*"}}]}, "r", "p")
    with pytest.raises(PolicyError, match="policy variables"):
        parse_policy({"Statement": [{**ALLOW_GET, "Resource": "arn:aws:s3:::b/${aws:username}/*"}]}, "r", "p")


# -- the template's own policies ---------------------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> Any:
    return read_stack(ROOT / "template.yaml")


def test_the_bucket_policy_refuses_plain_http_and_admits_personalize_for_this_account_only(
    stack: Any,
) -> None:
    bucket_policy = parse_policy(stack.bucket_policy, "bucket", "policy")
    data = f"arn:aws:s3:::{stack.bucket_name}/experiments/x/interactions.csv"
    personalize = Principal(PERSONALIZE, ACCOUNT, service=PERSONALIZE)
    secure = {"aws:SecureTransport": ("true",), "aws:SourceAccount": (ACCOUNT,)}
    assert evaluate(Request(personalize, "s3:GetObject", data, secure), bucket_policy).allowed
    insecure = {**secure, "aws:SecureTransport": ("false",)}
    refused = evaluate(Request(personalize, "s3:GetObject", data, insecure), bucket_policy)
    assert refused.denied_by is not None
    assert refused.denied_by.sid == "TlsOnly"
    other_account = {**secure, "aws:SourceAccount": ("999999999999",)}
    assert not evaluate(Request(personalize, "s3:GetObject", data, other_account), bucket_policy).allowed
    assert not evaluate(Request(personalize, "s3:PutObject", data, secure), bucket_policy).allowed


def test_a_function_role_is_assumable_by_lambda_only_and_denials_name_the_function(stack: Any) -> None:
    authorizer = Authorizer(stack.roles, account=ACCOUNT)
    apply_keep = next(f for f in stack.functions if f.logical_id == "ApplyKeepFunction")
    with pytest.raises(AccessDenied, match="trust policy"):
        authorizer.assume(apply_keep.role_arn, PERSONALIZE, "x")
    session = authorizer.assume(apply_keep.role_arn, LAMBDA, apply_keep.name)
    campaign = f"arn:aws:personalize:us-east-1:{ACCOUNT}:campaign/demo-high"
    authorizer.check(session.access_key, "personalize:DeleteCampaign", campaign)
    with pytest.raises(AccessDenied) as denied:
        authorizer.check(session.access_key, "personalize:DeleteSolution", campaign)
    assert str(denied.value) == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/objective-sweep"
        f"-ApplyKeepFunctionRole/{apply_keep.name} is not authorized to perform: personalize:DeleteSolution on "
        f"resource: {campaign} because no identity-based policy allows the personalize:DeleteSolution action"
    )
    assert [(e.action, e.allowed) for e in authorizer.ledger] == [
        ("personalize:DeleteCampaign", True),
        ("personalize:DeleteSolution", False),
    ]


def test_personalize_reads_imports_only_with_the_role_and_the_bucket_policy(stack: Any) -> None:
    authorizer = Authorizer(stack.roles, account=ACCOUNT)
    role_arn = next(r.arn for r in stack.roles if r.logical_id == "PersonalizeRole")
    session = authorizer.assume(role_arn, PERSONALIZE, "import", resource_grant_required=True)
    data = f"arn:aws:s3:::{stack.bucket_name}/experiments/x/interactions.csv"
    bucket_policy = parse_policy(stack.bucket_policy, "bucket", "policy")
    authorizer.check(session.access_key, "s3:GetObject", data, resource_policy=bucket_policy)
    without_grant = tuple(s for s in bucket_policy if s.ref.sid != "PersonalizeReadsImports")
    with pytest.raises(AccessDenied, match="no resource-based policy allows the s3:GetObject action"):
        authorizer.check(session.access_key, "s3:GetObject", data, resource_policy=without_grant)
