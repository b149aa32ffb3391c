"""Typed inputs and outputs of the state machine's steps: what each Lambda task receives from the
state (via its Parameters) and returns into it (via its ResultSelector). JSON names are camelCase."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from sweep_core.models import CamelModel, RunConfig, Sensitivity
from sweep_core.report.model import DatasetFacts, DeploymentDecision, LevelResources
from sweep_core.schemas import Column

DataKind = Literal["interactions", "items", "users", "titles"]
Trigger = Literal["console", "runFile", "s3Event", "schedule"]


class DataFile(CamelModel):
    """One input file as it was when the run started: its S3 URI and the object's version token
    (VersionId, or ETag on an unversioned bucket), the idempotency key of its import job."""

    uri: str
    version: str


class RunBase(CamelModel):
    """What PrepareRun knows of a run before its data is validated."""

    config: RunConfig
    execution_arn: str
    execution_name: str
    started_at: datetime
    trigger: Trigger
    run_file: str | None = None
    files: dict[DataKind, DataFile]


class Run(RunBase):
    """The validated run every later step works from (PrepareRun's result, at ``$.run``)."""

    fingerprint: str = Field(description="Digest of every imported file's version: names solution versions.")
    dataset: DatasetFacts
    schemas: dict[str, str] = Field(description="Dataset kind -> Avro schema JSON for CreateSchema.")
    report_users: list[str] = Field(
        description="Users whose lists the report compares: the sample users, then the interactions "
        "file's first reportUsers others in natural order, chosen by PrepareRun while it validates, so "
        "CompareSolutions reads no interactions file."
    )


class PrepareRunRequest(CamelModel):
    """PrepareRun's Parameters: the raw execution input and the execution's identity."""

    event: dict[str, Any]
    execution_arn: str
    execution_name: str
    started_at: datetime


class Chunk(CamelModel):
    """One byte range [start, end) of an interactions file; it owns the lines that start inside it."""

    index: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int = Field(gt=0)


class ChunkJob(CamelModel):
    """What every chunk of one interactions file's validation shares (each chunk is one Distributed
    Map item; this part comes from the state, not from the manifest)."""

    experiment: str
    execution_name: str
    file: str = Field(description="s3:// URI of the interactions file.")
    etag: str = Field(description="The object validated: every read is conditional on it (If-Match).")
    size: int = Field(ge=0)
    data_start: int = Field(ge=0, description="Byte offset of line 2, the first after the header.")
    header: str = Field(description="The header line as written (already checked).")
    known_items: str | None = Field(
        description="s3:// URI of the items file's ids (JSON list); None when there is no items file to check against."
    )
    chunk_bytes: int = Field(gt=0)
    max_problems: int = Field(gt=0)


class PendingRun(RunBase):
    """Everything of the Run but what the interactions rows decide, carried from PrepareRun to
    FinishValidation while the chunks are validated."""

    items: int
    items_columns: list[Column]
    users_columns: list[Column] | None = None
    objective_min: float
    objective_max: float


class ChunkedValidation(CamelModel):
    """PrepareRun's answer for an interactions file larger than one chunk: the manifest (a JSON list of
    Chunk, read by the Distributed Map's ItemReader), what the chunks share, and the run so far."""

    manifest_bucket: str
    manifest_key: str
    chunks: int = Field(ge=0)
    job: ChunkJob
    pending: PendingRun


class ChunkRequest(CamelModel):
    """ValidateChunk's Parameters: one manifest item and the shared job."""

    chunk: Chunk
    job: ChunkJob


class FinishValidationRequest(CamelModel):
    chunked: ChunkedValidation


class PrepareRunResult(CamelModel):
    """A duplicate S3 event (same object version already claimed by another execution) yields no run;
    an interactions file over the chunk size yields `chunked` instead, and FinishValidation the run."""

    duplicate: bool = False
    duplicate_of: str | None = None
    run: Run | None = None
    chunked: ChunkedValidation | None = None


class WaitPolicy(CamelModel):
    """Backoff and budget of one wait loop; written beside the loop in the state machine."""

    initial_seconds: int = Field(ge=1)
    max_seconds: int = Field(ge=1)
    budget_seconds: int = Field(ge=1)


class Poll(CamelModel):
    """A wait loop's progress: the Choice reads ``done``, the Wait state reads ``waitSeconds``."""

    status: str = ""
    done: bool = False
    attempt: int = Field(default=0, ge=0)
    waited_seconds: int = Field(default=0, ge=0)
    wait_seconds: int = Field(default=0, ge=0)


class ImportState(CamelModel):
    """ImportDatasets' result, at ``$.imports``: ``{}`` before the first call."""

    dataset_group_arn: str | None = None
    import_job_arns: dict[str, str] = Field(default_factory=dict)
    poll: Poll = Field(default_factory=Poll)


class ImportRequest(CamelModel):
    run: Run
    imports: ImportState
    wait: WaitPolicy


class SolutionState(CamelModel):
    solution_arn: str | None = None
    poll: Poll = Field(default_factory=Poll)


class VersionState(CamelModel):
    solution_version_arn: str | None = None
    poll: Poll = Field(default_factory=Poll)


class CampaignState(CamelModel):
    campaign_arn: str | None = None
    deployment: DeploymentDecision | None = None
    poll: Poll = Field(default_factory=Poll)


class LevelState(CamelModel):
    """One Map iteration's state: the level, the run, and each phase's result so far."""

    sensitivity: Sensitivity
    run: Run
    dataset_group_arn: str
    solution: SolutionState = Field(default_factory=SolutionState)
    version: VersionState = Field(default_factory=VersionState)
    campaign: CampaignState = Field(default_factory=CampaignState)


class LevelRequest(CamelModel):
    level: LevelState
    wait: WaitPolicy


class LevelRecord(LevelResources):
    """What a Map iteration ends with: the ARNs of an ACTIVE level, or the Catch's error record."""

    deployment: DeploymentDecision | None = None
    error: str | None = None
    cause: str | None = None


class CompareRequest(CamelModel):
    run: Run
    levels: list[LevelRecord]
    finished_at: datetime | None = None


class CompareResult(CamelModel):
    """Kept small: it becomes part of the execution output (limit 256 KB)."""

    summary: dict[str, Any]
    report_uris: dict[str, str]
    subject: str
    message: str
    delete_campaign_arns: list[str]


class ApplyKeepRequest(CamelModel):
    """After the comparison: delete the campaigns it decided `keep` does not keep."""

    run: Run
    delete_campaign_arns: list[str]


class SettleRequest(CamelModel):
    """After a failure: the whole state, whatever it holds by then (the run, maybe the comparison)."""

    state: dict[str, Any]


class Billing(CamelModel):
    """A campaign of the run still billing after ApplyKeep, and what it costs."""

    sensitivity: Sensitivity
    campaign_arn: str
    status: str
    min_provisioned_tps: int = Field(alias="minProvisionedTPS")
    monthly_usd: float


class ApplyKeepResult(CamelModel):
    deleted: list[str]
    already_gone: list[str]
    billing: list[Billing] = Field(default_factory=list)
    cleanup: str = Field(default="", description="The command that removes everything of the experiment.")


class NotifyRequest(CamelModel):
    """Success carries the report summary and the run; failure carries the whole state (the Catch's
    Error/Cause in `failure`, and what settling the run's campaigns left billing in `keep`)."""

    subject: str | None = None
    message: str | None = None
    run: Run | None = None
    state: dict[str, Any] | None = None
    execution_arn: str


class NotifyResult(CamelModel):
    message_id: str | None
