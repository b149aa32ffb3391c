"""report.html in a real browser: headless Chromium loads it from disk with the network cut off,
reports no console message, lays out the charts and tables, and produces a non-blank screenshot."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

from support.browser import load
from sweep_core.report import build_report, render_html
from sweep_core.report.model import ComparisonInput, LevelOutcome

MakeInput = Callable[..., ComparisonInput]
MakeLevel = Callable[..., LevelOutcome]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Count(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.ids: set[str] = set()
        self.charts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.ids.update(value for name, value in attrs if name == "id" and value)
        self.charts += tag == "svg" and ("class", "chart") in attrs


def test_console_check_sees_a_page_error(tmp_path: Path) -> None:
    """The console check below is only worth something if it catches what a broken page does: a
    console message, an uncaught exception, and a resource that needs the network."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><body>"
        '<script>console.error("broken-page")</script>'
        '<script>throw new Error("thrown-on-load")</script>'
        '<img src="https://example.com/needs-the-network.png">'
        "</body></html>"
    )
    console = load(page.as_uri(), tmp_path / "profile").console
    assert any("broken-page" in message for message in console), console
    assert any("thrown-on-load" in message for message in console), console
    assert any("ERR_NAME_NOT_RESOLVED" in message for message in console), console


def test_report_page_loads_cleanly_in_chromium(
    tmp_path: Path, make_study: MakeInput, make_level: MakeLevel, make_failed: MakeLevel
) -> None:
    levels = [
        make_level("OFF"),
        make_level("LOW"),
        make_failed(
            "MEDIUM", "Training failed: the dataset group has <fewer> than 25 users & 1000 interactions"
        ),
        make_level("HIGH"),
    ]
    page = tmp_path / "report.html"
    page.write_text(render_html(build_report(make_study(levels))), encoding="utf-8")

    shown = load(page.as_uri(), tmp_path / "profile", screenshot=(1280, 2600))
    assert shown.console == []
    assert shown.screenshot.startswith(PNG_SIGNATURE)
    # 1280x2600 of one flat colour compresses to a few KB; charts, tables and text need far more.
    assert len(shown.screenshot) > 100_000

    found = _Count()
    found.feed(shown.html)
    assert found.charts == 6
    assert found.tags.get("circle", 0) >= 6 * 3
    assert found.tags.get("table", 0) >= 7
    assert "script" not in found.tags
    assert {"recommendation", "charts", "metrics", "policy", "failures", "cost", "facts"} <= found.ids
    assert "Recommended: HIGH" in shown.html
    # The hostile title arrived as text, not as markup.
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in shown.html
