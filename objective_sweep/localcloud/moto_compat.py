"""Every place where the local cloud changes moto's behaviour, each checked against the pinned moto
version and the replaced function's signature before it is applied, so an upgrade fails with a
clear message instead of silently dropping a patch. Everything else goes through moto's documented
server API (/moto-api/config, /moto-api/reset) or its public backends.

- `LocalMotoServer`: moto's threaded server with a request handler that tracks connections (so they
  can be closed on stop) and does not log every request.
- `LambdaInvokePatch`: moto's no-Docker Lambda only echoes; invocations go to the local runtime.
- `WaitPatch`, `RetrySleepPatch`: Wait states and Retry intervals take `scale` times their time.
- `S3EventPatch`: objects created in an EventBridge-enabled bucket go to the local bridge (moto's
  EventBridge cannot target Step Functions).
- `AuthorizationPatch`: every request moto serves is authorized by the local cloud's Authorizer
  (moto's own IAM check is off by default and evaluates policies differently from AWS).
- `BucketPolicyPatch`: moto's S3 stops judging bucket policies itself. Its evaluator turns a
  statement whose condition does not hold into a Deny, so the template's TLS-only Deny (a condition
  on aws:SecureTransport) would refuse every request; the AuthorizationPatch evaluates bucket
  policies as AWS does instead.
- `ExecutionNamePatch`: StartExecution without a name gets a UUID and names are validated as
  Step Functions does (moto's interpreter backend would name the execution "None").
- `MapRunTolerancePatch`: a Distributed Map run whose failed items exceed its tolerated failure
  threshold fails with States.ExceedToleratedFailureThreshold (moto counts failed items but lets the
  run succeed).
- `FailErrorNamePatch`: a Fail state may end with a caught States.* error (ErrorPath), as in AWS;
  moto refuses any error name starting with "States." there.
"""

from __future__ import annotations

import abc
import contextlib
import importlib
import inspect
import re
import socket
import threading
import time
import types
import uuid
from collections.abc import Callable
from typing import Any, cast
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


class MotoPatch(abc.ABC):
    """Replaces one function of a moto class (or module, when `cls` is empty) while installed.
    Subclasses name the target and its expected parameters, and build the replacement from the
    original."""

    module = ""
    cls = ""
    attribute = ""
    parameters: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._saved: Any = None

    @abc.abstractmethod
    def replacement(self, original: Any) -> Any:
        """The function installed in place of `original`."""

    def _target(self) -> Any:
        module = importlib.import_module(self.module)
        return getattr(module, self.cls) if self.cls else module

    def check(self, original: Any) -> None:
        check_moto(original, list(self.parameters))

    def install(self) -> None:
        target = self._target()
        original = target.__dict__[self.attribute]
        self.check(original)
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


# The cause Step Functions gives when a Map Run fails for its failed items.
EXCEEDED_CAUSE = "The specified tolerated failure threshold was exceeded"


def exceeds_tolerance(failed: int, total: int, tolerated_count: int, tolerated_percentage: float) -> bool:
    """Whether `failed` of `total` items fail a Map Run. A threshold of 0 is taken as not set (moto
    gives no other sign of it); with neither set, one failed item fails the run, as in AWS."""
    if failed == 0:
        return False
    if not tolerated_count and not tolerated_percentage:
        return True
    return bool(
        (tolerated_count and failed > tolerated_count)
        or (tolerated_percentage and 100 * failed / max(total, 1) > tolerated_percentage)
    )


