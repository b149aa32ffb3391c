"""The renderings: Markdown tables of the original study, the self-contained HTML page, the 80-column
terminal view, and the size limits of the SNS message and the execution output."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from sweep_core.report import (
    build_report,
    execution_summary,
    render_html,
    render_markdown,
    render_text,
    summary,
)
from sweep_core.report.chart import Point, frontier
from sweep_core.report.format import signed_percent
from sweep_core.report.model import ComparisonInput, LevelOutcome
from sweep_core.report.render import HTML_TEMPLATES, MARKDOWN_TEMPLATES, TEMPLATES, md_escape
from sweep_core.report.view import Prose

MakeInput = Callable[..., ComparisonInput]
MakeLevel = Callable[..., LevelOutcome]
URIS = {
    "html": "s3://objective-sweep-123456789012-us-east-1/reports/royalty-study/run-0001/report.html",
    "markdown": "s3://objective-sweep-123456789012-us-east-1/reports/royalty-study/run-0001/report.md",
    "json": "s3://objective-sweep-123456789012-us-east-1/reports/royalty-study/run-0001/report.json",
}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.append(dict(attrs))


def test_markdown_has_the_study_tables(
    make_study: MakeInput, make_level: MakeLevel, make_failed: MakeLevel
) -> None:
    report = build_report(
        make_study([make_level("OFF"), make_level("LOW"), make_failed("MEDIUM"), make_level("HIGH")])
    )
    md = render_markdown(report)
    assert "| Metric | OFF | LOW | MEDIUM (failed) | HIGH |" in md
    assert "| NDCG@10 | 0.0937 | 0.1 (+6.7%) | n/a | 0.0999 (+6.6%) |" in md
    assert "## Sample user 1: ranked titles per level" in md
    assert "| # | OFF | ROYALTY | LOW | ROYALTY | HIGH | ROYALTY |" in md
    assert "## Failed levels" in md
    assert "SolutionVersionFailed" in md
    assert "## Recommendation: HIGH\n\nShip HIGH: best mean top-25 ROYALTY sum" in md
    # Every table row has as many cells as its header: a title's "|" must not split a cell.
    for block in re.findall(r"(?:^\|.*\|$\n?)+", md, flags=re.M):
        rows = [re.split(r"(?<!\\)\|", line)[1:-1] for line in block.strip().splitlines()]
        assert len({len(row) for row in rows}) == 1, block
    assert "<script>" not in md
    assert "&lt;script&gt;alert\\('x'\\)&lt;/script&gt; &amp; \\| pipes \\| \\(1995\\)" in md


def test_html_is_self_contained_and_escapes_titles(
    make_study: MakeInput, make_failed: MakeLevel, make_level: MakeLevel
) -> None:
    levels = [
        make_level("OFF"),
        make_level("LOW"),
        make_failed("MEDIUM", 'quota <img src=x onerror="alert(1)">'),
        make_level("HIGH"),
    ]
    page = render_html(build_report(make_study(levels)))
    parser = _Elements()
    parser.feed(page)
    assert "script" not in parser.tags
    assert "img" not in parser.tags
    charts = [
        attrs
        for tag, attrs in zip(parser.tags, parser.attrs, strict=True)
        if tag == "svg" and attrs.get("class") == "chart"
    ]
    assert len(charts) == 6
    assert not any(
        value and re.match(r"(https?:)?//", value)
        for attrs in parser.attrs
        for name, value in attrs.items()
        if name in {"src", "href"}
    )
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; | pipes | (1995)" in page
    assert "quota &lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    for section in ("recommendation", "charts", "metrics", "policy", "failures", "cost", "facts"):
        assert f'id="{section}"' in page
    assert "Recommended: HIGH" in page
    # The frontier is drawn and the recommendation is ringed in every chart that has HIGH.
    assert page.count('class="frontier"') >= 1
    assert 'class="new"' in page
    assert 'class="moved"' in page


def test_html_charts_say_so_when_no_level_has_data(make_hand: MakeInput) -> None:
    page = render_html(build_report(make_hand(relevance={"OFF": None}, business={"OFF": None})))
    assert page.count("no level has both values") == 6


@pytest.mark.parametrize("width", [80, 60])
def test_terminal_view_fits_the_width(
    make_study: MakeInput, make_failed: MakeLevel, make_level: MakeLevel, width: int
) -> None:
    levels = [make_level("OFF"), make_level("LOW"), make_level("MEDIUM"), make_failed("HIGH", "x" * 500)]
    text = render_text(build_report(make_study(levels, sampleUsers=["1", "2"])), width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("metric"))
    assert header.split() == ["metric", "OFF", "LOW", "MEDIUM", "HIGH"]
    assert any(line.startswith("NDCG@10") and "0.0937" in line for line in lines)
    assert any(line.startswith("mean top-25 sum") for line in lines)
    assert any(line.startswith("user 2 sum") for line in lines)
    assert "Ship MEDIUM: best mean top-25 ROYALTY sum" in " ".join(text.split())
    assert "FAILED HIGH: SolutionVersionFailed" in text


def test_sns_summary_fits_with_four_levels_and_long_causes(
    make_study: MakeInput, make_level: MakeLevel, make_failed: MakeLevel
) -> None:
    cause = "Training failed: " + "the interactions dataset has too few users é " * 40
    levels = [make_level("OFF"), make_failed("LOW", cause), make_failed("MEDIUM", cause), make_level("HIGH")]
    subject, message = summary(build_report(make_study(levels)), URIS)
    assert len(subject) <= 100
    assert subject.isascii()
    assert subject.isprintable()
    assert subject == "Objective sweep royalty-study: ship HIGH, 2 level(s) failed"
    assert len(message.encode()) <= 2048
    assert message.isascii()
    assert "Ship HIGH: best mean top-25 ROYALTY sum" in message
    for uri in URIS.values():
        assert uri in message
    assert "FAILED LOW: SolutionVersionFailed" in message


def test_sns_summary_carries_the_headline_numbers(make_study: MakeInput) -> None:
    _, message = summary(build_report(make_study()), URIS)
    # A column table in the plain-text message: the spacing survives the ASCII clean-up. By default
    # (keep=recommended) only the recommended level's campaign is left; the others were deleted.
    assert "\nOFF                 0.0937                   -0.7025  DELETED\n" in message
    assert "\nHIGH          0.0999 +6.6%            -0.3363 +52.1%  KEPT\n" in message
    assert (
        "1 campaign(s) left running (keep=recommended) ~ $146.00/month; 3 deleted after the comparison"
        in message
    )
    _, keep_all = summary(build_report(make_study(keep="all")), URIS)
    assert "\nOFF                 0.0937                   -0.7025  KEPT\n" in keep_all
    assert "4 campaign(s) left running (keep=all) ~ $584.00/month; training" in keep_all


@pytest.mark.parametrize(
    ("keep", "row"),
    [
        ("recommended", ["DELETED", "DELETED", "DELETED", "KEPT"]),
        ("all", ["KEPT", "KEPT", "KEPT", "KEPT"]),
        ("none", ["DELETED", "DELETED", "DELETED", "DELETED"]),
    ],
)
def test_terminal_campaign_row_follows_keep(make_study: MakeInput, keep: str, row: list[str]) -> None:
    report = build_report(make_study(keep=keep))
    text = render_text(report)
    (line,) = [line for line in text.splitlines() if line.startswith("campaign ")]
    assert line.split()[1:] == row
    assert "ACTIVE" not in line
    # The Markdown and HTML cost sections count what keep deleted the same way.
    deleted = row.count("DELETED")
    note = f"{deleted} campaign(s) deployed for the comparison were deleted after it (keep={keep})."
    for page in (render_markdown(report), render_html(report)):
        assert (note in " ".join(page.split())) == (deleted > 0)


def test_terminal_campaign_row_shows_a_failed_level(
    make_study: MakeInput, make_level: MakeLevel, make_failed: MakeLevel
) -> None:
    levels = [make_level("OFF"), make_level("LOW"), make_level("MEDIUM"), make_failed("HIGH")]
    text = render_text(build_report(make_study(levels, keep="recommended")))
    (line,) = [line for line in text.splitlines() if line.startswith("campaign ")]
    assert line.split()[1:] == ["DELETED", "DELETED", "KEPT", "FAILED"]
    assert "; 2 deleted after the comparison" in " ".join(text.split())


def test_user_labels_name_the_user_once(make_study: MakeInput) -> None:
    """An id that already says "user" is not prefixed again ("user user_aabnt sum")."""
    inp = make_study(sampleUsers=["user_7", "8"])
    renamed = {
        level: {("user_7" if user == "7" else user): items for user, items in lists.items()}
        for level, lists in inp.recommendations.items()
    }
    report = build_report(inp.model_copy(update={"recommendations": renamed}))
    assert [sample.user_id for sample in report.samples] == ["user_7", "8"]
    text = render_text(report)
    assert any(line.startswith("user_7 sum ") for line in text.splitlines())
    assert any(line.startswith("user 8 sum ") for line in text.splitlines())
    assert "user user_7" not in text
    markdown = render_markdown(report)
    assert f"## Sample {md_escape('user_7')}: ranked titles per level" in markdown
    assert "| User 8 |" in markdown
    assert "user user" not in markdown.lower()
    page = render_html(report)
    assert "ROYALTY sum, user_7<" in page
    assert "user user" not in page.lower()


def test_execution_output_stays_small_with_1000_report_users(make_study: MakeInput) -> None:
    report = build_report(
        make_study(users=1000, reportUsers=1000, sampleUsers=[str(u) for u in range(1, 11)])
    )
    assert report.run.report_users == 1000
    output = execution_summary(report, URIS)
    size = len(json.dumps(output).encode())
    assert size < 256 * 1024
    # Nothing in it grows with the users: the same run with 10 users has the same shape and size.
    small = execution_summary(build_report(make_study(users=10)), URIS)
    assert abs(len(json.dumps(small).encode()) - size) < 64
    assert output["recommended"] == "HIGH"
    assert output["reportUris"] == URIS


def test_frontier_keeps_only_levels_no_other_beats_on_both_axes() -> None:
    points = [
        Point("OFF", -0.7, 0.0937),
        Point("LOW", -0.63, 0.1),
        Point("MEDIUM", -0.52, 0.0961),
        Point("HIGH", -0.34, 0.0999),
    ]
    # OFF is beaten by LOW on both axes, MEDIUM by HIGH; LOW and HIGH each win on one axis.
    assert [p.sensitivity for p in frontier(points)] == ["LOW", "HIGH"]
    assert [p.sensitivity for p in frontier([Point("OFF", 0.0, 0.0), Point("HIGH", 0.0, 0.0)])] == [
        "OFF",
        "HIGH",
    ]


def test_html_charts_with_one_level_or_identical_values(make_hand: MakeInput) -> None:
    for inp in (
        make_hand(relevance={"OFF": 0.1}, business={"OFF": -0.5}),
        make_hand(relevance={"OFF": 0.0, "HIGH": 0.0}, business={"OFF": 0.0, "HIGH": 0.0}),
    ):
        page = render_html(build_report(inp))
        # Only NDCG@10 against the objective sum has data: one point per level there, none elsewhere.
        assert page.count('class="point"') == len(inp.levels)
        assert page.count("no level has both values") == 5
        assert "nan" not in page.lower()


def test_input_rejects_nan_metrics(make_level: MakeLevel) -> None:
    with pytest.raises(ValueError, match="finite number"):
        make_level("OFF", metrics={"coverage": float("nan")})


def test_changes_that_round_to_zero_carry_no_sign() -> None:
    assert signed_percent(-0.00004) == "0.0%"
    assert signed_percent(0.0) == "0.0%"
    assert signed_percent(0.066) == "+6.6%"
    assert signed_percent(-0.0304) == "-3.0%"
    assert signed_percent(None) == ""


def test_a_few_seconds_of_training_still_show_time_and_cost(
    make_study: MakeInput, make_level: MakeLevel
) -> None:
    # What the local endpoint reports: real training of a few seconds, so fractions of a cent.
    levels = [make_level(s, training_hours=0.0017) for s in ("OFF", "HIGH")]
    report = build_report(make_study(levels))
    assert report.cost.training_usd > 0
    text = render_text(report)
    assert "training 12 s = <$0.01" in " ".join(text.split())
    assert "Training: 12 s x $0.24 = <$0.01" in render_markdown(report)


def test_markdown_shows_control_characters_and_link_syntax_as_text() -> None:
    hostile = "[click](javascript:alert(1)) ![img](x) \x1b[31mred\u202eevil\x00"
    escaped = md_escape(hostile)
    # No link or image can form: every bracket and parenthesis is escaped.
    assert re.search(r"(?<!\\)[\[\]()]", escaped) is None
    # Terminal escapes, a right-to-left override and NUL are shown, not obeyed.
    assert "\x1b" not in escaped
    assert "\u202e" not in escaped
    assert "\x00" not in escaped
    assert escaped.count("\ufffd") == 3


def test_templates_escape_every_value_they_print() -> None:
    """No value reaches a page unescaped unless it is marked: Markup for HTML (a macro's output),
    Prose (the report's own words) for Markdown, where HTML still escapes Prose."""
    hostile = "<b>x</b> & 'q' \"d\" [l](u) a_b | c"
    page = HTML_TEMPLATES.from_string("{{ a }}/{{ b }}").render(a=hostile, b=Prose(hostile))
    assert page == "/".join(["&lt;b&gt;x&lt;/b&gt; &amp; &#x27;q&#x27; &quot;d&quot; [l](u) a_b | c"] * 2)
    text = MARKDOWN_TEMPLATES.from_string("{{ a }}/{{ b }}").render(a=hostile, b=Prose(hostile))
    assert text == f"{md_escape(hostile)}/{hostile}"
    assert "\\[l\\]\\(u\\)" in md_escape(hostile)
    # Nor does a template opt out.
    for template in TEMPLATES.glob("*.j2"):
        source = re.sub(r"{#.*?#}", "", template.read_text(encoding="utf-8"), flags=re.S)
        assert not re.search(r"\|\s*safe\b|autoescape\s+false", source), template.name
