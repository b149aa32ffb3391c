"""The report as its renderings show it: rows, sentences and figures, each worded and formatted once.
The HTML and Markdown templates, the terminal view and the SNS message all read this view, so a
change of wording or rounding lands in every rendering at once."""

from __future__ import annotations

from dataclasses import dataclass

from sweep_core.models import Sensitivity
from sweep_core.report.chart import LEVEL_COLOURS, Point, Scatter, scatter
from sweep_core.report.format import (
    duration,
    metric_label,
    money,
    number,
    ordered_metrics,
    signed_percent,
    user_label,
)
from sweep_core.report.model import Failure, LevelReport, Report, RunFacts, SampleList, SampleUser

BUSINESS_METRIC = "meanTopKObjectiveSum"
RELEVANCE_AXES = ("normalized_discounted_cumulative_gain_at_10", "precision_at_10", "coverage")
BUSINESS_AXES = (BUSINESS_METRIC, "average_rewards_at_k")
# A move of this many places or more against OFF is shaded in the sample lists.
BIG_MOVE = 3


class Prose(str):
    """Text the report writes itself from its own words and figures (a cost sentence, "<$0.01"):
    the Markdown template shows it as it is, where any other string is escaped. HTML escapes both."""


@dataclass(frozen=True)
class Cell:
    """A value and, when there is one, its change against OFF ("+6.6%")."""

    value: str
    change: str | None = None

    @property
    def trend(self) -> str:
        """The change's colour class: up, down, or none for a change that rounds to zero."""
        text = self.change or ""
        return "up" if text.startswith("+") else "down" if text.startswith("-") else ""


@dataclass(frozen=True)
class Row:
    label: str
    cells: list[Cell]


@dataclass(frozen=True)
class Column:
    """One level, as a table column: its head and the figures the objective-sum table shows."""

    sensitivity: Sensitivity
    colour: str
    failed: bool
    business: str
    business_change: str
    users_scored: int
    users_dropped: int
    campaign: str


@dataclass(frozen=True)
class ListRow:
    rank: int
    title: str
    objective: str
    css: str
    badge: str


@dataclass(frozen=True)
class RankedList:
    sensitivity: Sensitivity
    colour: str
    sum: str
    rows: list[ListRow]


@dataclass(frozen=True)
class Sample:
    """A sample user: their list per level, side by side, and their objective sum per column."""

    user: str
    user_capital: str
    lists: list[RankedList]
    sums: list[str]
    dropped_note: str

    @property
    def depth(self) -> int:
        return max((len(lst.rows) for lst in self.lists), default=0)


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    y_label: str
    layout: Scatter | None


@dataclass(frozen=True)
class Candidate:
    sensitivity: Sensitivity
    business: str
    relevance: Cell
    eligible: str
    reason: str


@dataclass(frozen=True)
class Campaign:
    sensitivity: Sensitivity
    arn: str
    min_provisioned_tps: int
    monthly: Prose


@dataclass(frozen=True)
class Cost:
    """The cost in two lengths, each written here only: ``line`` for the terminal and the SNS
    message, ``paragraph`` with the arithmetic for the HTML and Markdown pages."""

    line: Prose
    paragraph: Prose
    keep_hint: Prose
    cleanup: str
    campaigns: list[Campaign]


@dataclass(frozen=True)
class Fact:
    name: Prose
    value: str


@dataclass(frozen=True)
class ReportView:
    run: RunFacts
    recommended: Sensitivity | None
    sentence: str
    policy_sentence: str
    kpis: list[tuple[Prose, str]]
    columns: list[Column]
    metrics: list[Row]
    relevance: Row
    business: Row
    samples: list[Sample]
    charts: list[Chart]
    candidates: list[Candidate]
    cost: Cost
    failures: list[Failure]
    facts: list[Fact]


def report_view(report: Report) -> ReportView:
    run, rec = report.run, report.recommendation
    business_label = _axis_label(report, BUSINESS_METRIC)
    relevance_label = metric_label(rec.policy.relevance_metric)
    names = ordered_metrics({name for level in report.levels for name in level.metrics})
    return ReportView(
        run=run,
        recommended=rec.sensitivity,
        sentence=rec.sentence,
        policy_sentence=f"Policy: the level with the best {business_label} whose {relevance_label} loss "
        f"against OFF is at most {rec.policy.tolerance:.1%}.",
        kpis=_kpis(report),
        columns=[_column(report, level) for level in report.levels],
        metrics=[_row(report, name) for name in names],
        relevance=_row(report, rec.policy.relevance_metric),
        business=_row(report, BUSINESS_METRIC),
        samples=[_sample(report, sample) for sample in report.samples],
        charts=[_chart(report, x_name, y_name) for x_name in BUSINESS_AXES for y_name in RELEVANCE_AXES],
        candidates=[
            Candidate(
                sensitivity=c.sensitivity,
                business=number(c.business_value),
                relevance=Cell(
                    number(c.relevance_value),
                    None
                    if c.relevance_loss is None or c.sensitivity == "OFF"
                    else signed_percent(-c.relevance_loss),
                ),
                eligible="yes" if c.eligible else "no",
                reason=c.reason,
            )
            for c in rec.candidates
        ],
        cost=_cost(report),
        failures=report.failures,
        facts=[Fact(Prose(name), value) for name, value in _fact_rows(report)],
    )


