"""PrepareRun's domain logic: normalise the three entry points (a RunConfig, a run-file pointer, the
S3 "Object Created" event, the retrain schedule's input) into one validated Run, and validate the
data before anything is created in Personalize."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from botocore.exceptions import ClientError
from pydantic import ValidationError

from sweep_core import names
from sweep_core.chunks import (
    ChunkResult,
    check_before_rows,
    dump,
    merge,
    others_from,
    plan,
    validate_chunk,
)
from sweep_core.errors import DataUnavailableError, ExperimentBusyError, InvalidInputError, Problem
from sweep_core.models import RunConfig
from sweep_core.progress import ProgressReader, ReadProgress
from sweep_core.report.model import DatasetFacts
from sweep_core.run_input import parse_run_config
from sweep_core.runtime import Settings, logger
from sweep_core.s3 import (
    MISSING_OR_DENIED,
    S3Location,
    claim,
    object_size,
    object_version,
    put_text,
    read_json,
    read_range,
    release_lease,
    resolve,
    take_lease,
)
from sweep_core.schemas import build_schema, schema_json
from sweep_core.steps import (
    ChunkedValidation,
    ChunkJob,
    ChunkRequest,
    DataFile,
    FinishValidationRequest,
    PendingRun,
    PrepareRunRequest,
    PrepareRunResult,
    Run,
    RunBase,
    Trigger,
)
from sweep_core.validation import DEFAULT_MAX_PROBLEMS, DataSummary, validate_inputs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

# How long an experiment's lease holds if its execution never releases it and Step Functions cannot
# say whether it still runs: past the longest run the state machine allows (the wait budgets add up
# to 34 h; tests/unit/test_definition.py checks).
LEASE_TTL = timedelta(hours=36)
RUN_FILE_FIX = "write the run file as a RunConfig JSON object (see schema/run-config.schema.json)"
_PATH_FIELDS = ("interactions", "items", "users", "titles")


def run_file_for(bucket: str, experiment: str) -> S3Location:
    """Where an experiment's run file lives; the retrain schedule names only the experiment."""
    return S3Location(bucket, names.run_file_key(experiment))


def execution_running(sfn: SFNClient) -> Callable[[str], bool]:
    """Whether an execution (a lease's holder) is still running, asked of Step Functions."""

    def running(execution_arn: str) -> bool:
        try:
            return sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
        except sfn.exceptions.ExecutionDoesNotExist:
            # Past Step Functions' retention (90 days after it ended), or never an execution.
            return False

    return running


def prepare_run(
    s3: S3Client, request: PrepareRunRequest, settings: Settings, running: Callable[[str], bool]
) -> PrepareRunResult:
    """`running` tells whether the execution holding the experiment's lease still runs (see
    `execution_running`); one that has ended without giving it back no longer holds the experiment."""
    raw, trigger, run_file, source = _normalise(s3, request.event, settings)
    config = _validated_config(raw, settings, run_file.uri if run_file else "the execution input")
    config = _resolve_paths(config, settings.bucket_name, run_file)

    if trigger == "s3Event" and run_file is not None:
        owner = claim(
            s3,
            S3Location(settings.bucket_name, names.run_claim_key(config.experiment, run_file.key, source)),
            request.execution_arn,
        )
        if owner != request.execution_arn:
            return PrepareRunResult(duplicate=True, duplicate_of=owner)

    lease = S3Location(settings.bucket_name, names.lease_key(config.experiment))
    holder = take_lease(s3, lease, request.execution_arn, datetime.now(UTC), LEASE_TTL, running=running)
    if holder.owner != request.execution_arn:
        raise ExperimentBusyError(
            f"experiment {config.experiment} is already running: {holder.owner}. This execution created "
            "nothing; start it again once that one has ended (or stop it: an execution that has ended no "
            "longer holds the experiment)."
        )
    try:
        progress = S3Location(settings.bucket_name, names.progress_key(config.experiment))
        return _validated_run(
            s3, request, config, trigger, run_file, progress, settings.validation_chunk_bytes
        )
    except BaseException:
        # Nothing was created: the next run of the experiment must not wait for this one's lease.
        release_lease(s3, lease, request.execution_arn)
        raise