class MapRunTolerancePatch(MotoPatch):
    """A Distributed Map run fails with States.ExceedToleratedFailureThreshold when its failed and
    timed-out items exceed ToleratedFailureCount/Percentage (default 0). moto's run collects the items'
    outputs whatever became of them, so a failed item let the Map state succeed."""

    module = "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component"
    cls = "DistributedIterationComponent"
    attribute = "_map_run"
    parameters: tuple[str, ...] = ("self", "env", "eval_input")

    def replacement(self, original: Callable[..., Any]) -> Callable[..., Any]:
        from moto.stepfunctions.parser.api import HistoryEventType
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
            FailureEvent,
            FailureEventException,
        )
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
            StatesErrorName,
        )
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
            StatesErrorNameType,
        )

        exceeded = StatesErrorNameType.StatesExceedToleratedFailureThreshold

        def map_run(component: Any, env: Any, eval_input: Any) -> None:
            original(component, env, eval_input)
            record = eval_input.map_run_record
            items = record.item_counter
            failed = items.failed.get() + items.timed_out.get()
            if not exceeds_tolerance(
                failed, items.total.get(), record.tolerated_failure_count, record.tolerated_failure_percentage
            ):
                return
            env.stack.pop()  # the outputs the run collected
            # moto's Map Run handling records MapRunFailed with this error and cause, then the Map
            # state fails and its Retry/Catch apply.
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=exceeded),
                    event_type=HistoryEventType.MapRunFailed,
                    # moto's EventDetails: a TypedDict of which one key is given.
                    event_details=cast(
                        Any,
                        {"mapRunFailedEventDetails": {"error": exceeded.to_name(), "cause": EXCEEDED_CAUSE}},
                    ),
                )
            )

        return map_run


class FailErrorNamePatch(MotoPatch):
    """A Fail state whose ErrorPath gives a States.* error (a caught error rethrown, as RunFailed does)
    fails with it, as in AWS. moto's Fail state names its error with CustomErrorName, which refuses the
    "States." prefix, and the execution ended with a ValueError as States.Runtime instead."""

    module = "moto.stepfunctions.parser.asl.component.state.fail.state_fail"
    attribute = "CustomErrorName"

    def check(self, original: Any) -> None:
        import moto
        from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
            CustomErrorName,
        )

        if moto.__version__ != MOTO_VERSION or original is not CustomErrorName:
            raise MotoCompatibilityError(
                f"moto {moto.__version__}'s Fail state no longer names its error with CustomErrorName: "
                "the local cloud's patch no longer fits"
            )

    def replacement(self, original: Any) -> Any:
        from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
            StatesErrorName,
        )

        class RethrownErrorName(ErrorName):
            """An error name taken as it is: a States.* name moto does not know."""

        def error_name(name: str | None) -> Any:
            if name is None or not name.startswith("States."):
                return original(name)
            try:
                return StatesErrorName.from_name(name)
            except ValueError:
                return RethrownErrorName(name)

        return error_name


