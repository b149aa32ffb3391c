"""PrepareRun's normalisation of the four inputs (RunConfig, run-file pointer, S3 event, retrain
schedule) into one Run, against S3 in moto and H2's real validation: paths relative to the run file,
object versions as idempotency keys, duplicate events, and errors that name the file and fix."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from sweep_core.errors import DataUnavailableError, ExperimentBusyError, InvalidInputError
from sweep_core.prepare import execution_running, finish_validation, prepare_run, validate_chunk_object
from sweep_core.progress import ReadProgress
from sweep_core.runtime import Settings
from sweep_core.s3 import S3Location, claim, release_lease
from sweep_core.steps import Chunk, ChunkRequest, FinishValidationRequest, PrepareRunRequest

from objective_sweep.datasets.synthetic import SyntheticSpec, generate
from objective_sweep.localcloud.triggers import object_created_event

from .conftest import BUCKET

SETTINGS = Settings.model_validate({"BUCKET_NAME": BUCKET, "DEFAULT_SENSITIVITIES": "OFF,HIGH"})


def still_running(execution_arn: str) -> bool:
    """Every execution holding a lease here still runs (the tests of a holder that ended say so)."""
    return True


RUN_KEY = "experiments/demo/sweep.json"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    prepared = generate(
        SyntheticSpec(users=60, items=120, interactions=1_500, seed=3), tmp_path_factory.mktemp("d")
    )
    return {
        "interactions.csv": prepared.interactions_csv.read_bytes(),
        "items.csv": prepared.items_csv.read_bytes(),
        "titles.csv": (prepared.path / "titles.csv").read_bytes(),
    }


@pytest.fixture
def s3(dataset: dict[str, bytes], empty_moto: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for name, body in dataset.items():
        client.put_object(Bucket=BUCKET, Key=f"experiments/demo/{name}", Body=body)
    return client


def _request(event: dict[str, Any], execution: str = "run-1") -> PrepareRunRequest:
    return PrepareRunRequest(
        event=event,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:sweep:{execution}",
        execution_name=execution,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _upload_run_file(s3: Any, body: dict[str, Any] | str, key: str = RUN_KEY) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    put = s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode())
    return object_created_event(
        "123456789012", "us-east-1", BUCKET, key, len(text), put["ETag"], put.get("VersionId"), "PutObject"
    )


RUN_FILE = {"interactions": "interactions.csv", "items": "items.csv", "titles": "titles.csv"}


def test_s3_event_becomes_a_run_with_resolved_paths_and_versions(s3: Any) -> None:
    result = prepare_run(s3, _request(_upload_run_file(s3, RUN_FILE)), SETTINGS, still_running)
    assert not result.duplicate
    run = result.run
    assert run is not None
    assert run.trigger == "s3Event"
    assert run.config.experiment == "demo"
    assert run.config.items == f"s3://{BUCKET}/experiments/demo/items.csv"
    assert run.config.sensitivities == ["OFF", "HIGH"], "the stack's default applies"
    head = s3.head_object(Bucket=BUCKET, Key="experiments/demo/interactions.csv")
    assert run.files["interactions"].version == head["VersionId"]
    assert set(run.files) == {"interactions", "items", "titles"}
    assert run.dataset.users == 60
    items_schema = json.loads(run.schemas["items"])
    assert {"name": "ROYALTY", "type": "float"} in items_schema["fields"]


def test_a_repeated_event_is_a_duplicate_for_any_other_execution(s3: Any) -> None:
    event = _upload_run_file(s3, RUN_FILE)
    first = prepare_run(s3, _request(event, "run-1"), SETTINGS, still_running)
    assert first.run is not None
    assert prepare_run(s3, _request(event, "run-1"), SETTINGS, still_running).run == first.run, (
        "a retried task is no duplicate"
    )
    second = prepare_run(s3, _request(event, "run-2"), SETTINGS, still_running)
    assert second.duplicate
    assert second.duplicate_of == first.run.execution_arn
    assert second.run is None


def test_in_an_unversioned_bucket_a_changed_run_file_is_a_new_run_and_the_same_one_a_duplicate(
    s3: Any,
) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    first_event = _upload_run_file(s3, RUN_FILE)
    assert "version-id" not in first_event["detail"]["object"]
    first = prepare_run(s3, _request(first_event, "run-1"), SETTINGS, still_running)
    assert first.run is not None
    _end(s3, "run-1")
    changed = prepare_run(
        s3, _request(_upload_run_file(s3, {**RUN_FILE, "keep": "none"}), "run-2"), SETTINGS, still_running
    )
    assert not changed.duplicate, "new content, new ETag: a run of its own"
    _end(s3, "run-2")
    same_again = prepare_run(
        s3, _request(_upload_run_file(s3, {**RUN_FILE, "keep": "none"}), "run-3"), SETTINGS, still_running
    )
    assert same_again.duplicate_of == "arn:aws:states:us-east-1:123456789012:execution:sweep:run-2"


def _end(s3: Any, execution: str) -> None:
    """What the end of a run does (Notify releases the experiment's lease)."""
    assert release_lease(s3, LEASE, f"arn:aws:states:us-east-1:123456789012:execution:sweep:{execution}")


LEASE = S3Location(BUCKET, "runs/demo/lease.json")


def test_one_execution_per_experiment_at_a_time(s3: Any) -> None:
    first = prepare_run(s3, _request(_upload_run_file(s3, RUN_FILE), "run-1"), SETTINGS, still_running)
    assert first.run is not None
    assert (
        prepare_run(s3, _request(_upload_run_file(s3, RUN_FILE), "run-1"), SETTINGS, still_running).run
        is not None
    ), "a retried PrepareRun keeps its own lease"
    pointer = {"runFile": f"s3://{BUCKET}/{RUN_KEY}"}
    with pytest.raises(ExperimentBusyError, match=r"experiment demo is already running: .*:run-1"):
        prepare_run(s3, _request(pointer, "run-2"), SETTINGS, still_running)
    _end(s3, "run-1")
    second = prepare_run(s3, _request(pointer, "run-2"), SETTINGS, still_running)
    assert second.run is not None


def test_a_lease_never_released_lapses(s3: Any) -> None:
    _upload_run_file(s3, RUN_FILE)
    stale = datetime.now(UTC) - timedelta(minutes=1)
    s3.put_object(
        Bucket=BUCKET, Key=LEASE.key, Body=json.dumps({"owner": "gone", "expiresAt": stale.isoformat()})
    )
    result = prepare_run(
        s3, _request({"runFile": f"s3://{BUCKET}/{RUN_KEY}"}, "run-9"), SETTINGS, still_running
    )
    assert result.run is not None
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=LEASE.key)["Body"].read())["owner"].endswith(":run-9")


