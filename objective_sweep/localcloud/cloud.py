"""The local cloud: moto in server mode executing the real state machine, the real handlers behind its
Lambda API (each function in its own containers, with its own role's credentials), the
Personalize-compatible endpoint, and the S3 → EventBridge → Step Functions bridge, all created from
template.yaml, with every call authorized against the template's IAM roles and bucket policy, and
torn down completely when it stops."""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import tempfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

from objective_sweep.localcloud.authorizer import LAMBDA, SCHEDULER, STATES, Authorizer
from objective_sweep.localcloud.iam import Statement, parse_policy
from objective_sweep.localcloud.lambdas import LambdaRuntime
from objective_sweep.localcloud.moto_compat import (
    AuthorizationPatch,
    BucketPolicyPatch,
    ExecutionNamePatch,
    FailErrorNamePatch,
    LambdaInvokePatch,
    LocalMotoServer,
    MapRunTolerancePatch,
    MotoPatch,
    RetrySleepPatch,
    S3EventPatch,
    WaitPatch,
)
from objective_sweep.localcloud.runs import Deployment
from objective_sweep.localcloud.template import ACCOUNT_ID, REGION, FunctionSpec, LocalStack, read_stack
from objective_sweep.localcloud.triggers import EventBridgeBridge

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = PROJECT_ROOT / "template.yaml"
DEFAULT_STACK_NAME = "objective-sweep"
# One local second per 100 declared seconds: a 60 s Personalize poll costs 0.6 s.
DEFAULT_TIME_SCALE = 0.01
MOTO_LOG = "moto.log"
LAMBDA_LOG = "lambda.log"
_MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
# moto's own defaults for the same settings, given back when the cloud stops: the settings are
# process-wide, and a later mock_aws in the same process must not get the interpreter without the
# patches that made it behave (an unnamed execution would be named "None").
_MOTO_DEFAULTS = {"stepfunctions": {"execute_state_machine": False}, "lambda": {"use_docker": True}}
# moto's backends and the patched classes are process-wide, so one local cloud per process.
_ACTIVE = threading.Lock()
# The access key moto's Step Functions interpreter signs its own calls (Lambda invokes, S3 reads of a
# Distributed Map) with: those calls are the state machine role's.
INTERPRETER_ACCESS_KEY = "ak"


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


def personalize_parameter(stack_name: str) -> str:
    """SSM parameter of a running local cloud that holds its Personalize endpoint URL."""
    return f"/{stack_name}/local/personalize-endpoint"


