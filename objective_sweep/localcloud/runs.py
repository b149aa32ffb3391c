"""Operating a deployed sweep through public AWS APIs only — the same code for the local cloud and for a
stack in AWS: find the stack's bucket and state machine, upload a run, find the execution the upload
started, follow it, and collect its report and history into a results folder."""

from __future__ import annotations

import hashlib
import json
import os
import re
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from sweep_core import names
from sweep_core.errors import readable_cause
from sweep_core.models import RunConfig, Sensitivity
from sweep_core.progress import REPORT_EVERY_SECONDS, ProgressReader, ReadProgress, describe_bytes
from sweep_core.run_input import parse_run_config

if TYPE_CHECKING:
    from sweep_core.validation import DataSummary

# User metadata holding a data file's SHA-256, to recognise an unchanged file.
_CHECKSUM_METADATA = "sha256"
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


class RunError(Exception):
    """The run could not be started, followed or collected; the message says what and why."""


@dataclass(frozen=True)
class Deployment:
    """Where a sweep runs: the stack's bucket and state machine, and how to reach them."""

    bucket: str
    state_machine_arn: str
    endpoint_url: str | None = None
    personalize_url: str | None = None
    region: str | None = None
    # A local cloud's own log files (handlers, interpreter); empty for AWS, where CloudWatch has them.
    log_files: tuple[Path, ...] = ()

    def is_local(self) -> bool:
        """Whether the clients reach a local cloud (given as an endpoint, or exported in the environment)."""
        endpoint = str(self.client("stepfunctions").meta.endpoint_url)
        return endpoint.startswith(("http://127.0.0.1", "http://localhost"))

    def client(self, service: str) -> Any:
        endpoint = self.endpoint_url
        if service in ("personalize", "personalize-runtime") and self.personalize_url:
            endpoint = self.personalize_url
        return _client(service, endpoint, self.region)


def _client(service: str, endpoint_url: str | None, region: str | None) -> Any:
    """A boto3 client; without an endpoint or region, boto3's own configuration (AWS_ENDPOINT_URL...) applies."""
    kwargs: dict[str, Any] = {"config": _CLIENT_CONFIG}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    if region:
        kwargs["region_name"] = region
    return boto3.client(service, **kwargs)  # type: ignore[call-overload]


def find_deployment(
    stack_name: str,
    *,
    endpoint_url: str | None = None,
    personalize_url: str | None = None,
    region: str | None = None,
) -> Deployment:
    """Read the bucket and state machine from the stack's CloudFormation outputs."""
    cloudformation = _client("cloudformation", endpoint_url, region)
    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as error:
        raise RunError(f"stack {stack_name}: {error.response['Error']['Message']}") from error
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    machines = sorted(v for v in outputs.values() if v.startswith("arn:") and ":stateMachine:" in v)
    buckets = sorted(v for k, v in outputs.items() if "bucket" in k.lower() and not v.startswith("arn:"))
    if len(machines) != 1 or len(buckets) != 1:
        raise RunError(
            f"stack {stack_name}: expected one state machine ARN and one bucket name among its outputs, "
            f"found {outputs}"
        )
    return Deployment(buckets[0], machines[0], endpoint_url, personalize_url, region)


@dataclass(frozen=True)
class RunFiles:
    """The local files of one run; the run file names them relative to itself."""

    interactions: Path
    items: Path
    titles: Path | None = None
    users: Path | None = None

    def by_name(self) -> dict[str, Path]:
        """Upload name (relative to the run file) -> local path."""
        named = {"interactions.csv": self.interactions, "items.csv": self.items}
        if self.users:
            named["users.csv"] = self.users
        if self.titles:
            named["titles.csv"] = self.titles
        return named


def build_config(
    files: RunFiles,
    *,
    source: str = "the run options",
    options: Mapping[str, str] | None = None,
    **fields: Any,
) -> RunConfig:
    """A RunConfig naming the files as the run file will find them (beside it in the bucket).

    `source` (the local run file, if any) and `options` (field -> command-line option that gave it) are
    what a refusal names; see sweep_core.run_input.parse_run_config."""
    named = {path: name for name, path in files.by_name().items()}
    paths: dict[str, Any] = {"interactions": named[files.interactions], "items": named[files.items]}
    if files.users:
        paths["users"] = named[files.users]
    if files.titles:
        paths["titles"] = named[files.titles]
    raw = {**{k: v for k, v in fields.items() if v is not None}, **paths}
    return parse_run_config(raw, source, options=options)


