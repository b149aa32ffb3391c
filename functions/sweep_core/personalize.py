"""Personalize resource operations of the sweep, each one describe-or-create by deterministic name.

Every ``ensure_*`` function is safe to call again and again: it creates what is missing, reports
the status of what exists, and returns the next state of its wait loop. The state machine calls it
until ``poll.done``; a rerun or a retried task therefore finds the resources instead of duplicating
them.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sweep_core import names
from sweep_core.errors import (
    InvalidInputError,
    Problem,
    ResourceBusyError,
    ResourceFailedError,
    ResourceLimitError,
)
from sweep_core.polling import next_poll
from sweep_core.report.model import DeploymentDecision
from sweep_core.steps import (
    CampaignState,
    DataKind,
    ImportState,
    LevelState,
    Poll,
    Run,
    SolutionState,
    VersionState,
    WaitPolicy,
)

if TYPE_CHECKING:
    from mypy_boto3_personalize import PersonalizeClient
    from mypy_boto3_personalize.type_defs import OptimizationObjectiveTypeDef

ACTIVE = "ACTIVE"
FAILED_STATUSES = ("CREATE FAILED", "CREATE STOPPED", "CREATE STOPPING")
# Personalize dataset types of the run's files (titles stay in S3, for the report only).
DATASET_TYPES: dict[DataKind, str] = {"interactions": "Interactions", "items": "Items", "users": "Users"}
_LIMIT_CODES = ("LimitExceededException", "ThrottlingException", "TooManyRequestsException")


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """Turn Personalize's transient refusals into the taxonomy's retryable errors."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", str(error))
        if code in _LIMIT_CODES:
            raise ResourceLimitError(f"{code}: {message}") from error
        if code == "ResourceInUseException":
            raise ResourceBusyError(message) from error
        raise


def recipe_arn(name: str, partition: str) -> str:
    """Recipes are global resources of the partition: arn:aws:..., arn:aws-cn:..."""
    return f"arn:{partition}:personalize:::recipe/{name}"


def find_named(
    pz: PersonalizeClient, operation: str, key: str, name_field: str, name: str, **params: Any
) -> Any:
    """The summary of the resource called ``name`` in a List* result, or None."""
    for page in pz.get_paginator(operation).paginate(**params):  # type: ignore[call-overload]
        for summary in page[key]:
            if summary.get(name_field) == name:
                return summary
    return None


def _describe_or_create(find: Callable[[], Any], create: Callable[[], str], arn_field: str) -> str:
    """Find first; create if absent; if a concurrent attempt won the race, find again."""
    found = find()
    if found:
        return str(found[arn_field])
    try:
        return create()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
            raise
    found = find()
    if not found:
        raise ResourceBusyError(f"{arn_field} exists but is not listed yet") from None
    return str(found[arn_field])


def _check_failed(status: str, what: str, arn: str, reason: str | None) -> None:
    if status in FAILED_STATUSES:
        raise ResourceFailedError(f"{what} {arn} is {status}: {reason or 'Personalize gave no reason'}")


def _track(previous: Poll, resource: Any, label: str, arn: str, policy: WaitPolicy, what: str) -> Poll:
    """The wait loop's next step for one resource: fail on a failed status, done when ACTIVE."""
    status = str(resource["status"])
    _check_failed(status, label, arn, resource.get("failureReason"))
    return next_poll(
        previous, status=f"{label.lower()} {status}", done=status == ACTIVE, policy=policy, what=what
    )


def _summarise(statuses: dict[str, str]) -> tuple[str, bool]:
    """One status line for several resources, and whether all of them are ACTIVE."""
    done = all(status == ACTIVE for status in statuses.values())
    return ", ".join(f"{name} {status}" for name, status in statuses.items()), done


# ---------------------------------------------------------------------------------------------
# ImportDatasets
# ---------------------------------------------------------------------------------------------


