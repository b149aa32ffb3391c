"""Runs the real Lambda handlers in-process when moto's Step Functions interpreter invokes a function:
moto resolves the function, this module applies its environment, calls the handler and answers with
Lambda's own success or error shape, so Retry/Catch match on the exception class name as in AWS.

Environment: Map iterations invoke functions from concurrent threads, and os.environ is shared by the
whole process. Variables whose value is the same for every function (the endpoints, the bucket, the
topic) are set once for the cloud's lifetime; only variables that differ between functions are
applied per invocation, under a lock that makes those invocations run one at a time. Handlers only
call APIs and return (Personalize trains in its own endpoint's threads), so the lock costs little;
a subprocess per invocation would cost ~1 s of interpreter start each, more than a whole poll.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from objective_sweep.localcloud.template import FunctionSpec


def set_environ(values: Mapping[str, str | None]) -> dict[str, str | None]:
    """Set (or, for None, remove) variables of this process; returns their previous values, which
    passed back to this function restore them."""
    previous = {key: os.environ.get(key) for key in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    return previous


@dataclass
class LambdaContext:
    """The attributes of AWS's Lambda context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


_ROUTING = threading.local()


class _ThreadRoutedStream(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: text written by a thread that is running a handler goes to
    the handlers' log file, everything else to the original stream, so handler logs never garble the
    CLI's progress view."""

    def __init__(self, original: TextIO, routing: threading.local) -> None:
        self.original = original
        self._routing = routing

    def write(self, text: str) -> int:
        sink: TextIO | None = getattr(self._routing, "sink", None)
        target = sink if sink is not None else self.original
        return target.write(text)

    def flush(self) -> None:
        sink: TextIO | None = getattr(self._routing, "sink", None)
        (sink if sink is not None else self.original).flush()

    def isatty(self) -> bool:
        return self.original.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.original, "encoding", "utf-8")


