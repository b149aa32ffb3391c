"""Turns what CompareSolutions gathered into report.json: per-level business metric and changes
against OFF, the sample users' lists, the recommendation by the run's policy, and the cost."""

from __future__ import annotations

from collections.abc import Iterable

from sweep_core.models import ALL_SENSITIVITIES, RecommendationPolicy, RunConfig, Sensitivity
from sweep_core.report.format import metric_label, signed_percent
from sweep_core.report.model import (
    CampaignCost,
    ComparisonInput,
    CostEstimate,
    Failure,
    LevelOutcome,
    LevelReport,
    PolicyCandidate,
    RankedItem,
    Recommendation,
    Report,
    RunFacts,
    SampleList,
    SampleUser,
)

# AWS prices campaigns per hour; a month is 730 hours in its pricing examples (8760 / 12).
HOURS_PER_MONTH = 730.0
BUSINESS_METRIC = "meanTopKObjectiveSum"
# A loss that equals the tolerance is within it; the slack absorbs float rounding such as
# (0.1 - 0.095) / 0.1 = 0.05000000000000004.
_TOLERANCE_SLACK = 1e-9


def build_report(inp: ComparisonInput) -> Report:
    """The whole report, computed from ``inp`` alone (no I/O)."""
    outcomes = sorted(inp.levels, key=lambda level: ALL_SENSITIVITIES.index(level.sensitivity))
    values: dict[Sensitivity, dict[str, float | None]] = {
        level.sensitivity: {**level.metrics, BUSINESS_METRIC: _mean_objective_sum(inp, level.sensitivity)}
        for level in outcomes
    }
    off_active = any(level.sensitivity == "OFF" and level.status == "ACTIVE" for level in outcomes)
    off_values = values["OFF"] if off_active else {}
    levels = [
        _level_report(
            level,
            values[level.sensitivity],
            off_values,
            len(inp.recommendations.get(level.sensitivity) or {}),
            inp.dropped_users.get(level.sensitivity, 0),
        )
        for level in outcomes
    ]
    recommendation = recommend(levels, inp.config)
    return Report(
        run=_run_facts(inp),
        levels=levels,
        samples=_samples(inp, outcomes),
        recommendation=recommendation,
        cost=estimate_cost(outcomes, inp.config, recommendation.sensitivity, inp.cleanup_command),
        failures=[
            Failure(sensitivity=level.sensitivity, error=level.error.error, cause=level.error.cause)
            if level.error is not None
            else Failure(
                sensitivity=level.sensitivity, error="Unknown", cause="the level failed without a cause"
            )
            for level in outcomes
            if level.status == "FAILED"
        ],
    )


def relative_change(value: float | None, base: float | None) -> float | None:
    """(value - base) / |base|, so a rise is positive even for a negated objective; None if undefined."""
    if value is None or base is None or base == 0:
        return None
    return (value - base) / abs(base)


def recommend(levels: list[LevelReport], config: RunConfig) -> Recommendation:
    """The level with the best business metric whose relevance loss against OFF is within tolerance.

    Ties go to the lower sensitivity, which departs less from pure relevance.
    """
    policy = config.policy
    metric = policy.relevance_metric
    off = next((level for level in levels if level.sensitivity == "OFF"), None)
    baseline = off.metrics.get(metric) if off is not None and off.status == "ACTIVE" else None
    candidates = [_judge(level, baseline, policy) for level in levels]
    eligible = [c for c in candidates if c.eligible and c.business_value is not None]
    chosen = max(
        eligible,
        key=lambda c: (c.business_value, -ALL_SENSITIVITIES.index(c.sensitivity)),
        default=None,
    )
    return Recommendation(
        sensitivity=chosen.sensitivity if chosen is not None else None,
        sentence=_sentence(chosen, candidates, off, baseline, config),
        policy=policy,
        candidates=candidates,
    )


