"""The local Personalize's resources as typed records, each with one explicit projection onto the wire
(`wire()`: botocore's member names), and the store that holds them behind the endpoint's one lock."""

from __future__ import annotations

import abc
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from objective_sweep.personalize import training
from objective_sweep.personalize.data import Schema as ParsedSchema
from objective_sweep.personalize.data import Table
from objective_sweep.personalize.protocol import already_exists, not_found

ACCOUNT = "123456789012"
PENDING, IN_PROGRESS, ACTIVE, FAILED = "CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE", "CREATE FAILED"
STOPPING, STOPPED = "CREATE STOPPING", "CREATE STOPPED"
DELETE_PENDING, DELETE_IN_PROGRESS = "DELETE PENDING", "DELETE IN_PROGRESS"
WORKING = (PENDING, IN_PROGRESS)

# Recipe name -> (recipeType, description); both train the objective-aware ALS model.
RECIPES = {
    "aws-user-personalization": (
        "USER_PERSONALIZATION",
        "ALS on implicit feedback with objective-aware ranking.",
    ),
    "aws-personalized-ranking": ("PERSONALIZED_RANKING", "Ranks a caller's items with the same ALS model."),
}


def recipe_arn(name: str) -> str:
    return f"arn:aws:personalize:::recipe/{name}"


def arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


@dataclass(kw_only=True, eq=False)
class Stamped:
    """Creation and last-update times; the store stamps both when a record is added."""

    created: float = 0.0
    updated: float = 0.0

    def touch(self) -> None:
        self.updated = time.time()

    def _times(self) -> dict[str, Any]:
        return {"creationDateTime": self.created, "lastUpdatedDateTime": self.updated}


@dataclass(kw_only=True, eq=False)
class Progress(Stamped):
    """Something a background job moves through statuses: a resource, or a campaign's update."""

    status: str = PENDING
    failure_reason: str | None = None

    def move(self, status: str, failure_reason: str | None = None) -> None:
        self.status = status
        if failure_reason is not None:
            self.failure_reason = failure_reason
        self.touch()

    def _state(self) -> dict[str, Any]:
        # failureReason is added by the records whose shapes have it (Dataset and Solution do not).
        return {**self._times(), "status": self.status}


@dataclass(kw_only=True, eq=False)
class Resource(Stamped, abc.ABC):
    """A resource found by its ARN. LABEL names its kind in messages ("dataset group")."""

    LABEL: ClassVar[str]
    arn: str

    @abc.abstractmethod
    def wire(self) -> dict[str, Any]:
        """The record under botocore's member names; None members are left out by the projection."""


@dataclass(kw_only=True, eq=False)
class Tracked(Resource, Progress):
    """A resource with a status."""


@dataclass(kw_only=True, eq=False)
class DatasetGroup(Tracked):
    LABEL: ClassVar[str] = "dataset group"
    name: str
    role_arn: str | None = None
    kms_key_arn: str | None = None
    domain: str | None = None

    def wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "datasetGroupArn": self.arn,
            "roleArn": self.role_arn,
            "kmsKeyArn": self.kms_key_arn,
            "domain": self.domain,
            "failureReason": self.failure_reason,
            **self._state(),
        }


@dataclass(kw_only=True, eq=False)
class Schema(Resource):
    LABEL: ClassVar[str] = "schema"
    name: str
    body: str
    parsed: ParsedSchema
    domain: str | None = None

    def wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "schemaArn": self.arn,
            "schema": self.body,
            "domain": self.domain,
            **self._times(),
        }


@dataclass(kw_only=True, eq=False)
class Dataset(Tracked):
    LABEL: ClassVar[str] = "dataset"
    name: str
    dataset_group_arn: str
    dataset_type: str
    schema_arn: str

    def wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "datasetArn": self.arn,
            "datasetGroupArn": self.dataset_group_arn,
            "datasetType": self.dataset_type,
            "schemaArn": self.schema_arn,
            **self._state(),
        }


@dataclass(kw_only=True, eq=False)
class DatasetImportJob(Tracked):
    LABEL: ClassVar[str] = "dataset import job"
    job_name: str
    dataset_arn: str
    data_location: str
    role_arn: str | None
    import_mode: str
    publish_attribution_metrics_to_s3: bool | None = None

    def wire(self) -> dict[str, Any]:
        return {
            "jobName": self.job_name,
            "datasetImportJobArn": self.arn,
            "datasetArn": self.dataset_arn,
            "dataSource": {"dataLocation": self.data_location},
            "roleArn": self.role_arn,
            "importMode": self.import_mode,
            "publishAttributionMetricsToS3": self.publish_attribution_metrics_to_s3,
            "failureReason": self.failure_reason,
            **self._state(),
        }


@dataclass(kw_only=True, eq=False)
class Solution(Tracked):
    LABEL: ClassVar[str] = "solution"
    name: str
    perform_auto_training: bool
    perform_incremental_update: bool | None
    recipe_arn: str
    dataset_group_arn: str
    event_type: str | None
    config: dict[str, Any]
    latest_version: SolutionVersion | None = None
    # Personalize's own defaults; the local endpoint refuses HPO and AutoML.
    perform_hpo: bool = False
    perform_auto_ml: bool = False

    def wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "solutionArn": self.arn,
            "performHPO": self.perform_hpo,
            "performAutoML": self.perform_auto_ml,
            "performAutoTraining": self.perform_auto_training,
            "performIncrementalUpdate": self.perform_incremental_update,
            "recipeArn": self.recipe_arn,
            "datasetGroupArn": self.dataset_group_arn,
            "eventType": self.event_type,
            "solutionConfig": self.config,
            "latestSolutionVersion": self.latest_version.wire() if self.latest_version else None,
            **self._state(),
        }


