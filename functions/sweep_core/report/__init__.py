"""The comparison report: the data contract (``model``), the pure computation (``build``), and its
renderings as Markdown, HTML, terminal text and the short SNS/execution summary."""

from sweep_core.report.build import build_report
from sweep_core.report.markdown import render_markdown
from sweep_core.report.model import ComparisonInput, Report
from sweep_core.report.page import render_html
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