def _axis_label(report: Report, name: str) -> str:
    if name == BUSINESS_METRIC:
        return f"mean top-{report.run.k} {report.run.objective} sum"
    return metric_label(name)


def _campaign_state(report: Report, level: LevelReport) -> str:
    """What the run leaves of a level's campaign: KEPT (still running; cost.campaigns lists it),
    DELETED (deployed for the comparison, then deleted by `keep`), or FAILED for a failed level."""
    if level.status == "FAILED" or not level.campaign_arn:
        return level.status
    kept = {campaign.campaign_arn for campaign in report.cost.campaigns}
    return "KEPT" if level.campaign_arn in kept else "DELETED"


def _row(report: Report, name: str) -> Row:
    """A metric (or the business metric) across the levels, each with its change against OFF."""
    cells = []
    for level in report.levels:
        change = level.changes_vs_off.get(name)
        cells.append(Cell(number(_value(level, name)), None if change is None else signed_percent(change)))
    return Row(_axis_label(report, name), cells)


def _column(report: Report, level: LevelReport) -> Column:
    return Column(
        sensitivity=level.sensitivity,
        colour=LEVEL_COLOURS[level.sensitivity],
        failed=level.status == "FAILED",
        business=number(level.mean_top_k_objective_sum),
        business_change=signed_percent(level.changes_vs_off.get(BUSINESS_METRIC)),
        users_scored=level.users_scored,
        users_dropped=level.users_dropped,
        campaign=_campaign_state(report, level),
    )


def _level(report: Report, name: Sensitivity | None) -> LevelReport | None:
    return next((level for level in report.levels if level.sensitivity == name), None)


def _kpis(report: Report) -> list[tuple[Prose, str]]:
    """The headline's figures: what the recommendation gains and loses against OFF, and what it costs."""
    rec, cost = report.recommendation, report.cost
    chosen = _level(report, rec.sensitivity)
    kpis = []
    if chosen is not None and chosen.sensitivity != "OFF":
        business = chosen.changes_vs_off.get(BUSINESS_METRIC)
        relevance = chosen.changes_vs_off.get(rec.policy.relevance_metric)
        kpis.append(
            (Prose(signed_percent(business) or "n/a"), f"{_axis_label(report, BUSINESS_METRIC)} vs OFF")
        )
        kpis.append(
            (Prose(signed_percent(relevance) or "n/a"), f"{metric_label(rec.policy.relevance_metric)} vs OFF")
        )
    kpis.append(
        (
            Prose(money(cost.campaigns_monthly_usd)),
            f"per month for {len(cost.campaigns)} campaign(s) left running",
        )
    )
    kpis.append((Prose(money(cost.training_usd)), f"training, {duration(cost.training_hours * 3600)}"))
    return kpis


def _list_rows(lst: SampleList, dropped: set[str]) -> list[ListRow]:
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
            css = "moved" if shift >= BIG_MOVE else ""
            badge = f"{'▲' if item.off_rank > item.rank else '▼'}{shift}"
        else:
            css, badge = "", ""
        rows.append(ListRow(item.rank, item.title, number(item.objective), css, badge))
    return rows


def _sample(report: Report, sample: SampleUser) -> Sample:
    chosen = report.recommendation.sensitivity
    chosen_list = next((lst for lst in sample.lists if lst.sensitivity == chosen), None)
    off_list = next((lst for lst in sample.lists if lst.sensitivity == "OFF"), None)
    dropped: set[str] = set()
    if chosen_list is not None and off_list is not None and chosen != "OFF":
        dropped = {item.item_id for item in off_list.items} - {item.item_id for item in chosen_list.items}
    sums = {lst.sensitivity: lst.objective_sum for lst in sample.lists}
    return Sample(
        user=user_label(sample.user_id),
        user_capital=user_label(sample.user_id, capital=True),
        lists=[
            RankedList(
                lst.sensitivity,
                LEVEL_COLOURS[lst.sensitivity],
                number(lst.objective_sum),
                _list_rows(lst, dropped),
            )
            for lst in sample.lists
        ],
        sums=[number(sums.get(level.sensitivity)) for level in report.levels],
        dropped_note=f" Struck-through OFF titles are not in {chosen}'s list." if dropped else "",
    )