def estimate_cost(
    levels: Iterable[LevelOutcome], config: RunConfig, recommended: Sensitivity | None, cleanup: str = ""
) -> CostEstimate:
    """Monthly cost of the campaigns RunConfig.keep leaves running (a failed level's live campaign
    included: it bills all the same), and the training already spent."""
    levels = list(levels)
    running = [level for level in levels if level.campaign_arn]
    if config.keep == "recommended":
        running = [level for level in running if level.sensitivity == recommended]
    elif config.keep == "none":
        running = []
    monthly = config.min_provisioned_tps * HOURS_PER_MONTH * config.campaign_tps_hour_price
    campaigns = [
        CampaignCost(
            sensitivity=level.sensitivity,
            campaign_arn=level.campaign_arn or "",
            min_provisioned_tps=config.min_provisioned_tps,
            monthly_usd=round(monthly, 2),
        )
        for level in running
    ]
    hours = sum(level.training_hours or 0.0 for level in levels)
    keeps_recommended = any(level.sensitivity == recommended for level in running)
    return CostEstimate(
        keep=config.keep,
        hours_per_month=HOURS_PER_MONTH,
        campaign_tps_hour_price=config.campaign_tps_hour_price,
        training_hour_price=config.training_hour_price,
        campaigns=campaigns,
        campaigns_monthly_usd=round(monthly * len(campaigns), 2),
        recommended_only_monthly_usd=round(monthly, 2) if keeps_recommended and len(campaigns) > 1 else None,
        training_hours=round(hours, 6),
        # Kept to 1/10,000 of a dollar so a short local training still shows as "<$0.01", not as free.
        training_usd=round(hours * config.training_hour_price, 4),
        cleanup_command=cleanup,
    )


def _objective_sum(items: list[str], objective: dict[str, float]) -> float:
    # An item without a known objective value counts as 0: CompareSolutions looks up every listed
    # item, so a gap means the item left the catalogue, not that it is worth anything.
    return _clean(sum(objective.get(item, 0.0) for item in items))


def _mean_objective_sum(inp: ComparisonInput, sensitivity: Sensitivity) -> float | None:
    lists = inp.recommendations.get(sensitivity) or {}
    if not lists:
        return None
    return _clean(sum(_objective_sum(items, inp.item_objective) for items in lists.values()) / len(lists))


def _clean(value: float) -> float:
    # Sums of decimal objective values pick up binary noise (-0.6978000000000002); ten decimals drop
    # it from report.json without touching any real digit of a money-like column.
    return round(value, 10)


def _level_report(
    level: LevelOutcome,
    values: dict[str, float | None],
    off_values: dict[str, float | None],
    users_scored: int,
    users_dropped: int,
) -> LevelReport:
    return LevelReport(
        **dict(level),
        mean_top_k_objective_sum=values[BUSINESS_METRIC],
        users_scored=users_scored,
        users_dropped=users_dropped,
        changes_vs_off={}
        if level.sensitivity == "OFF"
        else {name: relative_change(value, off_values.get(name)) for name, value in values.items()},
    )


def _judge(level: LevelReport, baseline: float | None, policy: RecommendationPolicy) -> PolicyCandidate:
    metric = policy.relevance_metric
    relevance = level.metrics.get(metric)
    loss = None
    if relevance is not None and baseline is not None:
        change = relative_change(relevance, baseline)
        # OFF scoring exactly 0 leaves no relative scale: only a level that also scores 0 or more keeps up.
        # "+ 0.0" turns OFF's own -0.0 into 0.0.
        loss = -change + 0.0 if change is not None else (0.0 if relevance >= baseline else float("inf"))
    if level.status == "FAILED":
        eligible, reason = False, "failed: " + (level.error.error if level.error else "no cause given")
    elif level.mean_top_k_objective_sum is None:
        eligible, reason = False, "no recommendation lists to score"
    elif relevance is None:
        eligible, reason = False, f"no {metric} metric"
    elif loss is None:
        eligible, reason = False, "no OFF baseline to compare with"
    elif loss <= 0:
        eligible, reason = True, _loss_phrase(loss)
    elif loss <= policy.tolerance + _TOLERANCE_SLACK:
        eligible, reason = True, f"{_loss_phrase(loss)}, within {policy.tolerance:.1%}"
    else:
        eligible, reason = False, f"{_loss_phrase(loss)}, beyond {policy.tolerance:.1%}"
    return PolicyCandidate(
        sensitivity=level.sensitivity,
        business_value=level.mean_top_k_objective_sum,
        relevance_value=relevance,
        relevance_loss=loss if loss is None or loss != float("inf") else None,
        eligible=eligible,
        reason=reason,
    )


def _loss_phrase(loss: float) -> str:
    if loss > 0:
        return f"loses {loss:.1%}"
    if loss < 0:
        return f"gains {-loss:.1%}"
    return "no loss"


