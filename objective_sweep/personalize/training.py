"""Real training for the local endpoint: implicit ALS on the imported interactions, Personalize's offline
metrics on a held-out split, and the objective-aware ranking that objectiveSensitivity controls."""

from __future__ import annotations

import dataclasses
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
# Iterations of the served model when it starts from the evaluation model's item factors: from there,
# 3 reach a lower loss than 15 from random factors, and top-25 lists closer to that cold fit's than two
# cold fits with different seeds are to each other (docs/local-personalize.md has the measurements).
REFINE_ITERATIONS = 3
MIN_INTERACTIONS = 1000
MIN_ACTIVE_USERS = 25
# The bytes of held-out users' scores computed at once by the offline metrics: a dense score matrix of
# every held-out user would be users x items x 8 bytes (8 GB at 25M interactions), and even 1024 users
# at once are 0.5 GB with 62k items.
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
        """Equal for snapshots that train the same models: hashed from the numbered rows and the sorted
        ids (a fraction of the time of hashing 25M rows as text)."""
        indexed = self.indexed
        digest = hashlib.sha256()
        for ids in (indexed.user_ids, indexed.item_ids.tolist()):
            digest.update("\x1f".join(map(str, ids)).encode())
            digest.update(b"\x1e")
        for codes in (indexed.user_rows, indexed.item_cols, indexed.timestamps):
            digest.update(np.ascontiguousarray(codes).data)
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
        user_rows=np.fromiter(map(user_of.__getitem__, data.users), dtype=np.int32, count=len(data.users)),
        item_cols=np.fromiter(map(item_of.__getitem__, data.items), dtype=np.int32, count=len(data.items)),
        timestamps=np.asarray(data.timestamps, dtype=np.int64),
    )


def factorise(data: Interactions, hyper: Hyperparameters, start: np.ndarray | None = None) -> Factorisation:
    """Fit ALS on every interaction: the model a campaign serves. From `start` item factors (the
    evaluation model's) it refines them for REFINE_ITERATIONS instead of fitting from random factors."""
    indexed = data.indexed
    shape = (len(indexed.user_ids), len(indexed.item_ids))
    seen = _matrix(indexed.user_rows, indexed.item_cols, shape)
    if start is None:
        model = _als(hyper)
    else:
        model = _als(dataclasses.replace(hyper, iterations=min(REFINE_ITERATIONS, hyper.iterations)))
        model.item_factors = np.array(start, dtype=np.float32)
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

    @functools.cached_property
    def candidates(self) -> Candidates:
        """Each held-out user's CANDIDATE_POOL best items, found once and shared by every level's metrics
        (only the ranking within them depends on the objective). Not thread-safe on first use: the
        trainer computes it under the factorisation cache's lock."""
        users = len(self.held_out)
        width = min(CANDIDATE_POOL, len(self.item_ids))
        items = np.zeros((users, width), dtype=np.int32)
        scores = np.zeros((users, width), dtype=np.float64)
        counts = np.zeros(users, dtype=np.int32)
        for first, batch in self.score_batches():
            chosen, finite = _best_rows(batch, width)
            end = first + len(batch)
            items[first:end], counts[first:end] = chosen, finite
            scores[first:end] = np.take_along_axis(batch, chosen, axis=1)
        return Candidates(items, scores, counts)


@dataclass(frozen=True)
class Candidates:
    """Per held-out user (a row each): the best-scored items, best first, their scores, and how many of
    the row are real (a user with fewer unseen items than the row is wide has a shorter list)."""

    items: np.ndarray
    scores: np.ndarray
    counts: np.ndarray

    def ranked(self, objective: np.ndarray, weight: float, length: int) -> np.ndarray:
        """Every user's list as `rank` would place it from the full scores: rows of `length` item indices,
        -1 after the end of a shorter list."""
        if 2 * max(length, LIST_LENGTH) > CANDIDATE_POOL:
            # rank() would plan these lists from a pool wider than the candidates kept.
            raise ValueError(f"lists of {length} need more than {CANDIDATE_POOL} candidates per user")
        placed = np.full((len(self.counts), length), -1, dtype=np.int64)
        for user, count in enumerate(self.counts.tolist()):
            shown = min(length, count)
            if weight <= 0 or shown == 0:
                placed[user, :shown] = self.items[user, :shown]
                continue
            planned = _planned(shown, count)
            pool, pool_scores = self.items[user, :count], self.scores[user, :count]
            placed[user, :shown] = _assign(pool, pool_scores, objective, weight, planned)[:shown]
        return placed


