"""Names and number formats shared by every rendering of the report, so the Markdown, HTML, terminal
and SNS views label and round things the same way."""

from __future__ import annotations

import re

from sweep_core.models import METRIC_NAMES
from sweep_core.report.model import LevelReport, Report

_PREFIXES = {
    "normalized_discounted_cumulative_gain": "NDCG",
    "mean_reciprocal_rank": "MRR",
    "precision": "precision",
}
_AT = re.compile(r"^(?P<name>.+)_at_(?P<k>\d+|k)$")


def metric_label(name: str) -> str:
    """Short label of a Personalize metric: normalized_discounted_cumulative_gain_at_10 -> NDCG@10."""
    match = _AT.match(name)
    if match is None:
        return name.replace("_", " ")
    base = match["name"]
    return f"{_PREFIXES.get(base, base.replace('_', ' '))}@{match['k']}"


def ordered_metrics(names: set[str]) -> list[str]:
    """The study's metrics first in its order, then any others alphabetically."""
    return [m for m in METRIC_NAMES if m in names] + sorted(names - set(METRIC_NAMES))


def signed_percent(change: float | None) -> str:
    """+6.6% / -3.0%; a change that rounds to zero reads "0.0%" rather than "-0.0%"."""
    if change is None:
        return ""
    text = f"{change:+.1%}"
    return "0.0%" if text in ("+0.0%", "-0.0%") else text


def number(value: float | None, digits: int = 4) -> str:
    """Metric values with four significant digits, the precision the study published."""
    return "n/a" if value is None else f"{value:.{digits}g}"


def money(value: float) -> str:
    return "<$0.01" if 0 < value < 0.005 else f"${value:,.2f}"


def keep_hint(report: Report) -> str:
    """The sentence saying what keep=recommended would cost, when the run leaves more campaigns
    running than that; else an empty string. It starts with a space, to follow a sentence."""
    alternative = report.cost.recommended_only_monthly_usd
    if alternative is None:
        return ""
    return (
        f" Keeping only {report.recommendation.sensitivity}'s campaign (keep=recommended) would cost "
        f"{money(alternative)}/month."
    )


def user_label(user_id: str, *, capital: bool = False) -> str:
    """ "user 42", or the id alone when it already says it is a user ("user_aabnt", not "user user_aabnt")."""
    if user_id.lower().startswith("user"):
        return user_id
    return f"{'User' if capital else 'user'} {user_id}"


def campaign_state(report: Report, level: LevelReport) -> str:
    """What the run leaves of a level's campaign: KEPT (still running; cost.campaigns lists it),
    DELETED (deployed for the comparison, then deleted by `keep`), or FAILED for a failed level."""
    if level.status == "FAILED" or not level.campaign_arn:
        return level.status
    kept = {campaign.campaign_arn for campaign in report.cost.campaigns}
    return "KEPT" if level.campaign_arn in kept else "DELETED"


def cost_sentence(report: Report) -> str:
    """The terminal's and the notification's cost line: what stays running, what `keep` deleted after
    the comparison, and the training spent."""
    cost = report.cost
    deleted = sum(campaign_state(report, level) == "DELETED" for level in report.levels)
    after = f"; {deleted} deleted after the comparison" if deleted else ""
    return (
        f"Cost: {len(cost.campaigns)} campaign(s) left running (keep={cost.keep}) ~ "
        f"{money(cost.campaigns_monthly_usd)}/month{after}; training {duration(cost.training_hours * 3600)} = "
        f"{money(cost.training_usd)}."
    )


def deleted_note(report: Report) -> str:
    """For the Markdown and HTML cost sections: how many campaigns `keep` deleted after the comparison;
    it starts with a space, to follow a sentence."""
    deleted = sum(campaign_state(report, level) == "DELETED" for level in report.levels)
    if not deleted:
        return ""
    return (
        f" {deleted} campaign(s) deployed for the comparison were deleted after it (keep={report.cost.keep})."
    )


def cleanup_hint(report: Report) -> str:
    """The command that removes what the run leaves billing, when it leaves anything; it starts with
    a space, to follow a sentence."""
    cost = report.cost
    if not cost.campaigns or not cost.cleanup_command:
        return ""
    return f" To remove them, and everything else of the experiment: {cost.cleanup_command}"


def duration(seconds: float | None) -> str:
    """4350 -> "1 h 12 min 30 s"; Personalize runs last minutes to hours."""
    if seconds is None:
        return "n/a"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes) + [f"{secs} s"]
    return " ".join(parts)


def run_fact_rows(report: Report) -> list[tuple[str, str]]:
    """The run's facts as (label, text) pairs, shared by the Markdown and HTML pages."""
    run = report.run
    rows = [
        ("Experiment", run.experiment),
        ("Execution", run.execution_name),
        ("Execution ARN", run.execution_arn),
        ("Mode", run.mode),
        ("Started", run.started_at.isoformat(timespec="seconds")),
        ("Finished", run.finished_at.isoformat(timespec="seconds") if run.finished_at else "running"),
        ("Duration", duration(run.duration_seconds)),
        ("Objective", run.objective),
        ("Recipe", run.recipe),
        ("Interactions", f"{run.dataset.interactions:,}"),
        ("Users", f"{run.dataset.users:,}"),
        ("Items", f"{run.dataset.items:,}"),
        ("List length (K)", str(run.k)),
        ("Report users", str(run.report_users)),
    ]
    rows += [(f"Version: {name}", value) for name, value in sorted(run.versions.items())]
    for level in report.levels:
        for label, arn in (
            ("solution", level.solution_arn),
            ("solution version", level.solution_version_arn),
            ("campaign", level.campaign_arn),
        ):
            if arn:
                rows.append((f"{level.sensitivity} {label}", arn))
        if level.deployment is not None:
            reason = f": {level.deployment.reason}" if level.deployment.reason else ""
            rows.append((f"{level.sensitivity} deployment", level.deployment.action + reason))
    return rows