def validate_locally(
    config: RunConfig,
    files: RunFiles,
    say: Callable[[str], None] | None = None,
    *,
    chunked_above: int | None = None,
) -> DataSummary:
    """Run the workflow's own validation on the local files before anything is uploaded; raises
    sweep_core.errors.InvalidInputError naming the user's own paths (not the names they are uploaded
    under), the line and the fix, and RunError if a file could not be read to the end. `say` hears how
    far it got.

    An interactions file larger than `chunked_above` (default: the template's ValidationChunkBytes)
    is validated as the workflow validates it, in chunks, here in parallel on the machine's cores."""
    from sweep_core.chunks import CHUNKED_ABOVE_BYTES
    from sweep_core.validation import validate_inputs

    from objective_sweep.localcloud.local_chunks import LocalValidationError, validate_in_chunks

    local = config.model_copy(update={field: str(path) for field, path in _local_paths(files).items()})

    def open_local(path: str) -> BinaryIO:
        """validate_inputs reads and closes what this opens."""
        stream = Path(path).open("rb")  # noqa: SIM115 - validate_inputs closes it
        if say is None:
            return stream

        def report(done: int, total: int | None) -> None:
            say(f"validating {Path(path).name}: {describe_bytes(done, total)}")

        return cast(BinaryIO, ProgressReader(stream, Path(path).stat().st_size, report))

    threshold = CHUNKED_ABOVE_BYTES if chunked_above is None else chunked_above
    try:
        size = files.interactions.stat().st_size
    except OSError:
        size = 0  # validate_inputs says what is wrong with the file
    if size <= threshold:
        return validate_inputs(local, open_local)
    try:
        return validate_in_chunks(
            local, open_local, chunked_above=threshold, workers=os.cpu_count() or 1, say=say
        )
    except LocalValidationError as error:
        raise RunError(str(error)) from None


def _local_paths(files: RunFiles) -> dict[str, Path]:
    """RunConfig field -> the local file the user named for it."""
    paths = {"interactions": files.interactions, "items": files.items, "users": files.users}
    return {field: path for field, path in paths.items() if path is not None}


@dataclass(frozen=True)
class UploadedRun:
    """The run file as stored: its key and the version token the execution is named from."""

    experiment: str
    key: str
    version_id: str | None
    etag: str
    uploaded_at: datetime


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _UploadProgress:
    """boto3's upload callback (called from its transfer threads with each part's bytes), told to
    `say` at most every REPORT_EVERY_SECONDS and at the end."""

    def __init__(self, name: str, total: int, say: Callable[[str], None]) -> None:
        self._name, self._total, self._say = name, total, say
        self._done = 0
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, transferred: int) -> None:
        with self._lock:
            self._done += transferred
            now = time.monotonic()
            if self._done < self._total and now - self._last < REPORT_EVERY_SECONDS:
                return
            self._last = now
            self._say(f"uploading {self._name}: {describe_bytes(self._done, self._total)}")


def upload_run(
    deployment: Deployment, config: RunConfig, files: RunFiles, say: Callable[[str], None] | None = None
) -> UploadedRun:
    """Upload the data files, then the run file last, whose arrival starts the execution; `say`
    hears how far each upload got.

    A data file whose content is already the current object is not uploaded again: a new object
    version would give the run a new data fingerprint and retrain every level for nothing."""
    s3 = deployment.client("s3")
    prefix = names.experiment_prefix(config.experiment)
    for name, path in files.by_name().items():
        checksum = _sha256(path)
        try:
            current = s3.head_object(Bucket=deployment.bucket, Key=prefix + name).get("Metadata", {})
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
                raise
            current = {}
        if current.get(_CHECKSUM_METADATA) != checksum:
            s3.upload_file(
                str(path),
                deployment.bucket,
                prefix + name,
                ExtraArgs={"Metadata": {_CHECKSUM_METADATA: checksum}},
                Callback=_UploadProgress(name, path.stat().st_size, say) if say else None,
            )
    key = names.run_file_key(config.experiment)
    started = datetime.now(UTC)
    body = config.model_dump_json(by_alias=True, exclude_defaults=True, indent=2).encode("utf-8")
    put = s3.put_object(Bucket=deployment.bucket, Key=key, Body=body, ContentType="application/json")
    return UploadedRun(config.experiment, key, put.get("VersionId"), str(put["ETag"]).strip('"'), started)


