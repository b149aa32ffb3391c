"""The local Personalize service: resources with Personalize's names, ARNs, statuses, quotas and
exceptions, and the background work (imports from S3, training) that moves them to ACTIVE or CREATE FAILED."""

from __future__ import annotations

import base64
import functools
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

import boto3
from botocore.exceptions import ClientError
from botocore.model import ListShape, StructureShape

from objective_sweep.localcloud.authorizer import AccessDenied, Authorizer
from objective_sweep.personalize import training
from objective_sweep.personalize.access import SERVICE, required_resources
from objective_sweep.personalize.data import (
    DATASET_TYPES,
    NUMERIC_TYPES,
    ImportFailure,
    Schema,
    Table,
    check_schema_for_type,
    parse_schema,
    read_s3_location,
)
from objective_sweep.personalize.faults import Faults
from objective_sweep.personalize.protocol import (
    ApiError,
    in_use,
    invalid,
    not_found,
    project,
    service_model,
    validate_request,
)

LOG = logging.getLogger(__name__)

ACCOUNT = "123456789012"
PENDING, IN_PROGRESS, ACTIVE, FAILED = "CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE", "CREATE FAILED"
STOPPING, STOPPED = "CREATE STOPPING", "CREATE STOPPED"
DELETE_PENDING, DELETE_IN_PROGRESS = "DELETE PENDING", "DELETE IN_PROGRESS"
WORKING = (PENDING, IN_PROGRESS)

# Personalize's service quotas that the workflow can run into.
MAX_PENDING_IMPORT_JOBS = 5
MAX_PENDING_SOLUTION_VERSIONS = 20
MAX_SOLUTIONS_PER_GROUP = 10
MAX_ACTIVE_CAMPAIGNS_PER_GROUP = 5
MAX_TAGS = 50
MAX_NUM_RESULTS = 500
DEFAULT_NUM_RESULTS = 25
AUTO_TRAINING_SCHEDULE = "rate(7 days)"
# How Personalize words an import it may not read (its role or the bucket policy lacks a grant).
INSUFFICIENT_PRIVILEGES = "Insufficient privileges for accessing data in S3."

# Recipe name -> (recipeType, description); both train the objective-aware ALS model.
RECIPES = {
    "aws-user-personalization": (
        "USER_PERSONALIZATION",
        "ALS on implicit feedback with objective-aware ranking.",
    ),
    "aws-personalized-ranking": ("PERSONALIZED_RANKING", "Ranks a caller's items with the same ALS model."),
}
OBJECTIVE_RECIPES = ("aws-user-personalization", "aws-personalized-ranking")
# Personalize's own User-Personalization hyperparameters are accepted so real configs keep
# working; only hidden_dimension changes the local model (plus the ALS-specific extras).
KNOWN_HYPERPARAMETERS = frozenset(
    {
        "hidden_dimension",
        "bptt",
        "recency_mask",
        "min_user_history_length_percentile",
        "max_user_history_length_percentile",
        "exploration_weight",
        "exploration_item_age_cut_off",
        "regularization",
        "alpha",
        "iterations",
    }
)


# Describe operation -> (record kind, which is also the output member; request ARN member; label).
DESCRIBE_OPERATIONS = {
    "DescribeDatasetGroup": ("datasetGroup", "datasetGroupArn", "dataset group"),
    "DescribeSchema": ("schema", "schemaArn", "schema"),
    "DescribeDataset": ("dataset", "datasetArn", "dataset"),
    "DescribeDatasetImportJob": ("datasetImportJob", "datasetImportJobArn", "dataset import job"),
    "DescribeSolution": ("solution", "solutionArn", "solution"),
    "DescribeSolutionVersion": ("solutionVersion", "solutionVersionArn", "solution version"),
    "DescribeCampaign": ("campaign", "campaignArn", "campaign"),
}
# List operation -> (record kind, output member, optional parent filter: (request member, record
# field, kind whose existence is checked or "" when the real API does not check)).
LIST_OPERATIONS: dict[str, tuple[str, str, tuple[str, str, str] | None]] = {
    "ListDatasetGroups": ("datasetGroup", "datasetGroups", None),
    "ListSchemas": ("schema", "schemas", None),
    "ListDatasets": ("dataset", "datasets", ("datasetGroupArn", "datasetGroupArn", "")),
    "ListDatasetImportJobs": ("datasetImportJob", "datasetImportJobs", ("datasetArn", "datasetArn", "")),
    "ListSolutions": ("solution", "solutions", ("datasetGroupArn", "datasetGroupArn", "")),
    "ListSolutionVersions": (
        "solutionVersion",
        "solutionVersions",
        ("solutionArn", "solutionArn", "solution"),
    ),
    "ListCampaigns": ("campaign", "campaigns", ("solutionArn", "_solutionArn", "")),
}


class _JobFailure(Exception):
    """A background job's resource fails with this failureReason."""


@dataclass(frozen=True)
class Context:
    region: str
    account: str = ACCOUNT
    # The access key the request was signed with: the authorizer's view of who is calling.
    caller: str | None = None

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:personalize:{self.region}:{self.account}:{kind}/{name}"


def _recipe_arn(name: str) -> str:
    return f"arn:aws:personalize:::recipe/{name}"


