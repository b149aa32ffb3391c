"""Hand-made comparison inputs for the report tests.

The OFF/LOW/HIGH metrics are the values the original AWS study published (FACTS.md), used here as
realistic hand-made test data; MEDIUM's are made up between LOW and HIGH. Lists come from a small
deterministic ranking that favours high-objective items more as the sensitivity rises.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sweep_core.models import ALL_SENSITIVITIES, RunConfig, Sensitivity
from sweep_core.report.model import ComparisonInput, LevelOutcome

from objective_sweep.datasets.prepared import ROYALTY_TIERS

STUDY_METRICS: dict[Sensitivity, dict[str, float]] = {
    "OFF": {
        "average_rewards_at_k": 0.1491,
        "coverage": 0.1884,
        "mean_reciprocal_rank_at_25": 0.0769,
        "normalized_discounted_cumulative_gain_at_10": 0.0937,
        "normalized_discounted_cumulative_gain_at_25": 0.14,
        "precision_at_10": 0.027,
    },
    "LOW": {
        "average_rewards_at_k": 0.1412,
        "coverage": 0.1711,
        "mean_reciprocal_rank_at_25": 0.1116,
        "normalized_discounted_cumulative_gain_at_10": 0.1,
        "normalized_discounted_cumulative_gain_at_25": 0.1599,
        "precision_at_10": 0.0292,
    },
    "MEDIUM": {
        "average_rewards_at_k": 0.155,
        "coverage": 0.15,
        "mean_reciprocal_rank_at_25": 0.095,
        "normalized_discounted_cumulative_gain_at_10": 0.0961,
        "normalized_discounted_cumulative_gain_at_25": 0.1561,
        "precision_at_10": 0.0286,
    },
    "HIGH": {
        "average_rewards_at_k": 0.1686,
        "coverage": 0.1295,
        "mean_reciprocal_rank_at_25": 0.0805,
        "normalized_discounted_cumulative_gain_at_10": 0.0999,
        "normalized_discounted_cumulative_gain_at_25": 0.1547,
        "precision_at_10": 0.0281,
    },
}
PUSH = {"OFF": 0.0, "LOW": 8.0, "MEDIUM": 20.0, "HIGH": 60.0}
ACCOUNT = "arn:aws:personalize:us-east-1:123456789012"
# Titles that would break Markdown tables or inject HTML if a renderer forgot to escape them.
HOSTILE_TITLES = {
    "3": "<script>alert('x')</script> & | pipes | (1995)",
    "5": 'Tom & Jerry "The Movie" <b>bold</b>',
}


def royalty(item: int) -> float:
    """The study's rule, negated so that maximising lowers royalties."""
    return -ROYALTY_TIERS[item % len(ROYALTY_TIERS)]


def ranked(user: int, sensitivity: Sensitivity, k: int) -> list[str]:
    """A user's top-k: a window of the catalogue re-ranked by relevance plus a push to low royalties."""
    pool = range(user % 300, user % 300 + 120)
    score = {item: -index + PUSH[sensitivity] * (1 + royalty(item) * 10) for index, item in enumerate(pool)}
    return [str(item) for item in sorted(pool, key=lambda item: -score[item])[:k]]


def level(sensitivity: Sensitivity, **overrides: Any) -> LevelOutcome:
    name = f"exp-{sensitivity.lower()}"
    fields: dict[str, Any] = {
        "sensitivity": sensitivity,
        "status": "ACTIVE",
        "solution_arn": f"{ACCOUNT}:solution/{name}",
        "solution_version_arn": f"{ACCOUNT}:solution/{name}/a1b2c3d4",
        "campaign_arn": f"{ACCOUNT}:campaign/{name}",
        "metrics": STUDY_METRICS[sensitivity],
        "training_hours": 0.8,
        "deployment": {"action": "created", "reason": ""},
    }
    fields.update(overrides)
    return LevelOutcome.model_validate(fields)


def failed(sensitivity: Sensitivity, cause: str = "Training failed: too few interactions") -> LevelOutcome:
    return level(
        sensitivity,
        status="FAILED",
        campaign_arn=None,
        solution_version_arn=None,
        metrics={},
        training_hours=None,
        deployment=None,
        error={"error": "SolutionVersionFailed", "cause": cause},
    )


def study_input(levels: list[LevelOutcome] | None = None, users: int = 100, **config: Any) -> ComparisonInput:
    """A whole run: the given level outcomes (default four ACTIVE levels) and ``users`` report users."""
    levels = levels if levels is not None else [level(s) for s in ALL_SENSITIVITIES]
    run = RunConfig.model_validate(
        {
            "experiment": "royalty-study",
            "interactions": "interactions.csv",
            "items": "items.csv",
            "sensitivities": [lvl.sensitivity for lvl in levels] or ["OFF"],
            **config,
        }
    )
    k = run.num_results
    recommendations = {
        lvl.sensitivity: {str(u): ranked(u, lvl.sensitivity, k) for u in range(1, users + 1)}
        for lvl in levels
        if lvl.status == "ACTIVE"
    }
    items = {item for lists in recommendations.values() for lst in lists.values() for item in lst}
    return ComparisonInput(
        experiment=run.experiment,
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:objective-sweep:run-0001",
        execution_name="run-0001",
        started_at=datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
        finished_at=datetime(2026, 11, 28, 9, 12, 30, tzinfo=UTC),
        config=run,
        dataset={"interactions": 55375, "users": 942, "items": 1447},
        levels=levels,
        recommendations=recommendations,
        item_objective={item: royalty(int(item)) for item in items},
        item_titles={
            item: HOSTILE_TITLES.get(item, f"Movie number {item} ({1950 + int(item) % 50})") for item in items
        },
        versions={"objectiveSweep": "0.1.0", "personalize": "local"},
    )


def hand_input(
    relevance: dict[Sensitivity, float | None],
    business: dict[Sensitivity, float | None],
    failures: tuple[Sensitivity, ...] = (),
    **config: Any,
) -> ComparisonInput:
    """Exact policy inputs: NDCG@10 per level (None = metric missing) and the business value per level
    (None = no lists), realised as one user whose one-item list carries that objective value."""
    levels = []
    for s in ALL_SENSITIVITIES:
        if s not in relevance and s not in failures:
            continue
        if s in failures:
            levels.append(failed(s))
            continue
        value = relevance[s]
        metrics = {} if value is None else {"normalized_discounted_cumulative_gain_at_10": value}
        levels.append(level(s, metrics=metrics))
    run = RunConfig.model_validate(
        {
            "experiment": "hand",
            "interactions": "i.csv",
            "items": "t.csv",
            "sensitivities": [lvl.sensitivity for lvl in levels],
            **config,
        }
    )
    recommendations = {s: {"u1": [f"item-{s}"]} for s, value in business.items() if value is not None}
    return ComparisonInput(
        experiment="hand",
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:objective-sweep:hand",
        execution_name="hand",
        started_at=datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
        config=run,
        dataset={"interactions": 1000, "users": 25, "items": 50},
        levels=levels,
        recommendations=recommendations,
        item_objective={f"item-{s}": value for s, value in business.items() if value is not None},
    )


# Tests reach the builders through fixtures: tests/ is not a package, so they cannot import this module.
MakeInput = Callable[..., ComparisonInput]
MakeLevel = Callable[..., LevelOutcome]


@pytest.fixture
def make_study() -> MakeInput:
    return study_input


@pytest.fixture
def make_hand() -> MakeInput:
    return hand_input


@pytest.fixture
def make_level() -> MakeLevel:
    return level


@pytest.fixture
def make_failed() -> MakeLevel:
    return failed
