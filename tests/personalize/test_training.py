"""Unit tests of the training maths: the objective-aware ranking, the offline metrics and the shared
factorisation cache."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

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


def test_ties_at_the_cut_keep_the_lowest_indices_row_by_row_and_all_at_once() -> None:
    scores = np.array([0.5, 0.2, 0.2, 0.9, 0.2, -np.inf, 0.2])
    assert training._best(scores, 3).tolist() == [3, 0, 1]
    assert training._best(scores, 10).tolist() == [3, 0, 1, 2, 4, 6]
    generator = np.random.default_rng(11)
    # Few distinct values: most rows have ties across the cut.
    matrix = np.round(generator.normal(size=(40, 30)), 1)
    matrix[generator.random(matrix.shape) < 0.2] = -np.inf
    matrix[0, :] = -np.inf
    chosen, finite = training._best_rows(matrix, 8)
    for row, scores in enumerate(matrix):
        best = training._best(scores, 8)
        assert finite[row] == len(best)
        assert chosen[row, : len(best)].tolist() == best.tolist()


def _small_split(seed: int, users: int, items: int, rows: int) -> training.Evaluation:
    generator = np.random.default_rng(seed)
    data = training.Interactions(
        users=tuple(f"u{int(generator.integers(users))}" for _ in range(rows)),
        items=tuple(f"i{int(generator.zipf(1.3)) % items}" for _ in range(rows)),
        timestamps=tuple(range(rows)),
        catalogue=tuple(f"i{n}" for n in range(items + 5)),
    )
    return training.evaluation_split(data, training.Hyperparameters(factors=4, iterations=3))


@pytest.mark.parametrize("weight", [0.0, 0.03, 0.12])
def test_the_metrics_rank_each_user_as_a_campaign_would(weight: float) -> None:
    # The candidates are found once for every level; each user's list from them must be the list the
    # runtime's rank() places from the user's full scores.
    evaluation = _small_split(2, users=300, items=250, rows=9000)
    objective = np.random.default_rng(4).random(len(evaluation.item_ids))
    placed = evaluation.candidates.ranked(objective, weight, 25)
    compared = 0
    for first, scores in evaluation.score_batches():
        for offset, user_scores in enumerate(scores):
            row = placed[first + offset]
            assert row[row >= 0].tolist() == training.rank(user_scores, objective, weight, 25).tolist()
            compared += 1
    assert compared == len(evaluation.held_out) > 20


def test_a_user_with_fewer_unseen_items_than_the_list_is_measured_on_the_shorter_list() -> None:
    # 6 items, 4 already seen: the list has 2 items; precision still divides by K. (The per-user
    # metrics raised a broadcasting error here before.)
    evaluation = training.Evaluation(
        user_factors=np.ones((1, 1)),
        item_factors=np.array([[0.9], [0.8], [0.7], [0.6], [0.5], [0.4]]),
        inputs=csr_matrix((np.ones(4), ([0, 0, 0, 0], [0, 1, 2, 3])), shape=(1, 6)),
        held_out=[np.array([5])],
        item_ids=np.arange(6),
    )
    metrics = training.offline_metrics(evaluation, np.linspace(0, 1, 6), 0.12)
    assert metrics["precision_at_5"] == pytest.approx(round(1 / 5, 4))
    assert metrics["mean_reciprocal_rank_at_25"] == pytest.approx(0.5)
    assert metrics["coverage"] == pytest.approx(round(2 / 6, 4))
    assert metrics["average_rewards_at_k"] == pytest.approx(round((0.8 + 1.0) / 2, 4))


def test_the_served_model_refined_from_the_evaluation_factors_fits_as_well_as_a_cold_fit() -> None:
    from implicit.cpu._als import calculate_loss

    generator = np.random.default_rng(8)
    rows = 20000
    data = training.Interactions(
        users=tuple(f"u{int(generator.integers(800))}" for _ in range(rows)),
        items=tuple(f"i{int(generator.zipf(1.2)) % 400}" for _ in range(rows)),
        timestamps=tuple(range(rows)),
    )
    hyper = training.Hyperparameters(factors=8)
    evaluation = training.evaluation_split(data, hyper)
    cold = training.factorise(data, hyper)
    warm = training.factorise(data, hyper, start=evaluation.item_factors)

    def loss(fit: training.Factorisation) -> float:
        weighted = fit.seen.copy()
        weighted.data *= hyper.alpha
        return float(
            calculate_loss(weighted, fit.user_factors, fit.item_factors, hyper.regularization, num_threads=1)
        )

    assert not np.array_equal(warm.item_factors, cold.item_factors)
    assert loss(warm) <= loss(cold) * 1.01


def test_versions_starting_together_make_one_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    from objective_sweep.personalize import trainer as trainer_module
    from objective_sweep.personalize.data import Table
    from objective_sweep.personalize.records import Dataset, Store

    made: list[training.Interactions] = []
    real = trainer_module._new_snapshot
    started = threading.Barrier(4)

    def slow(*args: Any) -> training.Interactions:
        snapshot = real(*args)
        made.append(snapshot)
        time.sleep(0.05)  # long enough for the other versions to ask meanwhile
        return snapshot

    monkeypatch.setattr(trainer_module, "_new_snapshot", slow)
    store = Store()
    with store.transaction() as records:
        dataset = records.add(
            Dataset(
                arn="ds", name="ds", dataset_group_arn="group", dataset_type="INTERACTIONS", schema_arn="s"
            )
        )
        records.tables[dataset.arn] = Table(
            {"USER_ID": ["u1", "u2"] * 10, "ITEM_ID": ["i1", "i2"] * 10, "TIMESTAMP": list(range(20))}
        )
    trainer = trainer_module.Trainer(store)

    def snapshot() -> training.Interactions:
        started.wait()
        return trainer._snapshot("group", None)

    with ThreadPoolExecutor(4) as pool:
        snapshots = list(pool.map(lambda _: snapshot(), range(4)))
    assert len(made) == 1
    assert all(s is made[0] for s in snapshots)
