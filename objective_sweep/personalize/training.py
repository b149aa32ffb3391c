"""Real training for the local endpoint: implicit ALS on the imported interactions, Personalize's offline
metrics on a held-out split, and the objective-aware ranking that objectiveSensitivity controls."""

from __future__ import annotations

import functools
import hashlib
import math
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import threadpoolctl
import tqdm  # type: ignore[import-untyped]  # no stubs pinned; one attribute is set
from implicit.cpu.als import AlternatingLeastSquares
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix

# Single-threaded BLAS: implicit runs its own threads, and BLAS threads inside them would oversubscribe
# the cores. The `sweep` entry point sets OPENBLAS_NUM_THREADS before numpy loads; this covers callers
# that loaded numpy first (tests, a library user), now that numpy's, scipy's and implicit's BLAS are loaded.
threadpoolctl.threadpool_limits(1, user_api="blas")

# implicit creates tqdm bars even with show_progress=False, and tqdm would start a global monitor
# thread that outlives the server; the bars are disabled, so the monitor has nothing to do.
tqdm.tqdm.monitor_interval = 0

METRIC_KS = (5, 10, 25)
LIST_LENGTH = 25
# How many of a user's best-scored items the objective-aware ranking may choose from.
CANDIDATE_POOL = 200
# Weight of the objective against relevance per sensitivity, and the temperature that turns scores
# into relative likelihoods (docs/local-personalize.md has the measurements that fixed them).
SENSITIVITY_WEIGHT = {"OFF": 0.0, "LOW": 0.03, "MEDIUM": 0.06, "HIGH": 0.12}
TEMPERATURE = 1.0
SEED = 42
FIT_THREADS = min(2, os.cpu_count() or 1)
MIN_INTERACTIONS = 1000
MIN_ACTIVE_USERS = 25
# Rows per slice when hashing a snapshot, and the bytes of held-out users' scores computed at once by
# the offline metrics: a dense score matrix of every held-out user would be users x items x 8 bytes (8 GB
# at 25M interactions), and even 1024 users at once are 0.5 GB per training level with 62k items.
_FINGERPRINT_SLICE = 100_000
SCORING_BYTES = 32 * 1024**2


class TrainingFailure(Exception):
    """The data cannot be trained on; the solution version fails with this message."""


@dataclass(frozen=True)
class Hyperparameters:
    factors: int = 32
    regularization: float = 0.05
    alpha: float = 2.0
    iterations: int = 15

    @classmethod
    def from_config(cls, values: dict[str, str]) -> Hyperparameters:
        """Map Personalize's algorithmHyperParameters onto ALS (hidden_dimension is the factor count)."""
        base = cls()
        chosen = cls(
            factors=int(values.get("hidden_dimension", base.factors)),
            regularization=float(values.get("regularization", base.regularization)),
            alpha=float(values.get("alpha", base.alpha)),
            iterations=int(values.get("iterations", base.iterations)),
        )
        if not (1 <= chosen.factors <= 1024 and 1 <= chosen.iterations <= 100):
            raise ValueError("hidden_dimension must be 1-1024 and iterations 1-100")
        if not (chosen.regularization >= 0 and chosen.alpha > 0):
            raise ValueError("regularization must be >= 0 and alpha > 0")
        return chosen


@dataclass(frozen=True)
class Interactions:
    """The training snapshot: one row per interaction, plus the item catalogue and its objective."""

    users: Sequence[str]
    items: Sequence[str]
    timestamps: Sequence[int]
    catalogue: Sequence[str] = ()
    objective: dict[str, float] | None = None

    @functools.cached_property
    def fingerprint(self) -> str:
        # Hashed a slice at a time: joining a 25M-row column at once would hold a copy of it as text.
        digest = hashlib.sha256()
        for column in (self.users, self.items, self.timestamps, self.catalogue):
            for start in range(0, len(column), _FINGERPRINT_SLICE):
                digest.update("\x1f".join(map(str, column[start : start + _FINGERPRINT_SLICE])).encode())
                digest.update(b"\x1f")
            digest.update(b"\x1e")
        return digest.hexdigest()

    @functools.cached_property
    def indexed(self) -> _Indexed:
        """Users and items numbered in sorted order (computed once per snapshot)."""
        return _index(self)


