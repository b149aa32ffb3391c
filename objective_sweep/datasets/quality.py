"""Whether a prepared dataset gives a meaningful sweep: the local endpoint's ALS against a
popularity baseline on the same held-out split and the same offline metrics."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from objective_sweep.datasets.prepared import INTERACTIONS_FILE
from objective_sweep.personalize.training import (
    Evaluation,
    Hyperparameters,
    Interactions,
    evaluation_split,
    is_test_user,
    offline_metrics,
)

METRIC = "normalized_discounted_cumulative_gain_at_10"


@dataclass(frozen=True)
class BaselineComparison:
    """NDCG@10 of ALS and of recommending the most popular unseen items, on held-out users."""

    als: float
    popularity: float
    test_users: int

    @property
    def ratio(self) -> float:
        return self.als / self.popularity if self.popularity else float("inf")


def read_interactions(folder: Path) -> Interactions:
    """A prepared folder's interactions as the local endpoint's training snapshot."""
    with (folder / INTERACTIONS_FILE).open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        users, items, timestamps = zip(*((u, i, int(t)) for u, i, t in reader), strict=True)
    return Interactions(users=users, items=items, timestamps=timestamps)


def compare_with_popularity(folder: Path, hyper: Hyperparameters | None = None) -> BaselineComparison:
    """Train ALS on the training users and score both models on the same held-out interactions.

    Popularity counts only the training users' interactions, so the baseline sees no more of the
    held-out data than ALS does; items a test user already has are excluded for both.
    """
    data = read_interactions(folder)
    evaluation = evaluation_split(data, hyper or Hyperparameters())
    column = {item: i for i, item in enumerate(evaluation.item_ids)}
    counts = np.zeros(len(evaluation.item_ids))
    for user, item in zip(data.users, data.items, strict=True):
        if not is_test_user(user):
            counts[column[item]] += 1
    # Every held-out user scores an item by its count: one factor, 1 for each user and the count for each item.
    popular = Evaluation(
        user_factors=np.ones((len(evaluation.held_out), 1)),
        item_factors=counts[:, None],
        inputs=evaluation.inputs,
        held_out=evaluation.held_out,
        item_ids=evaluation.item_ids,
    )
    return BaselineComparison(
        als=offline_metrics(evaluation, None, 0.0)[METRIC],
        popularity=offline_metrics(popular, None, 0.0)[METRIC],
        test_users=len(evaluation.held_out),
    )
