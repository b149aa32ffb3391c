"""The places where the local cloud changes moto's behaviour, each checked against the pinned moto
version and the patched function's signature before it is applied, so an upgrade fails with a
clear message instead of silently dropping a patch.

- `AuthorizationPatch`: every request moto serves is authorized by the local cloud's Authorizer
  (moto's own IAM check is off by default and evaluates policies differently from AWS).
- `BucketPolicyPatch`: moto's S3 stops judging bucket policies itself. Its evaluator turns a
  statement whose condition does not hold into a Deny, so the template's TLS-only Deny (a condition
  on aws:SecureTransport) would refuse every request; the AuthorizationPatch evaluates bucket
  policies as AWS does instead.
- `ExecutionNamePatch`: StartExecution without a name gets a UUID and names are validated as
  Step Functions does (moto's interpreter backend would name the execution "None").
"""

from __future__ import annotations

import importlib
import inspect
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from objective_sweep.localcloud.authorizer import AccessDenied, Authorizer
from objective_sweep.localcloud.iam import Statement

MOTO_VERSION = "5.2.5"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
# API operations whose IAM action has another name (Service Authorization Reference).
_IAM_ACTIONS = {("lambda", "Invoke"): "InvokeFunction"}
# Error codes a service answers an authorization failure with.
_DENIED_CODES = {
    "sns": "AuthorizationError",
    "lambda": "AccessDeniedException",
    "states": "AccessDeniedException",
}
_JSON_SERVICES = frozenset({"lambda", "states", "events", "scheduler", "ssm"})
# Step Functions execution names: 1-80 characters, none of whitespace, brackets, wildcards, the
# special characters "#%\^|~`$&,;:/ or control characters.
_EXECUTION_NAME = re.compile(r"""[^\s<>{}\[\]?*"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}""")


class MotoCompatibilityError(RuntimeError):
    """The installed moto is not the version whose internals the local cloud patches."""


def check_moto(target: Callable[..., Any], parameters: list[str]) -> None:
    """Refuse to patch anything but the pinned moto, and a function whose parameters moved."""
    import moto

    if moto.__version__ != MOTO_VERSION:
        raise MotoCompatibilityError(
            f"the local cloud patches moto {MOTO_VERSION}, but moto {moto.__version__} is installed: "
            "reinstall the pinned requirements (make clean && make test)"
        )
    actual = list(inspect.signature(target).parameters)
    if actual != parameters:
        raise MotoCompatibilityError(
            f"moto's {target.__qualname__} takes {actual}, not {parameters}: the local cloud's patch no longer fits"
        )


def caller_of(authorization: str) -> tuple[str | None, str, str]:
    """(access key, region, service) from a SigV4 Authorization header; (None, "", "") if unsigned."""
    match = _CREDENTIAL.search(authorization or "")
    if not match:
        return None, "", ""
    return match.group(1), match.group(2), match.group(3)


class MotoPatch:
    """Replaces one function of a moto class while installed. Subclasses name the class, the
    attribute and its expected parameters, and build the replacement from the original."""

    module = ""
    cls = ""
    attribute = ""
    parameters: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._saved: Any = None

    def replacement(self, original: Callable[..., Any]) -> Callable[..., Any]:
        raise NotImplementedError

    def _target(self) -> Any:
        return getattr(importlib.import_module(self.module), self.cls)

    def install(self) -> None:
        target = self._target()
        original = target.__dict__[self.attribute]
        check_moto(original, list(self.parameters))
        setattr(target, self.attribute, self.replacement(original))
        self._saved = original

    def uninstall(self) -> None:
        if self._saved is not None:
            setattr(self._target(), self.attribute, self._saved)
            self._saved = None


