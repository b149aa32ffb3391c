"""PrepareRun's domain logic: normalise the three entry points (a RunConfig, a run-file pointer, the
S3 "Object Created" event, the retrain schedule's input) into one validated Run, and validate the
data before anything is created in Personalize."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, BinaryIO

from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from pydantic import ValidationError

from sweep_core import names
from sweep_core.errors import InvalidInputError, Problem
from sweep_core.models import RunConfig
from sweep_core.report.model import DatasetFacts
from sweep_core.runtime import Settings
from sweep_core.s3 import S3Location, claim, object_version, open_stream, resolve
from sweep_core.schemas import build_schema, schema_json
from sweep_core.steps import DataFile, PrepareRunRequest, PrepareRunResult, Run, Trigger
from sweep_core.validation import validate_inputs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RUN_FILE_NAME = "sweep.json"
RUN_FILE_FIX = "write the run file as a RunConfig JSON object (see schema/run-config.schema.json)"
_PATH_FIELDS = ("interactions", "items", "users", "titles")


def run_file_for(bucket: str, experiment: str) -> S3Location:
    """Where an experiment's run file lives; the retrain schedule names only the experiment."""
    return S3Location(bucket, f"experiments/{experiment}/{RUN_FILE_NAME}")


def prepare_run(s3: S3Client, request: PrepareRunRequest, settings: Settings) -> PrepareRunResult:
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

    files = {
        kind: _data_file(s3, getattr(config, kind), kind) for kind in _PATH_FIELDS if getattr(config, kind)
    }
    summary = validate_inputs(config, lambda uri: _open(s3, uri))
    schemas = {
        "interactions": schema_json(build_schema("interactions", summary.interaction_columns)),
        "items": schema_json(build_schema("items", summary.items_columns, objective=config.objective)),
    }
    if config.users and summary.users_columns:
        schemas["users"] = schema_json(build_schema("users", summary.users_columns))
    imported = [files[kind].version for kind in ("interactions", "items", "users") if kind in files]
    run = Run(
        config=config,
        execution_arn=request.execution_arn,
        execution_name=request.execution_name,
        started_at=request.started_at,
        trigger=trigger,
        run_file=run_file.uri if run_file else None,
        files=files,
        fingerprint=names.digest(*imported),
        dataset=DatasetFacts(interactions=summary.interactions, users=summary.users, items=summary.items),
        schemas=schemas,
    )
    return PrepareRunResult(run=run)


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
    try:
        return RunConfig.model_validate(merged)
    except ValidationError as error:
        raise InvalidInputError(
            [
                Problem(
                    file=where,
                    column=".".join(str(part) for part in problem["loc"]) or None,
                    message=problem["msg"],
                    fix="correct the field (schema/run-config.schema.json lists every field and its default)",
                )
                for problem in error.errors()
            ]
        ) from None


def _resolve_paths(config: RunConfig, bucket: str, run_file: S3Location | None) -> RunConfig:
    resolved: dict[str, str] = {}
    problems: list[Problem] = []
    for field in _PATH_FIELDS:
        value = getattr(config, field)
        if value is None:
            continue
        try:
            resolved[field] = resolve(value, bucket=bucket, base=run_file).uri
        except ValueError as error:
            problems.append(
                Problem(
                    file=run_file.uri if run_file else "the execution input",
                    column=field,
                    message=str(error),
                    fix="give s3://BUCKET/KEY or a key relative to the run file",
                )
            )
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


def _open(s3: S3Client, uri: str) -> BinaryIO:
    return open_stream(s3, S3Location.parse(uri))
