"""Personalize's control-plane operations, one method each, and `OPERATIONS`: the table from an
operation's name to the method that answers it. Each method checks the request against the store and
Personalize's quotas, changes records in one transaction, and hands slow work to the job runner."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from botocore.model import ListShape, StructureShape

from objective_sweep.personalize import training
from objective_sweep.personalize.access import SERVICE, Access
from objective_sweep.personalize.data import DATASET_TYPES, NUMERIC_TYPES, check_schema_for_type, parse_schema
from objective_sweep.personalize.imports import S3Reader
from objective_sweep.personalize.jobs import JobRunner
from objective_sweep.personalize.protocol import (
    ApiError,
    already_exists,
    in_use,
    invalid,
    limit_exceeded,
    not_found,
    page,
    project,
    service_model,
)
from objective_sweep.personalize.records import (
    ACCOUNT,
    ACTIVE,
    FAILED,
    PENDING,
    RECIPES,
    STOPPING,
    WORKING,
    Campaign,
    CampaignUpdate,
    Dataset,
    DatasetGroup,
    DatasetImportJob,
    Records,
    Resource,
    Schema,
    Solution,
    SolutionVersion,
    Store,
    Tracked,
    arn_region,
    recipe_arn,
)
from objective_sweep.personalize.trainer import Trainer

# Personalize's service quotas that the workflow can run into.
MAX_PENDING_IMPORT_JOBS = 5
MAX_PENDING_SOLUTION_VERSIONS = 20
MAX_SOLUTIONS_PER_GROUP = 10
MAX_ACTIVE_CAMPAIGNS_PER_GROUP = 5
MAX_TAGS = 50
AUTO_TRAINING_SCHEDULE = "rate(7 days)"

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


class Parent(NamedTuple):
    """How a List operation filters by a parent: the request member, the record's ARN it matches, and
    the kind whose existence is checked first (None where the real API does not check)."""

    member: str
    of: Callable[[Any], str]
    checked: type[Resource] | None = None


@dataclass(frozen=True)
class Context:
    region: str
    account: str = ACCOUNT
    # The access key the request was signed with: the authorizer's view of who is calling.
    caller: str | None = None

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:personalize:{self.region}:{self.account}:{kind}/{name}"


Params = dict[str, Any]
Answer = dict[str, Any]


def _check_tags(params: Params) -> None:
    if len(params.get("tags") or []) > MAX_TAGS:
        raise ApiError("TooManyTagsException", f"A resource can have at most {MAX_TAGS} tags.")


def _require_state(record: Tracked, arn: str, allowed: Iterable[str] = (ACTIVE,)) -> None:
    allowed = tuple(allowed)
    if record.status not in allowed:
        raise in_use(
            f"The {record.LABEL} {arn} is {record.status}; it must be {' or '.join(allowed)} for this "
            "call. Wait until its status changes and try again."
        )


class Operations:
    """The control plane over one store. Handlers return plain answers whose records (`Resource`) the
    caller projects onto botocore's output shape under the store's lock."""

    def __init__(self, store: Store, jobs: JobRunner, access: Access, reader: S3Reader) -> None:
        self._store = store
        self._jobs = jobs
        self._access = access
        self._reader = reader
        self._trainer = Trainer(store)

    # ---- generic Describe / List ----------------------------------------------------------
    def describe_record(
        self, kind: type[Resource], arn_member: str, output_member: str, params: Params, ctx: Context
    ) -> Answer:
        with self._store.transaction() as records:
            return {output_member: records.get(kind, params[arn_member])}

    def list_records(
        self,
        operation: str,
        kind: type[Resource],
        key: str,
        parent: Parent | None,
        params: Params,
        ctx: Context,
    ) -> Answer:
        output = service_model("personalize").operation_model(operation).output_shape
        summary_shape = cast(ListShape, cast(StructureShape, output).members[key]).member
        parent_arn = params.get(parent.member) if parent else None
        with self._store.transaction() as records:
            if parent and parent_arn and parent.checked:
                records.get(parent.checked, parent_arn)
            found = [
                r
                for r in records.all(kind)
                if arn_region(r.arn) in (ctx.region, "")
                and (parent is None or parent_arn is None or parent.of(r) == parent_arn)
            ]
            found.sort(key=lambda r: -r.created)
            return page([project(r.wire(), summary_shape) for r in found], params, key)

    # ---- dataset groups -------------------------------------------------------------------
    def create_dataset_group(self, params: Params, ctx: Context) -> Answer:
        _check_tags(params)
        if params.get("kmsKeyArn") and not params.get("roleArn"):
            raise invalid(
                "kmsKeyArn needs a roleArn that lets Personalize use the key; pass both or neither."
            )
        arn = ctx.arn("dataset-group", params["name"])
        with self._store.transaction() as records:
            record = records.add(
                DatasetGroup(
                    arn=arn,
                    name=params["name"],
                    role_arn=params.get("roleArn"),
                    kms_key_arn=params.get("kmsKeyArn"),
                    domain=params.get("domain"),
                )
            )
        self._jobs.progress(record, "datasetGroup", (params["name"],))
        return {"datasetGroupArn": arn, "domain": params.get("domain")}

    def delete_dataset_group(self, params: Params, ctx: Context) -> Answer:
        arn = params["datasetGroupArn"]
        with self._store.transaction() as records:
            record = records.get(DatasetGroup, arn)
            _require_state(record, arn, (ACTIVE, FAILED))
            children = [d.arn for d in records.all(Dataset) if d.dataset_group_arn == arn] + [
                s.arn for s in records.all(Solution) if s.dataset_group_arn == arn
            ]
            if children:
                raise in_use(
                    f"The dataset group {arn} still contains {', '.join(children)}; delete its solutions "
                    "(after their campaigns) and datasets first."
                )
            self._jobs.delete(record)
        return {}

    # ---- schemas --------------------------------------------------------------------------
    def create_schema(self, params: Params, ctx: Context) -> Answer:
        parsed = parse_schema(params["schema"])
        arn = ctx.arn("schema", params["name"])
        with self._store.transaction() as records:
            records.add(
                Schema(
                    arn=arn,
                    name=params["name"],
                    body=params["schema"],
                    parsed=parsed,
                    domain=params.get("domain"),
                )
            )
        return {"schemaArn": arn}

    def delete_schema(self, params: Params, ctx: Context) -> Answer:
        arn = params["schemaArn"]
        with self._store.transaction() as records:
            records.get(Schema, arn)
            users = [d.arn for d in records.all(Dataset) if d.schema_arn == arn]
            if users:
                raise in_use(f"The schema {arn} is used by {', '.join(users)}; delete those datasets first.")
            records.remove(Schema, arn)
        return {}

    # ---- datasets -------------------------------------------------------------------------
    def create_dataset(self, params: Params, ctx: Context) -> Answer:
        _check_tags(params)
        dataset_type = params["datasetType"].upper()
        if dataset_type not in DATASET_TYPES:
            raise invalid(
                f"datasetType {params['datasetType']!r} is not supported locally; use one of {', '.join(DATASET_TYPES)}."
            )
        with self._store.transaction() as records:
            group = records.get(DatasetGroup, params["datasetGroupArn"])
            schema = records.get(Schema, params["schemaArn"])
            _require_state(group, params["datasetGroupArn"])
            check_schema_for_type(schema.parsed, dataset_type)
            record = records.add(
                Dataset(
                    arn=ctx.arn("dataset", f"{group.name}/{dataset_type}"),
                    name=params["name"],
                    dataset_group_arn=params["datasetGroupArn"],
                    dataset_type=dataset_type,
                    schema_arn=params["schemaArn"],
                ),
                label=f"{dataset_type} dataset",
            )
        self._jobs.progress(record, "dataset", (params["name"],))
        return {"datasetArn": record.arn}

    def delete_dataset(self, params: Params, ctx: Context) -> Answer:
        arn = params["datasetArn"]
        with self._store.transaction() as records:
            record = records.get(Dataset, arn)
            _require_state(record, arn, (ACTIVE, FAILED))
            running = [
                j.arn for j in records.all(DatasetImportJob) if j.dataset_arn == arn and j.status in WORKING
            ]
            if running:
                raise in_use(
                    f"The dataset {arn} has import jobs in progress ({', '.join(running)}); wait for them."
                )
            self._jobs.delete(record)
        return {}

    # ---- dataset import jobs --------------------------------------------------------------
    def create_dataset_import_job(self, params: Params, ctx: Context) -> Answer:
        _check_tags(params)
        mode = params.get("importMode", "FULL")
        location = params["dataSource"].get("dataLocation")
        if not location:
            raise invalid("dataSource.dataLocation is required: the s3://bucket/key of the CSV to import.")
        arn = ctx.arn("dataset-import-job", params["jobName"])
        dataset_arn = params["datasetArn"]
        role_arn = params.get("roleArn")
        # As in Personalize, a role the caller may not pass refuses the call before anything is recorded.
        if role_arn:
            self._access.check(ctx.caller, "iam:PassRole", role_arn, **{"iam:PassedToService": SERVICE})
        with self._store.transaction() as records:
            dataset = records.get(Dataset, dataset_arn)
            _require_state(dataset, dataset_arn)
            records.ensure_new(DatasetImportJob, arn)
            pending = sum(1 for j in records.all(DatasetImportJob) if j.status in WORKING)
            if pending >= MAX_PENDING_IMPORT_JOBS:
                raise limit_exceeded(
                    f"More than {MAX_PENDING_IMPORT_JOBS} resources with PENDING or IN_PROGRESS status.",
                )
            record = records.add(
                DatasetImportJob(
                    arn=arn,
                    job_name=params["jobName"],
                    dataset_arn=dataset_arn,
                    data_location=location,
                    role_arn=role_arn,
                    import_mode=mode,
                    publish_attribution_metrics_to_s3=params.get("publishAttributionMetricsToS3"),
                )
            )
            schema = records.get(Schema, dataset.schema_arn).parsed

        def work() -> None:
            table = self._reader.read(location, schema, role_arn)
            with self._store.transaction() as records:
                previous = records.tables.get(dataset_arn)
                records.tables[dataset_arn] = (
                    previous.extended(table) if mode == "INCREMENTAL" and previous else table
                )

        self._jobs.progress(record, "datasetImportJob", (params["jobName"],), work)
        return {"datasetImportJobArn": arn}

    # ---- solutions ------------------------------------------------------------------------
    def create_solution(self, params: Params, ctx: Context) -> Answer:
        _check_tags(params)
        if params.get("performAutoML"):
            raise invalid("performAutoML is not supported by the local endpoint; pass a recipeArn instead.")
        if params.get("performHPO"):
            raise invalid("performHPO is not supported by the local endpoint; set it to false.")
        recipe = params.get("recipeArn")
        if not recipe:
            raise invalid("recipeArn is required when performAutoML is false.")
        recipe_name = recipe.rsplit("/", 1)[-1]
        if recipe != recipe_arn(recipe_name) or recipe_name not in RECIPES:
            raise not_found("recipe", recipe)
        config = dict(params.get("solutionConfig") or {})
        objective = config.get("optimizationObjective")
        if objective is not None and not objective.get("itemAttribute"):
            raise invalid(
                "optimizationObjective needs itemAttribute: the numeric items column to optimise, e.g. ROYALTY."
            )
        if objective and recipe_name not in OBJECTIVE_RECIPES:
            raise invalid(
                f"optimizationObjective works only with {', '.join(recipe_arn(r) for r in OBJECTIVE_RECIPES)}; "
                f"remove it or change the recipe from {recipe}."
            )
        hyper = config.get("algorithmHyperParameters") or {}
        unknown = sorted(set(hyper) - KNOWN_HYPERPARAMETERS)
        if unknown:
            raise invalid(
                f"algorithmHyperParameters {', '.join(unknown)} are not hyperparameters of {recipe_name}; "
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
        group_arn = params["datasetGroupArn"]
        with self._store.transaction() as records:
            group = records.get(DatasetGroup, group_arn)
            _require_state(group, group_arn)
            records.ensure_new(Solution, arn)
            if objective:
                _check_objective_column(records, group_arn, objective.get("itemAttribute", ""))
            count = sum(1 for s in records.all(Solution) if s.dataset_group_arn == group_arn)
            if count >= MAX_SOLUTIONS_PER_GROUP:
                raise limit_exceeded(
                    f"The dataset group already has {count} solutions; the limit is {MAX_SOLUTIONS_PER_GROUP}. "
                    "Delete a solution first.",
                )
            record = records.add(
                Solution(
                    arn=arn,
                    name=params["name"],
                    perform_auto_training=auto,
                    perform_incremental_update=params.get("performIncrementalUpdate"),
                    recipe_arn=recipe,
                    dataset_group_arn=group_arn,
                    event_type=params.get("eventType"),
                    config=config,
                )
            )
        self._jobs.progress(record, "solution", (params["name"],))
        return {"solutionArn": arn}

    def delete_solution(self, params: Params, ctx: Context) -> Answer:
        arn = params["solutionArn"]
        with self._store.transaction() as records:
            record = records.get(Solution, arn)
            _require_state(record, arn, (ACTIVE, FAILED))
            versions = [v for v in records.all(SolutionVersion) if v.solution.arn == arn]
            version_arns = {v.arn for v in versions}
            campaigns = [c.arn for c in records.all(Campaign) if c.versions() & version_arns]
            if campaigns:
                raise in_use(
                    f"The solution {arn} is deployed by {', '.join(campaigns)}; delete those campaigns first."
                )
            training_now = [v.arn for v in versions if v.status in WORKING]
            if training_now:
                raise in_use(
                    f"The solution {arn} is training {', '.join(training_now)}; wait for it or stop it first."
                )
            self._jobs.delete(record)
            for version in version_arns:
                records.remove(SolutionVersion, version)
        return {}

    # ---- solution versions ----------------------------------------------------------------
    def create_solution_version(self, params: Params, ctx: Context) -> Answer:
        _check_tags(params)
        mode = params.get("trainingMode", "FULL")
        if mode == "AUTOTRAIN":
            raise invalid("trainingMode AUTOTRAIN is set by Personalize itself; use FULL or UPDATE.")
        solution_arn = params["solutionArn"]
        name = params.get("name")
        with self._store.transaction() as records:
            solution = records.get(Solution, solution_arn)
            _require_state(solution, solution_arn)
            siblings = [v for v in records.all(SolutionVersion) if v.solution.arn == solution_arn]
            busy = [v.arn for v in siblings if v.status in (*WORKING, STOPPING)]
            if busy:
                raise in_use(
                    f"The solution {solution_arn} is already training {busy[0]}; wait until it finishes."
                )
            if name and any(v.name == name for v in siblings):
                raise already_exists(
                    f"The solution already has a version named {name}; choose another name.",
                )
            pending = sum(1 for v in records.all(SolutionVersion) if v.status in WORKING)
            if pending >= MAX_PENDING_SOLUTION_VERSIONS:
                raise limit_exceeded(
                    f"More than {MAX_PENDING_SOLUTION_VERSIONS} solution versions with PENDING or IN_PROGRESS status.",
                )
            base = None
            if mode == "UPDATE":
                base = next(
                    (
                        v
                        for v in sorted(siblings, key=lambda v: -v.created)
                        if v.status == ACTIVE and v.training_mode == "FULL"
                    ),
                    None,
                )
                if base is None:
                    raise invalid(
                        "trainingMode UPDATE needs an ACTIVE solution version trained with FULL; create a FULL one first."
                    )
            record = records.add(
                SolutionVersion(
                    arn=f"{solution_arn}/{uuid.uuid4().hex[:8]}",
                    name=name,
                    solution=solution,
                    training_mode=mode,
                )
            )
            solution.latest_version = record
            solution.touch()
        names = tuple(n for n in (name, solution.name) if n)
        base_arn = base.arn if base else None

        def work() -> None:
            model = self._trainer.train(solution, base_arn)
            with self._store.transaction() as records:
                records.models[record.arn] = model
                record.training_hours = round(model.training_seconds / 3600, 8)

        self._jobs.progress(record, "solutionVersion", names, work, heavy=True)
        return {"solutionVersionArn": record.arn}

    def stop_solution_version_creation(self, params: Params, ctx: Context) -> Answer:
        arn = params["solutionVersionArn"]
        with self._store.transaction() as records:
            record = records.get(SolutionVersion, arn)
            _require_state(record, arn, WORKING)
            record.move(STOPPING)
        return {}

    def get_solution_metrics(self, params: Params, ctx: Context) -> Answer:
        arn = params["solutionVersionArn"]
        with self._store.transaction() as records:
            record = records.get(SolutionVersion, arn)
            _require_state(record, arn)
            model = records.models[arn]
        return {"solutionVersionArn": arn, "metrics": dict(model.metrics)}

    # ---- campaigns ------------------------------------------------------------------------
    def create_campaign(self, params: Params, ctx: Context) -> Answer:
        _check_tags(params)
        version_arn = params["solutionVersionArn"]
        arn = ctx.arn("campaign", params["name"])
        with self._store.transaction() as records:
            version = records.get(SolutionVersion, version_arn)
            _require_state(version, version_arn)
            records.ensure_new(Campaign, arn)
            group_arn = version.solution.dataset_group_arn
            active = sum(
                1
                for c in records.all(Campaign)
                if c.dataset_group_arn == group_arn and c.status in (*WORKING, ACTIVE)
            )
            if active >= MAX_ACTIVE_CAMPAIGNS_PER_GROUP:
                raise limit_exceeded(
                    f"The dataset group already has {MAX_ACTIVE_CAMPAIGNS_PER_GROUP} active campaigns; "
                    "delete one first.",
                )
            record = records.add(
                Campaign(
                    arn=arn,
                    name=params["name"],
                    version=version,
                    min_provisioned_tps=params.get("minProvisionedTPS", 1),
                    config=params.get("campaignConfig"),
                )
            )

        def serve() -> None:
            record.serving = version

        self._jobs.progress(record, "campaign", (params["name"],), on_active=serve)
        return {"campaignArn": arn}

    def update_campaign(self, params: Params, ctx: Context) -> Answer:
        arn = params["campaignArn"]
        with self._store.transaction() as records:
            record = records.get(Campaign, arn)
            _require_state(record, arn)
            if record.latest_update is not None and record.latest_update.status in WORKING:
                raise in_use(f"The campaign {arn} is already being updated; wait until the update is ACTIVE.")
            version_arn = params.get("solutionVersionArn", record.version.arn)
            version = records.get(SolutionVersion, version_arn)
            _require_state(version, version_arn)
            if version.solution.dataset_group_arn != record.dataset_group_arn:
                raise invalid(
                    f"The solution version {version_arn} belongs to another dataset group than the campaign; "
                    "pick a version trained in the campaign's dataset group."
                )
            update = CampaignUpdate(
                version=version,
                min_provisioned_tps=params.get("minProvisionedTPS", record.min_provisioned_tps),
                config=params.get("campaignConfig", record.config),
                status=PENDING,
            )
            update.created = update.updated = time.time()
            record.latest_update = update
            record.touch()

        def switch() -> None:
            # Runs under the lock: the campaign serves the new version from the moment the update is ACTIVE.
            record.version = update.version
            record.min_provisioned_tps = update.min_provisioned_tps
            record.config = update.config
            record.serving = update.version

        self._jobs.progress(update, "campaign", (record.name,), on_active=switch)
        return {"campaignArn": arn}

    def delete_campaign(self, params: Params, ctx: Context) -> Answer:
        arn = params["campaignArn"]
        with self._store.transaction() as records:
            record = records.get(Campaign, arn)
            _require_state(record, arn, (ACTIVE, FAILED))
            if record.latest_update is not None and record.latest_update.status in WORKING:
                raise in_use(f"The campaign {arn} is being updated; wait until the update finishes.")
            self._jobs.delete(record)
        return {}

    # ---- recipes --------------------------------------------------------------------------
    def _recipe(self, name: str) -> dict[str, Any]:
        recipe_type, description = RECIPES[name]
        return {
            "name": name,
            "recipeArn": recipe_arn(name),
            "algorithmArn": f"arn:aws:personalize:::algorithm/{name}",
            "featureTransformationArn": "arn:aws:personalize:::feature-transformation/sims",
            "status": ACTIVE,
            "description": description,
            "creationDateTime": self._store.started,
            "lastUpdatedDateTime": self._store.started,
            "recipeType": recipe_type,
        }

    def describe_recipe(self, params: Params, ctx: Context) -> Answer:
        name = params["recipeArn"].rsplit("/", 1)[-1]
        if name not in RECIPES or params["recipeArn"] != recipe_arn(name):
            raise not_found("recipe", params["recipeArn"])
        return {"recipe": self._recipe(name)}

    def list_recipes(self, params: Params, ctx: Context) -> Answer:
        recipes = [] if params.get("domain") else [self._recipe(n) for n in sorted(RECIPES)]
        return page(recipes, params, "recipes")


def _check_objective_column(records: Records, group_arn: str, column_name: str) -> None:
    items = records.dataset(group_arn, "ITEMS")
    if items is None:
        return
    schema = records.get(Schema, items.schema_arn).parsed
    column = schema.column(column_name)
    if column is None or column.type not in NUMERIC_TYPES or column.nullable:
        raise invalid(
            f"optimizationObjective.itemAttribute {column_name!r} must be a non-nullable numeric column of the "
            f"items dataset's schema (its columns: {', '.join(c.name for c in schema.columns)})."
        )


Handler = Callable[[Operations, Params, Context], Answer]


def _describe(kind: type[Resource], arn_member: str, output_member: str) -> Handler:
    return lambda ops, params, ctx: ops.describe_record(kind, arn_member, output_member, params, ctx)


def _list(
    operation: str,
    kind: type[Resource],
    key: str,
    parent: Parent | None = None,
) -> Handler:
    return lambda ops, params, ctx: ops.list_records(operation, kind, key, parent, params, ctx)


# Operation name -> the method that answers it. An operation botocore knows but this table lacks is
# answered with UnknownOperationException naming what the endpoint implements.
OPERATIONS: dict[str, Handler] = {
    "CreateDatasetGroup": Operations.create_dataset_group,
    "DescribeDatasetGroup": _describe(DatasetGroup, "datasetGroupArn", "datasetGroup"),
    "ListDatasetGroups": _list("ListDatasetGroups", DatasetGroup, "datasetGroups"),
    "DeleteDatasetGroup": Operations.delete_dataset_group,
    "CreateSchema": Operations.create_schema,
    "DescribeSchema": _describe(Schema, "schemaArn", "schema"),
    "ListSchemas": _list("ListSchemas", Schema, "schemas"),
    "DeleteSchema": Operations.delete_schema,
    "CreateDataset": Operations.create_dataset,
    "DescribeDataset": _describe(Dataset, "datasetArn", "dataset"),
    "ListDatasets": _list(
        "ListDatasets", Dataset, "datasets", Parent("datasetGroupArn", lambda d: d.dataset_group_arn)
    ),
    "DeleteDataset": Operations.delete_dataset,
    "CreateDatasetImportJob": Operations.create_dataset_import_job,
    "DescribeDatasetImportJob": _describe(DatasetImportJob, "datasetImportJobArn", "datasetImportJob"),
    "ListDatasetImportJobs": _list(
        "ListDatasetImportJobs",
        DatasetImportJob,
        "datasetImportJobs",
        Parent("datasetArn", lambda j: j.dataset_arn),
    ),
    "CreateSolution": Operations.create_solution,
    "DescribeSolution": _describe(Solution, "solutionArn", "solution"),
    "ListSolutions": _list(
        "ListSolutions", Solution, "solutions", Parent("datasetGroupArn", lambda s: s.dataset_group_arn)
    ),
    "DeleteSolution": Operations.delete_solution,
    "CreateSolutionVersion": Operations.create_solution_version,
    "DescribeSolutionVersion": _describe(SolutionVersion, "solutionVersionArn", "solutionVersion"),
    "ListSolutionVersions": _list(
        "ListSolutionVersions",
        SolutionVersion,
        "solutionVersions",
        Parent("solutionArn", lambda v: v.solution.arn, checked=Solution),
    ),
    "StopSolutionVersionCreation": Operations.stop_solution_version_creation,
    "GetSolutionMetrics": Operations.get_solution_metrics,
    "CreateCampaign": Operations.create_campaign,
    "DescribeCampaign": _describe(Campaign, "campaignArn", "campaign"),
    "ListCampaigns": _list(
        "ListCampaigns", Campaign, "campaigns", Parent("solutionArn", lambda c: c.solution_arn)
    ),
    "UpdateCampaign": Operations.update_campaign,
    "DeleteCampaign": Operations.delete_campaign,
    "DescribeRecipe": Operations.describe_recipe,
    "ListRecipes": Operations.list_recipes,
}
