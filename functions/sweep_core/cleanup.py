"""Delete everything an experiment created in Personalize, in the order Personalize requires
(campaigns, solutions, datasets, dataset group, schemas), waiting for each deletion. Idempotent:
what is already gone is skipped, so a second cleanup succeeds and deletes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from sweep_core import names
from sweep_core.errors import WaitTimeout
from sweep_core.personalize import DATASET_TYPES, find_named

if TYPE_CHECKING:
    from mypy_boto3_personalize import PersonalizeClient

_GONE = "ResourceNotFoundException"
# Deleting something whose dependants are still being deleted is refused with this; it is not an error here.
_NOT_YET = "ResourceInUseException"


@dataclass
class CleanupProgress:
    """One pass: what was asked to be deleted now, and what still exists."""

    requested: list[str] = field(default_factory=list)
    remaining: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return not self.remaining


def _delete(
    progress: CleanupProgress, arn: str, status: str, delete: Callable[..., object], key: str
) -> None:
    progress.remaining.append(arn)
    if status.startswith("DELETE"):
        return
    try:
        delete(**{key: arn})
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code == _GONE:
            progress.remaining.remove(arn)
            return
        if code != _NOT_YET:
            raise
        return
    progress.requested.append(arn)


def cleanup_step(pz: PersonalizeClient, experiment: str) -> CleanupProgress:
    """Delete whatever can be deleted now; the next layer waits until the one above it is gone."""
    progress = CleanupProgress()
    group = find_named(pz, "list_dataset_groups", "datasetGroups", "name", names.dataset_group(experiment))
    if group:
        group_arn = group["datasetGroupArn"]
        solutions = list(_all(pz, "list_solutions", "solutions", datasetGroupArn=group_arn))
        for solution in solutions:
            for campaign in _all(pz, "list_campaigns", "campaigns", solutionArn=solution["solutionArn"]):
                arn = campaign["campaignArn"]
                _delete(progress, arn, campaign["status"], pz.delete_campaign, "campaignArn")
        if progress.remaining:
            return progress
        for solution in solutions:
            arn = solution["solutionArn"]
            _delete(progress, arn, solution["status"], pz.delete_solution, "solutionArn")
        for dataset in _all(pz, "list_datasets", "datasets", datasetGroupArn=group_arn):
            arn = dataset["datasetArn"]
            _delete(progress, arn, dataset["status"], pz.delete_dataset, "datasetArn")
        if progress.remaining:
            return progress
        _delete(progress, group_arn, group["status"], pz.delete_dataset_group, "datasetGroupArn")
        return progress
    for kind in DATASET_TYPES:
        schema = find_named(pz, "list_schemas", "schemas", "name", names.schema(experiment, kind))
        if schema:
            arn = schema["schemaArn"]
            _delete(progress, arn, "ACTIVE", pz.delete_schema, "schemaArn")
    # Schemas are deleted at once; only a schema still in use by another dataset remains.
    progress.remaining = [arn for arn in progress.remaining if arn not in progress.requested]
    return progress


def _all(pz: PersonalizeClient, operation: str, key: str, **params: str) -> list[dict[str, str]]:
    return [
        dict(summary)
        for page in pz.get_paginator(operation).paginate(**params)  # type: ignore[call-overload]
        for summary in page[key]
    ]


def delete_experiment(
    pz: PersonalizeClient,
    experiment: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    interval_s: float = 5.0,
    timeout_s: float = 3600.0,
    on_progress: Callable[[CleanupProgress], None] | None = None,
) -> list[str]:
    """Run cleanup passes until nothing of the experiment is left; return every ARN deleted."""
    deadline = time.monotonic() + timeout_s
    deleted: list[str] = []
    while True:
        progress = cleanup_step(pz, experiment)
        deleted += [arn for arn in progress.requested if arn not in deleted]
        if on_progress:
            on_progress(progress)
        if progress.done:
            return deleted
        if time.monotonic() > deadline:
            raise WaitTimeout(
                f"cleanup of {experiment} still waits for {', '.join(progress.remaining)} after {timeout_s:.0f} s; "
                "run it again later"
            )
        sleep(interval_s)