class AuthorizationPatch(MotoPatch):
    """While installed, moto asks `authorizer` about every request it serves."""

    module = "moto.core.authorization"
    cls = "ActionAuthenticatorMixin"
    attribute = "_authenticate_and_authorize_action"
    parameters: tuple[str, ...] = ("self", "iam_request_cls", "resource")

    def __init__(
        self,
        authorizer: Authorizer,
        resource_policy: Callable[[str], tuple[Statement, ...]],
        object_exists: Callable[[str], bool],
    ) -> None:
        super().__init__()
        self.authorizer = authorizer
        self._resource_policy = resource_policy
        self._object_exists = object_exists

    def replacement(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def authorize(response: Any, iam_request_cls: type, resource: str = "*") -> None:
            self.authorize(response, iam_request_cls.__name__ == "S3IAMRequest", resource)

        return authorize

    def authorize(self, response: Any, is_s3: bool, resource: str) -> None:
        key, region, service = caller_of(response.headers.get("Authorization", ""))
        if key is None or self.authorizer.session(key) is None:
            return
        operation = str(response._get_action())
        action = f"{service}:{_IAM_ACTIONS.get((service, operation), operation)}"
        if resource == "*":
            resource = _resource(response, service, operation, region, self.authorizer.account)
        policy = self._resource_policy(resource) if is_s3 else ()
        # The condition key a ListBucket request carries: the prefix it lists.
        context = (
            {"s3:prefix": str(response.querystring.get("prefix", [""])[0])}
            if action == "s3:ListBucket"
            else {}
        )
        try:
            self.authorizer.check(key, action, resource, context=context, resource_policy=policy)
            if is_s3 and action == "s3:GetObject" and not self._object_exists(resource):
                # S3 answers a missing object with 404 only to callers allowed to list the bucket;
                # everyone else gets 403, so that a key's existence does not leak.
                bucket = resource.split("/", 1)[0]
                self.authorizer.check(key, "s3:ListBucket", bucket, resource_policy=policy)
        except AccessDenied as denied:
            raise _denied(service, is_s3, denied.message) from None


def _resource(response: Any, service: str, operation: str, region: str, account: str) -> str:
    """The ARN IAM authorizes an operation against, for the operations the stack's roles call."""
    if service == "lambda" and operation == "Invoke":
        name = unquote(response.path.rstrip("/").rsplit("/", 2)[-2])
        return name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
    if service == "sns":
        return str(response._get_param("TopicArn") or "*")
    if service == "states":
        return str(response._get_param("stateMachineArn") or response._get_param("executionArn") or "*")
    return "*"


def _denied(service: str, is_s3: bool, message: str) -> Exception:
    if is_s3:
        from moto.s3.exceptions import S3ClientError

        error = S3ClientError("AccessDenied", message)
        return error
    from moto.core.exceptions import JsonRESTError, _RESTError

    code = _DENIED_CODES.get(service, "AccessDenied")
    cls = JsonRESTError if service in _JSON_SERVICES else _RESTError
    denial = cls(code, message)
    denial.code = 403
    return denial


class BucketPolicyPatch(MotoPatch):
    """While installed, moto's S3 leaves bucket policies to the local cloud's authorizer."""

    module = "moto.s3.models"
    cls = "FakeBucket"
    attribute = "get_permission"
    parameters: tuple[str, ...] = ("self", "action", "resource")

    def replacement(self, original: Callable[..., Any]) -> Callable[..., Any]:
        from moto.iam.access_control import PermissionResult

        def get_permission(bucket: Any, action: str, resource: str) -> Any:
            return PermissionResult.NEUTRAL

        return get_permission


class ExecutionNamePatch(MotoPatch):
    """StartExecution as Step Functions does it: a UUID when no name is given, names validated."""

    module = "moto.stepfunctions.parser.models"
    cls = "StepFunctionsParserBackend"
    attribute = "start_execution"
    parameters: tuple[str, ...] = ("self", "state_machine_arn", "name", "execution_input", "trace_header")

    def replacement(self, original: Callable[..., Any]) -> Callable[..., Any]:
        from moto.stepfunctions.exceptions import InvalidName

        def start_execution(
            backend: Any, state_machine_arn: str, name: str | None = None, execution_input: Any = None,
            trace_header: Any = None,
        ) -> Any:  # fmt: skip
            if name is None:
                name = str(uuid.uuid4())
            elif not _EXECUTION_NAME.fullmatch(name):
                raise InvalidName(f"Invalid Name: '{name}'")
            return original(backend, state_machine_arn, name, execution_input, trace_header)

        return start_execution
