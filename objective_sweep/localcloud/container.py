"""Lambda execution environments of the local cloud, as processes.

The zygote (`python -m objective_sweep.localcloud.container`) imports the SDK once, then forks one
container per request of lambdas.py, handing it the socket it will serve on. A container becomes one
function: exactly the environment Lambda would give it (its template variables, its role's
credentials, the runtime's own variables), the handler imported from the function's CodeUri, one
invocation at a time over its socket. Like a real environment it keeps module state between
invocations (cached clients, a cold-start flag), and it shares nothing with other functions: each
process has its own os.environ, sys.path and stdout (redirected to the cloud's lambda.log).

Forking from our own zygote rather than multiprocessing's fork server matters: multiprocessing
re-imports the parent's __main__ module in every child, which runs a user's unguarded script again.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import io
import json
import os
import signal
import socket
import struct
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any, cast

# Imported in the zygote before any container forks, so each container starts in milliseconds
# instead of re-importing the SDK; none of them reads the environment at import time.
PRELOAD = (
    "boto3",
    "botocore.client",
    "pydantic",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.tracing",
    "aws_xray_sdk.core",
)


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


@dataclass(frozen=True)
class FunctionImage:
    """What a container needs to become one function's environment (sent to the zygote as JSON)."""

    name: str
    arn: str
    handler: str
    code_dir: str
    memory_size: int
    timeout: int
    environment: dict[str, str]
    log_file: str


def serve(connection: Connection, image: FunctionImage) -> None:
    """The container's main loop: become the function, then answer invocations until the pipe closes."""
    os.environ.clear()
    os.environ.update(image.environment)
    log = os.open(image.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    for stream in (sys.stdout, sys.stderr):
        cast(io.TextIOWrapper, stream).reconfigure(line_buffering=True)
    sys.path.insert(0, image.code_dir)
    handler: Callable[[Any, Any], Any] | None = None
    while True:
        try:
            request = json.loads(connection.recv_bytes())
        except EOFError:
            return
        context = LambdaContext(
            image.name, image.arn, image.memory_size, image.timeout, aws_request_id=request["requestId"]
        )
        try:
            if handler is None:
                handler = _load_handler(image)
            result = handler(json.loads(request["payload"] or "{}"), context)
            answer = {"ok": True, "payload": _dump_result(result)}
        except Exception as error:
            traceback.print_exc()
            answer = {
                "ok": False,
                "error": {
                    "errorType": getattr(error, "lambda_error_type", type(error).__name__),
                    "errorMessage": str(error),
                    "requestId": context.aws_request_id,
                    "stackTrace": [line.rstrip() for line in traceback.format_exception(error)],
                },
            }
        connection.send_bytes(json.dumps(answer).encode("utf-8"))


class _MarshalError(Exception):
    lambda_error_type = "Runtime.MarshalError"


class _ImportModuleError(ImportError):
    lambda_error_type = "Runtime.ImportModuleError"


def _dump_result(result: Any) -> str:
    try:
        return json.dumps(result)
    except (TypeError, ValueError) as error:
        raise _MarshalError(f"Unable to marshal response: {error}") from error


def _load_handler(image: FunctionImage) -> Callable[[Any, Any], Any]:
    """Import `module.function` (the module may be a path such as prepare_run/app) from the CodeUri."""
    module_path, _, function_name = image.handler.rpartition(".")
    source = Path(image.code_dir) / (module_path.replace(".", "/") + ".py")
    if not module_path or not source.is_file():
        raise _ImportModuleError(f"Handler {image.handler} of {image.name}: no file {source}")
    module_spec = importlib.util.spec_from_file_location(module_path.replace("/", "."), source)
    if module_spec is None or module_spec.loader is None:
        raise _ImportModuleError(f"Handler {image.handler}: cannot load {source}")
    module: ModuleType = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise _ImportModuleError(f"Handler {image.handler}: {source} defines no function {function_name}")
    return handler


# -- the zygote ------------------------------------------------------------------------------------

_PID = struct.Struct("!i")
# A request to the zygote: the image as JSON, at most this long, with the container's socket attached.
MAX_IMAGE_BYTES = 1 << 20


def zygote(control: socket.socket) -> None:
    """Fork one container per request on `control` until it closes; answer each with the child's pid."""
    # Children are reaped by the kernel: the zygote never waits for them.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    # Stopping is the parent's to decide (it closes the control socket), not a terminal's Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        message, fds, _, _ = socket.recv_fds(control, MAX_IMAGE_BYTES, 1)
        if not message:
            return
        (channel,) = fds
        pid = os.fork()
        if pid == 0:
            control.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            image = FunctionImage(**json.loads(message))
            try:
                serve(Connection(channel), image)
            finally:
                os._exit(0)
        os.close(channel)
        control.sendall(_PID.pack(pid))


def main() -> None:
    for module in PRELOAD:
        importlib.import_module(module)
    zygote(socket.socket(fileno=int(sys.argv[1])))


def image_message(image: FunctionImage) -> bytes:
    return json.dumps(dataclasses.asdict(image)).encode("utf-8")


if __name__ == "__main__":
    main()