def _arn(execution: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:sweep:{execution}"


def _lease_owner(s3: Any) -> str:
    return str(json.loads(s3.get_object(Bucket=BUCKET, Key=LEASE.key)["Body"].read())["owner"])


def test_a_lease_whose_execution_has_ended_is_taken_over(s3: Any) -> None:
    """An execution stopped (or timed out) mid-run never gives its lease back; the next start asks
    Step Functions, and takes the lease over instead of waiting for it to lapse."""
    pointer = {"runFile": f"s3://{BUCKET}/{RUN_KEY}"}
    _upload_run_file(s3, RUN_FILE)
    assert prepare_run(s3, _request(pointer, "stopped"), SETTINGS, still_running).run is not None
    asked: list[str] = []

    def ended(execution_arn: str) -> bool:
        asked.append(execution_arn)
        return False

    assert prepare_run(s3, _request(pointer, "next"), SETTINGS, ended).run is not None
    assert asked == [_arn("stopped")]
    assert _lease_owner(s3) == _arn("next")
    # The new holder is asked about in turn, and refuses the next start while it runs.
    with pytest.raises(ExperimentBusyError, match=r"already running: .*:next"):
        prepare_run(s3, _request(pointer, "third"), SETTINGS, still_running)


class _TakenOverFirst:
    """S3 where another execution takes a stale lease over just before this one's conditional write."""

    def __init__(self, s3: Any, rival: str) -> None:
        self._s3 = s3
        self.rival = rival

    def put_object(self, **params: Any) -> Any:
        if "IfMatch" in params and self.rival:
            rival, self.rival = self.rival, ""
            self._s3.put_object(
                Bucket=BUCKET, Key=LEASE.key, IfMatch=params["IfMatch"],
                Body=json.dumps({"owner": rival, "expiresAt": "2999-01-01T00:00:00+00:00"}),
            )  # fmt: skip
        return self._s3.put_object(**params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def test_of_two_executions_taking_over_the_same_stale_lease_one_wins(s3: Any) -> None:
    pointer = {"runFile": f"s3://{BUCKET}/{RUN_KEY}"}
    _upload_run_file(s3, RUN_FILE)
    assert prepare_run(s3, _request(pointer, "stopped"), SETTINGS, still_running).run is not None
    racing = _TakenOverFirst(s3, _arn("rival"))

    def running(execution_arn: str) -> bool:
        return execution_arn != _arn("stopped")

    with pytest.raises(ExperimentBusyError, match=r"already running: .*:rival"):
        prepare_run(cast(Any, racing), _request(pointer, "loser"), SETTINGS, running)
    assert _lease_owner(s3) == _arn("rival")


def test_execution_running_asks_step_functions() -> None:
    """Only RUNNING holds the experiment; an execution Step Functions no longer knows has ended."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    running = execution_running(sfn)
    with Stubber(sfn) as stubber:
        for status in ("RUNNING", "ABORTED", "TIMED_OUT", "FAILED", "SUCCEEDED"):
            stubber.add_response(
                "describe_execution",
                {
                    "executionArn": _arn(status),
                    "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:sweep",
                    "status": status,
                    "startDate": datetime(2026, 1, 1, tzinfo=UTC),
                },
                {"executionArn": _arn(status)},
            )
        stubber.add_client_error(
            "describe_execution", "ExecutionDoesNotExist", "Execution Does Not Exist", 400,
            expected_params={"executionArn": _arn("gone")},
        )  # fmt: skip
        assert [running(_arn(s)) for s in ("RUNNING", "ABORTED", "TIMED_OUT", "FAILED", "SUCCEEDED")] == [
            True, False, False, False, False,
        ]  # fmt: skip
        assert not running(_arn("gone"))
        stubber.assert_no_pending_responses()


def test_a_run_that_fails_validation_gives_its_lease_back(s3: Any) -> None:
    _upload_run_file(s3, {**RUN_FILE, "objective": "NOPE"})
    with pytest.raises(InvalidInputError):
        prepare_run(s3, _request({"runFile": f"s3://{BUCKET}/{RUN_KEY}"}, "run-1"), SETTINGS, still_running)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=LEASE.key)


class _Conflicting:
    """S3 whose first conditional writes meet another one in flight (409 ConditionalRequestConflict)."""

    def __init__(self, s3: Any, conflicts: int) -> None:
        self._s3 = s3
        self.conflicts = conflicts

    def put_object(self, **params: Any) -> Any:
        if "IfNoneMatch" in params and self.conflicts:
            self.conflicts -= 1
            raise ClientError(
                {"Error": {"Code": "ConditionalRequestConflict", "Message": "conflict"}}, "PutObject"
            )
        return self._s3.put_object(**params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def test_a_concurrent_conditional_write_is_tried_again_like_a_taken_claim(s3: Any) -> None:
    conflicting = _Conflicting(s3, conflicts=2)
    assert claim(cast(Any, conflicting), LEASE, "me", sleep=lambda _: None) == "me"
    assert conflicting.conflicts == 0
    assert claim(cast(Any, _Conflicting(s3, conflicts=1)), LEASE, "other", sleep=lambda _: None) == "me"


def test_run_file_paths_stay_in_the_project_bucket_and_the_run_files_folder(s3: Any) -> None:
    _upload_run_file(
        s3, {**RUN_FILE, "items": "s3://someone-elses-bucket/items.csv", "titles": "../other/titles.csv"}
    )
    with pytest.raises(InvalidInputError) as refused:
        prepare_run(s3, _request({"runFile": f"s3://{BUCKET}/{RUN_KEY}"}), SETTINGS, still_running)
    message = str(refused.value)
    assert "column items: s3://someone-elses-bucket/items.csv is in bucket someone-elses-bucket" in message
    assert "column titles: ../other/titles.csv is outside the run file's folder experiments/demo/" in message


def test_run_file_pointer_and_retrain_schedule_load_the_same_file(s3: Any) -> None:
    _upload_run_file(s3, {**RUN_FILE, "sensitivities": ["LOW"]})
    pointed = prepare_run(s3, _request({"runFile": f"s3://{BUCKET}/{RUN_KEY}"}), SETTINGS, still_running).run
    scheduled = prepare_run(
        s3, _request({"mode": "retrain", "experiment": "demo"}), SETTINGS, still_running
    ).run
    assert pointed is not None
    assert scheduled is not None
    assert (pointed.trigger, pointed.config.mode) == ("runFile", "sweep")
    assert (scheduled.trigger, scheduled.config.mode) == ("schedule", "retrain")
    assert pointed.config.sensitivities == scheduled.config.sensitivities == ["LOW"]
    assert pointed.fingerprint == scheduled.fingerprint, "same data, same fingerprint"


def test_console_config_paths_are_bucket_keys_and_data_changes_the_fingerprint(
    s3: Any, dataset: dict[str, bytes]
) -> None:
    config = {
        "experiment": "console",
        "interactions": "experiments/demo/interactions.csv",
        "items": "experiments/demo/items.csv",
    }
    before = prepare_run(s3, _request(config), SETTINGS, still_running).run
    s3.put_object(Bucket=BUCKET, Key="experiments/demo/interactions.csv", Body=dataset["interactions.csv"])
    after = prepare_run(s3, _request(config), SETTINGS, still_running).run
    assert before is not None
    assert after is not None
    assert before.trigger == "console"
    assert before.config.interactions == f"s3://{BUCKET}/experiments/demo/interactions.csv"
    assert before.fingerprint != after.fingerprint


@pytest.mark.parametrize(
    ("run_file", "expected"),
    [
        ('{"interactions": "interactions.csv",\n  "items": }', r"sweep\.json, line 2: not JSON"),
        (
            {**RUN_FILE, "sensitivities": ["EXTREME"]},
            r"sweep\.json: field 'sensitivities' is \"EXTREME\", not one of the allowed values — use 'OFF'",
        ),
        (
            {**RUN_FILE, "sample_users": ["1"]},
            r"^s3://[^ ]+/experiments/demo/sweep\.json: field 'sample_users' is not a RunConfig field — field "
            r"names are camelCase: did you mean 'sampleUsers'\?$",
        ),
        (
            {**RUN_FILE, "objectve": "ROYALTY"},
            r"^s3://[^ ]+/sweep\.json: field 'objectve' is not a RunConfig field — did you mean 'objective'\?$",
        ),
        ({**RUN_FILE, "items": "missing.csv"}, r"missing\.csv: the items file cannot be read"),
        ({**RUN_FILE, "items": "../../../x.csv"}, r"column items: .* points outside the bucket"),
    ],
)
def test_bad_run_files_fail_naming_the_file_and_field(s3: Any, run_file: Any, expected: str) -> None:
    with pytest.raises(InvalidInputError, match=expected):
        prepare_run(s3, _request(_upload_run_file(s3, run_file)), SETTINGS, still_running)


def test_invalid_data_fails_before_anything_else(s3: Any, dataset: dict[str, bytes]) -> None:
    # 200 interactions: far below Personalize's minimum of 1000.
    short = b"".join(dataset["interactions.csv"].splitlines(keepends=True)[:201])
    s3.put_object(Bucket=BUCKET, Key="experiments/demo/interactions.csv", Body=short)
    with pytest.raises(InvalidInputError, match="interactions"):
        prepare_run(s3, _request(_upload_run_file(s3, RUN_FILE)), SETTINGS, still_running)


def test_a_constant_objective_fails_before_anything_else(s3: Any, dataset: dict[str, bytes]) -> None:
    lines = dataset["items.csv"].decode().splitlines()
    header = lines[0].split(",")
    column = header.index("ROYALTY")
    rows = [",".join("0" if i == column else v for i, v in enumerate(line.split(","))) for line in lines[1:]]
    s3.put_object(Bucket=BUCKET, Key="experiments/demo/items.csv", Body="\n".join([lines[0], *rows]).encode())
    with pytest.raises(InvalidInputError) as refused:
        prepare_run(s3, _request(_upload_run_file(s3, RUN_FILE)), SETTINGS, still_running)
    assert str(refused.value).startswith(
        f"s3://{BUCKET}/experiments/demo/items.csv, column ROYALTY: the objective ROYALTY is 0 on every item — "
        "objective optimization has nothing to trade"
    )


def test_pointer_inputs_take_only_their_own_keys(s3: Any) -> None:
    with pytest.raises(InvalidInputError, match=r"takes only \['mode', 'runFile'\]"):
        prepare_run(
            s3, _request({"runFile": f"s3://{BUCKET}/{RUN_KEY}", "keep": "none"}), SETTINGS, still_running
        )


def test_missing_run_file_says_to_upload_it(s3: Any) -> None:
    with pytest.raises(InvalidInputError, match=r"experiments/nope/sweep\.json: the run file does not exist"):
        prepare_run(s3, _request({"mode": "retrain", "experiment": "nope"}), SETTINGS, still_running)


def test_settings_parse_the_comma_separated_default_levels() -> None:
    assert SETTINGS.default_sensitivities == ["OFF", "HIGH"]
    assert SETTINGS.topic_arn is None


def test_validation_reports_how_far_it_read_and_chooses_the_report_users(
    s3: Any, dataset: dict[str, bytes]
) -> None:
    _upload_run_file(s3, {**RUN_FILE, "reportUsers": 3, "sampleUsers": ["7"]})
    run = prepare_run(
        s3, _request({"runFile": f"s3://{BUCKET}/{RUN_KEY}"}, "run-7"), SETTINGS, still_running
    ).run
    assert run is not None
    # The interactions file is validated last: its whole size was read.
    body = s3.get_object(Bucket=BUCKET, Key="runs/demo/progress.json")["Body"].read()
    progress = ReadProgress.model_validate_json(body)
    size = len(dataset["interactions.csv"])
    assert (progress.execution_name, progress.bytes_read, progress.bytes_total) == ("run-7", size, size)
    assert progress.describe().endswith("(100%)")
    assert " 0 of 0 " not in progress.describe()
    assert run.report_users == ["7", "1", "2", "3"]


def test_a_file_over_the_chunk_size_gives_the_same_run_through_its_chunks(s3: Any) -> None:
    """PrepareRun's manifest, every ValidateChunk and FinishValidation, against S3, build exactly the
    run PrepareRun builds for the file in one piece."""
    _upload_run_file(s3, RUN_FILE)
    event = {"runFile": f"s3://{BUCKET}/{RUN_KEY}"}
    whole = prepare_run(s3, _request(event, "whole"), SETTINGS, still_running)
    assert whole.run is not None
    assert whole.chunked is None
    release_lease(s3, S3Location(BUCKET, "runs/demo/lease.json"), whole.run.execution_arn)

    chunked_settings = SETTINGS.model_copy(update={"validation_chunk_bytes": 4096})
    split = prepare_run(s3, _request(event, "split"), chunked_settings, still_running)
    assert split.run is None
    assert split.chunked is not None
    manifest = s3.get_object(Bucket=split.chunked.manifest_bucket, Key=split.chunked.manifest_key)
    chunks = [Chunk.model_validate(item) for item in json.loads(manifest["Body"].read())]
    assert len(chunks) == split.chunked.chunks >= 4
    lines = sum(
        validate_chunk_object(s3, ChunkRequest(chunk=chunk, job=split.chunked.job)).lines for chunk in chunks
    )
    assert (
        lines
        == len(
            s3.get_object(Bucket=BUCKET, Key="experiments/demo/interactions.csv")["Body"].read().splitlines()
        )
        - 1
    )
    finished = finish_validation(s3, FinishValidationRequest(chunked=split.chunked)).run
    assert finished is not None
    different = {"execution_arn", "execution_name"}
    assert finished.model_dump(exclude=different) == whole.run.model_dump(exclude=different)


def test_a_chunk_without_its_result_is_named_in_plain_words(s3: Any) -> None:
    chunked_settings = SETTINGS.model_copy(update={"validation_chunk_bytes": 4096})
    split = prepare_run(
        s3, _request(_upload_run_file(s3, RUN_FILE), "split"), chunked_settings, still_running
    )
    assert split.chunked is not None
    manifest = s3.get_object(Bucket=split.chunked.manifest_bucket, Key=split.chunked.manifest_key)
    chunks = [Chunk.model_validate(item) for item in json.loads(manifest["Body"].read())]
    # Chunk 1 never stored its result (its ValidateChunk failed).
    for chunk in chunks[:1] + chunks[2:]:
        validate_chunk_object(s3, ChunkRequest(chunk=chunk, job=split.chunked.job))
    with pytest.raises(DataUnavailableError) as missing:
        finish_validation(s3, FinishValidationRequest(chunked=split.chunked))
    assert str(missing.value).startswith(
        f"chunk 1 of s3://{BUCKET}/experiments/demo/interactions.csv was not validated: ValidateChunk did "
        "not finish it — see its logs"
    )


def test_a_problem_in_the_items_file_stops_a_chunked_run_before_the_chunks(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="experiments/demo/items.csv", Body=b"ITEM_ID,ROYALTY\ni1,\n")
    chunked_settings = SETTINGS.model_copy(update={"validation_chunk_bytes": 4096})
    with pytest.raises(
        InvalidInputError, match=r"items.csv, line 2, column ROYALTY: the objective ROYALTY is empty"
    ):
        prepare_run(s3, _request(_upload_run_file(s3, RUN_FILE)), chunked_settings, still_running)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/demo/validation/")
