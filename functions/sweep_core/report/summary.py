"""The short forms of a report: the SNS notification (subject of fewer than 100 ASCII characters,
message within 2 KB) and the execution output dict, both independent of the number of users."""

from __future__ import annotations

import re
from typing import Any

from sweep_core.report.model import Report
from sweep_core.report.view import Cell, report_view

# SNS: "must be less than 100 characters long" (Publish API reference).
SUBJECT_LIMIT = 99
MESSAGE_LIMIT = 2048
# A failure's cause can be a whole stack trace; the message keeps its start, the report keeps it all.
_CAUSE_CHARS = 160
_UNSAFE = re.compile(r"[^\x20-\x7e]")
_ASCII = str.maketrans({"×": "x", "—": "-", "–": "-", "…": "...", "▲": "^", "▼": "v", "→": "->", "’": "'"})


def ascii_safe(text: str) -> str:
    """Printable ASCII on one line: SNS rejects subjects with control or non-ASCII characters."""
    return _UNSAFE.sub("?", " ".join(text.split()).translate(_ASCII))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _with_change(cell: Cell) -> str:
    return cell.value if cell.change is None else f"{cell.value} {cell.change}"


def subject(report: Report) -> str:
    rec = report.recommendation
    verdict = f"ship {rec.sensitivity}" if rec.sensitivity else "no recommendation"
    failed = f", {len(report.failures)} level(s) failed" if report.failures else ""
    return _clip(ascii_safe(f"Objective sweep {report.run.experiment}: {verdict}{failed}"), SUBJECT_LIMIT)


def summary(report: Report, report_uris: dict[str, str]) -> tuple[str, str]:
    """(subject, message) for SNS. The message drops detail, never the URIs, to stay within 2 KB."""
    view = report_view(report)
    head = [
        f"Objective sweep {view.run.experiment}, execution {view.run.execution_name}: "
        f"{sum(not column.failed for column in view.columns)} of {len(view.columns)} level(s) ACTIVE.",
        view.sentence,
    ]
    table = [f"{'level':<8}{view.relevance.label:>18}{view.business.label:>26}"]
    for column, relevance, business in zip(
        view.columns, view.relevance.cells, view.business.cells, strict=True
    ):
        table.append(
            f"{column.sensitivity:<8}{_with_change(relevance):>18}{_with_change(business):>26}  {column.campaign}"
        )
    money_line = view.cost.line
    failures = [
        f"FAILED {f.sensitivity}: {f.error}: {_clip(' '.join(f.cause.split()), _CAUSE_CHARS)}"
        for f in view.failures
    ]
    links = [f"{name}: {uri}" for name, uri in report_uris.items()]
    # Sections in the order they are given up when the message is too long: the table and the
    # failures' causes go before the recommendation and the links.
    for parts in (
        [*head, "", *table, money_line, *failures, "", *links],
        [*head, money_line, *failures, "", *links],
        [*head, money_line, f"{len(failures)} level(s) failed, see the report.", "", *links],
    ):
        # Lines keep their inner spacing (the table's columns); only the characters are made safe.
        message = "\n".join(_UNSAFE.sub("?", line.translate(_ASCII)) for line in parts)
        if len(message.encode()) <= MESSAGE_LIMIT:
            return subject(report), message
    return subject(report), _clip(message, MESSAGE_LIMIT)


def execution_summary(report: Report, report_uris: dict[str, str]) -> dict[str, Any]:
    """The execution output: the recommendation, per-level headline numbers and the report URIs."""
    rec = report.recommendation
    metric = rec.policy.relevance_metric
    return {
        "experiment": report.run.experiment,
        "execution": report.run.execution_name,
        "recommended": rec.sensitivity,
        "sentence": rec.sentence,
        "levels": [
            {
                "sensitivity": level.sensitivity,
                "status": level.status,
                metric: level.metrics.get(metric),
                "meanTopKObjectiveSum": level.mean_top_k_objective_sum,
            }
            for level in report.levels
        ],
        "failed": [{"sensitivity": f.sensitivity, "error": f.error} for f in report.failures],
        "campaignsMonthlyUsd": report.cost.campaigns_monthly_usd,
        "trainingUsd": report.cost.training_usd,
        "reportUris": dict(report_uris),
    }