class InProcessRuntime:
    """Calls the template's handlers for moto's Lambda backend while installed."""

    def __init__(
        self, functions: list[FunctionSpec], extra_environment: dict[str, str], log_file: Path
    ) -> None:
        self._specs = {spec.name: spec for spec in functions}
        environments = [{**spec.environment, **extra_environment} for spec in functions]
        keys = set().union(*environments) if environments else set()
        self.shared_environment = {
            key: environments[0][key]
            for key in sorted(keys)
            if all(key in env and env[key] == environments[0][key] for env in environments)
        }
        self._own_environment = {
            spec.name: {k: v for k, v in env.items() if k not in self.shared_environment}
            for spec, env in zip(functions, environments, strict=True)
        }
        self.serialised = any(self._own_environment.values())
        self._env_lock = threading.Lock()
        self._modules: dict[str, Callable[[Any, Any], Any]] = {}
        self._import_lock = threading.Lock()
        # Shared by every runtime of the process: a logger that kept a stream of an earlier local cloud
        # (Powertools binds sys.stdout when it is created) still routes by the current one's threads.
        self._routing = _ROUTING
        self._log_file = log_file
        self._log: TextIO | None = None
        self._log_lock = threading.Lock()
        self._saved_environment: dict[str, str | None] = {}
        self._saved_streams: tuple[TextIO, TextIO] | None = None
        self._saved_invoke: Any = None
        self._code_dirs: list[str] = []
        self.invocations = 0

    @property
    def log_file(self) -> Path:
        return self._log_file

    def install(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        self._log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self._log_file.open("a", encoding="utf-8", buffering=1)
        self._saved_environment = set_environ(self.shared_environment)
        for code_dir in sorted({str(spec.code_dir) for spec in self._specs.values()}):
            if code_dir not in sys.path:
                sys.path.insert(0, code_dir)
                self._code_dirs.append(code_dir)
        self._saved_streams = (sys.stdout, sys.stderr)
        sys.stdout = _ThreadRoutedStream(sys.stdout, self._routing)
        sys.stderr = _ThreadRoutedStream(sys.stderr, self._routing)
        self._cold_start()
        self._saved_invoke = LambdaSimpleBackend.__dict__["invoke"]
        runtime = self

        def invoke(
            backend: Any,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: dict[str, str],
        ) -> bytes:
            function = backend.get_function(function_name, qualifier)
            return runtime.invoke(
                function.function_name, dict(function.environment_vars or {}), body, response_headers
            )

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        if self._saved_invoke is not None:
            LambdaSimpleBackend.invoke = self._saved_invoke  # type: ignore[method-assign]
            self._saved_invoke = None
        if self._saved_streams is not None:
            sys.stdout, sys.stderr = self._saved_streams
            self._saved_streams = None
        set_environ(self._saved_environment)
        self._saved_environment = {}
        for code_dir in self._code_dirs:
            with contextlib.suppress(ValueError):
                sys.path.remove(code_dir)
        self._code_dirs.clear()
        self._cold_start()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _cold_start(self) -> None:
        """Make the next invocation behave like one in a new deployment: handler modules are imported
        again, and per-container caches of the shared code (functools caches holding settings and
        clients, which point at the previous cloud's ports) are emptied."""
        for name in [name for name in sys.modules if name.startswith("_localcloud_fn_")]:
            del sys.modules[name]
        self._modules.clear()
        code_dirs = tuple(str(spec.code_dir) + os.sep for spec in self._specs.values())
        for module in list(sys.modules.values()):
            if not str(getattr(module, "__file__", "") or "").startswith(code_dirs):
                continue
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)) and hasattr(value, "cache_info"):
                    value.cache_clear()

    def invoke(
        self, name: str, environment: dict[str, str], body: Any, response_headers: dict[str, str]
    ) -> bytes:
        """Run one invocation; an exception becomes Lambda's Unhandled error payload."""
        spec = self._specs.get(name)
        if spec is None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return _error_payload("Runtime.HandlerNotFound", f"{name} is not a function of template.yaml")
        raw = body.decode("utf-8") if isinstance(body, bytes) else (body or "{}")
        event = json.loads(raw) if raw else {}
        context = LambdaContext(spec.name, spec.arn, 128, spec.timeout)
        own = {k: v for k, v in environment.items() if k not in self.shared_environment}
        with self._routed_output(), self._environment(own):
            self.invocations += 1
            try:
                handler = self._handler(spec)
                result = handler(event, context)
            except Exception as error:
                traceback.print_exc(file=self._routing.sink)
                response_headers["x-amz-function-error"] = "Unhandled"
                return _error_payload(type(error).__name__, str(error), traceback.format_exception(error))
        return json.dumps(result).encode("utf-8")

    @contextlib.contextmanager
    def _environment(self, own: dict[str, str]) -> Iterator[None]:
        if not own:
            yield
            return
        with self._env_lock:
            saved = set_environ(own)
            try:
                yield
            finally:
                set_environ(saved)

    @contextlib.contextmanager
    def _routed_output(self) -> Iterator[None]:
        buffer = io.StringIO()
        self._routing.sink = buffer
        try:
            yield
        finally:
            self._routing.sink = None
            if self._log is not None and buffer.getvalue():
                with self._log_lock:
                    self._log.write(buffer.getvalue())

    def _handler(self, spec: FunctionSpec) -> Callable[[Any, Any], Any]:
        with self._import_lock:
            if spec.name not in self._modules:
                self._modules[spec.name] = _load_handler(spec)
            return self._modules[spec.name]


def _load_handler(spec: FunctionSpec) -> Callable[[Any, Any], Any]:
    """Import `module.function` (module may be a path such as prepare_run/app) from the CodeUri."""
    module_path, _, function_name = spec.handler.rpartition(".")
    source = spec.code_dir / (module_path.replace(".", "/") + ".py")
    if not module_path or not source.is_file():
        raise ImportError(f"Handler {spec.handler} of {spec.logical_id}: no file {source}")
    module_name = "_localcloud_fn_" + module_path.replace("/", "_").replace(".", "_")
    module_spec = importlib.util.spec_from_file_location(module_name, source)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"Handler {spec.handler}: cannot load {source}")
    module: ModuleType = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    module_spec.loader.exec_module(module)
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise ImportError(f"Handler {spec.handler}: {source} defines no function {function_name}")
    return handler


def _error_payload(error_type: str, message: str, trace: list[str] | None = None) -> bytes:
    return json.dumps(
        {
            "errorType": error_type,
            "errorMessage": message,
            "requestId": str(uuid.uuid4()),
            "stackTrace": [line.rstrip() for line in (trace or [])],
        }
    ).encode("utf-8")