def ensure_imports(
    pz: PersonalizeClient, run: Run, previous: ImportState, role_arn: str | None, policy: WaitPolicy
) -> ImportState:
    """Dataset group -> schemas and datasets -> one import job per file version, each step once
    its prerequisite is ACTIVE (Personalize refuses a dataset in a group that is still pending)."""
    experiment = run.config.experiment
    with service_errors():
        group_arn = previous.dataset_group_arn or _ensure_dataset_group(pz, experiment)
        group = pz.describe_dataset_group(datasetGroupArn=group_arn)["datasetGroup"]
        _check_failed(group["status"], "Dataset group", group_arn, group.get("failureReason"))
        if group["status"] != ACTIVE:
            return _import_state(previous, policy, group_arn, {}, f"dataset group {group['status']}", False)

        datasets: dict[DataKind, str] = {}
        statuses: dict[str, str] = {}
        # PrepareRun built a schema for every file it validated: those are the datasets to import.
        for kind in DATASET_TYPES:
            if kind not in run.files or kind not in run.schemas:
                continue
            schema_arn = _ensure_schema(pz, experiment, kind, run.schemas[kind], run.files[kind].uri)
            datasets[kind] = _ensure_dataset(pz, group_arn, experiment, kind, schema_arn)
            dataset = pz.describe_dataset(datasetArn=datasets[kind])["dataset"]
            statuses[f"{kind} dataset"] = dataset["status"]
            _check_failed(dataset["status"], "Dataset", datasets[kind], None)
        line, ready = _summarise(statuses)
        if not ready:
            return _import_state(previous, policy, group_arn, {}, line, False)

        jobs: dict[str, str] = {}
        statuses = {}
        for kind, dataset_arn in datasets.items():
            dataset = pz.describe_dataset(datasetArn=dataset_arn)["dataset"]
            job = _ensure_import_job(pz, run, kind, dataset, role_arn)
            jobs[kind] = job["datasetImportJobArn"]
            _check_failed(
                job["status"],
                f"Import of {run.files[kind].uri} (job",
                f"{jobs[kind]})",
                job.get("failureReason"),
            )
            statuses[f"{kind} import"] = job["status"]
    line, done = _summarise(statuses)
    return _import_state(previous, policy, group_arn, jobs, line, done)


def _import_state(
    previous: ImportState, policy: WaitPolicy, group_arn: str, jobs: dict[str, str], status: str, done: bool
) -> ImportState:
    return ImportState(
        dataset_group_arn=group_arn,
        import_job_arns=jobs,
        poll=next_poll(previous.poll, status=status, done=done, policy=policy, what="The data import"),
    )


def _ensure_dataset_group(pz: PersonalizeClient, experiment: str) -> str:
    name = names.dataset_group(experiment)
    return _describe_or_create(
        lambda: find_named(pz, "list_dataset_groups", "datasetGroups", "name", name),
        lambda: pz.create_dataset_group(name=name)["datasetGroupArn"],
        "datasetGroupArn",
    )


def _ensure_schema(pz: PersonalizeClient, experiment: str, kind: str, schema: str, data_uri: str) -> str:
    """Schemas cannot be changed once created, so an existing one must say the same thing."""
    name = names.schema(experiment, kind)
    arn = _describe_or_create(
        lambda: find_named(pz, "list_schemas", "schemas", "name", name),
        lambda: pz.create_schema(name=name, schema=schema)["schemaArn"],
        "schemaArn",
    )
    existing = pz.describe_schema(schemaArn=arn)["schema"]["schema"]
    if json.loads(existing) != json.loads(schema):
        raise InvalidInputError(
            [
                Problem(
                    file=data_uri,
                    message=f"the columns differ from the schema {name} that experiment {experiment} already uses",
                    fix="keep the columns of the first run, or give the run a new experiment name, "
                    f"or delete the experiment first (sweep cleanup --experiment {experiment})",
                )
            ]
        )
    return arn


def _ensure_dataset(
    pz: PersonalizeClient, group_arn: str, experiment: str, kind: DataKind, schema_arn: str
) -> str:
    name = names.dataset(experiment, kind)
    return _describe_or_create(
        lambda: find_named(pz, "list_datasets", "datasets", "name", name, datasetGroupArn=group_arn),
        lambda: pz.create_dataset(
            name=name, schemaArn=schema_arn, datasetGroupArn=group_arn, datasetType=DATASET_TYPES[kind]
        )["datasetArn"],
        "datasetArn",
    )


# Attempts at one resource (a failed one is replaced by the next) before a run stops creating more.
MAX_ATTEMPTS = 20


