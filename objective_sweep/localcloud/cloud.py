"""The local cloud: moto in server mode executing the real state machine, the real handlers behind its
Lambda API, the Personalize-compatible endpoint, and the S3 → EventBridge → Step Functions bridge,
all created from template.yaml and torn down completely when it stops."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

from objective_sweep.localcloud.lambdas import InProcessRuntime, set_environ
from objective_sweep.localcloud.runs import Deployment
from objective_sweep.localcloud.template import ACCOUNT_ID, REGION, LocalStack, read_stack
from objective_sweep.localcloud.timescale import TimeScale
from objective_sweep.localcloud.triggers import EventBridgeBridge

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = PROJECT_ROOT / "template.yaml"
DEFAULT_STACK_NAME = "objective-sweep"
# One local second per 100 declared seconds: a 60 s Personalize poll costs 0.6 s.
DEFAULT_TIME_SCALE = 0.01
MOTO_LOG = "moto.log"
_MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
# moto's backends and the patched classes are process-wide, so one local cloud per process.
_ACTIVE = threading.Lock()


def personalize_parameter(stack_name: str) -> str:
    """SSM parameter of a running local cloud that holds its Personalize endpoint URL."""
    return f"/{stack_name}/local/personalize-endpoint"


class LocalCloudError(Exception):
    """The local cloud could not start or stop cleanly; the message says which part and why."""


class _TrackedMotoServer:
    """moto's ThreadedMotoServer whose open connections are closed on stop: botocore keeps HTTP
    connections alive, and each one would otherwise pin a server thread after shutdown."""

    def __init__(self, port: int) -> None:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
        from moto.moto_server.werkzeug_app import MotoRequestHandler

        connections: set[socket.socket] = set()
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
                # One line per API call would bury the progress view; errors still reach the caller.
                return

        self._connections = connections
        self._lock = lock
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        # ThreadedMotoServer builds its werkzeug server in _server_entry with MotoRequestHandler.
        import moto.moto_server.threaded_moto_server as threaded

        self._module = threaded
        self._handler = Handler

    def start(self) -> int:
        module: Any = self._module
        saved = module.MotoRequestHandler
        module.MotoRequestHandler = self._handler
        try:
            self._server.start()
        finally:
            module.MotoRequestHandler = saved
        return int(self._server.get_host_and_port()[1])

    def stop(self) -> None:
        with self._lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server.stop()


class LocalCloud:
    """Starts everything template.yaml describes on 127.0.0.1; use as a context manager.

    `environment` holds the variables a client needs (AWS_ENDPOINT_URL and the Personalize endpoints);
    they are also set in this process while the cloud runs, so boto3 clients here reach it.
    """

    def __init__(
        self,
        template: Path = DEFAULT_TEMPLATE,
        *,
        stack_name: str = DEFAULT_STACK_NAME,
        parameters: dict[str, str] | None = None,
        time_scale: float = DEFAULT_TIME_SCALE,
        personalize: bool = True,
        workdir: Path | None = None,
        personalize_options: dict[str, Any] | None = None,
    ) -> None:
        self.stack: LocalStack = read_stack(template, stack_name=stack_name, parameters=parameters)
        self.stack_name = stack_name
        self._time_scale = TimeScale(time_scale)
        self._with_personalize = personalize
        self._personalize_options = personalize_options or {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.workdir = workdir
        self._server: _TrackedMotoServer | None = None
        self._personalize: Any = None
        self._runtime: InProcessRuntime | None = None
        self._bridge: EventBridgeBridge | None = None
        self._saved_environ: dict[str, str | None] = {}
        self._threads_before: set[threading.Thread] = set()
        self.endpoint_url = ""
        self.personalize_url = ""
        self.environment: dict[str, str] = {}
        self._owns_lock = False
        self._moto_log_handler: logging.Handler | None = None
        self._moto_log_saved = True

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> LocalCloud:
        if not _ACTIVE.acquire(blocking=False):
            raise LocalCloudError("a local cloud is already running in this process; stop it first")
        self._owns_lock = True
        self._threads_before = set(threading.enumerate())
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        if self.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="objective-sweep-cloud-")
            self.workdir = Path(self._tmp.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        moto_api_backend.reset()
        moto_api_backend.set_config(_MOTO_CONFIG)
        # Port 0: the operating system picks a free port as it binds, so no other process can take it first.
        self._server = _TrackedMotoServer(0)
        port = self._server.start()
        self.endpoint_url = f"http://127.0.0.1:{port}"
        self.environment = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        }
        # The interpreter reaches moto's Lambda API at localhost:$MOTO_PORT; these variables are for
        # this process only, not for clients.
        process_only: dict[str, str | None] = {"MOTO_PORT": str(port), "AWS_SESSION_TOKEN": None}
        if self._with_personalize:
            self._start_personalize()
        # A service-specific endpoint (AWS_ENDPOINT_URL_S3...) or the switch that ignores configured
        # endpoints would send the handlers' clients past this cloud; they are unset while it runs.
        for key in os.environ:
            foreign_endpoint = key.startswith("AWS_ENDPOINT_URL_") and key not in self.environment
            if foreign_endpoint or key == "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS":
                process_only[key] = None
        self._set_environ({**self.environment, **process_only})
        self._time_scale.install()
        self._capture_moto_log(self.workdir / MOTO_LOG)
        lambda_env = {
            **self.environment,
            # No X-Ray daemon or CloudWatch agent locally: traces off, metrics still rendered as EMF.
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        self._runtime = InProcessRuntime(self.stack.functions, lambda_env, self.workdir / "lambda.log")
        self._runtime.install()
        self._bridge = EventBridgeBridge(self.endpoint_url, REGION)
        self._bridge.install()
        self._create_resources()

    def _start_personalize(self) -> None:
        try:
            from objective_sweep.personalize.server import LocalPersonalize
        except ImportError as error:
            raise LocalCloudError(
                f"the Personalize-compatible endpoint is not available ({error}); "
                "start the cloud with personalize=False to run without it"
            ) from error
        assert self.workdir is not None
        self._personalize = LocalPersonalize(
            **{"s3_endpoint_url": self.endpoint_url, **self._personalize_options}
        )
        self._personalize.start()
        self.personalize_url = str(self._personalize.url)
        self.environment["AWS_ENDPOINT_URL_PERSONALIZE"] = self.personalize_url
        self.environment["AWS_ENDPOINT_URL_PERSONALIZE_RUNTIME"] = self.personalize_url

    def stop(self, *, join_timeout: float = 30.0) -> None:
        """Stop running executions, then every server and patch; raise if a thread outlives it."""
        errors: list[str] = []
        if self._server is not None and self.endpoint_url:
            try:
                self._stop_executions()
            except Exception as error:
                errors.append(f"stopping executions: {error}")
        if self._personalize is not None:
            try:
                self._personalize.stop()
            except Exception as error:
                errors.append(f"stopping the Personalize endpoint: {error}")
            self._personalize = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        for patch in (self._bridge, self._runtime):
            if patch is not None:
                patch.uninstall()
        self._bridge = None
        self._runtime = None
        self._time_scale.uninstall()
        self._release_moto_log()
        self._restore_environ()
        leftover = self._wait_for_threads(join_timeout)
        if leftover:
            errors.append("threads still running: " + ", ".join(sorted(t.name for t in leftover)))
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.workdir = None
        if self._owns_lock:
            self._owns_lock = False
            _ACTIVE.release()
        if errors:
            raise LocalCloudError("the local cloud did not stop cleanly: " + "; ".join(errors))

    def _stop_executions(self) -> None:
        sfn = self.client("stepfunctions")
        for machine in sfn.list_state_machines()["stateMachines"]:
            paginator = sfn.get_paginator("list_executions")
            for page in paginator.paginate(
                stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
            ):
                for execution in page["executions"]:
                    sfn.stop_execution(executionArn=execution["executionArn"], cause="local cloud stopped")

    def _capture_moto_log(self, path: Path) -> None:
        """moto's interpreter logs every failed task (a level failing on purpose, a Catch) at ERROR
        level; that belongs beside lambda.log, not in the terminal (the history holds the causes)."""
        moto_logger = logging.getLogger("moto")
        self._moto_log_handler = logging.FileHandler(path, encoding="utf-8")
        self._moto_log_saved = moto_logger.propagate
        moto_logger.addHandler(self._moto_log_handler)
        moto_logger.propagate = False

    def _release_moto_log(self) -> None:
        if self._moto_log_handler is None:
            return
        moto_logger = logging.getLogger("moto")
        moto_logger.removeHandler(self._moto_log_handler)
        moto_logger.propagate = self._moto_log_saved
        self._moto_log_handler.close()
        self._moto_log_handler = None

    def _wait_for_threads(self, timeout: float) -> list[threading.Thread]:
        deadline = time.monotonic() + timeout
        while True:
            leftover = [t for t in threading.enumerate() if t not in self._threads_before and t.is_alive()]
            if not leftover or time.monotonic() > deadline:
                return leftover
            leftover[0].join(min(0.2, max(0.0, deadline - time.monotonic())))

    def _set_environ(self, values: dict[str, str | None]) -> None:
        for key, value in set_environ(values).items():
            self._saved_environ.setdefault(key, value)

    def _restore_environ(self) -> None:
        set_environ(self._saved_environ)
        self._saved_environ.clear()

    # -- resources from template.yaml ---------------------------------------------------------

    def client(self, service: str) -> Any:
        """A boto3 client for this cloud (Personalize clients go to the local endpoint)."""
        endpoint = self.endpoint_url
        if service in ("personalize", "personalize-runtime") and self.personalize_url:
            endpoint = self.personalize_url
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any key; this is no secret
            config=Config(retries={"mode": "standard"}),
        )

    def _create_resources(self) -> None:
        stack = self.stack
        iam = self.client("iam")
        trust = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {
                            "Service": [
                                "lambda.amazonaws.com",
                                "states.amazonaws.com",
                                "scheduler.amazonaws.com",
                            ]
                        },
                    }
                ],
            }
        )
        role_arn = iam.create_role(RoleName=f"{self.stack_name}-local", AssumeRolePolicyDocument=trust)[
            "Role"
        ]["Arn"]

        s3 = self.client("s3")
        s3.create_bucket(Bucket=stack.bucket_name)
        if stack.bucket_versioned:
            s3.put_bucket_versioning(Bucket=stack.bucket_name, VersioningConfiguration={"Status": "Enabled"})
        if stack.bucket_eventbridge:
            s3.put_bucket_notification_configuration(
                Bucket=stack.bucket_name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        if stack.topic_name:
            self.client("sns").create_topic(Name=stack.topic_name)

        lambda_client = self.client("lambda")
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            # moto needs a package; the handlers themselves are loaded from CodeUri by the runtime.
            archive.writestr("README", "code is loaded from the CodeUri directory")
        for function in stack.functions:
            lambda_client.create_function(
                FunctionName=function.name,
                Runtime=function.runtime,
                Role=role_arn,
                Handler=function.handler,
                Code={"ZipFile": code.getvalue()},
                Timeout=function.timeout,
                Environment={"Variables": function.environment},
            )

        sfn = self.client("stepfunctions")
        created = sfn.create_state_machine(
            name=stack.state_machine_name, definition=stack.definition, roleArn=role_arn
        )["stateMachineArn"]
        if created != stack.state_machine_arn:
            raise LocalCloudError(
                f"state machine ARN {created} differs from the template's {stack.state_machine_arn}"
            )

        events = self.client("events")
        for rule in stack.rules:
            events.put_rule(Name=rule.name, EventPattern=json.dumps(rule.pattern), State="ENABLED")
            target: dict[str, Any] = {"Id": "target", "Arn": rule.target_arn, "RoleArn": role_arn}
            if rule.input_path:
                target["InputPath"] = rule.input_path
            events.put_targets(Rule=rule.name, Targets=[target])

        scheduler = self.client("scheduler")
        for schedule in stack.schedules:
            # Created as the template declares them; moto never fires them (`sweep retrain` does).
            schedule_target: dict[str, Any] = {"Arn": schedule.target_arn, "RoleArn": role_arn}
            if schedule.input is not None:
                schedule_target["Input"] = schedule.input
            scheduler.create_schedule(
                Name=schedule.name,
                ScheduleExpression=schedule.expression,
                State=schedule.state,
                FlexibleTimeWindow={"Mode": "OFF"},
                Target=schedule_target,
            )

        self._create_stack_outputs()
        if self.personalize_url:
            # Clients given only --endpoint find the Personalize endpoint here (see runs.find_deployment).
            self.client("ssm").put_parameter(
                Name=personalize_parameter(self.stack_name), Type="String", Value=self.personalize_url
            )

    def _create_stack_outputs(self) -> None:
        """Register the stack with CloudFormation so `--stack` clients find the bucket and state machine
        through DescribeStacks exactly as in AWS."""
        if not self.stack.outputs:
            return
        body = {
            "Resources": {
                "Marker": {
                    "Type": "AWS::SSM::Parameter",
                    "Properties": {
                        "Name": f"/{self.stack_name}/local-cloud",
                        "Type": "String",
                        "Value": self.endpoint_url,
                    },
                }
            },
            "Outputs": {key: {"Value": value} for key, value in self.stack.outputs.items()},
        }
        self.client("cloudformation").create_stack(StackName=self.stack_name, TemplateBody=json.dumps(body))

    def deployment(self) -> Deployment:
        """This cloud as a deployment the `sweep` commands operate on."""
        logs = (self.runtime.log_file, self.workdir / MOTO_LOG) if self.workdir else ()
        return Deployment(
            self.stack.bucket_name,
            self.stack.state_machine_arn,
            self.endpoint_url,
            self.personalize_url,
            REGION,
            logs,
        )

    # -- triggers ------------------------------------------------------------------------------

    @property
    def bridge(self) -> EventBridgeBridge:
        if self._bridge is None:
            raise LocalCloudError("the local cloud is not running")
        return self._bridge

    @property
    def runtime(self) -> InProcessRuntime:
        if self._runtime is None:
            raise LocalCloudError("the local cloud is not running")
        return self._runtime


__all__ = ["ACCOUNT_ID", "DEFAULT_TEMPLATE", "REGION", "LocalCloud", "LocalCloudError"]