def _executions(deployment: Deployment, since: datetime) -> Iterator[dict[str, Any]]:
    sfn = deployment.client("stepfunctions")
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=deployment.state_machine_arn):
        for execution in page["executions"]:
            if execution["startDate"] >= since:
                yield execution


def find_started_execution(deployment: Deployment, uploaded: UploadedRun, *, timeout: float = 60.0) -> str:
    """The execution whose input is the upload event of this run file version (EventBridge starts it
    asynchronously, so it is looked for until `timeout`)."""
    sfn = deployment.client("stepfunctions")
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    # Clocks of the client and the service may differ by a little.
    since = uploaded.uploaded_at - timedelta(minutes=5)
    while time.monotonic() < deadline:
        for execution in _executions(deployment, since):
            arn = execution["executionArn"]
            if arn in seen:
                continue
            seen.add(arn)
            event = json.loads(sfn.describe_execution(executionArn=arn).get("input") or "{}")
            obj = (event.get("detail") or {}).get("object") or {} if isinstance(event, dict) else {}
            if obj.get("key") == uploaded.key and _same_object(obj, uploaded):
                return str(arn)
        time.sleep(0.2)
    raise RunError(
        f"uploading s3://{deployment.bucket}/{uploaded.key} started no execution within {timeout:.0f} s: "
        "is the stack's EventBridge rule enabled and the bucket's EventBridge notification on?"
    )


def _same_object(event_object: dict[str, Any], uploaded: UploadedRun) -> bool:
    """Whether an S3 event's object is this upload. In a versioned bucket (the stack's) only the version
    id tells two uploads of the same bytes apart: their ETags are equal. Only an unversioned bucket, whose
    events carry no version id, leaves the ETag."""
    if uploaded.version_id not in (None, "null"):
        return bool(event_object.get("version-id") == uploaded.version_id)
    return bool(event_object.get("etag") == uploaded.etag)


def json_object(text: str | None) -> dict[str, Any]:
    """An execution's input or output as a dict; anything else (absent, not JSON, a list) is empty."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def run_fields(deployment: Deployment, run_input: dict[str, Any]) -> dict[str, Any]:
    """The RunConfig fields an execution was started with, read the way PrepareRun reads them: from its
    input, or the run file (the very version an S3 event names) it points to. Empty when the input
    names no readable run file; the experiment is then left to the caller."""
    key, version = None, None
    if run_input.get("source") == "aws.s3":
        obj = (run_input.get("detail") or {}).get("object") or {}
        key, version = obj.get("key"), obj.get("version-id")
    elif isinstance(run_input.get("runFile"), str):
        key = run_input["runFile"].removeprefix(f"s3://{deployment.bucket}/")
    elif run_input.get("mode") == "retrain" and isinstance(run_input.get("experiment"), str):
        key = names.run_file_key(run_input["experiment"])
    else:
        return dict(run_input)
    fields: dict[str, Any] = {}
    if isinstance(key, str):
        params = {"Bucket": deployment.bucket, "Key": key}
        if version and version != "null":
            params["VersionId"] = version
        try:
            loaded = json.loads(deployment.client("s3").get_object(**params)["Body"].read())
        except (ClientError, ValueError):
            loaded = None
        fields = loaded if isinstance(loaded, dict) else {}
        parts = key.split("/")
        # experiments/<name>/sweep.json names its experiment unless the file says otherwise.
        if len(parts) == 3 and parts[0] == "experiments":
            fields.setdefault("experiment", parts[1])
    if isinstance(run_input.get("experiment"), str):
        fields["experiment"] = run_input["experiment"]
    return fields


def latest_execution(deployment: Deployment, experiment: str, *, scan: int = 200) -> str:
    """The most recently started execution of `experiment` among the state machine's latest `scan`;
    a repeated S3 event's execution, which only points at the one that runs, is skipped."""
    sfn = deployment.client("stepfunctions")
    seen = 0
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=deployment.state_machine_arn):
        # ListExecutions lists the newest first.
        for execution in page["executions"]:
            seen += 1
            if seen > scan:
                break
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if json_object(described.get("output")).get("duplicate") is True:
                continue
            fields = run_fields(deployment, json_object(described.get("input")))
            if fields.get("experiment") == experiment:
                return str(execution["executionArn"])
        if seen > scan:
            break
    raise RunError(
        f"no execution of experiment {experiment} among the {min(seen, scan)} latest of "
        f"{deployment.state_machine_arn}: check the name, or give the execution ARN"
    )