class LambdaInvokePatch(MotoPatch):
    """Invocations of moto's no-Docker Lambda run `invoke(function name, body, response headers)`;
    moto still resolves names, ARNs and aliases."""

    module = "moto.awslambda_simple.models"
    cls = "LambdaSimpleBackend"
    attribute = "invoke"
    parameters: tuple[str, ...] = (
        "self",
        "function_name",
        "qualifier",
        "body",
        "headers",
        "response_headers",
    )

    def __init__(self, invoke: Callable[[str, Any, dict[str, str]], bytes]) -> None:
        super().__init__()
        self._invoke = invoke

    def replacement(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def invoke(
            backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any,
            response_headers: dict[str, str],
        ) -> bytes:  # fmt: skip
            function = backend.get_function(function_name, qualifier)
            return self._invoke(function.function_name, body, response_headers)

        return invoke


# How often a Wait state looks again whether the local endpoint is computing, in real seconds.
_CLOCK_TICK = 0.1
# Less real time than this left of a wait is no wait at all.
_CLOCK_RESOLUTION = 0.001


def scaled_wait(
    declared_seconds: float,
    scale: float,
    *,
    computing: Callable[[], bool],
    wait: Callable[[float], bool],
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Let `declared_seconds` pass on the local cloud's clock, which runs 1/`scale` times as fast as real
    time while the local endpoint is idle, and at real speed while it computes (an import or a fit takes
    the time it takes, and that time is not shortened for the wait loops that count it against their
    budgets). `wait(timeout)` sleeps and returns True when the waiting should end early."""
    passed = 0.0
    last = monotonic()
    while passed < declared_seconds:
        busy = computing()
        real_left = declared_seconds - passed if busy else (declared_seconds - passed) * scale
        if real_left < _CLOCK_RESOLUTION:
            return
        if wait(min(real_left, _CLOCK_TICK)):
            return
        now = monotonic()
        passed += (now - last) if busy else (now - last) / scale
        last = now


class WaitPatch(MotoPatch):
    """A Wait state lasts `scale` times its duration while `computing()` is False and its full duration
    while it is True (see scaled_wait), and still ends early when the execution stops."""

    module = "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function"
    cls = "WaitFunction"
    attribute = "_wait_interval"
    parameters: tuple[str, ...] = ("self", "env", "wait_seconds")

    def __init__(self, scale: float, computing: Callable[[], bool] = lambda: False) -> None:
        super().__init__()
        self._scale = scale
        self._computing = computing

    def replacement(self, original: Callable[..., Any]) -> Callable[..., Any]:
        scale, computing = self._scale, self._computing

        def wait_interval(_function: Any, env: Any, wait_seconds: int) -> None:
            def wait(timeout: float) -> bool:
                if not env.is_running():
                    return True
                env.program_state_event.wait(timeout)
                return not env.is_running()

            scaled_wait(wait_seconds, scale, computing=computing, wait=wait)

        return wait_interval


class RetrySleepPatch(MotoPatch):
    """The interpreter's retrier sleeps through the `time` module it imported: it gets one whose
    `sleep` lasts `scale` times as long."""

    module = "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl"
    attribute = "time"

    def __init__(self, scale: float) -> None:
        super().__init__()
        self._scale = scale

    def check(self, original: Any) -> None:
        import moto

        if moto.__version__ != MOTO_VERSION or original is not time:
            raise MotoCompatibilityError(
                f"moto {moto.__version__}'s retrier no longer sleeps through the time module: the time "
                "scale cannot apply to Retry intervals"
            )

    def replacement(self, original: Any) -> Any:
        scaled = types.SimpleNamespace(
            **{name: getattr(time, name) for name in dir(time) if not name.startswith("_")}
        )
        scaled.sleep = lambda seconds: time.sleep(seconds * self._scale)
        return scaled


class S3EventPatch(MotoPatch):
    """moto's S3 hands every bucket event to `on_event(account, bucket, event name, key)`."""

    module = "moto.s3.notifications"
    attribute = "_send_event_bridge_message"
    parameters: tuple[str, ...] = ("account_id", "bucket", "event_name", "key")

    def __init__(self, on_event: Callable[[str, Any, Any, Any], None]) -> None:
        super().__init__()
        self._on_event = on_event

    def replacement(self, original: Callable[..., Any]) -> Callable[..., Any]:
        return self._on_event


class LocalMotoServer:
    """moto's ThreadedMotoServer, serving with a request handler that tracks its connections (botocore
    keeps them alive, and each would pin a server thread after shutdown) and logs nothing per request
    (one line per API call would bury the progress view)."""

    def __init__(self) -> None:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
        from moto.moto_server.werkzeug_app import MotoRequestHandler

        check_moto(ThreadedMotoServer.__init__, ["self", "ip_address", "port", "verbose"])
        check_moto(ThreadedMotoServer._server_entry, ["self"])
        connections: set[Any] = set()
        lock = threading.Lock()

        class Handler(MotoRequestHandler):
            def setup(self) -> None:
                super().setup()
                with lock:
                    connections.add(self.connection)

            def finish(self) -> None:
                with lock:
                    connections.discard(self.connection)
                super().finish()

            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                return

        class Server(ThreadedMotoServer):
            def _server_entry(self) -> None:
                from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
                from werkzeug.serving import make_server

                app = DomainDispatcherApplication(create_backend_app)
                self._server = make_server(self._ip_address, self._port, app, True, request_handler=Handler)
                self._server_ready_event.set()
                # stop() waits for the loop to look at its flag: every 0.1 s, not socketserver's 0.5 s.
                self._server.serve_forever(poll_interval=0.1)

        self._connections = connections
        self._lock = lock
        # Port 0: the operating system picks a free port as it binds, so no other process can take it.
        self._server = Server(ip_address="127.0.0.1", port=0, verbose=False)

    def start(self) -> int:
        self._server.start()
        return int(self._server.get_host_and_port()[1])

    def stop(self) -> None:
        with self._lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server.stop()
