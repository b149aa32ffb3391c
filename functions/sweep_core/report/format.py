"""Names and number formats: how a metric is labelled and a value rounded, wherever it is shown."""

from __future__ import annotations

import re

from sweep_core.models import METRIC_NAMES

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


def user_label(user_id: str, *, capital: bool = False) -> str:
    """ "user 42", or the id alone when it already says it is a user ("user_aabnt", not "user user_aabnt")."""
    if user_id.lower().startswith("user"):
        return user_id
    return f"{'User' if capital else 'user'} {user_id}"


def duration(seconds: float | None) -> str:
    """4350 -> "1 h 12 min 30 s"; Personalize runs last minutes to hours."""
    if seconds is None:
        return "n/a"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes) + [f"{secs} s"]
    return " ".join(parts)