def _current_attempt(
    attempts: list[str],
    existing: Callable[[], list[dict[str, Any]]],
    create: Callable[[str], str],
    *,
    current: Callable[[dict[str, Any]], bool],
    started: datetime,
    arn_field: str,
    what: str,
) -> str:
    """The ARN of the attempt to follow: the newest current one unless it failed before this run
    started, in which case the next attempt is created. `existing` lists every resource named like an
    attempt (with its `name`); `current` says whether one belongs to the resources it depends on now.
    A failed attempt from an earlier run is replaced, so a rerun recovers once the cause is gone; one
    that failed during this run is returned, and the caller reports the failure."""
    found = existing()
    ours = [resource for resource in found if current(resource)]
    latest = max(ours, key=lambda resource: resource["creationDateTime"], default=None)
    if latest is not None and (
        latest["status"] not in FAILED_STATUSES or since(latest.get("creationDateTime"), started)
    ):
        return str(latest[arn_field])
    taken = {resource["name"] for resource in found}
    for name in (name for name in attempts if name not in taken):
        try:
            return create(name)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code not in ("ResourceAlreadyExistsException", "ResourceInUseException"):
                raise
            # Taken meanwhile, or the parent busy: by a retry whose first answer was lost (the SDK
            # retried a create that had worked, so the name is ours and the solution is training it),
            # or out of sight.
            again = next((r for r in existing() if r["name"] == name and current(r)), None)
            if again is not None:
                return str(again[arn_field])
            if code == "ResourceInUseException":
                raise
    raise ResourceLimitError(
        f"{what}: {len(attempts)} attempts exist already; clean up the experiment (sweep cleanup) first"
    )


def _ensure_import_job(
    pz: PersonalizeClient, run: Run, kind: DataKind, dataset: Any, role_arn: str | None
) -> Any:
    """The import job of this file version into this dataset. A job counts only if it was created for
    the current dataset: a dataset deleted by a cleanup and created again has the same ARN, and its
    old jobs are still listed."""
    experiment, data = run.config.experiment, run.files[kind]
    attempts = [names.import_job(experiment, kind, data.version, a) for a in range(1, MAX_ATTEMPTS + 1)]

    def existing() -> list[dict[str, Any]]:
        return [
            {**job, "name": job["jobName"]}
            for page in pz.get_paginator("list_dataset_import_jobs").paginate(
                datasetArn=dataset["datasetArn"]
            )
            for job in page["datasetImportJobs"]
            if job["jobName"] in attempts
        ]

    def create(job_name: str) -> str:
        params: dict[str, Any] = {
            "jobName": job_name,
            "datasetArn": dataset["datasetArn"],
            "dataSource": {"dataLocation": data.uri},
            # FULL replaces the dataset's records: a retrain sees exactly the files of its run.
            "importMode": "FULL",
        }
        if role_arn:
            params["roleArn"] = role_arn
        return pz.create_dataset_import_job(**params)["datasetImportJobArn"]

    arn = _current_attempt(
        attempts,
        existing,
        create,
        current=lambda job: since(job.get("creationDateTime"), dataset["creationDateTime"]),
        started=run.started_at,
        arn_field="datasetImportJobArn",
        what=f"the import of {data.uri}",
    )
    return pz.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]


# ---------------------------------------------------------------------------------------------
# The Map iteration: solution -> solution version -> campaign
# ---------------------------------------------------------------------------------------------


def ensure_solution(pz: PersonalizeClient, level: LevelState, policy: WaitPolicy) -> SolutionState:
    config = level.run.config
    name = names.solution(config.experiment, level.sensitivity)
    objective: OptimizationObjectiveTypeDef = {
        "itemAttribute": config.objective,
        "objectiveSensitivity": level.sensitivity,
    }

    def create() -> str:
        return pz.create_solution(
            name=name,
            datasetGroupArn=level.dataset_group_arn,
            recipeArn=recipe_arn(config.recipe, pz.meta.partition),
            performHPO=False,
            # Personalize's default (true) retrains and bills every 7 days behind the user's back.
            performAutoTraining=config.perform_auto_training,
            solutionConfig={"optimizationObjective": objective},
        )["solutionArn"]

    with service_errors():
        arn = level.solution.solution_arn or _describe_or_create(
            lambda: find_named(
                pz, "list_solutions", "solutions", "name", name, datasetGroupArn=level.dataset_group_arn
            ),
            create,
            "solutionArn",
        )
        solution = pz.describe_solution(solutionArn=arn)["solution"]
    configured = (solution.get("solutionConfig") or {}).get("optimizationObjective") or {}
    if configured and dict(configured) != objective:
        raise InvalidInputError(
            [
                Problem(
                    file="run config",
                    column="objective",
                    message=f"solution {name} already optimises {dict(configured)}, not {objective}",
                    fix="use a new experiment name for a different objective, or delete the experiment "
                    f"first (sweep cleanup --experiment {config.experiment})",
                )
            ]
        )
    return SolutionState(
        solution_arn=arn,
        poll=_track(level.solution.poll, solution, "Solution", arn, policy, f"Solution {name}"),
    )