def _validated_run(
    s3: S3Client,
    request: PrepareRunRequest,
    config: RunConfig,
    trigger: Trigger,
    run_file: S3Location | None,
    progress: S3Location,
    chunk_bytes: int | None,
) -> PrepareRunResult:
    files = {
        kind: _data_file(s3, getattr(config, kind), kind) for kind in _PATH_FIELDS if getattr(config, kind)
    }
    base = RunBase(
        config=config,
        execution_arn=request.execution_arn,
        execution_name=request.execution_name,
        started_at=request.started_at,
        trigger=trigger,
        run_file=run_file.uri if run_file else None,
        files=files,
    )

    def open_file(uri: str) -> BinaryIO:
        return _open(s3, uri, progress, request.execution_name)

    interactions = S3Location.parse(config.interactions)
    size, etag = object_size(s3, interactions)
    if chunk_bytes and size > chunk_bytes:
        return PrepareRunResult(chunked=_split(s3, base, open_file, size, etag, chunk_bytes))
    return PrepareRunResult(run=build_run(base, validate_inputs(config, open_file)))


def build_run(base: RunBase, summary: DataSummary) -> Run:
    config = base.config
    schemas = {
        "interactions": schema_json(build_schema("interactions", summary.interaction_columns)),
        "items": schema_json(build_schema("items", summary.items_columns, objective=config.objective)),
    }
    if config.users and summary.users_columns:
        schemas["users"] = schema_json(build_schema("users", summary.users_columns))
    imported = [base.files[kind].version for kind in ("interactions", "items", "users") if kind in base.files]
    return Run(
        **dict(base),
        fingerprint=names.digest(*imported),
        dataset=DatasetFacts(interactions=summary.interactions, users=summary.users, items=summary.items),
        schemas=schemas,
        report_users=report_users(config, summary.first_users),
    )


def _split(
    s3: S3Client, base: RunBase, open_file: Callable[[str], BinaryIO], size: int, etag: str, chunk_bytes: int
) -> ChunkedValidation:
    """Check everything but the interactions rows here (so a bad items file stops the run before the
    parallel pass), and write the manifest of the interactions file's chunks for the Distributed Map."""
    config = base.config
    location = S3Location.parse(config.interactions)
    others, data_start, header = check_before_rows(
        config,
        open_file,
        lambda first, last: read_range(s3, location, etag, first, last),
        size,
        DEFAULT_MAX_PROBLEMS,
    )
    bucket = location.bucket
    prefix = names.validation_prefix(config.experiment, base.execution_name)
    known_items = others.known_items
    items_uri = None
    if known_items is not None:
        items_location = S3Location(bucket, prefix + "items.json")
        put_text(s3, items_location, json.dumps(sorted(known_items)), "application/json")
        items_uri = items_location.uri
    chunks = plan(data_start, size, chunk_bytes)
    manifest = S3Location(bucket, prefix + "manifest.json")
    put_text(
        s3,
        manifest,
        json.dumps([c.model_dump(mode="json", by_alias=True) for c in chunks]),
        "application/json",
    )
    logger.info("interactions split for parallel validation", extra={"bytes": size, "chunks": len(chunks)})
    return ChunkedValidation(
        manifest_bucket=bucket,
        manifest_key=manifest.key,
        chunks=len(chunks),
        job=ChunkJob(
            experiment=config.experiment,
            execution_name=base.execution_name,
            file=config.interactions,
            etag=etag,
            size=size,
            data_start=data_start,
            header=header,
            known_items=items_uri,
            chunk_bytes=chunk_bytes,
            max_problems=DEFAULT_MAX_PROBLEMS,
        ),
        pending=PendingRun(
            **dict(base),
            items=others.items.rows,
            items_columns=others.items.columns,
            users_columns=others.users.columns if others.users else None,
            objective_min=others.items.objective_min,
            objective_max=others.items.objective_max,
        ),
    )


def validate_chunk_object(s3: S3Client, request: ChunkRequest) -> ChunkResult:
    """ValidateChunk: check one chunk of the interactions file and store its result beside the manifest."""
    job, chunk = request.job, request.chunk
    location = S3Location.parse(job.file)
    known_items = None
    if job.known_items:
        known_items = set(read_json(s3, S3Location.parse(job.known_items)))
    result = validate_chunk(
        job, chunk, lambda first, last: read_range(s3, location, job.etag, first, last), known_items
    )
    key = names.chunk_result_key(job.experiment, job.execution_name, chunk.index)
    s3.put_object(Bucket=location.bucket, Key=key, Body=dump(result), ContentType="application/json")
    return result


