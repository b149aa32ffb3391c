"""report.md: the original study's tables (metrics per level, the sample user's ranked titles with
their objective values, the objective sum per level) plus the recommendation, cost and run facts."""

from __future__ import annotations

import unicodedata

from sweep_core.report.format import (
    cleanup_hint,
    deleted_note,
    duration,
    keep_hint,
    metric_label,
    money,
    number,
    ordered_metrics,
    run_fact_rows,
    signed_percent,
    user_label,
)
from sweep_core.report.model import LevelReport, Report, SampleUser

_MD_SPECIAL = str.maketrans(
    {
        "|": "\\|",
        "\\": "\\\\",
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
        "*": "\\*",
        "_": "\\_",
        "`": "\\`",
        # Brackets and parentheses: a title cannot make a link ([text](target)) or an image.
        "[": "\\[",
        "]": "\\]",
        "(": "\\(",
        ")": "\\)",
    }
)


def md_escape(text: str) -> str:
    """A user-supplied string (a title, a cause) as literal Markdown table-cell text on one line:
    Markdown syntax escaped, and control and format characters (a terminal escape, a right-to-left
    override that reorders what a reader sees) shown as U+FFFD."""
    visible = "".join(
        "\ufffd" if unicodedata.category(c) in ("Cc", "Cf") else c for c in " ".join(text.split())
    )
    return visible.translate(_MD_SPECIAL)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _with_change(value: float | None, change: float | None) -> str:
    text = number(value)
    return f"{text} ({signed_percent(change)})" if change is not None and value is not None else text


def metrics_table(report: Report) -> list[str]:
    levels = report.levels
    names = ordered_metrics({name for level in levels for name in level.metrics})
    rows = [
        [metric_label(name)]
        + [_with_change(level.metrics.get(name), level.changes_vs_off.get(name)) for level in levels]
        for name in names
    ]
    rows.append(
        [f"mean top-{report.run.k} {md_escape(report.run.objective)} sum"]
        + [
            _with_change(level.mean_top_k_objective_sum, level.changes_vs_off.get("meanTopKObjectiveSum"))
            for level in levels
        ]
    )
    return _table(["Metric"] + [_level_head(level) for level in levels], rows)


def _level_head(level: LevelReport) -> str:
    return level.sensitivity if level.status == "ACTIVE" else f"{level.sensitivity} (failed)"


def _objective_sums(report: Report) -> list[str]:
    objective = md_escape(report.run.objective)
    header = ["Level", f"Mean top-{report.run.k} {objective} sum", "Users", "Change vs OFF"]
    header += [md_escape(user_label(sample.user_id, capital=True)) for sample in report.samples]
    rows = []
    for level in report.levels:
        row = [
            _level_head(level),
            number(level.mean_top_k_objective_sum),
            str(level.users_scored) + (f" ({level.users_dropped} left out)" if level.users_dropped else ""),
            signed_percent(level.changes_vs_off.get("meanTopKObjectiveSum")),
        ]
        for sample in report.samples:
            own = next((lst for lst in sample.lists if lst.sensitivity == level.sensitivity), None)
            row.append(number(own.objective_sum) if own is not None else "n/a")
        rows.append(row)
    return _table(header, rows)


def _sample_table(sample: SampleUser, objective: str) -> list[str]:
    header = ["#"]
    for lst in sample.lists:
        header += [lst.sensitivity, md_escape(objective)]
    depth = max((len(lst.items) for lst in sample.lists), default=0)
    rows = []
    for index in range(depth):
        row = [str(index + 1)]
        for lst in sample.lists:
            if index < len(lst.items):
                item = lst.items[index]
                row += [md_escape(item.title), number(item.objective)]
            else:
                row += ["", ""]
        rows.append(row)
    total = ["**Sum**"]
    for lst in sample.lists:
        total += ["", f"**{number(lst.objective_sum)}**"]
    rows.append(total)
    return _table(header, rows)


def render_markdown(report: Report) -> str:
    run = report.run
    rec = report.recommendation
    headline = f"Recommendation: {rec.sensitivity}" if rec.sensitivity else "No recommendation"
    lines = [
        f"# Objective sweep: {md_escape(run.experiment)}",
        "",
        f"## {headline}",
        "",
        md_escape(rec.sentence),
        "",
        "## Offline metrics per level (change against OFF in brackets)",
        "",
        *metrics_table(report),
        "",
        f"## {md_escape(run.objective)} sum per level",
        "",
        f"The objective is maximised; mean over {run.report_users} report users of the sum over their "
        f"top-{run.k}.",
        "",
        *_objective_sums(report),
    ]
    for sample in report.samples:
        lines += ["", f"## Sample {md_escape(user_label(sample.user_id))}: ranked titles per level", ""]
        lines += _sample_table(sample, run.objective) if sample.lists else ["No level produced a list."]
    lines += ["", "## How the recommendation was chosen", ""]
    lines += [
        f"Policy: the level with the best mean top-{run.k} {md_escape(run.objective)} sum whose "
        f"{metric_label(rec.policy.relevance_metric)} loss against OFF is at most {rec.policy.tolerance:.1%}.",
        "",
    ]
    lines += _table(
        [
            "Level",
            "Business value",
            metric_label(rec.policy.relevance_metric),
            "Change vs OFF",
            "Eligible",
            "Why",
        ],
        [
            [
                c.sensitivity,
                number(c.business_value),
                number(c.relevance_value),
                ""
                if c.relevance_loss is None or c.sensitivity == "OFF"
                else signed_percent(-c.relevance_loss),
                "yes" if c.eligible else "no",
                md_escape(c.reason),
            ]
            for c in rec.candidates
        ],
    )
    cost = report.cost
    lines += ["", "## Cost estimate", ""]
    lines += [
        f"Campaigns left running (keep={cost.keep}): {len(cost.campaigns)}, "
        f"{money(cost.campaigns_monthly_usd)} per month "
        f"(minProvisionedTPS x {cost.hours_per_month:g} h x {money(cost.campaign_tps_hour_price)} per TPS-hour each). "
        f"Training: {duration(cost.training_hours * 3600)} x {money(cost.training_hour_price)} = {money(cost.training_usd)}."
        f"{deleted_note(report)}{keep_hint(report)}",
    ]
    if cost.campaigns:
        lines += [""]
        lines += _table(
            ["Level", "Campaign", "minProvisionedTPS", "Per month"],
            [
                [c.sensitivity, md_escape(c.campaign_arn), str(c.min_provisioned_tps), money(c.monthly_usd)]
                for c in cost.campaigns
            ],
        )
        if cleanup_hint(report):
            lines += ["", md_escape(cleanup_hint(report).strip())]
    if report.failures:
        lines += ["", "## Failed levels", ""]
        lines += _table(
            ["Level", "Error", "Cause"],
            [[f.sensitivity, md_escape(f.error), md_escape(f.cause)] for f in report.failures],
        )
    lines += ["", "## Run facts", ""]
    lines += _table(["Fact", "Value"], [[name, md_escape(value)] for name, value in run_fact_rows(report)])
    return "\n".join(lines) + "\n"
