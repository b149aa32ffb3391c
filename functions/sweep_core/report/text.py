"""The terminal view of a report (``sweep demo``/``run``/``report``): the metrics per level, the
objective sums and the recommendation, laid out to fit a given width (80 columns by default)."""

from __future__ import annotations

import textwrap

from sweep_core.report.format import (
    campaign_state,
    cleanup_hint,
    cost_sentence,
    keep_hint,
    metric_label,
    number,
    ordered_metrics,
    signed_percent,
    user_label,
)
from sweep_core.report.model import Report

# Room for "-0.5904 +63.7%" with a space of margin; without the change, "-0.5904" and a margin.
_CELL = 15
_NARROW_CELL = 9
# "mean top-25 sum", "user 123 sum", "precision@10" and a margin.
_LABEL = 18


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "~"


def render_text(report: Report, width: int = 80) -> str:
    """Plain text in ``width`` columns (at least 45 for four levels); long fields are wrapped or
    clipped. Below 78 columns for four levels the changes against OFF are left out of the table."""
    levels = report.levels
    with_changes = _LABEL + _CELL * len(levels) <= width
    cell = _CELL if with_changes else _NARROW_CELL
    label_width = max(width - cell * len(levels), 8)

    def _cell(value: float | None, change: float | None) -> str:
        text = number(value)
        return (
            f"{text} {signed_percent(change)}"
            if with_changes and change is not None and value is not None
            else text
        )

    objective_row = f"mean top-{report.run.k} sum"

    def row(label: str, cells: list[str]) -> str:
        line = _clip(label, label_width - 1).ljust(label_width) + "".join(
            _clip(text, cell - 1).rjust(cell) for text in cells
        )
        return line.rstrip()

    run = report.run
    lines = textwrap.wrap(
        f"Objective sweep {run.experiment} - execution {run.execution_name} - objective {run.objective} "
        f"(maximised), K={run.k}, {run.report_users} report users",
        width,
    )
    lines += [
        "",
        row("metric", [level.sensitivity for level in levels]),
        "-" * min(width, label_width + cell * len(levels)),
    ]
    names = ordered_metrics({name for level in levels for name in level.metrics})
    lines += [
        row(
            metric_label(name),
            [_cell(level.metrics.get(name), level.changes_vs_off.get(name)) for level in levels],
        )
        for name in names
    ]
    lines.append(
        row(
            objective_row,
            [
                _cell(level.mean_top_k_objective_sum, level.changes_vs_off.get("meanTopKObjectiveSum"))
                for level in levels
            ],
        )
    )
    for sample in report.samples:
        sums = {lst.sensitivity: lst.objective_sum for lst in sample.lists}
        lines.append(
            row(
                f"{user_label(sample.user_id)} sum", [number(sums.get(level.sensitivity)) for level in levels]
            )
        )
    # What the run leaves of each level's campaign: a level deleted by `keep` is not ACTIVE any more.
    lines.append(row("campaign", [campaign_state(report, level) for level in levels]))
    lines.append("")
    rec = report.recommendation
    lines += textwrap.wrap(rec.sentence, width, break_long_words=True)
    lines += textwrap.wrap(f"{cost_sentence(report)}{keep_hint(report)}{cleanup_hint(report)}", width)
    for failure in report.failures:
        lines += textwrap.wrap(
            f"FAILED {failure.sensitivity}: {failure.error}: {' '.join(failure.cause.split())}",
            width,
            subsequent_indent="  ",
            break_long_words=True,
            # An ARN split at its hyphens could not be copied back whole.
            break_on_hyphens=False,
        )
    return "\n".join(lines) + "\n"