def _sentence(
    chosen: PolicyCandidate | None,
    candidates: list[PolicyCandidate],
    off: LevelReport | None,
    baseline: float | None,
    config: RunConfig,
) -> str:
    metric = metric_label(config.policy.relevance_metric)
    business = f"mean top-{config.num_results} {config.objective} sum"
    if off is None:
        return (
            f"No recommendation: OFF is not in this run, so no level's {metric} loss can be measured; "
            "add OFF to sensitivities."
        )
    if off.status == "FAILED":
        cause = off.error.error if off.error else "no cause given"
        return (
            f"No recommendation: OFF, the baseline, failed ({cause}), so no level's {metric} loss "
            "can be measured; fix the cause and run the experiment again."
        )
    if baseline is None:
        return f"No recommendation: OFF has no {metric} metric to measure the other levels' loss against."
    excluded = [c for c in candidates if not c.eligible]
    excluded_text = (
        "; excluded: " + ", ".join(f"{c.sensitivity} ({c.reason})" for c in excluded) if excluded else ""
    )
    if chosen is None:
        return f"No recommendation: no level has both a {business} and a {metric} to judge{excluded_text}."
    if len(candidates) == 1:
        return (
            f"Ship OFF: it is the only level in this run, so there is no trade-off to weigh "
            f"({business} {chosen.business_value:.4g}, {metric} {baseline:.4g})."
        )
    off_business = off.mean_top_k_objective_sum
    if chosen.sensitivity == "OFF":
        return (
            f"Ship OFF: no other level beats its {business} ({_num(off_business)}) while losing at most "
            f"{config.policy.tolerance:.1%} {metric}{excluded_text}."
        )
    assert chosen.relevance_loss is not None  # eligible candidates always carry a measured loss
    change = relative_change(chosen.business_value, off_business)
    change_text = f", {signed_percent(change)} vs OFF's {_num(off_business)}" if change is not None else ""
    return (
        f"Ship {chosen.sensitivity}: best {business} ({_num(chosen.business_value)}{change_text}) among "
        f"the levels losing at most {config.policy.tolerance:.1%} {metric} against OFF "
        f"({chosen.sensitivity} {_loss_phrase(chosen.relevance_loss)}: {_num(chosen.relevance_value)} vs "
        f"{_num(baseline)}){excluded_text}."
    )


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _run_facts(inp: ComparisonInput) -> RunFacts:
    users = {user for lists in inp.recommendations.values() for user in lists}
    duration = (inp.finished_at - inp.started_at).total_seconds() if inp.finished_at is not None else None
    return RunFacts(
        experiment=inp.experiment,
        execution_arn=inp.execution_arn,
        execution_name=inp.execution_name,
        started_at=inp.started_at,
        finished_at=inp.finished_at,
        duration_seconds=duration,
        mode=inp.config.mode,
        objective=inp.config.objective,
        recipe=inp.config.recipe,
        k=inp.config.num_results,
        report_users=len(users),
        dataset=inp.dataset,
        versions=dict(inp.versions),
    )


def _sample_user_ids(inp: ComparisonInput, outcomes: list[LevelOutcome]) -> list[str]:
    if inp.config.sample_users:
        return list(inp.config.sample_users)
    for level in outcomes:
        lists = inp.recommendations.get(level.sensitivity)
        if lists:
            return [next(iter(lists))]
    return []


def _samples(inp: ComparisonInput, outcomes: list[LevelOutcome]) -> list[SampleUser]:
    samples = []
    for user in _sample_user_ids(inp, outcomes):
        off_list = inp.recommendations.get("OFF", {}).get(user, [])
        off_rank = {item: rank for rank, item in enumerate(off_list, start=1)}
        lists = []
        for level in outcomes:
            items = inp.recommendations.get(level.sensitivity, {}).get(user)
            if items is None:
                continue
            rows = [
                RankedItem(
                    rank=rank,
                    item_id=item,
                    title=inp.item_titles.get(item, item),
                    objective=inp.item_objective.get(item),
                    off_rank=off_rank.get(item),
                )
                for rank, item in enumerate(items, start=1)
            ]
            lists.append(
                SampleList(
                    sensitivity=level.sensitivity,
                    items=rows,
                    objective_sum=_objective_sum(items, inp.item_objective),
                )
            )
        samples.append(SampleUser(user_id=user, lists=lists))
    return samples
