"""The recommendation policy on hand-made report data: best business metric within the relevance
tolerance against OFF, and every way the baseline or a level can be missing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sweep_core.report import build_report
from sweep_core.report.model import ComparisonInput

MakeInput = Callable[..., ComparisonInput]


def test_study_numbers_recommend_high_whose_ndcg_did_not_drop(make_study: MakeInput) -> None:
    report = build_report(make_study())
    rec = report.recommendation
    assert rec.sensitivity == "HIGH"
    assert "Ship HIGH" in rec.sentence
    assert "5.0% NDCG@10" in rec.sentence
    # The numbers behind the choice are in the sentence: HIGH's and OFF's NDCG@10.
    assert "0.0999 vs 0.0937" in rec.sentence
    assert [c.sensitivity for c in rec.candidates] == ["OFF", "LOW", "MEDIUM", "HIGH"]
    assert all(c.eligible for c in rec.candidates)


@pytest.mark.parametrize(
    ("high_ndcg", "expected"),
    [
        (0.095, "HIGH"),  # loses exactly the 5% tolerance: still acceptable
        (0.0949, "LOW"),  # loses 5.1%: beyond it, the next best business value wins
    ],
)
def test_tolerance_boundary(high_ndcg: float, expected: str, make_hand: MakeInput) -> None:
    inp = make_hand(
        relevance={"OFF": 0.1, "LOW": 0.099, "HIGH": high_ndcg},
        business={"OFF": -0.59, "LOW": -0.45, "HIGH": -0.2},
    )
    rec = build_report(inp).recommendation
    assert rec.sensitivity == expected
    high = next(c for c in rec.candidates if c.sensitivity == "HIGH")
    assert high.relevance_loss == pytest.approx((0.1 - high_ndcg) / 0.1)
    assert high.eligible is (expected == "HIGH")
    if expected == "LOW":
        assert "HIGH (loses 5.1%, beyond 5.0%)" in rec.sentence


def test_tolerance_comes_from_the_run_config(make_hand: MakeInput) -> None:
    inp = make_hand(
        relevance={"OFF": 0.1, "HIGH": 0.08},
        business={"OFF": -0.59, "HIGH": -0.2},
        policy={"tolerance": 0.25},
    )
    assert build_report(inp).recommendation.sensitivity == "HIGH"


def test_relevance_metric_comes_from_the_run_config(make_study: MakeInput) -> None:
    # In the study every level gains NDCG@10 but loses coverage, so the chosen metric decides.
    inp = make_study(policy={"relevanceMetric": "coverage", "tolerance": 0.1})
    rec = build_report(inp).recommendation
    # Coverage: LOW -9.2% (within 10%), MEDIUM -20.4%, HIGH -31.3%: LOW is the best eligible.
    assert rec.sensitivity == "LOW"
    assert "coverage" in rec.sentence


def test_all_levels_failing_but_off_recommends_off(make_hand: MakeInput) -> None:
    inp = make_hand(relevance={"OFF": 0.0937}, business={"OFF": -0.59}, failures=("LOW", "MEDIUM", "HIGH"))
    report = build_report(inp)
    assert report.recommendation.sensitivity == "OFF"
    assert "Ship OFF" in report.recommendation.sentence
    for name in ("LOW", "MEDIUM", "HIGH"):
        assert f"{name} (failed: SolutionVersionFailed)" in report.recommendation.sentence
    assert [f.sensitivity for f in report.failures] == ["LOW", "MEDIUM", "HIGH"]
    assert report.failures[0].cause == "Training failed: too few interactions"


def test_only_off_requested(make_hand: MakeInput) -> None:
    report = build_report(make_hand(relevance={"OFF": 0.0937}, business={"OFF": -0.59}))
    assert report.recommendation.sensitivity == "OFF"
    assert "only level in this run" in report.recommendation.sentence
    assert [level.sensitivity for level in report.levels] == ["OFF"]


def test_level_with_missing_metrics_is_not_eligible(make_hand: MakeInput) -> None:
    inp = make_hand(
        relevance={"OFF": 0.1, "MEDIUM": None, "HIGH": 0.099},
        business={"OFF": -0.59, "MEDIUM": -0.1, "HIGH": -0.2},
    )
    report = build_report(inp)
    # MEDIUM has the best business value but no NDCG@10 to judge its relevance by.
    assert report.recommendation.sensitivity == "HIGH"
    medium = next(c for c in report.recommendation.candidates if c.sensitivity == "MEDIUM")
    assert not medium.eligible
    assert medium.reason == "no normalized_discounted_cumulative_gain_at_10 metric"
    medium_level = next(level for level in report.levels if level.sensitivity == "MEDIUM")
    assert medium_level.metrics == {}
    assert medium_level.changes_vs_off["meanTopKObjectiveSum"] == pytest.approx((-0.1 + 0.59) / 0.59)


def test_level_without_lists_is_not_eligible(make_hand: MakeInput) -> None:
    inp = make_hand(relevance={"OFF": 0.1, "HIGH": 0.1}, business={"OFF": -0.59, "HIGH": None})
    report = build_report(inp)
    assert report.recommendation.sensitivity == "OFF"
    high = next(level for level in report.levels if level.sensitivity == "HIGH")
    assert high.mean_top_k_objective_sum is None
    assert high.changes_vs_off["meanTopKObjectiveSum"] is None


def test_off_failed_gives_no_recommendation(make_hand: MakeInput) -> None:
    inp = make_hand(
        relevance={"LOW": 0.1, "HIGH": 0.1}, business={"LOW": -0.4, "HIGH": -0.2}, failures=("OFF",)
    )
    report = build_report(inp)
    rec = report.recommendation
    assert rec.sensitivity is None
    assert "OFF, the baseline, failed (SolutionVersionFailed)" in rec.sentence
    assert all(c.relevance_loss is None and not c.eligible for c in rec.candidates)
    high = next(level for level in report.levels if level.sensitivity == "HIGH")
    assert all(change is None for change in high.changes_vs_off.values())


def test_off_not_in_the_run_gives_no_recommendation(make_hand: MakeInput) -> None:
    inp = make_hand(relevance={"LOW": 0.1, "HIGH": 0.1}, business={"LOW": -0.4, "HIGH": -0.2})
    rec = build_report(inp).recommendation
    assert rec.sensitivity is None
    assert "OFF is not in this run" in rec.sentence


def test_equal_business_values_prefer_the_lower_sensitivity(make_hand: MakeInput) -> None:
    inp = make_hand(
        relevance={"OFF": 0.1, "MEDIUM": 0.1, "HIGH": 0.1},
        business={"OFF": -0.5, "MEDIUM": -0.2, "HIGH": -0.2},
    )
    assert build_report(inp).recommendation.sensitivity == "MEDIUM"


def test_off_wins_when_every_gain_costs_too_much_relevance(make_hand: MakeInput) -> None:
    inp = make_hand(
        relevance={"OFF": 0.1, "LOW": 0.09, "HIGH": 0.05}, business={"OFF": -0.59, "LOW": -0.3, "HIGH": -0.2}
    )
    rec = build_report(inp).recommendation
    assert rec.sensitivity == "OFF"
    assert rec.sentence.startswith("Ship OFF: no other level beats")
    assert "LOW (loses 10.0%, beyond 5.0%)" in rec.sentence
