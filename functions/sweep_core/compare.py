"""CompareSolutions' domain logic: gather each level's metrics, ARNs and top-K lists into the report's
``ComparisonInput``, write report.json/md/html to S3, and say which campaigns the ``keep`` option
deletes."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from sweep_core import __version__, names
from sweep_core.errors import DataUnavailableError, NoActiveLevelError, ResourceLimitError, readable_cause
from sweep_core.keep import cleanup_command
from sweep_core.personalize import describe_campaign, service_errors
from sweep_core.report import build_report, execution_summary, render_html, render_markdown, summary
from sweep_core.report.model import ComparisonInput, LevelError, LevelOutcome, Report
from sweep_core.s3 import MISSING_OR_DENIED, S3Location, exists, open_stream, put_text, read_json, text_lines
from sweep_core.steps import CompareRequest, CompareResult, LevelRecord, Run

if TYPE_CHECKING:
    from mypy_boto3_personalize import PersonalizeClient
    from mypy_boto3_personalize_runtime import PersonalizeRuntimeClient
    from mypy_boto3_s3 import S3Client

# GetRecommendations calls in flight at once: enough to hide latency, well under the campaigns' TPS burst.
_PARALLEL_CALLS = 8
# A level is compared on the users whose lists could be fetched, if they are at least this share of the
# report users (docs/workflow.md); fewer, and the comparison waits and tries again.
MIN_ANSWERED_SHARE = 0.5
# What a user's call may fail with, after the SDK's retries, for the user to be left out.
_GIVE_UP_CODES = (
    "ThrottlingException",
    "LimitExceededException",
    "TooManyRequestsException",
    "InternalFailure",
)
# Campaign states that bill nothing.
_NOT_LIVE = ("CREATE FAILED", "DELETE PENDING", "DELETE IN_PROGRESS")


def compare(
    pz: PersonalizeClient,
    runtime: PersonalizeRuntimeClient,
    s3: S3Client,
    request: CompareRequest,
    bucket: str,
    stack: str,
) -> tuple[CompareResult, Report]:
    inp = gather(pz, runtime, s3, request.run, request.levels, request.finished_at, bucket, stack)
    report = build_report(inp)
    prefix = names.report_prefix(request.run.config.experiment, request.run.execution_name)
    uris = write_report(s3, bucket, prefix, report)
    subject, message = summary(report, uris)
    kept = {campaign.campaign_arn for campaign in report.cost.campaigns}
    delete = [lvl.campaign_arn for lvl in report.levels if lvl.campaign_arn and lvl.campaign_arn not in kept]
    result = CompareResult(
        summary=execution_summary(report, uris),
        report_uris=uris,
        subject=subject,
        message=message,
        delete_campaign_arns=delete,
    )
    if not any(level.status == "ACTIVE" for level in report.levels):
        raise NoActiveLevelError(f"every level failed; the report is at {uris['markdown']}. {message}")
    return result, report


def gather(
    pz: PersonalizeClient,
    runtime: PersonalizeRuntimeClient,
    s3: S3Client,
    run: Run,
    records: list[LevelRecord],
    finished_at: datetime | None,
    bucket: str,
    stack: str,
) -> ComparisonInput:
    config = run.config
    with service_errors():
        levels = [_outcome(pz, record) for record in records]
    users = run.report_users
    recommendations: dict[str, dict[str, list[str]]] = {}
    dropped: dict[str, int] = {}
    for level in levels:
        if level.status != "ACTIVE" or not level.campaign_arn:
            continue
        lists = _level_lists(runtime, s3, S3Location(bucket, names.level_result_key(
            config.experiment, run.execution_name, level.sensitivity
        )), level, users, config.num_results)  # fmt: skip
        recommendations[level.sensitivity] = lists
        dropped[level.sensitivity] = len(users) - len(lists)
    listed = {item for per_user in recommendations.values() for items in per_user.values() for item in items}
    return ComparisonInput.model_validate(
        {
            "experiment": config.experiment,
            "executionArn": run.execution_arn,
            "executionName": run.execution_name,
            "startedAt": run.started_at,
            "finishedAt": finished_at,
            "config": config,
            "dataset": run.dataset,
            "levels": levels,
            "recommendations": recommendations,
            "droppedUsers": dropped,
            "itemObjective": item_objective(s3, config.items, config.objective, listed),
            "itemTitles": item_titles(s3, config.titles, listed) if config.titles else {},
            "versions": {"objectiveSweep": __version__, "recipe": config.recipe},
            "cleanupCommand": cleanup_command(config.experiment, stack),
        }
    )


def _level_lists(
    runtime: PersonalizeRuntimeClient,
    s3: S3Client,
    saved: S3Location,
    level: LevelOutcome,
    users: list[str],
    k: int,
) -> dict[str, list[str]]:
    """The level's top-K list per user: from this execution's earlier attempt if it got that far,
    otherwise fetched and then saved, so a retried comparison does not ask every campaign again. A
    user the campaign keeps refusing (throttled past the SDK's retries) is left out; too few users
    left and the level is not compared yet: ResourceLimitError, which the state machine retries."""
    if exists(s3, saved):
        return dict(read_json(s3, saved)["lists"])
    campaign_arn = level.campaign_arn or ""

    def top_k(user: str) -> list[str] | None:
        try:
            response = runtime.get_recommendations(campaignArn=campaign_arn, userId=user, numResults=k)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _GIVE_UP_CODES:
                raise
            return None
        except (BotocoreConnectionError, HTTPClientError):
            return None
        return [item["itemId"] for item in response.get("itemList", []) if "itemId" in item]

    with ThreadPoolExecutor(max_workers=_PARALLEL_CALLS) as pool:
        answers = list(pool.map(top_k, users))
    lists = {user: items for user, items in zip(users, answers, strict=True) if items is not None}
    needed = math.ceil(MIN_ANSWERED_SHARE * len(users))
    if len(lists) < needed:
        raise ResourceLimitError(
            f"{level.sensitivity}: only {len(lists)} of {len(users)} report users got recommendations "
            f"(the campaign throttled the rest); at least {needed} are needed to compare the level"
        )
    put_text(s3, saved, json.dumps({"lists": lists}), "application/json")
    return lists


def _outcome(pz: PersonalizeClient, record: LevelRecord) -> LevelOutcome:
    if record.status == "FAILED" or not record.solution_version_arn:
        return LevelOutcome(
            sensitivity=record.sensitivity,
            status="FAILED",
            solution_arn=record.solution_arn,
            solution_version_arn=record.solution_version_arn,
            # A campaign the level created before it failed bills like any other, if it is up.
            campaign_arn=record.campaign_arn if _is_live(pz, record.campaign_arn) else None,
            error=LevelError(error=record.error or "UnknownError", cause=readable_cause(record.cause or "")),
        )
    metrics = pz.get_solution_metrics(solutionVersionArn=record.solution_version_arn).get("metrics", {})
    version = pz.describe_solution_version(solutionVersionArn=record.solution_version_arn)["solutionVersion"]
    return LevelOutcome(
        sensitivity=record.sensitivity,
        status="ACTIVE",
        solution_arn=record.solution_arn,
        solution_version_arn=record.solution_version_arn,
        campaign_arn=record.campaign_arn,
        metrics={name: float(value) for name, value in metrics.items()},
        training_hours=version.get("trainingHours"),
        deployment=record.deployment,
    )


def _is_live(pz: PersonalizeClient, campaign_arn: str | None) -> bool:
    if not campaign_arn:
        return False
    campaign = describe_campaign(pz, campaign_arn)
    return campaign is not None and campaign["status"] not in _NOT_LIVE


def _rows(s3: S3Client, uri: str) -> Iterator[dict[str, str]]:
    """Stream a CSV from S3 row by row (header names as written)."""
    try:
        body = open_stream(s3, S3Location.parse(uri))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code not in MISSING_OR_DENIED:
            raise
        if code in ("AccessDenied", "403"):
            # S3 answers 403 both for a key that is gone (to a role that may not list the bucket) and for
            # a role that may not read it: S3's own message tells which.
            message = error.response.get("Error", {}).get("Message", "")
            raise DataUnavailableError(
                f"{uri} cannot be read ({code}: {message}). Either it was deleted or replaced since the run "
                "started (upload it again, then run the experiment again; what is trained is reused), or "
                "CompareSolutions' role may not read it (check the stack's IAM policies)."
            ) from None
        raise DataUnavailableError(
            f"{uri} cannot be read any more ({code}): it was there when the run started, and has been "
            "deleted or replaced since. Upload it again, then run the experiment again (what is trained "
            "is reused)."
        ) from None
    try:
        yield from csv.DictReader(text_lines(body))
    finally:
        body.close()


def item_objective(s3: S3Client, items_uri: str, objective: str, wanted: set[str]) -> dict[str, float]:
    values: dict[str, float] = {}
    for row in _rows(s3, items_uri):
        item = row.get("ITEM_ID", "")
        if item in wanted and row.get(objective) not in (None, ""):
            values[item] = float(row[objective])
    return values


def item_titles(s3: S3Client, titles_uri: str, wanted: set[str]) -> dict[str, str]:
    return {
        row["ITEM_ID"]: row.get("TITLE", "") for row in _rows(s3, titles_uri) if row.get("ITEM_ID") in wanted
    }


def write_report(s3: S3Client, bucket: str, prefix: str, report: Report) -> dict[str, str]:
    files = {
        "json": ("report.json", report.model_dump_json(by_alias=True, indent=2), "application/json"),
        "markdown": ("report.md", render_markdown(report), "text/markdown; charset=utf-8"),
        "html": ("report.html", render_html(report), "text/html; charset=utf-8"),
    }
    uris: dict[str, str] = {}
    for kind, (name, text, content_type) in files.items():
        location = S3Location(bucket, prefix + name)
        put_text(s3, location, text, content_type)
        uris[kind] = location.uri
    return uris
