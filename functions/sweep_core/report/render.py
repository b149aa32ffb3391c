"""report.html and report.md: the view (``view.report_view``) drawn by the Jinja2 templates in
templates/. Both environments escape every value a template prints, each for its own document."""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from sweep_core.report.chart import BOX
from sweep_core.report.format import number
from sweep_core.report.model import Report
from sweep_core.report.view import BIG_MOVE, Prose, report_view

TEMPLATES = Path(__file__).parent / "templates"

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


def _html_text(value: Any) -> Markup:
    # Autoescape would escape too; escaping here first keeps the page's entities (&#x27;, &quot;).
    if hasattr(value, "__html__"):
        return value
    return Markup(html.escape(str(value), quote=True))  # noqa: S704 - escaped on this line


def _markdown_text(value: Any) -> Markup:
    # Markup here means "already Markdown": a macro's output, or the report's own Prose.
    if hasattr(value, "__html__"):
        return value
    # Prose is text the report wrote itself: Markdown syntax in it (brackets, "<$0.01") is meant.
    return Markup(value if isinstance(value, Prose) else md_escape(str(value)))  # noqa: S704


def _environment(finalize: Callable[[Any], Markup]) -> Environment:
    # autoescape: what finalize did not turn into Markup (nothing, as written) would be HTML-escaped.
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        finalize=finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["number"] = number
    env.filters["px"] = lambda value: f"{value:.1f}"
    env.globals.update(box=BOX, big_move=BIG_MOVE)
    return env


HTML_TEMPLATES = _environment(_html_text)
MARKDOWN_TEMPLATES = _environment(_markdown_text)


def render_html(report: Report) -> str:
    """report.html: one self-contained page (inline CSS and SVG, no script, no network)."""
    return HTML_TEMPLATES.get_template("report.html.j2").render(v=report_view(report))


def render_markdown(report: Report) -> str:
    """report.md: the original study's tables, the recommendation, the cost and the run's facts."""
    return MARKDOWN_TEMPLATES.get_template("report.md.j2").render(v=report_view(report))