def check_minimums(data: Interactions) -> None:
    """Personalize's data minimums for training, with a reason a person can act on."""
    if len(data.users) < MIN_INTERACTIONS:
        raise TrainingFailure(
            f"The interactions dataset has {len(data.users)} interactions; training needs at least "
            f"{MIN_INTERACTIONS}. Import more interactions and create a new solution version."
        )
    # Counted on the snapshot's user codes (made once, shared by the levels), not by a Python loop
    # over every interaction for each level.
    active = int((np.bincount(data.indexed.user_rows) >= 2).sum())
    if active < MIN_ACTIVE_USERS:
        raise TrainingFailure(
            f"Only {active} users have 2 or more interactions; training needs at least {MIN_ACTIVE_USERS}. "
            "Import more interactions per user and create a new solution version."
        )


def is_test_user(user_id: str) -> bool:
    """The deterministic 10% of users held out for the offline metrics."""
    return int.from_bytes(hashlib.blake2b(user_id.encode(), digest_size=8).digest(), "big") % 10 == 0


@dataclass
class Factorisation:
    """ALS factors over an indexed catalogue, and what each user has already interacted with."""

    item_ids: np.ndarray
    user_index: dict[str, int]
    user_factors: np.ndarray
    item_factors: np.ndarray
    seen: csr_matrix
    popularity: np.ndarray

    def scores(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.user_factors[user_rows] @ self.item_factors.T, dtype=np.float64)


