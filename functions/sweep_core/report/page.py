"""report.html: one self-contained page (inline CSS and SVG, no script, no network) that shows the
recommendation, relevance against the business metric per level with the trade-off frontier, the
tables of the original study, the sample users' lists side by side, failures and the run's facts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from sweep_core.models import Sensitivity
from sweep_core.report.format import (
    cleanup_hint,
    deleted_note,
    duration,
    keep_hint,
    metric_label,
    money,
    number,
    ordered_metrics,
    run_fact_rows,
    signed_percent,
    user_label,
)
from sweep_core.report.model import LevelReport, Report, SampleList, SampleUser

LEVEL_COLOURS: dict[Sensitivity, str] = {
    "OFF": "#4b5563",
    "LOW": "#2563eb",
    "MEDIUM": "#d97706",
    "HIGH": "#c026d3",
}
_BIG_MOVE = 3
_FRONTIER_KEY = (
    '<svg width="28" height="10" aria-hidden="true"><line x1="0" y1="5" x2="28" y2="5" stroke="#111827" '
    'stroke-width="1.5" stroke-dasharray="5 3"/></svg>'
)
RELEVANCE_AXES = ("normalized_discounted_cumulative_gain_at_10", "precision_at_10", "coverage")
BUSINESS_AXES = ("meanTopKObjectiveSum", "average_rewards_at_k")

_CSS = """
:root { --ink: #111827; --muted: #6b7280; --line: #e5e7eb; --good: #047857; --bad: #b91c1c; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  margin: 0; background: #f9fafb; }
main { max-width: 1280px; margin: 0 auto; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; }
p.sub, .note { color: var(--muted); margin: 0 0 12px; }
section.headline { background: #fff; border: 1px solid var(--line); border-left: 6px solid var(--good);
  border-radius: 8px; padding: 16px 20px; margin-top: 16px; }
section.headline.none { border-left-color: var(--bad); }
.verdict { font-size: 22px; font-weight: 700; margin: 0 0 6px; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 12px; }
.kpi { background: #f3f4f6; border-radius: 6px; padding: 8px 12px; min-width: 150px; }
.kpi b { display: block; font-size: 18px; }
.kpi span { color: var(--muted); font-size: 12px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px; }
figure svg { width: 100%; height: auto; display: block; }
.legend { display: flex; gap: 16px; flex-wrap: wrap; margin: 8px 0; color: var(--muted); }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 4px; }
table { border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
thead th { background: #f3f4f6; font-weight: 600; }
td.cause { max-width: 640px; white-space: pre-wrap; word-break: break-word; text-align: left; }
.up { color: var(--good); } .down { color: var(--bad); }
.chg { font-size: 12px; margin-left: 4px; }
.lists { display: flex; gap: 12px; overflow-x: auto; align-items: flex-start; }
.list { background: #fff; border: 1px solid var(--line); border-radius: 8px; min-width: 250px; flex: 1; }
.list h3 { margin: 0; padding: 8px 10px; font-size: 14px; border-bottom: 3px solid; display: flex;
  justify-content: space-between; }
.list table { border: 0; width: 100%; }
.list td { padding: 3px 6px; font-size: 12px; }
.list td.title { text-align: left; word-break: break-word; }
tr.new td { background: #d1fae5; }
tr.moved td { background: #fef3c7; }
tr.dropped td { color: var(--muted); text-decoration: line-through; }
.badge { font-size: 11px; color: var(--muted); white-space: nowrap; }
tr.new .badge { color: var(--good); font-weight: 600; }
.failed { color: var(--bad); font-weight: 600; }
"""


def _e(text: str) -> str:
    return escape(text, quote=True)


def render_html(report: Report) -> str:
    run = report.run
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Objective sweep: {_e(run.experiment)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>Objective sweep: {_e(run.experiment)}</h1>",
        f'<p class="sub">Execution {_e(run.execution_name)} · objective {_e(run.objective)} (maximised) · '
        f"top-{run.k} lists · {run.report_users} report users · {len(report.levels)} level(s)</p>",
        _headline(report),
        _charts(report),
        _metrics_table(report),
        _policy_table(report),
        *(_sample(report, sample) for sample in report.samples),
        _failures(report),
        _cost(report),
        _facts(report),
        "</main></body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _change_span(change: float | None) -> str:
    if change is None:
        return ""
    text = signed_percent(change)
    css = "up" if text.startswith("+") else "down" if text.startswith("-") else ""
    return f'<span class="chg {css}">{_e(text)}</span>'


def _level_by_name(report: Report, name: Sensitivity | None) -> LevelReport | None:
    return next((level for level in report.levels if level.sensitivity == name), None)


def _headline(report: Report) -> str:
    rec = report.recommendation
    chosen = _level_by_name(report, rec.sensitivity)
    verdict = f"Recommended: {_e(rec.sensitivity)}" if rec.sensitivity else "No recommendation"
    kpis = []
    if chosen is not None and chosen.sensitivity != "OFF":
        business = chosen.changes_vs_off.get("meanTopKObjectiveSum")
        relevance = chosen.changes_vs_off.get(rec.policy.relevance_metric)
        kpis.append(
            (signed_percent(business) or "n/a", f"mean top-{report.run.k} {report.run.objective} sum vs OFF")
        )
        kpis.append(
            (signed_percent(relevance) or "n/a", f"{metric_label(rec.policy.relevance_metric)} vs OFF")
        )
    cost = report.cost
    kpis.append(
        (money(cost.campaigns_monthly_usd), f"per month for {len(cost.campaigns)} campaign(s) left running")
    )
    kpis.append((money(cost.training_usd), f"training, {duration(cost.training_hours * 3600)}"))
    cards = "".join(
        f'<div class="kpi"><b>{_e(value)}</b><span>{_e(label)}</span></div>' for value, label in kpis
    )
    css = "headline" if rec.sensitivity else "headline none"
    return (
        f'<section class="{css}" id="recommendation"><p class="verdict">{verdict}</p>'
        f'<p>{_e(rec.sentence)}</p><div class="kpis">{cards}</div></section>'
    )


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Point:
    sensitivity: Sensitivity
    x: float
    y: float


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    if high <= low:
        pad = abs(low) * 0.1 or 0.01
        low, high = low - pad, high + pad
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def _padded(values: list[float]) -> tuple[float, float]:
    """The values' range widened by a tenth on each side, so no point or its label sits on the frame."""
    low, high = min(values), max(values)
    pad = (high - low) * 0.1
    return low - pad, high + pad


def frontier(points: list[_Point]) -> list[_Point]:
    """The levels no other level beats on both axes (higher is better on each), by business value."""
    return sorted(
        (
            p
            for p in points
            if not any(q.x >= p.x and q.y >= p.y and (q.x > p.x or q.y > p.y) for q in points)
        ),
        key=lambda p: p.x,
    )


def _value(level: LevelReport, name: str) -> float | None:
    return level.mean_top_k_objective_sum if name == "meanTopKObjectiveSum" else level.metrics.get(name)


def _axis_label(report: Report, name: str) -> str:
    if name == "meanTopKObjectiveSum":
        return f"mean top-{report.run.k} {report.run.objective} sum"
    return metric_label(name)


def _scatter(report: Report, x_name: str, y_name: str) -> str:
    width, height = 360, 260
    left, right, top, bottom = 58, 16, 30, 46
    title = f"{metric_label(y_name)} against {_axis_label(report, x_name)}"
    points = []
    for level in report.levels:
        x, y = _value(level, x_name), _value(level, y_name)
        if level.status == "ACTIVE" and x is not None and y is not None:
            points.append(_Point(level.sensitivity, x, y))
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_e(title)}" class="chart"><title>{_e(title)}</title>'
        f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="600">{_e(title)}</text>'
    )
    if not points:
        return (
            f'{head}<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#6b7280">'
            "no level has both values</text></svg>"
        )
    threshold = None
    off = _level_by_name(report, "OFF")
    policy = report.recommendation.policy
    if y_name == policy.relevance_metric and off is not None and off.status == "ACTIVE":
        baseline = off.metrics.get(y_name)
        threshold = baseline * (1 - policy.tolerance) if baseline is not None else None
    xs = _nice_ticks(*_padded([p.x for p in points]))
    ys = _nice_ticks(*_padded([p.y for p in points] + ([threshold] if threshold is not None else [])))

    def sx(value: float) -> float:
        return left + (value - xs[0]) / (xs[-1] - xs[0]) * (width - left - right)

    def sy(value: float) -> float:
        return height - bottom - (value - ys[0]) / (ys[-1] - ys[0]) * (height - top - bottom)

    out = [head]
    if threshold is not None:
        out.append(
            f'<rect x="{left}" y="{sy(threshold):.1f}" width="{width - left - right}" '
            f'height="{sy(ys[0]) - sy(threshold):.1f}" fill="#fee2e2" opacity="0.7"/>'
            f'<line x1="{left}" x2="{width - right}" y1="{sy(threshold):.1f}" y2="{sy(threshold):.1f}" '
            'stroke="#b91c1c" stroke-dasharray="3 3"/>'
            f'<text x="{width - right - 4}" y="{sy(threshold) + 12:.1f}" text-anchor="end" font-size="10" '
            f'fill="#b91c1c">beyond {policy.tolerance:.0%} tolerance</text>'
        )
    for tick in xs:
        out.append(
            f'<line x1="{sx(tick):.1f}" x2="{sx(tick):.1f}" y1="{top}" y2="{height - bottom}" stroke="#eef0f3"/>'
            f'<text x="{sx(tick):.1f}" y="{height - bottom + 14}" text-anchor="middle" font-size="10" '
            f'fill="#6b7280">{tick:g}</text>'
        )
    for tick in ys:
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{sy(tick):.1f}" y2="{sy(tick):.1f}" stroke="#eef0f3"/>'
            f'<text x="{left - 6}" y="{sy(tick) + 3:.1f}" text-anchor="end" font-size="10" '
            f'fill="#6b7280">{tick:g}</text>'
        )
    out.append(
        f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" '
        'fill="none" stroke="#d1d5db"/>'
        f'<text x="{(left + width - right) / 2}" y="{height - 8}" text-anchor="middle" font-size="11">'
        f"{_e(_axis_label(report, x_name))} →</text>"
        f'<text transform="translate(14 {(top + height - bottom) / 2}) rotate(-90)" text-anchor="middle" '
        f'font-size="11">{_e(metric_label(y_name))} →</text>'
    )
    edge = frontier(points)
    if len(edge) > 1:
        path = " ".join(f"{sx(p.x):.1f},{sy(p.y):.1f}" for p in edge)
        out.append(
            f'<polyline class="frontier" points="{path}" fill="none" stroke="#111827" stroke-width="1.5" '
            'stroke-dasharray="5 3"/>'
        )
    chosen = report.recommendation.sensitivity
    for p in points:
        colour = LEVEL_COLOURS[p.sensitivity]
        ring = (
            f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="10" fill="none" stroke="{colour}" stroke-width="2"/>'
            if p.sensitivity == chosen
            else ""
        )
        anchor, dx = ("end", -9) if sx(p.x) > width - right - 50 else ("start", 9)
        out.append(
            f'{ring}<circle class="point" cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="5.5" fill="{colour}">'
            f"<title>{p.sensitivity}: {_e(_axis_label(report, x_name))} {number(p.x)}, "
            f"{_e(metric_label(y_name))} {number(p.y)}</title></circle>"
            f'<text x="{sx(p.x) + dx:.1f}" y="{sy(p.y) - 7:.1f}" text-anchor="{anchor}" font-size="11" '
            f'font-weight="600" fill="{colour}">{p.sensitivity}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _charts(report: Report) -> str:
    figures = "".join(
        f"<figure>{_scatter(report, x_name, y_name)}</figure>"
        for x_name in BUSINESS_AXES
        for y_name in RELEVANCE_AXES
    )
    legend = "".join(
        f'<span><i style="background:{LEVEL_COLOURS[level.sensitivity]}"></i>{level.sensitivity}'
        f"{' (failed)' if level.status == 'FAILED' else ''}</span>"
        for level in report.levels
    )
    return (
        '<section id="charts"><h2>Relevance against the business metric</h2>'
        '<p class="note">Up is more relevant, right is better for the business. The dashed line joins the '
        "trade-off frontier: the levels no other level beats on both axes. The ringed point is the "
        "recommendation; the shaded band is the relevance loss the policy does not accept.</p>"
        f'<div class="legend">{legend}<span>{_FRONTIER_KEY} frontier</span></div>'
        f'<div class="charts">{figures}</div></section>'
    )


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def _level_head(level: LevelReport) -> str:
    colour = LEVEL_COLOURS[level.sensitivity]
    failed = ' <span class="failed">failed</span>' if level.status == "FAILED" else ""
    return f'<th style="color:{colour}">{level.sensitivity}{failed}</th>'


def _metric_cell(value: float | None, change: float | None) -> str:
    return f"<td>{_e(number(value))}{_change_span(change)}</td>"


def _metrics_table(report: Report) -> str:
    levels = report.levels
    names = ordered_metrics({name for level in levels for name in level.metrics})
    rows = [
        f"<tr><td>{_e(metric_label(name))}</td>"
        + "".join(_metric_cell(level.metrics.get(name), level.changes_vs_off.get(name)) for level in levels)
        + "</tr>"
        for name in names
    ]
    rows.append(
        f"<tr><td><b>{_e(_axis_label(report, 'meanTopKObjectiveSum'))}</b></td>"
        + "".join(
            _metric_cell(level.mean_top_k_objective_sum, level.changes_vs_off.get("meanTopKObjectiveSum"))
            for level in levels
        )
        + "</tr>"
    )
    for sample in report.samples:
        sums = {lst.sensitivity: lst.objective_sum for lst in sample.lists}
        rows.append(
            f"<tr><td>{_e(report.run.objective)} sum, {_e(user_label(sample.user_id))}</td>"
            + "".join(f"<td>{_e(number(sums.get(level.sensitivity)))}</td>" for level in levels)
            + "</tr>"
        )
    return (
        '<section id="metrics"><h2>Offline metrics per level</h2>'
        '<p class="note">Personalize offline metrics, with the relative change against OFF; the last rows are '
        f"the business metric: the {_e(report.run.objective)} summed over each user's top-{report.run.k}.</p>"
        "<table><thead><tr><th>Metric</th>"
        + "".join(_level_head(level) for level in levels)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></section>"
    )


def _policy_table(report: Report) -> str:
    rec = report.recommendation
    metric = metric_label(rec.policy.relevance_metric)
    rows = "".join(
        f"<tr><td>{c.sensitivity}</td><td>{_e(number(c.business_value))}</td><td>{_e(number(c.relevance_value))}"
        f"{_change_span(None if c.relevance_loss is None or c.sensitivity == 'OFF' else -c.relevance_loss)}</td>"
        f'<td class="text">{"yes" if c.eligible else "no"}</td><td class="text">{_e(c.reason)}</td></tr>'
        for c in rec.candidates
    )
    return (
        '<section id="policy"><h2>How the recommendation was chosen</h2>'
        f'<p class="note">Policy: the level with the best {_e(_axis_label(report, "meanTopKObjectiveSum"))} '
        f"whose {_e(metric)} loss against OFF is at most {rec.policy.tolerance:.1%}.</p>"
        f"<table><thead><tr><th>Level</th><th>{_e(_axis_label(report, 'meanTopKObjectiveSum'))}</th><th>{_e(metric)}</th>"
        f'<th class="text">Eligible</th><th class="text">Why</th></tr></thead><tbody>{rows}</tbody></table></section>'
    )


def _class(css: str) -> str:
    return f' class="{css}"' if css else ""


def _list_rows(lst: SampleList, dropped: set[str]) -> str:
    rows = []
    for item in lst.items:
        if lst.sensitivity == "OFF":
            css, badge = ("dropped", "gone") if item.item_id in dropped else ("", "")
        elif item.off_rank is None:
            css, badge = "new", "new"
        elif item.off_rank != item.rank:
            # Small shifts are the norm once a new item enters above; shading only the big moves keeps
            # the eye on what the objective really changed.
            shift = abs(item.off_rank - item.rank)
            css = "moved" if shift >= _BIG_MOVE else ""
            badge = f"{'▲' if item.off_rank > item.rank else '▼'}{shift}"
        else:
            css, badge = "", ""
        rows.append(
            f'<tr{_class(css)}><td>{item.rank}</td><td class="title">{_e(item.title)}</td>'
            f'<td>{_e(number(item.objective))}</td><td class="badge">{badge}</td></tr>'
        )
    return "".join(rows)


def _sample(report: Report, sample: SampleUser) -> str:
    chosen = report.recommendation.sensitivity
    chosen_list = next((lst for lst in sample.lists if lst.sensitivity == chosen), None)
    off_list = next((lst for lst in sample.lists if lst.sensitivity == "OFF"), None)
    dropped: set[str] = set()
    if chosen_list is not None and off_list is not None and chosen != "OFF":
        dropped = {item.item_id for item in off_list.items} - {item.item_id for item in chosen_list.items}
    cards = "".join(
        f'<div class="list"><h3 style="border-color:{LEVEL_COLOURS[lst.sensitivity]}">'
        f"<span>{lst.sensitivity}</span><span>sum {_e(number(lst.objective_sum))}</span></h3>"
        f"<table><tbody>{_list_rows(lst, dropped)}</tbody></table></div>"
        for lst in sample.lists
    )
    gone = f" Struck-through OFF titles are not in {chosen}'s list." if dropped else ""
    return (
        f'<section class="sample"><h2>Sample {_e(user_label(sample.user_id))}: ranked lists per level</h2>'
        f'<p class="note">Title and {_e(report.run.objective)} of each recommended item. Green: not in OFF\'s '
        f"list; amber: moved {_BIG_MOVE} or more places against OFF (▲ up, ▼ down).{_e(gone)}</p>"
        f'<div class="lists">{cards or "<p>No level produced a list.</p>"}</div></section>'
    )


def _failures(report: Report) -> str:
    if not report.failures:
        return ""
    rows = "".join(
        f'<tr><td class="failed">{f.sensitivity}</td><td class="text">{_e(f.error)}</td>'
        f'<td class="cause">{_e(f.cause)}</td></tr>'
        for f in report.failures
    )
    return (
        '<section id="failures"><h2>Failed levels</h2><p class="note">These levels are left out of the '
        'comparison; the others ran to the end.</p><table><thead><tr><th>Level</th><th class="text">Error</th>'
        f'<th class="text">Cause</th></tr></thead><tbody>{rows}</tbody></table></section>'
    )


def _cost(report: Report) -> str:
    cost = report.cost
    rows = "".join(
        f'<tr><td>{c.sensitivity}</td><td class="text">{_e(c.campaign_arn)}</td><td>{c.min_provisioned_tps}</td>'
        f"<td>{_e(money(c.monthly_usd))}</td></tr>"
        for c in cost.campaigns
    )
    table = (
        '<table><thead><tr><th>Level</th><th class="text">Campaign</th><th>minProvisionedTPS</th>'
        f"<th>Per month</th></tr></thead><tbody>{rows}</tbody></table>"
        if rows
        else ""
    )
    return (
        '<section id="cost"><h2>Cost estimate</h2>'
        f"<p>Campaigns left running (keep={_e(cost.keep)}): {len(cost.campaigns)}, about "
        f"<b>{_e(money(cost.campaigns_monthly_usd))} per month</b> (minProvisionedTPS × {cost.hours_per_month:g} h × "
        f"{_e(money(cost.campaign_tps_hour_price))} per TPS-hour each). Training used "
        f"{duration(cost.training_hours * 3600)} × {_e(money(cost.training_hour_price))} = <b>{_e(money(cost.training_usd))}</b>. "
        f"{_e(deleted_note(report))}{_e(keep_hint(report))} Prices are the run's campaignTpsHourPrice and trainingHourPrice: check your "
        "region's.</p>"
        f"{table}{f'<p>{_e(cleanup_hint(report).strip())}</p>' if cleanup_hint(report) else ''}</section>"
    )


def _facts(report: Report) -> str:
    rows = "".join(
        f'<tr><td>{_e(name)}</td><td class="text">{_e(value)}</td></tr>'
        for name, value in run_fact_rows(report)
    )
    return f'<section id="facts"><h2>Run facts</h2><table><tbody>{rows}</tbody></table></section>'