def finish_validation(s3: S3Client, request: FinishValidationRequest) -> PrepareRunResult:
    """FinishValidation: merge the chunks' results into the run, or fail with the whole file's problems
    at their true lines (the lease is given back by NotifyFailure)."""
    chunked = request.chunked
    job, pending = chunked.job, chunked.pending
    bucket = chunked.manifest_bucket

    def results() -> Iterator[ChunkResult]:
        # One at a time: each holds its chunk's per-user counts.
        for index in range(chunked.chunks):
            key = names.chunk_result_key(job.experiment, job.execution_name, index)
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in MISSING_OR_DENIED:
                    raise
                raise DataUnavailableError(
                    f"chunk {index} of {job.file} was not validated: ValidateChunk did not finish it — see "
                    f"its logs (its result s3://{bucket}/{key} is missing)"
                ) from error
            yield ChunkResult.model_validate_json(body)

    summary = merge(pending.config, job, others_from(pending), results())
    base = RunBase(**{name: getattr(pending, name) for name in RunBase.model_fields})
    return PrepareRunResult(run=build_run(base, summary))


def report_users(config: RunConfig, first_users: list[str]) -> list[str]:
    """The sample users, then the first ``reportUsers`` others: the same users on every run over the
    same data."""
    others = [user for user in first_users if user not in config.sample_users]
    return [*config.sample_users, *others[: config.report_users]]


def _normalise(
    s3: S3Client, event: dict[str, Any], settings: Settings
) -> tuple[dict[str, Any], Trigger, S3Location | None, str]:
    """(raw RunConfig fields, trigger, run file, object version of the run file)."""
    if event.get("source") == "aws.s3":
        detail = _s3_event(event).detail
        location = S3Location(detail.bucket.name, detail.object.key)
        # The claim is keyed by the object version; an unversioned bucket has only the ETag.
        version = detail.object.version_id if detail.object.version_id not in (None, "null") else ""
        raw = _load_run_file(s3, location)
        return raw, "s3Event", location, version or detail.object.etag or object_version(s3, location)
    if "runFile" in event:
        _only(event, {"runFile", "mode"}, "a run-file pointer")
        location = _location(str(event["runFile"]), settings.bucket_name, "runFile")
        raw = _load_run_file(s3, location)
        if "mode" in event:
            raw["mode"] = event["mode"]
        return raw, "schedule" if event.get("mode") == "retrain" else "runFile", location, ""
    if event.get("mode") == "retrain" and set(event) == {"mode", "experiment"}:
        location = run_file_for(settings.bucket_name, str(event["experiment"]))
        raw = {**_load_run_file(s3, location), "mode": "retrain"}
        return raw, "schedule", location, ""
    return dict(event), "console", None, ""


def _s3_event(event: dict[str, Any]) -> S3EventNotificationEventBridgeModel:
    try:
        return S3EventNotificationEventBridgeModel.model_validate(event)
    except ValidationError as error:
        fields = ", ".join(".".join(str(part) for part in problem["loc"]) for problem in error.errors())
        raise InvalidInputError(
            [
                Problem(
                    file="the execution input",
                    message=f"an S3 event without {fields}",
                    fix='start runs by uploading the run file, or pass a RunConfig or {"runFile": ...}',
                )
            ]
        ) from None


def _only(event: dict[str, Any], allowed: set[str], what: str) -> None:
    extra = sorted(set(event) - allowed)
    if extra:
        raise InvalidInputError(
            [
                Problem(
                    file="the execution input",
                    message=f"{what} takes only {sorted(allowed)}, not {extra}",
                    fix="put the other settings into the run file, or pass a full RunConfig instead",
                )
            ]
        )


def _location(uri: str, bucket: str, field: str) -> S3Location:
    try:
        return resolve(uri, bucket=bucket)
    except ValueError as error:
        raise InvalidInputError(
            [
                Problem(
                    file="the execution input", column=field, message=str(error), fix="give s3://BUCKET/KEY"
                )
            ]
        ) from error