@dataclass(kw_only=True, eq=False)
class SolutionVersion(Tracked):
    LABEL: ClassVar[str] = "solution version"
    name: str | None
    solution: Solution
    training_mode: str
    training_hours: float | None = None

    def wire(self) -> dict[str, Any]:
        solution = self.solution
        return {
            "name": self.name,
            "solutionVersionArn": self.arn,
            "solutionArn": solution.arn,
            "performHPO": solution.perform_hpo,
            "performAutoML": solution.perform_auto_ml,
            "performIncrementalUpdate": solution.perform_incremental_update,
            "recipeArn": solution.recipe_arn,
            "eventType": solution.event_type,
            "datasetGroupArn": solution.dataset_group_arn,
            "solutionConfig": solution.config,
            "trainingMode": self.training_mode,
            "trainingType": "MANUAL",
            "trainingHours": self.training_hours,
            "failureReason": self.failure_reason,
            **self._state(),
        }


@dataclass(kw_only=True, eq=False)
class CampaignUpdate(Progress):
    """What UpdateCampaign asked for; the campaign switches to it when it is ACTIVE."""

    version: SolutionVersion
    min_provisioned_tps: int
    config: dict[str, Any] | None

    def wire(self) -> dict[str, Any]:
        return {
            "solutionVersionArn": self.version.arn,
            "minProvisionedTPS": self.min_provisioned_tps,
            "campaignConfig": self.config,
            "failureReason": self.failure_reason,
            **self._state(),
        }


@dataclass(kw_only=True, eq=False)
class Campaign(Tracked):
    LABEL: ClassVar[str] = "campaign"
    name: str
    version: SolutionVersion
    min_provisioned_tps: int
    config: dict[str, Any] | None
    latest_update: CampaignUpdate | None = None
    # The version whose model answers the runtime: none until the campaign is ACTIVE.
    serving: SolutionVersion | None = None

    @property
    def dataset_group_arn(self) -> str:
        return self.version.solution.dataset_group_arn

    @property
    def solution_arn(self) -> str:
        return self.version.solution.arn

    def versions(self) -> set[str]:
        """The versions it deploys or is being updated to."""
        update = self.latest_update.version if self.latest_update else self.version
        return {self.version.arn, update.arn}

    def wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "campaignArn": self.arn,
            "solutionVersionArn": self.version.arn,
            "minProvisionedTPS": self.min_provisioned_tps,
            "campaignConfig": self.config,
            "latestCampaignUpdate": self.latest_update.wire() if self.latest_update else None,
            "failureReason": self.failure_reason,
            **self._state(),
        }


KINDS: tuple[type[Resource], ...] = (
    DatasetGroup,
    Schema,
    Dataset,
    DatasetImportJob,
    Solution,
    SolutionVersion,
    Campaign,
)
R = TypeVar("R", bound=Resource)


def to_wire(result: dict[str, Any]) -> dict[str, Any]:
    """An operation's answer with its records replaced by their wire form."""
    return {key: value.wire() if isinstance(value, Resource) else value for key, value in result.items()}


class Records:
    """Every resource, imported table and trained model. Reached only through `Store.transaction()`,
    so whoever reads or changes it holds the lock."""

    def __init__(self) -> None:
        self._by_kind: dict[type[Resource], dict[str, Resource]] = {kind: {} for kind in KINDS}
        self.tables: dict[str, Table] = {}
        self.models: dict[str, training.TrainedModel] = {}
        # The last snapshot per dataset group with the tables it was made from: the levels of a sweep
        # train on the same imports, and one snapshot (indexed and fingerprinted once) serves them all.
        self.snapshots: dict[tuple[str, str | None], tuple[Table, Table | None, training.Interactions]] = {}

    def find(self, kind: type[R], arn: str) -> R | None:
        record = self._by_kind[kind].get(arn)
        assert record is None or isinstance(record, kind)
        return record

    def get(self, kind: type[R], arn: str) -> R:
        record = self.find(kind, arn)
        if record is None:
            raise not_found(kind.LABEL, arn)
        return record

    def all(self, kind: type[R]) -> list[R]:
        return [r for r in self._by_kind[kind].values() if isinstance(r, kind)]

    def add(self, record: R, label: str | None = None) -> R:
        """Add a new record, stamped now; ResourceAlreadyExists if its ARN is taken."""
        self.ensure_new(type(record), record.arn, label)
        record.created = record.updated = time.time()
        self._by_kind[type(record)][record.arn] = record
        return record

    def ensure_new(self, kind: type[Resource], arn: str, label: str | None = None) -> None:
        if arn in self._by_kind[kind]:
            raise already_exists(f"The {label or kind.LABEL} {arn} already exists.")

    def remove(self, kind: type[Resource], arn: str) -> None:
        """Forget a resource with its imported data or trained model."""
        self._by_kind[kind].pop(arn, None)
        self.tables.pop(arn, None)
        self.models.pop(arn, None)

    def dataset(self, group_arn: str, dataset_type: str) -> Dataset | None:
        return next(
            (
                d
                for d in self.all(Dataset)
                if d.dataset_group_arn == group_arn and d.dataset_type == dataset_type
            ),
            None,
        )


class Store:
    """The records behind one lock: `with store.transaction() as records:` is the only way in.
    Reentrant, so a job that already holds it may call code that takes it again. Nothing is rolled
    back on an error: operations make their checks before they change a record."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._records = Records()
        self.started = time.time()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Records]:
        with self._lock:
            yield self._records
