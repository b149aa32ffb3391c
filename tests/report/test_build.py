"""report.json's content: business metric, changes against OFF, the sample users' lists, the cost
estimate and the JSON contract (camelCase, round trip)."""

from __future__ import annotations

import html
import json
from collections.abc import Callable

import pytest
from sweep_core.report import Report, build_report, render_html, render_markdown, render_text
from sweep_core.report.model import ComparisonInput, LevelOutcome

MakeInput = Callable[..., ComparisonInput]
MakeLevel = Callable[..., LevelOutcome]


def test_mean_objective_sum_and_changes_against_off(make_hand: MakeInput) -> None:
    inp = make_hand(relevance={"OFF": 0.1, "HIGH": 0.11}, business={"OFF": -0.59, "HIGH": -0.2})
    # A second user whose list has two items: the mean is over users, the sum over each user's list.
    extra = {
        "recommendations": {
            "OFF": {"u1": ["a"], "u2": ["a", "b"]},
            "HIGH": {"u1": ["b"], "u2": ["b", "c"]},
        },
        "item_objective": {"a": -0.1, "b": -0.02, "c": 0.0},
    }
    report = build_report(inp.model_copy(update=extra))
    off, high = report.levels
    assert off.mean_top_k_objective_sum == pytest.approx((-0.1 + -0.12) / 2)
    assert high.mean_top_k_objective_sum == pytest.approx((-0.02 + -0.02) / 2)
    assert off.users_scored == high.users_scored == 2
    assert off.changes_vs_off == {}
    assert high.changes_vs_off["meanTopKObjectiveSum"] == pytest.approx((-0.02 + 0.11) / 0.11)
    assert high.changes_vs_off["normalized_discounted_cumulative_gain_at_10"] == pytest.approx(0.1)


def test_sample_user_lists_carry_titles_objective_sums_and_off_ranks(make_study: MakeInput) -> None:
    report = build_report(make_study(users=5))
    assert [s.user_id for s in report.samples] == ["1"]
    lists = {lst.sensitivity: lst for lst in report.samples[0].lists}
    assert list(lists) == ["OFF", "LOW", "MEDIUM", "HIGH"]
    assert all(len(lst.items) == 25 for lst in lists.values())
    off, high = lists["OFF"], lists["HIGH"]
    assert off.objective_sum == pytest.approx(sum(item.objective or 0 for item in off.items))
    # The study's shape: pushing the negated royalty raises the sum (less royalty paid).
    assert high.objective_sum > off.objective_sum
    assert all(item.off_rank == item.rank for item in off.items)
    off_ids = [item.item_id for item in off.items]
    for item in high.items:
        assert item.off_rank == (off_ids.index(item.item_id) + 1 if item.item_id in off_ids else None)
    assert any(item.off_rank is None for item in high.items)
    assert off.items[2].title.startswith("<script>")


def test_sample_users_named_in_the_config(make_study: MakeInput) -> None:
    report = build_report(make_study(users=10, sampleUsers=["7", "3"]))
    assert [s.user_id for s in report.samples] == ["7", "3"]
    assert report.run.report_users == 10


def test_failed_level_has_no_list_and_its_error(
    make_study: MakeInput, make_level: MakeLevel, make_failed: MakeLevel
) -> None:
    levels = [make_level("OFF"), make_failed("MEDIUM", "Personalize: <b>quota</b>"), make_level("HIGH")]
    report = build_report(make_study(levels))
    medium = report.levels[1]
    assert medium.status == "FAILED"
    assert medium.mean_top_k_objective_sum is None
    assert medium.error is not None
    assert medium.error.cause == "Personalize: <b>quota</b>"
    assert [lst.sensitivity for lst in report.samples[0].lists] == ["OFF", "HIGH"]
    assert [(f.sensitivity, f.error) for f in report.failures] == [("MEDIUM", "SolutionVersionFailed")]


@pytest.mark.parametrize(
    ("keep", "campaigns", "recommended_only"),
    [("all", ["OFF", "LOW", "MEDIUM", "HIGH"], 292.0), ("recommended", ["HIGH"], None), ("none", [], None)],
)
def test_cost_of_the_campaigns_left_running(
    make_study: MakeInput, keep: str, campaigns: list[str], recommended_only: float | None
) -> None:
    report = build_report(
        make_study(keep=keep, minProvisionedTPS=2, campaignTpsHourPrice=0.2, trainingHourPrice=0.24)
    )
    cost = report.cost
    assert [c.sensitivity for c in cost.campaigns] == campaigns
    assert all(c.monthly_usd == pytest.approx(2 * 730 * 0.2) for c in cost.campaigns)
    assert cost.campaigns_monthly_usd == pytest.approx(len(campaigns) * 2 * 730 * 0.2)
    # What keep=recommended would cost is offered only where it would save something.
    assert cost.recommended_only_monthly_usd == recommended_only
    hint = "Keeping only HIGH's campaign (keep=recommended) would cost $292.00/month."
    for rendering, expected in (
        (render_text(report, width=200), hint),
        (render_markdown(report), hint),
        (render_html(report), html.escape(hint)),
    ):
        assert (expected in rendering) == (recommended_only is not None)
    # Training is spent whatever is kept: four levels of 0.8 h.
    assert cost.training_hours == pytest.approx(3.2)
    assert cost.training_usd == pytest.approx(3.2 * 0.24)