def _value(level: LevelReport, name: str) -> float | None:
    return level.mean_top_k_objective_sum if name == BUSINESS_METRIC else level.metrics.get(name)


def _chart(report: Report, x_name: str, y_name: str) -> Chart:
    points = []
    for level in report.levels:
        x, y = _value(level, x_name), _value(level, y_name)
        if level.status == "ACTIVE" and x is not None and y is not None:
            points.append(Point(level.sensitivity, x, y))
    threshold = None
    off = _level(report, "OFF")
    policy = report.recommendation.policy
    if y_name == policy.relevance_metric and off is not None and off.status == "ACTIVE":
        baseline = off.metrics.get(y_name)
        threshold = baseline * (1 - policy.tolerance) if baseline is not None else None
    return Chart(
        title=f"{metric_label(y_name)} against {_axis_label(report, x_name)}",
        x_label=_axis_label(report, x_name),
        y_label=metric_label(y_name),
        layout=scatter(points, threshold, policy.tolerance, report.recommendation.sensitivity),
    )


def _cost(report: Report) -> Cost:
    cost = report.cost
    left = len(cost.campaigns)
    deleted = sum(_campaign_state(report, level) == "DELETED" for level in report.levels)
    monthly = money(cost.campaigns_monthly_usd)
    trained = duration(cost.training_hours * 3600)
    spent = money(cost.training_usd)
    after = f"; {deleted} deleted after the comparison" if deleted else ""
    line = (
        f"Cost: {left} campaign(s) left running (keep={cost.keep}) ~ {monthly}/month{after}; "
        f"training {trained} = {spent}."
    )
    paragraph = (
        f"Campaigns left running (keep={cost.keep}): {left}, about {monthly} per month (minProvisionedTPS x "
        f"{cost.hours_per_month:g} h x {money(cost.campaign_tps_hour_price)} per TPS-hour each). Training: "
        f"{trained} x {money(cost.training_hour_price)} = {spent}."
    )
    if deleted:
        paragraph += (
            f" {deleted} campaign(s) deployed for the comparison were deleted after it (keep={cost.keep})."
        )
    alternative = cost.recommended_only_monthly_usd
    keep_hint = (
        ""
        if alternative is None
        else f" Keeping only {report.recommendation.sensitivity}'s campaign (keep=recommended) would cost "
        f"{money(alternative)}/month."
    )
    paragraph += (
        f"{keep_hint} Prices are the run's campaignTpsHourPrice and trainingHourPrice: check your region's."
    )
    return Cost(
        line=Prose(line),
        paragraph=Prose(paragraph),
        keep_hint=Prose(keep_hint),
        cleanup=f"To remove them, and everything else of the experiment: {cost.cleanup_command}"
        if cost.campaigns and cost.cleanup_command
        else "",
        campaigns=[
            Campaign(c.sensitivity, c.campaign_arn, c.min_provisioned_tps, Prose(money(c.monthly_usd)))
            for c in cost.campaigns
        ],
    )


def _fact_rows(report: Report) -> list[tuple[str, str]]:
    run = report.run
    rows = [
        ("Experiment", run.experiment),
        ("Execution", run.execution_name),
        ("Execution ARN", run.execution_arn),
        ("Mode", run.mode),
        ("Started", run.started_at.isoformat(timespec="seconds")),
        ("Finished", run.finished_at.isoformat(timespec="seconds") if run.finished_at else "running"),
        ("Duration", duration(run.duration_seconds)),
        ("Objective", run.objective),
        ("Recipe", run.recipe),
        ("Interactions", f"{run.dataset.interactions:,}"),
        ("Users", f"{run.dataset.users:,}"),
        ("Items", f"{run.dataset.items:,}"),
        ("List length (K)", str(run.k)),
        ("Report users", str(run.report_users)),
    ]
    rows += [(f"Version: {name}", value) for name, value in sorted(run.versions.items())]
    for level in report.levels:
        for label, arn in (
            ("solution", level.solution_arn),
            ("solution version", level.solution_version_arn),
            ("campaign", level.campaign_arn),
        ):
            if arn:
                rows.append((f"{level.sensitivity} {label}", arn))
        if level.deployment is not None:
            reason = f": {level.deployment.reason}" if level.deployment.reason else ""
            rows.append((f"{level.sensitivity} deployment", level.deployment.action + reason))
    return rows