def retrain_input(deployment: Deployment, experiment: str) -> dict[str, Any]:
    """The input the deployed retraining schedule sends the state machine, for `experiment`."""
    scheduler = deployment.client("scheduler")
    inputs = []
    for page in scheduler.get_paginator("list_schedules").paginate():
        for summary in page["Schedules"]:
            if summary.get("Target", {}).get("Arn") != deployment.state_machine_arn:
                continue
            schedule = scheduler.get_schedule(
                Name=summary["Name"], GroupName=summary.get("GroupName", "default")
            )
            if "Input" in schedule["Target"]:
                inputs.append(json.loads(schedule["Target"]["Input"]))
    if len(inputs) != 1:
        raise RunError(
            f"expected one schedule with an input targeting {deployment.state_machine_arn}, found {len(inputs)}"
        )
    run_input: dict[str, Any] = inputs[0]
    return {**run_input, "experiment": experiment}


def start_console_run(deployment: Deployment, run_input: dict[str, Any], name: str | None = None) -> str:
    """StartExecution with a RunConfig (or a pointer to a run file), as the console would; without a
    name, Step Functions names the execution with a UUID."""
    params: dict[str, Any] = {"stateMachineArn": deployment.state_machine_arn, "input": json.dumps(run_input)}
    if name is not None:
        params["name"] = name
    started = deployment.client("stepfunctions").start_execution(**params)
    return str(started["executionArn"])


# -- following an execution ------------------------------------------------------------------------


def _level_stage(personalize: Any, experiment: str, level: Sensitivity) -> str | None:
    """Where one level is, read from Personalize by the workflow's deterministic names; None until the
    level has a solution (before that the workflow line says where the run is)."""
    solutions = personalize.list_solutions(maxResults=100)["solutions"]
    solution_name = names.solution(experiment, level)
    solution = next((s for s in solutions if s["name"] == solution_name), None)
    if solution is None:
        return None
    versions = personalize.list_solution_versions(solutionArn=solution["solutionArn"], maxResults=100)
    summaries = sorted(versions.get("solutionVersions", []), key=lambda v: v["creationDateTime"])
    if not summaries:
        return "creating solution"
    latest = summaries[-1]
    status = latest["status"]
    if status != "ACTIVE":
        if "FAILED" in status:
            reason = latest.get("failureReason") or personalize.describe_solution_version(
                solutionVersionArn=latest["solutionVersionArn"]
            )["solutionVersion"].get("failureReason", "")
            return f"training failed: {reason}"
        return f"training ({status})"
    campaigns = personalize.list_campaigns(solutionArn=solution["solutionArn"], maxResults=100)["campaigns"]
    campaign = next((c for c in campaigns if c["name"] == names.campaign(experiment, level)), None)
    if campaign is None:
        return "trained, deploying"
    described = personalize.describe_campaign(campaignArn=campaign["campaignArn"])["campaign"]
    update = described.get("latestCampaignUpdate") or {}
    if update.get("status") and update["status"] != "ACTIVE":
        return f"updating campaign ({update['status']})"
    if described["status"] != "ACTIVE":
        return f"deploying ({described['status']})"
    return "campaign ACTIVE"