def ensure_solution_version(pz: PersonalizeClient, level: LevelState, policy: WaitPolicy) -> VersionState:
    """One FULL version per data fingerprint: a retried task or an identical rerun trains nothing new;
    a rerun after a failed or stopped training trains the next attempt."""
    solution_arn = _require(level.solution.solution_arn, "solutionArn")
    run = level.run
    attempts = [
        names.solution_version(run.config.experiment, level.sensitivity, run.fingerprint, attempt)
        for attempt in range(1, MAX_ATTEMPTS + 1)
    ]
    with service_errors():
        arn = level.version.solution_version_arn or _current_attempt(
            attempts,
            lambda: _versions_named(pz, solution_arn, set(attempts)),
            lambda name: pz.create_solution_version(solutionArn=solution_arn, name=name, trainingMode="FULL")[
                "solutionVersionArn"
            ],
            # Versions are deleted with their solution, so every listed one belongs to it.
            current=lambda _version: True,
            started=run.started_at,
            arn_field="solutionVersionArn",
            what=f"the {level.sensitivity} training",
        )
        version = pz.describe_solution_version(solutionVersionArn=arn)["solutionVersion"]
    name = version.get("name") or arn
    return VersionState(
        solution_version_arn=arn,
        poll=_track(level.version.poll, version, "Solution version", arn, policy, f"Training of {name}"),
    )


def _versions_named(pz: PersonalizeClient, solution_arn: str, wanted: set[str]) -> list[dict[str, Any]]:
    # The summaries carry no name; a solution holds a handful of versions, so describing each is cheap.
    found = []
    for page in pz.get_paginator("list_solution_versions").paginate(solutionArn=solution_arn):
        for summary in page["solutionVersions"]:
            version = pz.describe_solution_version(solutionVersionArn=summary["solutionVersionArn"])
            if version["solutionVersion"].get("name") in wanted:
                found.append(dict(version["solutionVersion"]))
    return found


def deploy_campaign(pz: PersonalizeClient, level: LevelState, policy: WaitPolicy) -> CampaignState:
    """Create the level's campaign, or move it to the new version (in retrain mode only when the
    quality gate passes), then report its status until it serves what was decided."""
    config = level.run.config
    solution_arn = _require(level.solution.solution_arn, "solutionArn")
    new_version = _require(level.version.solution_version_arn, "solutionVersionArn")
    name = names.campaign(config.experiment, level.sensitivity)

    def find() -> Any:
        return find_named(pz, "list_campaigns", "campaigns", "name", name, solutionArn=solution_arn)

    def create() -> str:
        return pz.create_campaign(
            name=name, solutionVersionArn=new_version, minProvisionedTPS=config.min_provisioned_tps
        )["campaignArn"]

    with service_errors():
        arn = level.campaign.campaign_arn or _describe_or_create(find, create, "campaignArn")
        campaign = describe_campaign(pz, arn)
        if (
            campaign is not None
            and campaign["status"] in FAILED_STATUSES
            and not since(campaign.get("creationDateTime"), level.run.started_at)
        ):
            # Failed in an earlier run: replace it (the next calls wait for the deletion, then create).
            pz.delete_campaign(campaignArn=arn)
            campaign = {"status": "DELETE PENDING"}
        if campaign is None or campaign["status"].startswith("DELETE"):
            # A campaign of the same name is still being deleted (an earlier run's keep option or a
            # cleanup): wait for it to go, then create the new one on the next call.
            status = f"earlier campaign {campaign['status'] if campaign else 'deleted'}"
            return CampaignState(
                campaign_arn=None,
                deployment=None,
                poll=next_poll(
                    level.campaign.poll, status=status, done=False, policy=policy, what=f"Campaign {name}"
                ),
            )
        decision, status, done = _campaign_progress(pz, level, campaign, new_version)
    return CampaignState(
        campaign_arn=arn,
        deployment=decision,
        poll=next_poll(level.campaign.poll, status=status, done=done, policy=policy, what=f"Campaign {name}"),
    )