def test_cost_counts_no_campaign_for_a_failed_level_and_none_without_recommendation(
    make_hand: MakeInput,
) -> None:
    inp = make_hand(relevance={"LOW": 0.1}, business={"LOW": -0.2}, failures=("OFF",), keep="recommended")
    cost = build_report(inp).cost
    assert cost.campaigns == []
    assert cost.campaigns_monthly_usd == 0
    assert cost.training_hours == pytest.approx(0.8)


def test_report_json_is_camel_case_and_round_trips(
    make_study: MakeInput, make_level: MakeLevel, make_failed: MakeLevel
) -> None:
    report = build_report(make_study([make_level("OFF"), make_failed("LOW"), make_level("HIGH")]))
    text = report.model_dump_json(by_alias=True, indent=2)
    data = json.loads(text)
    assert set(data) == {"schemaVersion", "run", "levels", "samples", "recommendation", "cost", "failures"}
    level = data["levels"][2]
    assert {"sensitivity", "status", "metrics", "meanTopKObjectiveSum", "changesVsOff"} <= set(level)
    assert data["levels"][1]["error"] == {
        "error": "SolutionVersionFailed",
        "cause": "Training failed: too few interactions",
    }
    assert data["recommendation"]["sensitivity"] == "HIGH"
    assert Report.model_validate_json(text) == report


def test_a_levels_keys_keep_report_json_order(make_study: MakeInput, make_failed: MakeLevel) -> None:
    """LevelReport extends LevelOutcome, which would put its own fields last; report.json keeps the
    order of schema version 1 (the level, its figures, then what it created), in both namings."""
    report = build_report(make_study([make_failed("OFF")]))
    order = ["sensitivity", "status", "metrics", "meanTopKObjectiveSum", "usersScored", "usersDropped"]
    order += ["changesVsOff", "solutionArn", "solutionVersionArn", "campaignArn", "trainingHours"]
    order += ["deployment", "error"]
    assert list(json.loads(report.model_dump_json(by_alias=True))["levels"][0]) == order
    assert list(report.model_dump()["levels"][0]) == [
        "sensitivity",
        "status",
        "metrics",
        "mean_top_k_objective_sum",
        "users_scored",
        "users_dropped",
        "changes_vs_off",
        "solution_arn",
        "solution_version_arn",
        "campaign_arn",
        "training_hours",
        "deployment",
        "error",
    ]
    assert list(report.levels[0].model_dump(exclude={"status"})) == [
        "sensitivity",
        *["metrics", "mean_top_k_objective_sum", "users_scored", "users_dropped", "changes_vs_off"],
        *["solution_arn", "solution_version_arn", "campaign_arn", "training_hours", "deployment", "error"],
    ]


def test_comparison_input_accepts_the_camel_case_json_the_handler_builds(make_study: MakeInput) -> None:
    inp = make_study(users=3)
    again = ComparisonInput.model_validate_json(inp.model_dump_json(by_alias=True))
    assert again == inp
    bad = json.loads(inp.model_dump_json(by_alias=True))
    bad["levels"][0]["status"] = "CREATE PENDING"
    with pytest.raises(ValueError, match=r"levels\.0\.status"):
        ComparisonInput.model_validate(bad)


def test_comparison_input_rejects_a_level_twice_and_stray_lists(make_study: MakeInput) -> None:
    data = json.loads(make_study(users=2).model_dump_json(by_alias=True))
    twice = {**data, "levels": [data["levels"][0], data["levels"][0]]}
    with pytest.raises(ValueError, match="levels lists OFF more than once"):
        ComparisonInput.model_validate(twice)
    stray = {**data, "levels": data["levels"][:1]}
    with pytest.raises(ValueError, match="recommendations has lists for HIGH, LOW, MEDIUM"):
        ComparisonInput.model_validate(stray)


def test_a_run_with_no_level_outcome_still_reports(make_hand: MakeInput) -> None:
    inp = make_hand(relevance={"OFF": 0.1}, business={}).model_copy(update={"levels": []})
    report = build_report(inp)
    assert report.levels == []
    assert report.recommendation.sensitivity is None
    assert report.cost.campaigns == []
    assert "Recommended" not in render_html(report)