def _load_run_file(s3: S3Client, location: S3Location) -> dict[str, Any]:
    try:
        text = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read().decode("utf-8")
    except s3.exceptions.NoSuchKey as error:
        raise InvalidInputError(
            [
                Problem(
                    file=location.uri,
                    message="the run file does not exist",
                    fix="upload it, data files first",
                )
            ]
        ) from error
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            [
                Problem(
                    file=location.uri, line=error.lineno, message=f"not JSON: {error.msg}", fix=RUN_FILE_FIX
                )
            ]
        ) from error
    if not isinstance(raw, dict):
        raise InvalidInputError([Problem(file=location.uri, message="not a JSON object", fix=RUN_FILE_FIX)])
    parts = location.key.split("/")
    # experiments/<name>/sweep.json names its experiment unless the file says otherwise.
    if "experiment" not in raw and len(parts) == 3 and parts[0] == "experiments":
        raw["experiment"] = parts[1]
    return raw


def _validated_config(raw: dict[str, Any], settings: Settings, where: str) -> RunConfig:
    # The stack's defaults (template parameters) fill in what the input leaves out.
    merged = {"objective": settings.default_objective, "sensitivities": settings.default_sensitivities, **raw}
    return parse_run_config(merged, where)


def _resolve_paths(config: RunConfig, bucket: str, run_file: S3Location | None) -> RunConfig:
    """Every path as an s3:// URI, inside the project bucket (the functions may read nothing else) and,
    for a run file, inside the run file's own folder (experiments/<name>/): one experiment's run file
    cannot make a run read another's data."""
    resolved: dict[str, str] = {}
    problems: list[Problem] = []
    where = run_file.uri if run_file else "the execution input"
    folder = posixpath.dirname(run_file.key) + "/" if run_file else ""
    for field in _PATH_FIELDS:
        value = getattr(config, field)
        if value is None:
            continue
        try:
            location = resolve(value, bucket=bucket, base=run_file)
        except ValueError as error:
            problems.append(
                Problem(
                    where, str(error), "give s3://BUCKET/KEY or a key relative to the run file", column=field
                )
            )
            continue
        if location.bucket != bucket:
            problems.append(
                Problem(
                    where,
                    f"{value} is in bucket {location.bucket}, not in the project bucket {bucket}",
                    f"upload the file to s3://{bucket}/{folder} and name it there",
                    column=field,
                )
            )
        elif not location.key.startswith(folder):
            problems.append(
                Problem(
                    where,
                    f"{value} is outside the run file's folder {folder}",
                    f"put the file in s3://{bucket}/{folder} beside the run file",
                    column=field,
                )
            )
        else:
            resolved[field] = location.uri
    if problems:
        raise InvalidInputError(problems)
    return config.model_copy(update=resolved)


def _data_file(s3: S3Client, uri: str, kind: str) -> DataFile:
    location = S3Location.parse(uri)
    try:
        return DataFile(uri=uri, version=object_version(s3, location))
    except s3.exceptions.ClientError as error:
        raise InvalidInputError(
            [
                Problem(
                    file=uri,
                    message=f"the {kind} file cannot be read ({error.response.get('Error', {}).get('Code')})",
                    fix="upload it to that key (data files first, then the run file), or correct the path",
                )
            ]
        ) from error


def _open(s3: S3Client, uri: str, progress: S3Location, execution_name: str) -> BinaryIO:
    """The file's body, reporting into `progress` how much of it has been read (best effort: a failed
    report is logged and validation goes on)."""
    location = S3Location.parse(uri)
    response = s3.get_object(Bucket=location.bucket, Key=location.key)

    def report(done: int, total: int | None) -> None:
        state = ReadProgress(execution_name=execution_name, file=uri, bytes_read=done, bytes_total=total)
        try:
            put_text(s3, progress, state.model_dump_json(by_alias=True), "application/json")
        except s3.exceptions.ClientError as error:
            logger.warning("progress not reported", extra={"error": str(error)})

    body = cast(BinaryIO, response["Body"])
    return cast(BinaryIO, ProgressReader(body, response.get("ContentLength"), report))