def evaluation_split(data: Interactions, hyper: Hyperparameters) -> Evaluation:
    """Train on 90% of users, fold in the test users' oldest 90% and score them on all items."""
    indexed = data.indexed
    shape = (len(indexed.user_ids), len(indexed.item_ids))
    test_rows = np.array([i for i, u in enumerate(indexed.user_ids) if is_test_user(u)], dtype=np.int64)
    is_test = np.zeros(shape[0], dtype=bool)
    is_test[test_rows] = True
    in_test = is_test[indexed.user_rows]
    train_matrix = _matrix(indexed.user_rows[~in_test], indexed.item_cols[~in_test], shape)
    model = _als(hyper)
    model.fit(train_matrix, show_progress=False)
    del train_matrix
    # Only the test users' rows need their order (by user, time, item): a tenth of the sort.
    rows, cols = indexed.user_rows[in_test], indexed.item_cols[in_test]
    order = np.lexsort((cols, indexed.timestamps[in_test], rows))
    rows, cols = rows[order], cols[order]
    del order, in_test
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
        # A copy: a view would keep the test users' sorted column alive as long as the evaluation is cached.
        held_out.append(cols[end - newest : end].copy())
        evaluated.append(int(row))
    inputs = _matrix(rows[keep_for_input], cols[keep_for_input], shape)
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


def _evaluation(data: Interactions, hyper: Hyperparameters) -> Evaluation:
    """The split and every held-out user's candidates, found once for all the levels that share them."""
    evaluation = evaluation_split(data, hyper)
    _ = evaluation.candidates
    return evaluation


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
    """Indices of the `count` highest finite scores, best first, ties broken by the lower index (also at
    the cut: of items tied for the last place, the lowest indices are kept)."""
    candidates = np.flatnonzero(np.isfinite(scores))
    if count < len(candidates):
        cut = np.partition(scores[candidates], len(candidates) - count)[len(candidates) - count]
        candidates = candidates[scores[candidates] >= cut]
    return candidates[np.lexsort((candidates, -scores[candidates]))][:count]


