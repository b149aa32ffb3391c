"""report.html in a real browser: headless Chromium loads it from disk with the network cut off,
logs no console message, lays out the charts and tables, and produces a non-blank screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sweep_core.report import build_report, render_html
from sweep_core.report.model import ComparisonInput, LevelOutcome

MakeInput = Callable[..., ComparisonInput]
MakeLevel = Callable[..., LevelOutcome]
# Chromium prints page console messages as "...:INFO:CONSOLE:1] "text", source: ..." with these flags.
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]\s*(.*)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chromium(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (.ci/run does it in CI)")
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        # Any request that leaves the file would fail: the page must not need the network.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",
        *args,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)


def console_messages(stderr: str) -> list[str]:
    return [match[1] for match in map(CONSOLE.search, stderr.splitlines()) if match]


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
    """The console check below is only worth something if it catches an error on a broken page."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><script>console.error("broken-page")</script></body></html>')
    result = chromium(tmp_path, page.as_uri(), "--dump-dom")
    assert any("broken-page" in message for message in console_messages(result.stderr))


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
    screenshot = tmp_path / "report.png"

    shot = chromium(tmp_path, page.as_uri(), f"--screenshot={screenshot}", "--window-size=1280,2600")
    assert console_messages(shot.stderr) == []
    data = screenshot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    # 1280x2600 of one flat colour compresses to a few KB; charts, tables and text need far more.
    assert len(data) > 100_000

    dom = chromium(tmp_path, page.as_uri(), "--dump-dom")
    assert console_messages(dom.stderr) == []
    found = _Count()
    found.feed(dom.stdout)
    assert found.charts == 6
    assert found.tags.get("circle", 0) >= 6 * 3
    assert found.tags.get("table", 0) >= 7
    assert "script" not in found.tags
    assert {"recommendation", "charts", "metrics", "policy", "failures", "cost", "facts"} <= found.ids
    assert "Recommended: HIGH" in dom.stdout
    # The hostile title arrived as text, not as markup.
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in dom.stdout