def _arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class PersonalizeService:
    """Operations by name; every public entry point is thread-safe."""

    def __init__(
        self,
        *,
        s3_endpoint_url: str | None = None,
        faults: Faults | None = None,
        status_delay: float = 0.05,
        training_workers: int = 2,
        authorizer: Authorizer | None = None,
    ) -> None:
        self.faults = faults or Faults()
        self._authorizer = authorizer
        self._s3_endpoint_url = s3_endpoint_url
        self._delay = status_delay
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._light = ThreadPoolExecutor(max_workers=8, thread_name_prefix="personalize-status")
        self._heavy = ThreadPoolExecutor(max_workers=training_workers, thread_name_prefix="personalize-train")
        self._records: dict[str, dict[str, dict[str, Any]]] = {
            kind: {}
            for kind in (
                "datasetGroup",
                "schema",
                "dataset",
                "datasetImportJob",
                "solution",
                "solutionVersion",
                "campaign",
            )
        }
        self._data: dict[str, Table] = {}
        self._models: dict[str, training.TrainedModel] = {}
        self._cache = training.FactorisationCache()
        # The last snapshot per dataset group with the tables it was made from: the levels of a sweep
        # train on the same imports, and one snapshot (indexed and fingerprinted once) serves them all.
        self._snapshots: dict[tuple[str, str | None], tuple[Table, Table | None, training.Interactions]] = {}
        self._started = time.time()
        # Jobs whose real work (an import's parse, a fit) runs now; the local cloud's clock runs at
        # real speed while it is above zero.
        self._working = 0
        self._working_lock = threading.Lock()

    def computing(self) -> bool:
        """Whether some job's real work is running now; an injected delay (faults) does not count."""
        with self._working_lock:
            return self._working > 0

    def _work(self, work: Callable[[], None]) -> None:
        with self._working_lock:
            self._working += 1
        try:
            work()
        finally:
            with self._working_lock:
                self._working -= 1

    def shutdown(self) -> None:
        """Stop background work; jobs that are waiting end at once, a running fit finishes first."""
        self._stopping.set()
        self._light.shutdown(wait=True, cancel_futures=True)
        self._heavy.shutdown(wait=True, cancel_futures=True)

    # ---- dispatch -------------------------------------------------------------------------
    def call(
        self, operation: str, params: dict[str, Any], region: str, caller: str | None = None
    ) -> dict[str, Any]:
        """Run a control-plane operation: validate against botocore's input shape, authorize the caller,
        answer the output shape."""
        model = service_model("personalize")
        if operation not in model.operation_names:
            raise ApiError("UnknownOperationException", f"{operation} is not an Amazon Personalize operation")
        handler = self._handler(operation)
        if handler is None:
            raise ApiError(
                "UnknownOperationException",
                f"The local Personalize endpoint does not implement {operation}; it implements "
                f"{', '.join(self.implemented_operations())}.",
            )
        self.faults.check_throttle(operation)
        op_model = model.operation_model(operation)
        validate_request(op_model.input_shape, params)
        self.authorize(operation, params, region, caller)
        result = handler(params, Context(region, caller=caller))
        if op_model.output_shape is None:
            return {}
        # Handlers return live records; background jobs change them under the same lock.
        with self._lock:
            return dict(project(result, op_model.output_shape))

    def _handler(self, operation: str) -> Callable[[dict[str, Any], Context], dict[str, Any]] | None:
        if operation in DESCRIBE_OPERATIONS:
            return functools.partial(self._describe, *DESCRIBE_OPERATIONS[operation])
        if operation in LIST_OPERATIONS:
            return functools.partial(self._list, operation, *LIST_OPERATIONS[operation])
        handler: Callable[[dict[str, Any], Context], dict[str, Any]] | None = getattr(
            self, f"_op_{_snake(operation)}", None
        )
        return handler

    def authorize(self, operation: str, params: dict[str, Any], region: str, caller: str | None) -> None:
        """Refuse the call unless the caller's policies allow it on every resource IAM checks."""
        if self._authorizer is None:
            return
        for resource in required_resources(operation, params, region, ACCOUNT):
            self._check(caller, f"personalize:{operation}", resource)

    def _check(self, caller: str | None, action: str, resource: str, **context: str) -> None:
        if self._authorizer is None:
            return
        try:
            self._authorizer.check(caller, action, resource, context=context)
        except AccessDenied as denied:
            raise ApiError("AccessDeniedException", denied.message) from None

    def implemented_operations(self) -> list[str]:
        return sorted(n for n in service_model("personalize").operation_names if self._handler(n) is not None)

    # ---- shared helpers -------------------------------------------------------------------
    def _get(self, kind: str, arn: str, label: str) -> dict[str, Any]:
        with self._lock:
            record = self._records[kind].get(arn)
        if record is None:
            raise not_found(label, arn)
        return record

    def _ensure_new(self, kind: str, arn: str, label: str) -> None:
        if arn in self._records[kind]:
            raise ApiError("ResourceAlreadyExistsException", f"The {label} {arn} already exists.")

    @staticmethod
    def _check_tags(params: dict[str, Any]) -> None:
        if len(params.get("tags") or []) > MAX_TAGS:
            raise ApiError("TooManyTagsException", f"A resource can have at most {MAX_TAGS} tags.")

    def _new_record(
        self, kind: str, arn: str, fields: dict[str, Any], status: str | None = PENDING
    ) -> dict[str, Any]:
        now = time.time()
        record = {k: v for k, v in fields.items() if v is not None}
        record.update(creationDateTime=now, lastUpdatedDateTime=now)
        if status is not None:
            record["status"] = status
        self._records[kind][arn] = record
        return record

    def _update(self, record: dict[str, Any], **changes: Any) -> None:
        with self._lock:
            record.update(changes)
            record["lastUpdatedDateTime"] = time.time()

    def _pause(self) -> bool:
        """Let a status be observable for a moment; False once the server is stopping."""
        return not self._stopping.wait(self._delay)

    def _hold(self, record: dict[str, Any], resource: str, names: tuple[str, ...]) -> bool:
        """Keep a job in progress while an injected delay lasts; clearing the rule or stopping the job
        ends it early. False once the server is stopping."""
        started = time.monotonic()
        while record["status"] != STOPPING:
            left = self.faults.delay(resource, names) - (time.monotonic() - started)
            if left <= 0:
                break
            if self._stopping.wait(min(left, 0.05)):
                return False
        return True

    def _stopped_by_caller(self, record: dict[str, Any]) -> bool:
        with self._lock:
            if record["status"] != STOPPING:
                return False
            self._update(record, status=STOPPED)
            return True

    def _progress(
        self,
        record: dict[str, Any],
        resource: str,
        names: tuple[str, ...],
        work: Callable[[], None] | None = None,
        *,
        heavy: bool = False,
        on_active: Callable[[], None] | None = None,
        target: dict[str, Any] | None = None,
    ) -> None:
        """Move `target` (default the record) through IN_PROGRESS to ACTIVE or CREATE FAILED in the background."""
        status_holder = target if target is not None else record

        def job() -> None:
            if not self._pause():
                return
            with self._lock:
                if self._stopped_by_caller(status_holder) or status_holder["status"] != PENDING:
                    return
                self._update(status_holder, status=IN_PROGRESS)
            try:
                if not self._hold(status_holder, resource, names):
                    return
                if self._stopped_by_caller(status_holder):
                    return
                reason = self.faults.failure_for(resource, names)
                if reason:
                    raise _JobFailure(reason)
                if work is not None:
                    self._work(work)
                if not self._pause():
                    return
                with self._lock:
                    if self._stopped_by_caller(status_holder):
                        return
                    self._update(status_holder, status=ACTIVE)
                    if on_active is not None:
                        on_active()
            except (_JobFailure, ImportFailure, training.TrainingFailure) as exc:
                self._update(status_holder, status=FAILED, failureReason=str(exc))
            except Exception as exc:
                LOG.exception("background job for %s failed", names)
                self._update(
                    status_holder,
                    status=FAILED,
                    failureReason=f"Internal error in the local Personalize endpoint: {type(exc).__name__}: {exc}",
                )

        (self._heavy if heavy else self._light).submit(job)

    def _delete(self, kind: str, arn: str, record: dict[str, Any]) -> None:
        self._update(record, status=DELETE_PENDING)

        def job() -> None:
            if not self._pause():
                return
            self._update(record, status=DELETE_IN_PROGRESS)
            if not self._pause():
                return
            with self._lock:
                self._records[kind].pop(arn, None)
                self._data.pop(arn, None)
                self._models.pop(arn, None)

        self._light.submit(job)

    def _describe(
        self, kind: str, arn_member: str, label: str, params: dict[str, Any], ctx: Context
    ) -> dict[str, Any]:
        return {kind: self._get(kind, params[arn_member], label)}

    def _list(
        self,
        operation: str,
        kind: str,
        key: str,
        parent: tuple[str, str, str] | None,
        params: dict[str, Any],
        ctx: Context,
    ) -> dict[str, Any]:
        parent_arn = params.get(parent[0]) if parent else None
        if parent and parent_arn and parent[2]:
            self._get(parent[2], parent_arn, parent[2])
        with self._lock:
            records = [
                r
                for arn, r in self._records[kind].items()
                if _arn_region(arn) in (ctx.region, "")
                and (parent is None or parent_arn is None or r[parent[1]] == parent_arn)
            ]
        records.sort(key=lambda r: -r["creationDateTime"])
        output = service_model("personalize").operation_model(operation).output_shape
        summary_shape = cast(ListShape, cast(StructureShape, output).members[key]).member
        return _page([project(r, summary_shape) for r in records], params, key)

    @staticmethod
    def _require_state(
        record: dict[str, Any], label: str, arn: str, allowed: Iterable[str] = (ACTIVE,)
    ) -> None:
        allowed = tuple(allowed)
        if record.get("status") not in allowed:
            raise in_use(
                f"The {label} {arn} is {record.get('status')}; it must be {' or '.join(allowed)} for this call. "
                "Wait until its status changes and try again."
            )

    # ---- dataset groups -------------------------------------------------------------------
    def _op_create_dataset_group(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        self._check_tags(params)
        if params.get("kmsKeyArn") and not params.get("roleArn"):
            raise invalid(
                "kmsKeyArn needs a roleArn that lets Personalize use the key; pass both or neither."
            )
        arn = ctx.arn("dataset-group", params["name"])
        with self._lock:
            self._ensure_new("datasetGroup", arn, "dataset group")
            record = self._new_record(
                "datasetGroup",
                arn,
                {
                    "name": params["name"],
                    "datasetGroupArn": arn,
                    "roleArn": params.get("roleArn"),
                    "kmsKeyArn": params.get("kmsKeyArn"),
                    "domain": params.get("domain"),
                },
            )
        self._progress(record, "datasetGroup", (params["name"],))
        return {"datasetGroupArn": arn, "domain": params.get("domain")}

    def _op_delete_dataset_group(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        arn = params["datasetGroupArn"]
        with self._lock:
            record = self._get("datasetGroup", arn, "dataset group")
            self._require_state(record, "dataset group", arn, (ACTIVE, FAILED))
            children = [
                a
                for kind in ("dataset", "solution")
                for a, r in self._records[kind].items()
                if r["datasetGroupArn"] == arn
            ]
            if children:
                raise in_use(
                    f"The dataset group {arn} still contains {', '.join(children)}; delete its solutions "
                    "(after their campaigns) and datasets first."
                )
            self._delete("datasetGroup", arn, record)
        return {}

    # ---- schemas --------------------------------------------------------------------------
    def _op_create_schema(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        parsed = parse_schema(params["schema"])
        arn = ctx.arn("schema", params["name"])
        with self._lock:
            self._ensure_new("schema", arn, "schema")
            record = self._new_record(
                "schema",
                arn,
                {
                    "name": params["name"],
                    "schemaArn": arn,
                    "schema": params["schema"],
                    "domain": params.get("domain"),
                },
                status=None,
            )
            record["_parsed"] = parsed
        return {"schemaArn": arn}

    def _op_delete_schema(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        arn = params["schemaArn"]
        with self._lock:
            self._get("schema", arn, "schema")
            users = [a for a, r in self._records["dataset"].items() if r["schemaArn"] == arn]
            if users:
                raise in_use(f"The schema {arn} is used by {', '.join(users)}; delete those datasets first.")
            del self._records["schema"][arn]
        return {}

    # ---- datasets -------------------------------------------------------------------------
    def _op_create_dataset(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        self._check_tags(params)
        dataset_type = params["datasetType"].upper()
        if dataset_type not in DATASET_TYPES:
            raise invalid(
                f"datasetType {params['datasetType']!r} is not supported locally; use one of {', '.join(DATASET_TYPES)}."
            )
        with self._lock:
            group = self._get("datasetGroup", params["datasetGroupArn"], "dataset group")
            schema = self._get("schema", params["schemaArn"], "schema")
            self._require_state(group, "dataset group", params["datasetGroupArn"])
            check_schema_for_type(schema["_parsed"], dataset_type)
            arn = ctx.arn("dataset", f"{group['name']}/{dataset_type}")
            self._ensure_new("dataset", arn, f"{dataset_type} dataset")
            record = self._new_record(
                "dataset",
                arn,
                {
                    "name": params["name"],
                    "datasetArn": arn,
                    "datasetGroupArn": params["datasetGroupArn"],
                    "datasetType": dataset_type,
                    "schemaArn": params["schemaArn"],
                },
            )
        self._progress(record, "dataset", (params["name"],))
        return {"datasetArn": arn}

    def _op_delete_dataset(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        arn = params["datasetArn"]
        with self._lock:
            record = self._get("dataset", arn, "dataset")
            self._require_state(record, "dataset", arn, (ACTIVE, FAILED))
            running = [
                a
                for a, r in self._records["datasetImportJob"].items()
                if r["datasetArn"] == arn and r["status"] in WORKING
            ]
            if running:
                raise in_use(
                    f"The dataset {arn} has import jobs in progress ({', '.join(running)}); wait for them."
                )
            self._delete("dataset", arn, record)
        return {}

    # ---- dataset import jobs --------------------------------------------------------------
    def _op_create_dataset_import_job(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        self._check_tags(params)
        mode = params.get("importMode", "FULL")
        location = params["dataSource"].get("dataLocation")
        if not location:
            raise invalid("dataSource.dataLocation is required: the s3://bucket/key of the CSV to import.")
        arn = ctx.arn("dataset-import-job", params["jobName"])
        with self._lock:
            dataset = self._get("dataset", params["datasetArn"], "dataset")
            self._require_state(dataset, "dataset", params["datasetArn"])
            self._ensure_new("datasetImportJob", arn, "dataset import job")
            pending = sum(1 for r in self._records["datasetImportJob"].values() if r["status"] in WORKING)
            if pending >= MAX_PENDING_IMPORT_JOBS:
                raise ApiError(
                    "LimitExceededException",
                    f"More than {MAX_PENDING_IMPORT_JOBS} resources with PENDING or IN_PROGRESS status.",
                )
            record = self._new_record(
                "datasetImportJob",
                arn,
                {
                    "jobName": params["jobName"],
                    "datasetImportJobArn": arn,
                    "datasetArn": params["datasetArn"],
                    "dataSource": {"dataLocation": location},
                    "roleArn": params.get("roleArn"),
                    "importMode": mode,
                    "publishAttributionMetricsToS3": params.get("publishAttributionMetricsToS3"),
                },
            )
            schema: Schema = self._records["schema"][dataset["schemaArn"]]["_parsed"]
        dataset_arn = params["datasetArn"]
        role_arn = params.get("roleArn")
        if role_arn:
            self._check(ctx.caller, "iam:PassRole", role_arn, **{"iam:PassedToService": SERVICE})

        def work() -> None:
            s3 = self._s3_client(role_arn)
            try:
                table = read_s3_location(s3, location, schema)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in ("AccessDenied", "403"):
                    raise
                message = error.response["Error"].get("Message", "")
                raise ImportFailure(f"{INSUFFICIENT_PRIVILEGES} {message}") from None
            finally:
                s3.close()
            if len(table) == 0:
                raise ImportFailure(f"{location}: the file has a header but no rows; add the data to import")
            with self._lock:
                previous = self._data.get(dataset_arn)
                self._data[dataset_arn] = (
                    previous.extended(table) if mode == "INCREMENTAL" and previous else table
                )

        self._progress(record, "datasetImportJob", (params["jobName"],), work)
        return {"datasetImportJobArn": arn}

    def _s3_client(self, role_arn: str | None) -> Any:
        """An S3 client acting as Personalize with the job's role. Under an authorizer the reads must be
        allowed by the role's policy and by the bucket policy, as AWS requires for imports."""
        session = boto3.session.Session()
        if self._authorizer is not None:
            if not role_arn:
                raise ImportFailure(f"{INSUFFICIENT_PRIVILEGES} The import job names no roleArn.")
            try:
                role = self._authorizer.assume(
                    role_arn, SERVICE, "personalize-import", resource_grant_required=True
                )
            except AccessDenied as denied:
                raise ImportFailure(f"{INSUFFICIENT_PRIVILEGES} {denied.message}") from None
            session = boto3.session.Session(
                aws_access_key_id=role.access_key,
                aws_secret_access_key=role.secret_key,
                aws_session_token=role.token,
            )
        # A fresh session per job: boto3's default session is not thread-safe. With no endpoint
        # given, boto3 reads AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL itself.
        return session.client("s3", endpoint_url=self._s3_endpoint_url)

    def _op_create_solution(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        self._check_tags(params)
        if params.get("performAutoML"):
            raise invalid("performAutoML is not supported by the local endpoint; pass a recipeArn instead.")
        if params.get("performHPO"):
            raise invalid("performHPO is not supported by the local endpoint; set it to false.")
        recipe_arn = params.get("recipeArn")
        if not recipe_arn:
            raise invalid("recipeArn is required when performAutoML is false.")
        recipe = recipe_arn.rsplit("/", 1)[-1]
        if recipe_arn != _recipe_arn(recipe) or recipe not in RECIPES:
            raise not_found("recipe", recipe_arn)
        config = dict(params.get("solutionConfig") or {})
        objective = config.get("optimizationObjective")
        if objective is not None and not objective.get("itemAttribute"):
            raise invalid(
                "optimizationObjective needs itemAttribute: the numeric items column to optimise, e.g. ROYALTY."
            )
        if objective and recipe not in OBJECTIVE_RECIPES:
            raise invalid(
                f"optimizationObjective works only with {', '.join(_recipe_arn(r) for r in OBJECTIVE_RECIPES)}; "
                f"remove it or change the recipe from {recipe_arn}."
            )
        hyper = config.get("algorithmHyperParameters") or {}
        unknown = sorted(set(hyper) - KNOWN_HYPERPARAMETERS)
        if unknown:
            raise invalid(
                f"algorithmHyperParameters {', '.join(unknown)} are not hyperparameters of {recipe}; "
                f"use {', '.join(sorted(KNOWN_HYPERPARAMETERS))}."
            )
        try:
            training.Hyperparameters.from_config(hyper)
        except ValueError as exc:
            raise invalid(f'algorithmHyperParameters: {exc}; pass numbers as strings, e.g. "64".') from None
        auto = params.get("performAutoTraining", True)
        if auto and "autoTrainingConfig" not in config:
            config["autoTrainingConfig"] = {"schedulingExpression": AUTO_TRAINING_SCHEDULE}
        arn = ctx.arn("solution", params["name"])
        with self._lock:
            group = self._get("datasetGroup", params["datasetGroupArn"], "dataset group")
            self._require_state(group, "dataset group", params["datasetGroupArn"])
            self._ensure_new("solution", arn, "solution")
            if objective:
                self._check_objective_column(params["datasetGroupArn"], objective.get("itemAttribute", ""))
            count = sum(
                1
                for r in self._records["solution"].values()
                if r["datasetGroupArn"] == params["datasetGroupArn"]
            )
            if count >= MAX_SOLUTIONS_PER_GROUP:
                raise ApiError(
                    "LimitExceededException",
                    f"The dataset group already has {count} solutions; the limit is {MAX_SOLUTIONS_PER_GROUP}. "
                    "Delete a solution first.",
                )
            record = self._new_record(
                "solution",
                arn,
                {
                    "name": params["name"],
                    "solutionArn": arn,
                    "performHPO": False,
                    "performAutoML": False,
                    "performAutoTraining": auto,
                    "performIncrementalUpdate": params.get("performIncrementalUpdate"),
                    "recipeArn": recipe_arn,
                    "datasetGroupArn": params["datasetGroupArn"],
                    "eventType": params.get("eventType"),
                    "solutionConfig": config,
                },
            )
        self._progress(record, "solution", (params["name"],))
        return {"solutionArn": arn}

    def _items_dataset(self, group_arn: str, dataset_type: str) -> dict[str, Any] | None:
        return next(
            (
                r
                for r in self._records["dataset"].values()
                if r["datasetGroupArn"] == group_arn and r["datasetType"] == dataset_type
            ),
            None,
        )

    def _check_objective_column(self, group_arn: str, column_name: str) -> None:
        items = self._items_dataset(group_arn, "ITEMS")
        if items is None:
            return
        schema: Schema = self._records["schema"][items["schemaArn"]]["_parsed"]
        column = schema.column(column_name)
        if column is None or column.type not in NUMERIC_TYPES or column.nullable:
            raise invalid(
                f"optimizationObjective.itemAttribute {column_name!r} must be a non-nullable numeric column of the "
                f"items dataset's schema (its columns: {', '.join(c.name for c in schema.columns)})."
            )

    def _op_delete_solution(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        arn = params["solutionArn"]
        with self._lock:
            record = self._get("solution", arn, "solution")
            self._require_state(record, "solution", arn, (ACTIVE, FAILED))
            versions = {a for a, r in self._records["solutionVersion"].items() if r["solutionArn"] == arn}
            campaigns = [
                a for a, r in self._records["campaign"].items() if self._campaign_versions(r) & versions
            ]
            if campaigns:
                raise in_use(
                    f"The solution {arn} is deployed by {', '.join(campaigns)}; delete those campaigns first."
                )
            training_now = [a for a in versions if self._records["solutionVersion"][a]["status"] in WORKING]
            if training_now:
                raise in_use(
                    f"The solution {arn} is training {', '.join(training_now)}; wait for it or stop it first."
                )
            self._delete("solution", arn, record)
            for version in versions:
                self._records["solutionVersion"].pop(version, None)
                self._models.pop(version, None)
        return {}

    @staticmethod
    def _campaign_versions(campaign: dict[str, Any]) -> set[str]:
        update = campaign.get("latestCampaignUpdate") or {}
        return {
            campaign["solutionVersionArn"],
            update.get("solutionVersionArn", campaign["solutionVersionArn"]),
        }

    # ---- solution versions ----------------------------------------------------------------
    def _op_create_solution_version(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        self._check_tags(params)
        mode = params.get("trainingMode", "FULL")
        if mode == "AUTOTRAIN":
            raise invalid("trainingMode AUTOTRAIN is set by Personalize itself; use FULL or UPDATE.")
        with self._lock:
            solution = self._get("solution", params["solutionArn"], "solution")
            self._require_state(solution, "solution", params["solutionArn"])
            siblings = [
                r
                for r in self._records["solutionVersion"].values()
                if r["solutionArn"] == params["solutionArn"]
            ]
            busy = [r["solutionVersionArn"] for r in siblings if r["status"] in (*WORKING, STOPPING)]
            if busy:
                raise in_use(
                    f"The solution {params['solutionArn']} is already training {busy[0]}; wait until it finishes."
                )
            if params.get("name") and any(r.get("name") == params["name"] for r in siblings):
                raise ApiError(
                    "ResourceAlreadyExistsException",
                    f"The solution already has a version named {params['name']}; choose another name.",
                )
            pending = sum(1 for r in self._records["solutionVersion"].values() if r["status"] in WORKING)
            if pending >= MAX_PENDING_SOLUTION_VERSIONS:
                raise ApiError(
                    "LimitExceededException",
                    f"More than {MAX_PENDING_SOLUTION_VERSIONS} solution versions with PENDING or IN_PROGRESS status.",
                )
            base = None
            if mode == "UPDATE":
                base = next(
                    (
                        r
                        for r in sorted(siblings, key=lambda r: -r["creationDateTime"])
                        if r["status"] == ACTIVE and r["trainingMode"] == "FULL"
                    ),
                    None,
                )
                if base is None:
                    raise invalid(
                        "trainingMode UPDATE needs an ACTIVE solution version trained with FULL; create a FULL one first."
                    )
            arn = f"{params['solutionArn']}/{uuid.uuid4().hex[:8]}"
            record = self._new_record(
                "solutionVersion",
                arn,
                {
                    "name": params.get("name"),
                    "solutionVersionArn": arn,
                    "solutionArn": params["solutionArn"],
                    "performHPO": solution["performHPO"],
                    "performAutoML": solution["performAutoML"],
                    "performIncrementalUpdate": solution.get("performIncrementalUpdate"),
                    "recipeArn": solution["recipeArn"],
                    "eventType": solution.get("eventType"),
                    "datasetGroupArn": solution["datasetGroupArn"],
                    "solutionConfig": solution["solutionConfig"],
                    "trainingMode": mode,
                    "trainingType": "MANUAL",
                },
            )
            self._update(solution, latestSolutionVersion=record)
        names = tuple(n for n in (params.get("name"), solution["name"]) if n)
        base_arn = base["solutionVersionArn"] if base else None

        def work() -> None:
            model = self._train(solution, base_arn)
            with self._lock:
                self._models[arn] = model
                record["trainingHours"] = round(model.training_seconds / 3600, 8)

        self._progress(record, "solutionVersion", names, work, heavy=True)
        return {"solutionVersionArn": arn}

    def _snapshot(self, group_arn: str, objective_column: str | None) -> training.Interactions:
        with self._lock:
            interactions_ds = self._items_dataset(group_arn, "INTERACTIONS")
            items_ds = self._items_dataset(group_arn, "ITEMS")
            interactions = self._data.get(interactions_ds["datasetArn"]) if interactions_ds else None
            items = self._data.get(items_ds["datasetArn"]) if items_ds else None
        if interactions is None:
            raise training.TrainingFailure(
                "The dataset group has no imported interactions; create an INTERACTIONS dataset, import data "
                "with CreateDatasetImportJob and wait until the job is ACTIVE."
            )
        with self._lock:
            made = self._snapshots.get((group_arn, objective_column))
        if made is not None and made[0] is interactions and made[1] is items:
            return made[2]
        snapshot = self._new_snapshot(interactions, items, objective_column)
        with self._lock:
            self._snapshots[(group_arn, objective_column)] = (interactions, items, snapshot)
        return snapshot

    def _new_snapshot(
        self, interactions: Table, items: Table | None, objective_column: str | None
    ) -> training.Interactions:
        catalogue: Sequence[str] = items.columns["ITEM_ID"] if items else ()
        objective = None
        if objective_column:
            if items is None or objective_column not in items.columns:
                raise training.TrainingFailure(
                    f"optimizationObjective.itemAttribute {objective_column} needs an ITEMS dataset with that "
                    "numeric column and imported data; import the items first."
                )
            objective = dict(zip(items.columns["ITEM_ID"], items.columns[objective_column], strict=True))
        columns = interactions.columns
        # The imported columns are never changed in place (an import replaces the table), so the
        # snapshot reads them without a copy.
        return training.Interactions(
            users=columns["USER_ID"],
            items=columns["ITEM_ID"],
            timestamps=columns["TIMESTAMP"],
            catalogue=catalogue,
            objective=objective,
        )

    def _train(self, solution: dict[str, Any], base_arn: str | None) -> training.TrainedModel:
        config = solution["solutionConfig"]
        objective = config.get("optimizationObjective") or {}
        data = self._snapshot(solution["datasetGroupArn"], objective.get("itemAttribute"))
        hyper = training.Hyperparameters.from_config(config.get("algorithmHyperParameters") or {})
        # Personalize documents no default sensitivity; LOW is the mildest setting that does something.
        sensitivity = objective.get("objectiveSensitivity", "LOW") if objective else None
        base = self._models.get(base_arn) if base_arn else None
        if base is not None:
            return training.update(base, data, hyper)
        return training.train(data, hyper, sensitivity, self._cache)

    def _op_stop_solution_version_creation(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        arn = params["solutionVersionArn"]
        with self._lock:
            record = self._get("solutionVersion", arn, "solution version")
            self._require_state(record, "solution version", arn, WORKING)
            self._update(record, status=STOPPING)
        return {}

    def _op_get_solution_metrics(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        arn = params["solutionVersionArn"]
        with self._lock:
            record = self._get("solutionVersion", arn, "solution version")
            self._require_state(record, "solution version", arn)
            model = self._models[arn]
        return {"solutionVersionArn": arn, "metrics": dict(model.metrics)}

    # ---- campaigns ------------------------------------------------------------------------
    def _active_campaigns(self, group_arn: str) -> int:
        return sum(
            1
            for r in self._records["campaign"].values()
            if r["_datasetGroupArn"] == group_arn and r["status"] in (*WORKING, ACTIVE)
        )

    def _op_create_campaign(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        self._check_tags(params)
        version_arn = params["solutionVersionArn"]
        arn = ctx.arn("campaign", params["name"])
        with self._lock:
            version = self._get("solutionVersion", version_arn, "solution version")
            self._require_state(version, "solution version", version_arn)
            self._ensure_new("campaign", arn, "campaign")
            group_arn = version["datasetGroupArn"]
            if self._active_campaigns(group_arn) >= MAX_ACTIVE_CAMPAIGNS_PER_GROUP:
                raise ApiError(
                    "LimitExceededException",
                    f"The dataset group already has {MAX_ACTIVE_CAMPAIGNS_PER_GROUP} active campaigns; "
                    "delete one first.",
                )
            record = self._new_record(
                "campaign",
                arn,
                {
                    "name": params["name"],
                    "campaignArn": arn,
                    "solutionVersionArn": version_arn,
                    "minProvisionedTPS": params.get("minProvisionedTPS", 1),
                    "campaignConfig": params.get("campaignConfig"),
                    "_datasetGroupArn": group_arn,
                    "_solutionArn": version["solutionArn"],
                },
            )

        def serve() -> None:
            record["_serving"] = version_arn

        self._progress(record, "campaign", (params["name"],), on_active=serve)
        return {"campaignArn": arn}

    def _op_update_campaign(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        arn = params["campaignArn"]
        with self._lock:
            record = self._get("campaign", arn, "campaign")
            self._require_state(record, "campaign", arn)
            update_status = (record.get("latestCampaignUpdate") or {}).get("status")
            if update_status in WORKING:
                raise in_use(f"The campaign {arn} is already being updated; wait until the update is ACTIVE.")
            version_arn = params.get("solutionVersionArn", record["solutionVersionArn"])
            version = self._get("solutionVersion", version_arn, "solution version")
            self._require_state(version, "solution version", version_arn)
            if version["datasetGroupArn"] != record["_datasetGroupArn"]:
                raise invalid(
                    f"The solution version {version_arn} belongs to another dataset group than the campaign; "
                    "pick a version trained in the campaign's dataset group."
                )
            now = time.time()
            update = {
                "solutionVersionArn": version_arn,
                "minProvisionedTPS": params.get("minProvisionedTPS", record["minProvisionedTPS"]),
                "campaignConfig": params.get("campaignConfig", record.get("campaignConfig")),
                "status": PENDING,
                "creationDateTime": now,
                "lastUpdatedDateTime": now,
            }
            self._update(record, latestCampaignUpdate=update)

        def switch() -> None:
            # Runs under the lock: the campaign serves the new version from the moment the update is ACTIVE.
            record.update(
                solutionVersionArn=update["solutionVersionArn"],
                minProvisionedTPS=update["minProvisionedTPS"],
                campaignConfig=update["campaignConfig"],
                _serving=update["solutionVersionArn"],
                _solutionArn=version["solutionArn"],
            )
            if record.get("campaignConfig") is None:
                record.pop("campaignConfig", None)

        self._progress(record, "campaign", (record["name"],), on_active=switch, target=update)
        return {"campaignArn": arn}

    def _op_delete_campaign(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        arn = params["campaignArn"]
        with self._lock:
            record = self._get("campaign", arn, "campaign")
            self._require_state(record, "campaign", arn, (ACTIVE, FAILED))
            if (record.get("latestCampaignUpdate") or {}).get("status") in WORKING:
                raise in_use(f"The campaign {arn} is being updated; wait until the update finishes.")
            self._delete("campaign", arn, record)
        return {}

    # ---- recipes --------------------------------------------------------------------------
    def _recipe(self, name: str) -> dict[str, Any]:
        recipe_type, description = RECIPES[name]
        return {
            "name": name,
            "recipeArn": _recipe_arn(name),
            "algorithmArn": f"arn:aws:personalize:::algorithm/{name}",
            "featureTransformationArn": "arn:aws:personalize:::feature-transformation/sims",
            "status": ACTIVE,
            "description": description,
            "creationDateTime": self._started,
            "lastUpdatedDateTime": self._started,
            "recipeType": recipe_type,
        }

    def _op_describe_recipe(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        name = params["recipeArn"].rsplit("/", 1)[-1]
        if name not in RECIPES or params["recipeArn"] != _recipe_arn(name):
            raise not_found("recipe", params["recipeArn"])
        return {"recipe": self._recipe(name)}

    def _op_list_recipes(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        recipes = [] if params.get("domain") else [self._recipe(n) for n in sorted(RECIPES)]
        return _page(recipes, params, "recipes")

    # ---- runtime --------------------------------------------------------------------------
    def _serving_model(self, campaign_arn: str) -> tuple[training.TrainedModel, str]:
        with self._lock:
            campaign = self._records["campaign"].get(campaign_arn)
            if campaign is None:
                raise not_found("campaign", campaign_arn)
            serving = campaign.get("_serving")
            model = self._models.get(serving) if serving else None
            recipe = self._records["solutionVersion"][serving]["recipeArn"] if serving else ""
        if model is None:
            raise invalid(
                f"The campaign {campaign_arn} is {campaign['status']} and serves no solution version yet; "
                "wait until it is ACTIVE."
            )
        return model, recipe.rsplit("/", 1)[-1]

    def get_recommendations(self, params: dict[str, Any]) -> dict[str, Any]:
        for unsupported in (
            "filterArn",
            "filterValues",
            "promotions",
            "metadataColumns",
            "recommenderArn",
            "itemId",
        ):
            if params.get(unsupported):
                raise invalid(
                    f"{unsupported} is not supported by the local endpoint (campaigns of User-Personalization "
                    "solutions only); remove it."
                )
        if not params.get("campaignArn"):
            raise invalid("campaignArn is required.")
        if not params.get("userId"):
            raise invalid("userId is required for a User-Personalization campaign.")
        count = params.get("numResults", DEFAULT_NUM_RESULTS)
        if count < 1 or count > MAX_NUM_RESULTS:
            raise invalid(f"numResults must be between 1 and {MAX_NUM_RESULTS}; it was {count}.")
        model, recipe = self._serving_model(params["campaignArn"])
        if RECIPES[recipe][0] != "USER_PERSONALIZATION":
            raise invalid(f"The campaign's recipe {recipe} ranks items; call GetPersonalizedRanking instead.")
        items = model.recommend(params["userId"], count)
        return {
            "itemList": [{"itemId": item, "score": score} for item, score in items],
            "recommendationId": f"RID-{uuid.uuid4()}",
        }

    def get_personalized_ranking(self, params: dict[str, Any]) -> dict[str, Any]:
        for unsupported in ("filterArn", "filterValues", "metadataColumns"):
            if params.get(unsupported):
                raise invalid(f"{unsupported} is not supported by the local endpoint; remove it.")
        model, recipe = self._serving_model(params["campaignArn"])
        if RECIPES[recipe][0] != "PERSONALIZED_RANKING":
            raise invalid(
                f"The campaign's recipe {recipe} is not a ranking recipe; deploy an aws-personalized-ranking "
                "solution to call GetPersonalizedRanking, or call GetRecommendations."
            )
        ranked = model.rank_items(params["userId"], params["inputList"])
        return {
            "personalizedRanking": [{"itemId": item, "score": score} for item, score in ranked],
            "recommendationId": f"RID-{uuid.uuid4()}",
        }


def _page(items: list[dict[str, Any]], params: dict[str, Any], key: str) -> dict[str, Any]:
    """One page of a List answer, with a nextToken when more remain."""
    start = _decode_token(params.get("nextToken"))
    size = params.get("maxResults", 100)
    result: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        result["nextToken"] = _encode_token(start + size)
    return result


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if text.startswith("offset:"):
            return int(text[len("offset:") :])
    except (ValueError, UnicodeDecodeError):
        pass
    raise ApiError(
        "InvalidNextTokenException", "The nextToken is not one this endpoint issued; start again without it."
    )