def _matrix(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> csr_matrix:
    matrix = csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _als(hyper: Hyperparameters) -> AlternatingLeastSquares:
    return AlternatingLeastSquares(
        factors=hyper.factors,
        regularization=hyper.regularization,
        alpha=hyper.alpha,
        iterations=hyper.iterations,
        # Each user's (item's) solve reads only the other side's fixed factors, so the result does not
        # depend on the thread count; a sweep's versions share one fit at a time, so it may use both cores.
        num_threads=FIT_THREADS,
        random_state=SEED,
    )


@dataclass
class _Indexed:
    item_ids: np.ndarray
    item_of: dict[str, int]
    user_ids: list[str]
    user_rows: np.ndarray
    item_cols: np.ndarray
    timestamps: np.ndarray


def _index(data: Interactions) -> _Indexed:
    item_ids = sorted(set(data.items) | set(data.catalogue))
    item_of = {item: i for i, item in enumerate(item_ids)}
    user_ids = sorted(set(data.users))
    user_of = {user: i for i, user in enumerate(user_ids)}
    return _Indexed(
        item_ids=np.array(item_ids, dtype=object),
        item_of=item_of,
        user_ids=user_ids,
        # 32-bit codes: half the memory of 64-bit ones (a row each, 25M rows), and what a sparse matrix
        # of this size indexes with anyway.
        user_rows=np.fromiter((user_of[u] for u in data.users), dtype=np.int32, count=len(data.users)),
        item_cols=np.fromiter((item_of[i] for i in data.items), dtype=np.int32, count=len(data.items)),
        timestamps=np.asarray(data.timestamps, dtype=np.int64),
    )


def factorise(data: Interactions, hyper: Hyperparameters) -> Factorisation:
    """Fit ALS on every interaction: the model a campaign serves."""
    indexed = data.indexed
    shape = (len(indexed.user_ids), len(indexed.item_ids))
    seen = _matrix(indexed.user_rows, indexed.item_cols, shape)
    model = _als(hyper)
    model.fit(seen, show_progress=False)
    return Factorisation(
        item_ids=indexed.item_ids,
        user_index={u: i for i, u in enumerate(indexed.user_ids)},
        user_factors=np.asarray(model.user_factors),
        item_factors=np.asarray(model.item_factors),
        seen=seen,
        popularity=np.bincount(indexed.item_cols, minlength=shape[1]).astype(np.float64),
    )


@dataclass
class Evaluation:
    """The held-out users' factors from a model trained without them, the items they already had (the
    input, never recommended back) and what they did next; scores are computed a batch at a time."""

    user_factors: np.ndarray
    item_factors: np.ndarray
    inputs: csr_matrix
    held_out: list[np.ndarray]
    item_ids: np.ndarray

    def score_batches(self) -> Iterator[tuple[int, np.ndarray]]:
        """(first user, scores of as many users as fit in SCORING_BYTES) with each user's input items at
        -inf."""
        batch_users = max(1, SCORING_BYTES // (8 * max(1, len(self.item_ids))))
        for start in range(0, len(self.held_out), batch_users):
            end = min(start + batch_users, len(self.held_out))
            scores = np.asarray(self.user_factors[start:end] @ self.item_factors.T, dtype=np.float64)
            batch = self.inputs[start:end]
            for i in range(end - start):
                scores[i, batch.indices[batch.indptr[i] : batch.indptr[i + 1]]] = -np.inf
            yield start, scores


def evaluation_split(data: Interactions, hyper: Hyperparameters) -> Evaluation:
    """Train on 90% of users, fold in the test users' oldest 90% and score them on all items."""
    indexed = data.indexed
    shape = (len(indexed.user_ids), len(indexed.item_ids))
    test_rows = np.array([i for i, u in enumerate(indexed.user_ids) if is_test_user(u)], dtype=np.int64)
    is_test = np.zeros(shape[0], dtype=bool)
    is_test[test_rows] = True
    order = np.lexsort((indexed.item_cols, indexed.timestamps, indexed.user_rows))
    rows, cols = indexed.user_rows[order], indexed.item_cols[order]
    del order
    keep_for_input = np.ones(len(rows), dtype=bool)
    held_out: list[np.ndarray] = []
    evaluated: list[int] = []
    starts = np.searchsorted(rows, np.arange(shape[0] + 1))
    for row in test_rows:
        start, end = starts[row], starts[row + 1]
        count = end - start
        if count < 2:
            continue
        newest = max(1, count // 10)
        keep_for_input[end - newest : end] = False
        # A copy: a view would keep the whole sorted column alive as long as the evaluation is cached.
        held_out.append(cols[end - newest : end].copy())
        evaluated.append(int(row))
    train_mask = ~is_test[rows]
    train_matrix = _matrix(rows[train_mask], cols[train_mask], shape)
    del train_mask
    model = _als(hyper)
    model.fit(train_matrix, show_progress=False)
    del train_matrix
    input_mask = is_test[rows] & keep_for_input
    inputs = _matrix(rows[input_mask], cols[input_mask], shape)
    del rows, cols
    evaluated_rows = np.array(evaluated, dtype=np.int64)
    input_rows = inputs[evaluated_rows]
    return Evaluation(
        user_factors=np.asarray(model.recalculate_user(evaluated_rows, input_rows)),
        item_factors=np.asarray(model.item_factors),
        inputs=input_rows,
        held_out=held_out,
        item_ids=indexed.item_ids,
    )


def normalised_objective(item_ids: np.ndarray, objective: dict[str, float] | None) -> np.ndarray:
    """Min-max normalise the objective column over the catalogue; items without a value get the minimum."""
    if not objective:
        return np.zeros(len(item_ids))
    raw = np.array([objective.get(item, math.nan) for item in item_ids], dtype=np.float64)
    known = raw[~np.isnan(raw)]
    low, high = (float(known.min()), float(known.max())) if len(known) else (0.0, 0.0)
    span = high - low
    normalised = (raw - low) / span if span > 0 else np.zeros_like(raw)
    return np.nan_to_num(normalised, nan=0.0)


def _best(scores: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` highest finite scores, best first, ties broken by index."""
    candidates = np.flatnonzero(np.isfinite(scores))
    if count < len(candidates):
        candidates = candidates[np.argpartition(-scores[candidates], count - 1)[:count]]
    return candidates[np.lexsort((candidates, -scores[candidates]))]


_POSITION_WEIGHT = 1.0 / np.log2(np.arange(2, 2 + 500 + 1))


def rank(scores: np.ndarray, objective: np.ndarray, weight: float, length: int) -> np.ndarray:
    """Indices of the `length` best items for one user.

    Without an objective this is the top by score. With one, the list is the assignment of
    candidates to positions that maximises sum over positions of w(position) * relevance(item) +
    weight * objective(item), where w is NDCG's 1/log2(1 + position) and relevance is
    exp((score - best score) / (TEMPERATURE * spread of the user's candidate scores)): the model's
    likelihood of the item relative to the user's best candidate. The objective is worth the same at
    every position while relevance is worth most at the top and falls off steeply for weak
    candidates, so the trades happen in the tail of the list, between near-equals.
    """
    available = int(np.isfinite(scores).sum())
    length = min(length, available)
    if weight <= 0 or length == 0:
        return _best(scores, length)
    planned = max(length, LIST_LENGTH) if available >= LIST_LENGTH else length
    pool = _best(scores, min(available, max(CANDIDATE_POOL, 2 * planned)))
    pool_scores = scores[pool]
    spread = float(pool_scores.std())
    relevance = (
        np.exp((pool_scores - pool_scores[0]) / (TEMPERATURE * spread)) if spread > 0 else np.ones(len(pool))
    )
    utility = np.outer(relevance, _POSITION_WEIGHT[:planned]) + weight * objective[pool][:, None]
    chosen, positions = linear_sum_assignment(utility, maximize=True)
    placed = pool[chosen[np.argsort(positions)]]
    return placed[:length]


def offline_metrics(evaluation: Evaluation, objective: np.ndarray | None, weight: float) -> dict[str, float]:
    """Personalize's offline metrics over the held-out users (definitions in docs/local-personalize.md)."""
    norm = objective if objective is not None else np.zeros(len(evaluation.item_ids))
    sums = dict.fromkeys(
        [f"precision_at_{k}" for k in METRIC_KS]
        + [f"normalized_discounted_cumulative_gain_at_{k}" for k in METRIC_KS]
        + ["mean_reciprocal_rank_at_25", "average_rewards_at_k"],
        0.0,
    )
    recommended: set[int] = set()
    users = len(evaluation.held_out)
    for first, scores in evaluation.score_batches():
        for offset, user_scores in enumerate(scores):
            _add_user_metrics(
                sums, recommended, user_scores, evaluation.held_out[first + offset], norm, weight
            )
    metrics = {name: total / users if users else 0.0 for name, total in sums.items()}
    metrics["coverage"] = len(recommended) / len(evaluation.item_ids) if len(evaluation.item_ids) else 0.0
    if objective is None:
        del metrics["average_rewards_at_k"]
    return {name: round(value, 4) for name, value in sorted(metrics.items())}


_DISCOUNTS = 1.0 / np.log2(np.arange(2, max(METRIC_KS) + 2))


def _add_user_metrics(
    sums: dict[str, float],
    recommended: set[int],
    scores: np.ndarray,
    truth: np.ndarray,
    norm: np.ndarray,
    weight: float,
) -> None:
    """Add one held-out user's precision, NDCG, reciprocal rank and reward to the running sums."""
    top = rank(scores, norm, weight, max(METRIC_KS))
    recommended.update(int(t) for t in top)
    hits = np.isin(top, truth).astype(np.float64)
    for k in METRIC_KS:
        sums[f"precision_at_{k}"] += hits[:k].sum() / k
        ideal = _DISCOUNTS[: min(k, len(truth))].sum()
        sums[f"normalized_discounted_cumulative_gain_at_{k}"] += (hits[:k] * _DISCOUNTS[:k]).sum() / ideal
    first = np.flatnonzero(hits)
    sums["mean_reciprocal_rank_at_25"] += 1.0 / (first[0] + 1) if len(first) else 0.0
    sums["average_rewards_at_k"] += float(norm[top].mean()) if len(top) else 0.0


@dataclass
class _Shared:
    lock: threading.Lock = field(default_factory=threading.Lock)
    value: Any = None


class FactorisationCache:
    """Shares the fitted factors between versions trained on identical data and hyperparameters.

    Fitting is deterministic, so a shared result is exactly the one each version would compute;
    versions asking at the same time wait for the first instead of fitting in parallel."""

    def __init__(self, capacity: int = 8) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str, Hyperparameters], _Shared] = {}
        self._capacity = capacity

    def get(self, kind: str, data: Interactions, hyper: Hyperparameters, compute: Any) -> Any:
        key = (kind, data.fingerprint, hyper)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                if len(self._entries) >= self._capacity:
                    self._entries.pop(next(iter(self._entries)))
                entry = self._entries[key] = _Shared()
        with entry.lock:
            if entry.value is None:
                entry.value = compute(data, hyper)
            return entry.value


@dataclass
class TrainedModel:
    """What a solution version serves: recommendations and rankings, objective-aware when configured."""

    factorisation: Factorisation
    objective: np.ndarray | None
    weight: float
    metrics: dict[str, float]
    training_seconds: float

    def _row(self, user_id: str) -> int | None:
        return self.factorisation.user_index.get(user_id)

    def _user_scores(self, row: int) -> np.ndarray:
        scores = self.factorisation.scores(np.array([row]))[0]
        seen = self.factorisation.seen
        scores[seen.indices[seen.indptr[row] : seen.indptr[row + 1]]] = -np.inf
        return scores

    def recommend(self, user_id: str | None, count: int) -> list[tuple[str, float]]:
        """Top items for a user; users the model has never seen get the most popular items."""
        fact = self.factorisation
        row = self._row(user_id) if user_id is not None else None
        if row is None:
            order = np.lexsort((np.arange(len(fact.popularity)), -fact.popularity))[:count]
            total = fact.popularity.sum() or 1.0
            return [(str(fact.item_ids[i]), round(float(fact.popularity[i] / total), 7)) for i in order]
        scores = self._user_scores(row)
        objective = self.objective if self.objective is not None else np.zeros(len(scores))
        placed = rank(scores, objective, self.weight, count)
        probabilities = _softmax(scores)
        return [(str(fact.item_ids[i]), round(float(probabilities[i]), 7)) for i in placed]

    def rank_items(self, user_id: str, items: Sequence[str]) -> list[tuple[str, float]]:
        """Order a caller's items for a user; unknown items go last, in the order given."""
        fact = self.factorisation
        index = {str(item): i for i, item in enumerate(fact.item_ids)}
        row = self._row(user_id)
        known = [item for item in items if item in index]
        if row is None:
            base = np.array([fact.popularity[index[item]] for item in known], dtype=np.float64)
        else:
            base = fact.scores(np.array([row]))[0][[index[item] for item in known]]
        objective = (
            self.objective[[index[item] for item in known]]
            if self.objective is not None
            else np.zeros(len(known))
        )
        placed = rank(base, objective, self.weight, len(known)) if known else np.array([], dtype=np.int64)
        probabilities = _softmax(base) if len(known) else base
        ranked = [(known[i], round(float(probabilities[i]), 7)) for i in placed]
        unknown = [(item, 0.0) for item in items if item not in index]
        return ranked + unknown


def _softmax(scores: np.ndarray) -> np.ndarray:
    finite = np.isfinite(scores)
    shifted = np.where(finite, scores - scores[finite].max(), -np.inf) if finite.any() else scores
    weights = np.exp(shifted)
    total = weights.sum()
    return weights / total if total > 0 else weights


def train(
    data: Interactions,
    hyper: Hyperparameters,
    sensitivity: str | None,
    cache: FactorisationCache,
) -> TrainedModel:
    """Train a solution version: the served model, its offline metrics, and the measured time."""
    started = time.perf_counter()
    check_minimums(data)
    factorisation: Factorisation = cache.get("serve", data, hyper, factorise)
    evaluation: Evaluation = cache.get("evaluate", data, hyper, evaluation_split)
    objective = normalised_objective(factorisation.item_ids, data.objective) if sensitivity else None
    weight = SENSITIVITY_WEIGHT[sensitivity] if sensitivity else 0.0
    metrics = offline_metrics(evaluation, objective, weight)
    return TrainedModel(factorisation, objective, weight, metrics, time.perf_counter() - started)


def update(base: TrainedModel, data: Interactions, hyper: Hyperparameters) -> TrainedModel:
    """trainingMode UPDATE: keep the base version's item factors, give new items factors from the
    users who chose them, and refresh every user from their current interactions; no full refit.
    Offline metrics are those of the FULL version it updates, as no new evaluation fit is made."""
    started = time.perf_counter()
    check_minimums(data)
    indexed = data.indexed
    shape = (len(indexed.user_ids), len(indexed.item_ids))
    seen = _matrix(indexed.user_rows, indexed.item_cols, shape)
    old = base.factorisation
    old_index = {str(item): i for i, item in enumerate(old.item_ids)}
    item_factors = np.zeros((shape[1], old.item_factors.shape[1]), dtype=np.float32)
    new_items = []
    for col, item in enumerate(indexed.item_ids):
        if str(item) in old_index:
            item_factors[col] = old.item_factors[old_index[str(item)]]
        else:
            new_items.append(col)
    model = _als(
        Hyperparameters(old.item_factors.shape[1], hyper.regularization, hyper.alpha, hyper.iterations)
    )
    model.item_factors = item_factors
    model.user_factors = model.recalculate_user(np.arange(shape[0]), seen)
    if new_items:
        columns = np.array(new_items, dtype=np.int64)
        item_factors[columns] = model.recalculate_item(columns, seen.T.tocsr()[columns])
    factorisation = Factorisation(
        item_ids=indexed.item_ids,
        user_index={u: i for i, u in enumerate(indexed.user_ids)},
        user_factors=np.asarray(model.user_factors),
        item_factors=item_factors,
        seen=seen,
        popularity=np.bincount(indexed.item_cols, minlength=shape[1]).astype(np.float64),
    )
    objective = normalised_objective(indexed.item_ids, data.objective) if base.objective is not None else None
    return TrainedModel(
        factorisation, objective, base.weight, dict(base.metrics), time.perf_counter() - started
    )
