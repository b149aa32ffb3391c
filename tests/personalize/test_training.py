"""Unit tests of the training maths: the objective-aware ranking, the offline metrics and the shared
factorisation cache."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from objective_sweep.personalize import training


def test_without_weight_the_ranking_is_the_score_order() -> None:
    scores = np.array([0.1, 0.9, -np.inf, 0.5, 0.5])
    assert training.rank(scores, np.ones(5), 0.0, 3).tolist() == [1, 3, 4]


def test_a_favoured_item_displaces_the_weakest_not_the_strongest() -> None:
    scores = np.linspace(1.0, 0.0, 60)
    objective = np.zeros(60)
    objective[40] = 1.0
    placed = training.rank(scores, objective, 0.12, 25).tolist()
    assert 40 in placed
    assert placed[:24] == list(range(24))
    assert scores[placed].tolist() == sorted(scores[placed], reverse=True)


def test_more_weight_never_lowers_the_lists_objective_and_keeps_a_clear_winner_first() -> None:
    generator = np.random.default_rng(3)
    scores = generator.normal(size=300)
    scores[7] = scores.max() + 3.0
    objective = generator.random(300)
    means = []
    for weight in (0.0, 0.05, 0.1, 0.2, 0.4):
        placed = training.rank(scores, objective, weight, 25)
        assert placed[0] == 7
        means.append(objective[placed].mean())
    assert means == sorted(means)
    assert means[-1] > means[0]


def test_metrics_follow_the_documented_definitions() -> None:
    scores = np.array([[0.9, 0.8, 0.7, 0.1] + [0.0] * 30])
    # One factor: the user's is 1 and each item's is its score.
    evaluation = training.Evaluation(
        user_factors=np.ones((1, 1)),
        item_factors=scores.T,
        inputs=csr_matrix((1, 34), dtype=np.float32),
        held_out=[np.array([1, 3])],
        item_ids=np.arange(34),
    )
    metrics = training.offline_metrics(evaluation, None, 0.0)
    ideal = 1 + 1 / np.log2(3)
    assert metrics["precision_at_5"] == pytest.approx(round(2 / 5, 4))
    assert metrics["mean_reciprocal_rank_at_25"] == pytest.approx(0.5)
    assert metrics["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(
        round((1 / np.log2(3) + 1 / np.log2(5)) / ideal, 4)
    )
    assert metrics["coverage"] == pytest.approx(round(25 / 34, 4))
    assert "average_rewards_at_k" not in metrics


def test_min_max_normalisation_of_the_objective() -> None:
    normalised = training.normalised_objective(
        np.array(["a", "b", "c", "d"]), {"a": -0.1, "b": 0.0, "c": -0.05}
    )
    assert normalised.tolist() == [0.0, 1.0, 0.5, 0.0]


def test_the_cache_shares_one_fit_per_data_and_hyperparameters() -> None:
    cache = training.FactorisationCache()
    data = training.Interactions(users=("u1", "u2"), items=("i1", "i2"), timestamps=(1, 2))
    calls: list[int] = []

    def compute(d: training.Interactions, h: training.Hyperparameters) -> object:
        calls.append(1)
        return object()

    first = cache.get("serve", data, training.Hyperparameters(), compute)
    assert cache.get("serve", data, training.Hyperparameters(), compute) is first
    assert cache.get("serve", data, training.Hyperparameters(factors=8), compute) is not first
    assert len(calls) == 2


def test_data_minimums_name_the_numbers() -> None:
    data = training.Interactions(
        users=tuple(f"u{i % 30}" for i in range(999)), items=("i",) * 999, timestamps=(1,) * 999
    )
    with pytest.raises(training.TrainingFailure, match="999 interactions; training needs at least 1000"):
        training.check_minimums(data)
    few_users = training.Interactions(
        users=tuple(f"u{i % 20}" for i in range(1000)), items=("i",) * 1000, timestamps=(1,) * 1000
    )
    with pytest.raises(training.TrainingFailure, match="Only 20 users have 2 or more"):
        training.check_minimums(few_users)


def test_the_metrics_do_not_depend_on_how_many_users_are_scored_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generator = np.random.default_rng(5)
    users, items = 400, 60
    data = training.Interactions(
        users=tuple(f"u{n % users}" for n in range(6000)),
        items=tuple(f"i{int(generator.integers(items))}" for _ in range(6000)),
        timestamps=tuple(range(6000)),
    )
    hyper = training.Hyperparameters(factors=4, iterations=3)
    evaluation = training.evaluation_split(data, hyper)
    objective = generator.random(len(evaluation.item_ids))
    assert len(list(evaluation.score_batches())) == 1
    whole = training.offline_metrics(evaluation, objective, 0.06)
    # Three users' scores at a time: the held-out users span many batches.
    monkeypatch.setattr(training, "SCORING_BYTES", 3 * 8 * len(evaluation.item_ids))
    batches = list(evaluation.score_batches())
    assert len(batches) == -(-len(evaluation.held_out) // 3) > 10
    assert all(len(scores) <= 3 for _, scores in batches)
    assert training.offline_metrics(evaluation, objective, 0.06) == whole
    # Each user's held-out items are their own small array, not a view keeping the sorted column alive.
    assert all(held.base is None for held in evaluation.held_out)
