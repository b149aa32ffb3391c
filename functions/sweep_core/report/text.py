"""The terminal view of a report (``sweep demo``/``run``/``report``): the metrics per level, the
objective sums and the recommendation, laid out to fit a given width (80 columns by default)."""

from __future__ import annotations

import textwrap

from sweep_core.report.model import Report
from sweep_core.report.view import Cell, report_view

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
    view = report_view(report)
    columns = view.columns
    with_changes = _LABEL + _CELL * len(columns) <= width
    cell = _CELL if with_changes else _NARROW_CELL
    label_width = max(width - cell * len(columns), 8)

    def _cell(value: Cell) -> str:
        return f"{value.value} {value.change}" if with_changes and value.change is not None else value.value

    def row(label: str, cells: list[str]) -> str:
        line = _clip(label, label_width - 1).ljust(label_width) + "".join(
            _clip(text, cell - 1).rjust(cell) for text in cells
        )
        return line.rstrip()

    run = view.run
    lines = textwrap.wrap(
        f"Objective sweep {run.experiment} - execution {run.execution_name} - objective {run.objective} "
        f"(maximised), K={run.k}, {run.report_users} report users",
        width,
    )
    lines += [
        "",
        row("metric", [column.sensitivity for column in columns]),
        "-" * min(width, label_width + cell * len(columns)),
    ]
    lines += [row(metric.label, [_cell(value) for value in metric.cells]) for metric in view.metrics]
    # The objective is in the header line; the row label stays short enough for 80 columns.
    lines.append(row(f"mean top-{run.k} sum", [_cell(value) for value in view.business.cells]))
    lines += [row(f"{sample.user} sum", sample.sums) for sample in view.samples]
    # What the run leaves of each level's campaign: a level deleted by `keep` is not ACTIVE any more.
    lines.append(row("campaign", [column.campaign for column in columns]))
    lines.append("")
    lines += textwrap.wrap(view.sentence, width, break_long_words=True)
    cost = view.cost
    lines += textwrap.wrap(f"{cost.line}{cost.keep_hint}{f' {cost.cleanup}' if cost.cleanup else ''}", width)
    for failure in view.failures:
        lines += textwrap.wrap(
            f"FAILED {failure.sensitivity}: {failure.error}: {' '.join(failure.cause.split())}",
            width,
            subsequent_indent="  ",
            break_long_words=True,
            # An ARN split at its hyphens could not be copied back whole.
            break_on_hyphens=False,
        )
    return "\n".join(lines) + "\n"