@dataclass
class Follower:
    """Polls an execution until it ends, printing a line whenever the workflow or a level moves on."""

    deployment: Deployment
    execution_arn: str
    experiment: str
    levels: list[Sensitivity]
    out: IO[str]
    poll_seconds: float = 0.5
    clock: Callable[[], float] = time.monotonic
    # Lines are wrapped to this width, never cut: a failure reason is shown whole.
    width: int = 80
    _started: float = field(default=0.0, init=False)
    _last: dict[str, str] = field(default_factory=dict, init=False)

    def _say(self, subject: str, text: str) -> None:
        if self._last.get(subject) == text:
            return
        self._last[subject] = text
        line = f"[{self.clock() - self._started:6.1f}s] {subject:<9} {text}"
        indent = " " * 19  # under the text, past "[  12.3s] workflow  "
        self.out.write(
            textwrap.fill(
                line, self.width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
            )
            + "\n"
        )
        self.out.flush()

    def _validation_progress(self) -> ReadProgress | None:
        """How far this execution's PrepareRun has read the file it validates, if it said so yet."""
        s3 = self.deployment.client("s3")
        try:
            body = s3.get_object(Bucket=self.deployment.bucket, Key=names.progress_key(self.experiment))[
                "Body"
            ]
        except ClientError:
            return None
        progress = ReadProgress.model_validate_json(body.read())
        return progress if progress.execution_name == self.execution_arn.rsplit(":", 1)[-1] else None

    def follow(self) -> dict[str, Any]:
        sfn = self.deployment.client("stepfunctions")
        personalize = self.deployment.client("personalize")
        self._started = self.clock()
        while True:
            described = sfn.describe_execution(executionArn=self.execution_arn)
            if described["status"] != "RUNNING":
                self._say("workflow", described["status"])
                return dict(described)
            recent = sfn.get_execution_history(
                executionArn=self.execution_arn, reverseOrder=True, maxResults=25
            )
            entered = [
                e["stateEnteredEventDetails"]["name"]
                for e in recent["events"]
                if "stateEnteredEventDetails" in e
            ]
            if entered:
                progress = self._validation_progress() if entered[0] == "PrepareRun" else None
                self._say("workflow", f"PrepareRun {progress.describe()}" if progress else entered[0])
            for level in self.levels:
                try:
                    stage = _level_stage(personalize, self.experiment, level)
                except ClientError as error:
                    stage = f"(status unavailable: {error.response['Error']['Code']})"
                if stage:
                    self._say(level, stage)
            time.sleep(self.poll_seconds)


# -- collecting the results ------------------------------------------------------------------------


def execution_history(deployment: Deployment, execution_arn: str) -> list[dict[str, Any]]:
    sfn = deployment.client("stepfunctions")
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return events


def failure_cause(described: dict[str, Any], history: list[dict[str, Any]]) -> str:
    """The execution's own error and cause, else the last failure event's."""
    error, cause = described.get("error"), described.get("cause")
    if not error:
        for event in reversed(history):
            details = next((v for k, v in event.items() if k.endswith("FailedEventDetails")), None)
            if details:
                error, cause = details.get("error"), details.get("cause")
                break
    cause = readable_cause(cause) if cause else cause
    return f"{error or described['status']}: {cause or 'no cause recorded'}"


def report_prefix_of(experiment: str, execution_arn: str) -> str:
    return names.report_prefix(experiment, execution_arn.rsplit(":", 1)[1])


def fetch_report_files(deployment: Deployment, experiment: str, execution_arn: str) -> dict[str, bytes]:
    """report.json/.md/.html written by CompareSolutions under reports/<experiment>/<execution>/."""
    s3 = deployment.client("s3")
    prefix = report_prefix_of(experiment, execution_arn)
    found: dict[str, bytes] = {}
    for name in ("report.json", "report.md", "report.html"):
        try:
            found[name] = s3.get_object(Bucket=deployment.bucket, Key=prefix + name)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                raise
    if "report.json" not in found:
        raise RunError(f"the run succeeded but s3://{deployment.bucket}/{prefix}report.json does not exist")
    return found


def write_results(folder: Path, files: dict[str, bytes], history: list[dict[str, Any]]) -> None:
    """Write the report files and history.json, rendering report.md/.html from report.json if the
    workflow did not store them."""
    from sweep_core.report import Report, render_html, render_markdown

    folder.mkdir(parents=True, exist_ok=True)
    report = Report.model_validate_json(files["report.json"]) if "report.json" in files else None
    if report is not None:
        files.setdefault("report.md", render_markdown(report).encode("utf-8"))
        files.setdefault("report.html", render_html(report).encode("utf-8"))
    for name, body in files.items():
        (folder / name).write_bytes(body)
    (folder / "history.json").write_text(json.dumps(history, indent=2, default=str), encoding="utf-8")
