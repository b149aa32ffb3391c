"""Runs the template's Lambda functions when moto's Step Functions interpreter (or anything else)
invokes them (moto_compat.LambdaInvokePatch routes moto's invocations here): the event goes to a
warm container of that function (container.py), and the answer has Lambda's own success or error
shape, so Retry/Catch match on the exception class name as in AWS.

Each container is a process forked from the cloud's zygote, which has already imported the SDK, so
it starts in a fraction of a second; it holds exactly the function's environment and its role's
credentials, as a Lambda execution environment does. Concurrent invocations of one function run in
separate containers; an idle container is reused, and one idle for longer than `idle_seconds` is
stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

from objective_sweep.localcloud.container import FunctionImage, image_message
from objective_sweep.localcloud.template import FunctionSpec

# Lambda scales a function out per concurrent request; beyond this many environments of one function
# the local cloud answers TooManyRequestsException, as a throttled function would.
MAX_CONTAINERS_PER_FUNCTION = 16


class _Zygote:
    """The process containers are forked from (container.zygote), started with the runtime."""

    def __init__(self, log: IO[bytes]) -> None:
        control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "objective_sweep.localcloud.container", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        theirs.close()
        self._control = control
        self._lock = threading.Lock()

    def fork(self, image: FunctionImage) -> tuple[int, Connection]:
        ours, theirs = socket.socketpair()
        with self._lock:
            socket.send_fds(self._control, [image_message(image)], [theirs.fileno()])
            reply = self._control.recv(4)
        theirs.close()
        if len(reply) != 4:
            raise LambdaError("ServiceException", f"the local Lambda service could not start {image.name}")
        return int.from_bytes(reply, "big", signed=True), Connection(ours.detach())

    def stop(self) -> None:
        self._control.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass(eq=False)
class _Container:
    image: FunctionImage
    pid: int
    connection: Connection
    idle_since: float = 0.0

    def stop(self) -> None:
        self.connection.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


class LambdaError(Exception):
    """An invocation that ended in one of Lambda's own errors (timeout, crash, throttle)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class LambdaRuntime:
    """The template's functions behind moto's Lambda API while installed."""

    def __init__(
        self,
        functions: list[FunctionSpec],
        environment: Callable[[FunctionSpec], dict[str, str]],
        *,
        idle_seconds: float = 120.0,
    ) -> None:
        self._specs = {spec.name: spec for spec in functions}
        self._environment = environment
        self._log_file = ""
        self._idle_seconds = idle_seconds
        self._idle: dict[str, list[_Container]] = {name: [] for name in self._specs}
        self._busy: dict[str, int] = dict.fromkeys(self._specs, 0)
        self._images: dict[str, FunctionImage] = {}
        self._lock = threading.Lock()
        self._closed = True
        self._zygote: _Zygote | None = None
        self._log: IO[bytes] | None = None
        self._busy_containers: set[_Container] = set()
        self.invocations = 0
        self.containers_started = 0

    def start(self, log_file: Path) -> None:
        """Start the zygote; every container writes to `log_file`."""
        self._log_file = str(log_file)
        self._log = log_file.open("ab")
        self._zygote = _Zygote(self._log)
        with self._lock:
            self._closed = False

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            # Busy ones too: a handler still running when the cloud stops must not outlive it.
            containers = [c for pool in self._idle.values() for c in pool] + list(self._busy_containers)
            for pool in self._idle.values():
                pool.clear()
        for container in containers:
            container.stop()
        if self._zygote is not None:
            self._zygote.stop()
            self._zygote = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def processes(self) -> list[int]:
        """The pids of the zygote and of every container, for checks that none outlives the cloud."""
        with self._lock:
            containers = [c.pid for pool in self._idle.values() for c in pool]
            containers += [c.pid for c in self._busy_containers]
        return ([self._zygote.process.pid] if self._zygote else []) + containers

    def invoke(self, name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        """Run one invocation; a failure becomes Lambda's Unhandled error payload."""
        request_id = str(uuid.uuid4())
        if name not in self._specs:
            return _error(
                response_headers, "Runtime.HandlerNotFound", f"{name} is not a function of the template"
            )
        raw = body.decode("utf-8") if isinstance(body, bytes) else (body or "")
        try:
            container = self._acquire(name)
        except LambdaError as error:
            return _error(response_headers, error.error_type, str(error), request_id)
        spec = self._specs[name]
        healthy = False
        try:
            self.invocations += 1
            container.connection.send_bytes(json.dumps({"requestId": request_id, "payload": raw}).encode())
            if not container.connection.poll(spec.timeout):
                return _error(
                    response_headers,
                    "Sandbox.Timedout",
                    f"RequestId: {request_id} Error: Task timed out after {spec.timeout:.2f} seconds",
                    request_id,
                )
            answer = json.loads(container.connection.recv_bytes())
            healthy = True
        except (EOFError, OSError):
            return _error(
                response_headers,
                "Runtime.ExitError",
                f"RequestId: {request_id} Error: Runtime exited without answering",
                request_id,
            )
        finally:
            self._release(name, container, healthy=healthy)
        if answer["ok"]:
            return str(answer["payload"]).encode("utf-8")
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(answer["error"]).encode("utf-8")

    def _acquire(self, name: str) -> _Container:
        now = time.monotonic()
        stale: list[_Container] = []
        with self._lock:
            if self._closed:
                raise LambdaError("ServiceException", "the local cloud is stopping")
            for pool in self._idle.values():
                stale += [c for c in pool if now - c.idle_since > self._idle_seconds]
                pool[:] = [c for c in pool if now - c.idle_since <= self._idle_seconds]
            container = self._idle[name].pop() if self._idle[name] else None
            if container is None and self._busy[name] >= MAX_CONTAINERS_PER_FUNCTION:
                raise LambdaError(
                    "TooManyRequestsException",
                    f"Rate Exceeded: {name} already runs {MAX_CONTAINERS_PER_FUNCTION} concurrent invocations",
                )
            self._busy[name] += 1
        for old in stale:
            old.stop()
        if container is None:
            try:
                container = self._start(name)
            except Exception:
                with self._lock:
                    self._busy[name] -= 1
                raise
        with self._lock:
            self._busy_containers.add(container)
        return container

    def _release(self, name: str, container: _Container, *, healthy: bool) -> None:
        with self._lock:
            self._busy[name] -= 1
            self._busy_containers.discard(container)
            if healthy and not self._closed:
                container.idle_since = time.monotonic()
                self._idle[name].append(container)
                return
        # A container that timed out or died is discarded, as Lambda discards its environment.
        container.stop()

    def _start(self, name: str) -> _Container:
        spec = self._specs[name]
        image = self._images.get(name)
        if image is None:
            image = FunctionImage(
                name=spec.name,
                arn=spec.arn,
                handler=spec.handler,
                code_dir=str(spec.code_dir),
                memory_size=spec.memory_size,
                timeout=spec.timeout,
                environment=self._environment(spec),
                log_file=self._log_file,
            )
            self._images[name] = image
        if self._zygote is None:
            raise LambdaError("ServiceException", "the local Lambda service is not running")
        pid, connection = self._zygote.fork(image)
        self.containers_started += 1
        return _Container(image, pid, connection)


def _error(response_headers: dict[str, str], error_type: str, message: str, request_id: str = "") -> bytes:
    response_headers["x-amz-function-error"] = "Unhandled"
    return json.dumps(
        {"errorType": error_type, "errorMessage": message, "requestId": request_id, "stackTrace": []}
    ).encode("utf-8")