class LocalCloudError(Exception):
    """The local cloud could not start or stop cleanly; the message says which part and why."""


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
        self.authorizer = Authorizer(self.stack.roles, account=ACCOUNT_ID)
        if not 0 < time_scale <= 1:
            raise ValueError(f"time scale must be in (0, 1], got {time_scale}")
        self._with_personalize = personalize
        self._personalize_options = personalize_options or {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.workdir = workdir
        self._server: LocalMotoServer | None = None
        self._personalize: Any = None
        self._runtime = LambdaRuntime(self.stack.functions, self._function_environment)
        self._bridge = EventBridgeBridge(REGION, self.authorizer)
        self._patches: list[MotoPatch] = [
            # A local second per `time_scale` declared seconds: at 0.01 a 60 s poll lasts 0.6 s, except
            # while the local Personalize endpoint computes, when the clock runs at real speed.
            WaitPatch(time_scale, self._personalize_computing),
            RetrySleepPatch(time_scale),
            LambdaInvokePatch(self._runtime.invoke),
            S3EventPatch(self._bridge.on_s3_event),
            AuthorizationPatch(self.authorizer, self._bucket_policy, self._object_exists),
            BucketPolicyPatch(),
            ExecutionNamePatch(),
            MapRunTolerancePatch(),
            FailErrorNamePatch(),
        ]
        self._installed: list[MotoPatch] = []
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
        if self.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="objective-sweep-cloud-")
            self.workdir = Path(self._tmp.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._server = LocalMotoServer()
        port = self._server.start()
        self.endpoint_url = f"http://127.0.0.1:{port}"
        # moto's backends are process-wide: a new cloud starts from nothing, configured through
        # moto's documented server API.
        self._post_moto_api("/moto-api/reset", b"")
        self._post_moto_api("/moto-api/config", json.dumps(_MOTO_CONFIG).encode())
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
        self._capture_moto_log(self.workdir / MOTO_LOG)
        # moto's interpreter signs its calls with a fixed key: they are the state machine role's.
        self.authorizer.assume(
            self.stack.state_machine_role_arn, STATES, "execution", access_key=INTERPRETER_ACCESS_KEY
        )
        self._runtime.start(self.workdir / LAMBDA_LOG)
        self._bridge.endpoint_url = self.endpoint_url
        for patch in self._patches:
            patch.install()
            self._installed.append(patch)
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
            **{
                "s3_endpoint_url": self.endpoint_url,
                "authorizer": self.authorizer,
                **self._personalize_options,
            }
        )
        self._personalize.start()
        self.personalize_url = str(self._personalize.url)
        self.environment["AWS_ENDPOINT_URL_PERSONALIZE"] = self.personalize_url
        self.environment["AWS_ENDPOINT_URL_PERSONALIZE_RUNTIME"] = self.personalize_url

    def _personalize_computing(self) -> bool:
        """Whether the local Personalize endpoint is importing or training right now."""
        personalize = self._personalize
        return personalize is not None and personalize.computing()

    def _post_moto_api(self, path: str, body: bytes) -> None:
        request = urllib.request.Request(f"{self.endpoint_url}{path}", data=body, method="POST")  # noqa: S310
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - loopback, our own server

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
            try:
                self._post_moto_api("/moto-api/config", json.dumps(_MOTO_DEFAULTS).encode())
            except OSError as error:
                errors.append(f"restoring moto's settings: {error}")
            self._server.stop()
            self._server = None
        while self._installed:
            self._installed.pop().uninstall()
        self._runtime.stop()
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

    def _function_environment(self, spec: FunctionSpec) -> dict[str, str]:
        """What Lambda puts in a function's environment: the template's variables, the runtime's own,
        and the credentials of the function's role (assumed now, so a role whose trust policy does
        not admit Lambda fails here as it fails in AWS)."""
        session = self.authorizer.assume(spec.role_arn, LAMBDA, spec.name)
        return {
            "PATH": os.environ.get("PATH", os.defpath),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            # A developer's ~/.aws must not reach a function: in Lambda there is none.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            # No X-Ray daemon locally: traces off (metrics are still written as EMF to the log).
            "POWERTOOLS_TRACE_DISABLED": "true",
            **{key: value for key, value in self.environment.items() if key.startswith("AWS_ENDPOINT_URL")},
            **spec.environment,
            **session.environment(),
        }

    def _object_exists(self, resource: str) -> bool:
        from moto.s3.exceptions import S3ClientError
        from moto.s3.models import FakeKey, s3_backends

        bucket_name, _, key = resource.removeprefix("arn:aws:s3:::").partition("/")
        try:
            bucket = s3_backends[ACCOUNT_ID]["aws"].get_bucket(bucket_name)
        except S3ClientError:
            return False
        # The latest version: a delete marker means the object is gone.
        return isinstance(bucket.keys.get(key), FakeKey)

    def _bucket_policy(self, resource: str) -> tuple[Statement, ...]:
        """The policy of the bucket an S3 resource ARN names, as stored in moto (so a policy changed
        through the API applies too)."""
        from moto.s3.exceptions import S3ClientError
        from moto.s3.models import s3_backends

        bucket_name = resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
        try:
            bucket = s3_backends[ACCOUNT_ID]["aws"].get_bucket(bucket_name)
        except S3ClientError:
            return ()
        document = bucket.policy
        # The stack's bucket policy is named as the template names it, so the ledger can tell its grants.
        owner = self.stack.bucket_policy_id if bucket_name == self.stack.bucket_name else None
        text = document.decode() if isinstance(document, bytes) else document
        return _parsed_bucket_policy(owner or f"bucket {bucket_name}", text)

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
        for role in stack.roles:
            iam.create_role(RoleName=role.name, AssumeRolePolicyDocument=json.dumps(role.trust_document))
            for name, document in role.inline_documents.items():
                # IAM reads a policy without Version as 2008-10-17 (SAM writes none); moto insists on
                # one. The statements use no policy variables, so the two versions mean the same.
                versioned = {"Version": "2012-10-17", **document}
                iam.put_role_policy(RoleName=role.name, PolicyName=name, PolicyDocument=json.dumps(versioned))

        s3 = self.client("s3")
        s3.create_bucket(Bucket=stack.bucket_name)
        if stack.bucket_versioned:
            s3.put_bucket_versioning(Bucket=stack.bucket_name, VersioningConfiguration={"Status": "Enabled"})
        if stack.bucket_eventbridge:
            s3.put_bucket_notification_configuration(
                Bucket=stack.bucket_name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        if stack.bucket_policy:
            s3.put_bucket_policy(Bucket=stack.bucket_name, Policy=json.dumps(stack.bucket_policy))
        if stack.topic_name:
            self.client("sns").create_topic(Name=stack.topic_name)

        lambda_client = self.client("lambda")
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            # moto needs a package; the containers load the handlers from CodeUri.
            archive.writestr("README", "code is loaded from the CodeUri directory")
        for function in stack.functions:
            lambda_client.create_function(
                FunctionName=function.name,
                Runtime=function.runtime,
                Role=function.role_arn,
                Handler=function.handler,
                Code={"ZipFile": code.getvalue()},
                Timeout=function.timeout,
                MemorySize=function.memory_size,
                Environment={"Variables": function.environment},
            )

        sfn = self.client("stepfunctions")
        created = sfn.create_state_machine(
            name=stack.state_machine_name, definition=stack.definition, roleArn=stack.state_machine_role_arn
        )["stateMachineArn"]
        if created != stack.state_machine_arn:
            raise LocalCloudError(
                f"state machine ARN {created} differs from the template's {stack.state_machine_arn}"
            )

        events = self.client("events")
        for rule in stack.rules:
            events.put_rule(Name=rule.name, EventPattern=json.dumps(rule.pattern), State="ENABLED")
            target: dict[str, Any] = {"Id": "target", "Arn": rule.target_arn}
            if rule.role_arn:
                target["RoleArn"] = rule.role_arn
            if rule.input_path:
                target["InputPath"] = rule.input_path
            events.put_targets(Rule=rule.name, Targets=[target])

        scheduler = self.client("scheduler")
        for schedule in stack.schedules:
            # Created as the template declares them; moto never fires them (fire_schedule does).
            schedule_target: dict[str, Any] = {"Arn": schedule.target_arn, "RoleArn": schedule.role_arn}
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

    def fire_schedule(self, name: str) -> str:
        """Do what EventBridge Scheduler does when a schedule fires (moto never fires one): assume the
        schedule's role and start its target with its input. Returns the execution ARN."""
        schedule = self.client("scheduler").get_schedule(Name=name)
        target = schedule["Target"]
        session = self.authorizer.assume(target["RoleArn"], SCHEDULER, name)
        client = boto3.client(
            "stepfunctions",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=session.access_key,
            aws_secret_access_key=session.secret_key,
            aws_session_token=session.token,
        )
        started = client.start_execution(stateMachineArn=target["Arn"], input=target.get("Input", "{}"))
        return str(started["executionArn"])

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
        logs = (self.workdir / LAMBDA_LOG, self.workdir / MOTO_LOG) if self.workdir else ()
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
        return self._bridge

    @property
    def faults(self) -> Any:
        """The Personalize endpoint's fault rules (objective_sweep.personalize.faults.Faults)."""
        if self._personalize is None:
            raise LocalCloudError("the local cloud runs without its Personalize endpoint")
        return self._personalize.faults

    @property
    def runtime(self) -> LambdaRuntime:
        return self._runtime


@functools.lru_cache(maxsize=32)
def _parsed_bucket_policy(owner: str, document: str | None) -> tuple[Statement, ...]:
    return parse_policy(json.loads(document), owner, "bucket policy") if document else ()


__all__ = ["ACCOUNT_ID", "DEFAULT_TEMPLATE", "REGION", "LocalCloud", "LocalCloudError"]
