"""Names and number formats shared by every rendering of the report, so the Markdown, HTML, terminal
and SNS views label and round things the same way."""

from __future__ import annotations

import re

# Personalize's GetSolutionMetrics keys in the order the original study's table lists them.
METRIC_ORDER = (
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
    "average_rewards_at_k",
)
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
    return [m for m in METRIC_ORDER if m in names] + sorted(names - set(METRIC_ORDER))


def signed_percent(change: float | None) -> str:
    return "" if change is None else f"{change:+.1%}"


def number(value: float | None, digits: int = 4) -> str:
    """Metric values with four significant digits, the precision the study published."""
    return "n/a" if value is None else f"{value:.{digits}g}"


def money(value: float) -> str:
    return f"${value:,.2f}"