def _best_rows(scores: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`_best` for each row of a score matrix at once: (rows x count indices, how many of each row are
    finite scores). Rows with fewer finite scores are padded with indices of -inf ones."""
    count = min(count, scores.shape[1])
    chosen = np.argpartition(-scores, count - 1, axis=1)[:, :count]
    chosen_scores = np.take_along_axis(scores, chosen, axis=1)
    order = np.lexsort((chosen, -chosen_scores), axis=1)
    chosen = np.take_along_axis(chosen, order, axis=1)
    chosen_scores = np.take_along_axis(chosen_scores, order, axis=1)
    finite = np.isfinite(chosen_scores).sum(axis=1)
    # argpartition picks any of the items tied for the last place; where a row has more of them than
    # were chosen, that row is chosen again exactly (rare: equal float scores).
    last = chosen_scores[:, -1:]
    tied = (scores == last).sum(axis=1) > (chosen_scores == last).sum(axis=1)
    for row in np.flatnonzero(tied & np.isfinite(last[:, 0])):
        chosen[row] = _best(scores[row], count)
    return chosen, finite


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
    planned = _planned(length, available)
    pool = _best(scores, min(available, max(CANDIDATE_POOL, 2 * planned)))
    return _assign(pool, scores[pool], objective, weight, planned)[:length]


def _planned(length: int, available: int) -> int:
    """How many positions a list of `length` is planned over: at least LIST_LENGTH when the user has that
    many candidates, so a shorter list is the prefix of the 25."""
    return max(length, LIST_LENGTH) if available >= LIST_LENGTH else length


def _assign(
    pool: np.ndarray, pool_scores: np.ndarray, objective: np.ndarray, weight: float, planned: int
) -> np.ndarray:
    """`rank`'s assignment of a user's candidates (best first) to `planned` positions."""
    spread = float(pool_scores.std())
    relevance = (
        np.exp((pool_scores - pool_scores[0]) / (TEMPERATURE * spread)) if spread > 0 else np.ones(len(pool))
    )
    utility = np.outer(relevance, _POSITION_WEIGHT[:planned]) + weight * objective[pool][:, None]
    chosen, positions = linear_sum_assignment(utility, maximize=True)
    return pool[chosen[np.argsort(positions)]]


def offline_metrics(evaluation: Evaluation, objective: np.ndarray | None, weight: float) -> dict[str, float]:
    """Personalize's offline metrics over the held-out users (definitions in docs/local-personalize.md)."""
    norm = objective if objective is not None else np.zeros(len(evaluation.item_ids))
    users, catalogue, length = len(evaluation.held_out), len(evaluation.item_ids), max(METRIC_KS)
    if users == 0 or catalogue == 0:
        return _finished(dict.fromkeys([*_METRIC_NAMES, "coverage"], 0.0), objective)
    top = evaluation.candidates.ranked(norm, weight, length)
    shown = top >= 0
    # A hit is a recommended item among the user's held-out ones: both numbered user * catalogue + item.
    owners = np.repeat(np.arange(users, dtype=np.int64), [len(held) for held in evaluation.held_out])
    truth = owners * catalogue + np.concatenate(evaluation.held_out).astype(np.int64)
    hits = shown & np.isin(np.arange(users, dtype=np.int64)[:, None] * catalogue + top, truth)
    truth_counts = np.array([len(held) for held in evaluation.held_out])
    metrics: dict[str, float] = {}
    for k in METRIC_KS:
        metrics[f"precision_at_{k}"] = float((hits[:, :k].sum(axis=1) / k).sum())
        ideal = np.cumsum(_DISCOUNTS)[np.minimum(k, truth_counts) - 1]
        metrics[f"normalized_discounted_cumulative_gain_at_{k}"] = float(
            ((hits[:, :k] * _DISCOUNTS[:k]).sum(axis=1) / ideal).sum()
        )
    first_hit = hits.argmax(axis=1)
    metrics["mean_reciprocal_rank_at_25"] = float(
        np.where(hits.any(axis=1), 1.0 / (first_hit + 1), 0.0).sum()
    )
    rewards = np.where(shown, norm[np.where(shown, top, 0)], 0.0).sum(axis=1)
    listed = shown.sum(axis=1)
    metrics["average_rewards_at_k"] = float(np.where(listed > 0, rewards / np.maximum(listed, 1), 0.0).sum())
    metrics = {name: total / users for name, total in metrics.items()}
    metrics["coverage"] = len(np.unique(top[shown])) / catalogue
    return _finished(metrics, objective)


_DISCOUNTS = 1.0 / np.log2(np.arange(2, max(METRIC_KS) + 2))
_METRIC_NAMES = (
    [f"precision_at_{k}" for k in METRIC_KS]
    + [f"normalized_discounted_cumulative_gain_at_{k}" for k in METRIC_KS]
    + ["mean_reciprocal_rank_at_25", "average_rewards_at_k"]
)


def _finished(metrics: dict[str, float], objective: np.ndarray | None) -> dict[str, float]:
    if objective is None:
        del metrics["average_rewards_at_k"]
    return {name: round(value, 4) for name, value in sorted(metrics.items())}


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
    evaluation: Evaluation = cache.get("evaluate", data, hyper, _evaluation)
    factorisation: Factorisation = cache.get(
        "serve", data, hyper, functools.partial(factorise, start=evaluation.item_factors)
    )
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