def describe_campaign(pz: PersonalizeClient, arn: str) -> Any:
    try:
        return pz.describe_campaign(campaignArn=arn)["campaign"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise


def _campaign_progress(
    pz: PersonalizeClient, level: LevelState, campaign: Any, new_version: str
) -> tuple[DeploymentDecision, str, bool]:
    """Decide from the campaign's own state, so that every poll (and every retry) agrees: what it
    serves or is moving to, and whether that happened during this run."""
    arn = campaign["campaignArn"]
    started = level.run.started_at
    update = campaign.get("latestCampaignUpdate") or {}
    _check_failed(campaign["status"], "Campaign", arn, campaign.get("failureReason"))
    if update and update["status"] in FAILED_STATUSES and not since(update.get("creationDateTime"), started):
        # An update that failed in an earlier run is not this run's: decide again from what is served.
        update = {}
    if update:
        _check_failed(update["status"], "Update of campaign", arn, update.get("failureReason"))
    target = update.get("solutionVersionArn") or campaign["solutionVersionArn"]
    busy = campaign["status"] != ACTIVE or (update and update["status"] != ACTIVE)
    status = f"campaign {campaign['status']}" + (f", update {update['status']}" if update else "")

    if target == new_version:
        if since(campaign.get("creationDateTime"), started):
            decision = DeploymentDecision(action="created", reason="new campaign on the new solution version")
        elif update and since(update.get("creationDateTime"), started):
            # The poll that started the update knew why (e.g. the gate's numbers); keep its words.
            previous = level.campaign.deployment
            decision = (
                previous
                if previous and previous.action == "updated"
                else DeploymentDecision(
                    action="updated", reason=f"moved to the new solution version {new_version}"
                )
            )
        else:
            decision = DeploymentDecision(action="kept", reason="already serving this solution version")
        return decision, status, not busy
    if busy:
        # Another update is still running; decide once the campaign settles.
        return DeploymentDecision(action="kept", reason="waiting for the campaign to settle"), status, False

    served = campaign["solutionVersionArn"]
    if level.run.config.mode == "retrain":
        passed, reason = quality_gate(pz, level, served, new_version)
        if not passed:
            return DeploymentDecision(action="kept", reason=reason), status, True
    else:
        reason = f"moved from {served} to the version trained on this run's data"
    pz.update_campaign(
        campaignArn=arn,
        solutionVersionArn=new_version,
        minProvisionedTPS=level.run.config.min_provisioned_tps,
    )
    return DeploymentDecision(action="updated", reason=reason), "campaign update CREATE PENDING", False


def quality_gate(pz: PersonalizeClient, level: LevelState, served: str, candidate: str) -> tuple[bool, str]:
    """The new version may replace the served one unless its gate metric drops by more than the
    tolerance (relative to the served version's value)."""
    gate = level.run.config.quality_gate
    old = pz.get_solution_metrics(solutionVersionArn=served).get("metrics", {}).get(gate.metric)
    new = pz.get_solution_metrics(solutionVersionArn=candidate).get("metrics", {}).get(gate.metric)
    if old is None or new is None:
        return (
            False,
            f"quality gate: {gate.metric} is missing for {'the served' if old is None else 'the new'} version",
        )
    floor = old - gate.tolerance * abs(old)
    if new >= floor:
        return True, (
            f"quality gate passed: {gate.metric} {new:.4f} vs served {old:.4f} "
            f"(floor {floor:.4f} at {gate.tolerance:.0%} tolerance)"
        )
    return False, (
        f"quality gate failed: {gate.metric} {new:.4f} < {floor:.4f} (served version {old:.4f} minus "
        f"{gate.tolerance:.0%}); the campaign keeps serving {served}"
    )


def since(moment: datetime | None, started: datetime) -> bool:
    return moment is not None and moment >= started


def _require(value: str | None, field: str) -> str:
    if not value:
        raise ValueError(f"the state lacks {field}: the state machine called this step out of order")
    return value


# ---------------------------------------------------------------------------------------------
# After the comparison
# ---------------------------------------------------------------------------------------------


def delete_campaigns(pz: PersonalizeClient, campaign_arns: list[str]) -> tuple[list[str], list[str]]:
    """Delete the campaigns the run does not keep; ones already gone or going are fine (idempotent)."""
    deleted: list[str] = []
    gone: list[str] = []
    with service_errors():
        for arn in campaign_arns:
            campaign = describe_campaign(pz, arn)
            # Gone, or already being deleted (a retried task, an earlier run): nothing left to ask for.
            if campaign is None or campaign["status"].startswith("DELETE"):
                gone.append(arn)
                continue
            try:
                pz.delete_campaign(campaignArn=arn)
            except pz.exceptions.ResourceNotFoundException:
                # Deleted since it was described (another task, or a retried call whose answer was lost).
                gone.append(arn)
                continue
            deleted.append(arn)
    return deleted, gone
