"""The comparison report: the data contract (``model``), the pure computation (``build``), the view
every rendering reads (``view``, with the charts' geometry in ``chart``), and its renderings: HTML
and Markdown from templates (``render``), terminal text and the short SNS/execution summary."""

from sweep_core.report.build import build_report
from sweep_core.report.model import ComparisonInput, Report
from sweep_core.report.render import render_html, render_markdown
from sweep_core.report.summary import execution_summary, summary
from sweep_core.report.text import render_text

__all__ = [
    "ComparisonInput",
    "Report",
    "build_report",
    "execution_summary",
    "render_html",
    "render_markdown",
    "render_text",
    "summary",
]
