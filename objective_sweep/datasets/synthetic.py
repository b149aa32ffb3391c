"""The offline default: a deterministic, MovieLens-shaped synthetic catalogue written as a prepared
dataset folder.

Users belong to taste clusters and mostly pick items of their cluster, so collaborative filtering
has something to learn that popularity alone cannot; item popularity is long-tailed, user activity
heavy-tailed, genres follow the clusters, and each user's timestamps increase.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from objective_sweep.datasets.prepared import PreparedDataset, write_prepared


@dataclass(frozen=True)
class SyntheticSpec:
    """Size and shape of a synthetic catalogue; the same spec and seed give the same files."""

    users: int
    items: int
    interactions: int
    seed: int = 42
    clusters: int = 20
    # Share of a user's picks made inside their taste cluster; the rest follow global popularity.
    taste_share: float = 0.9
    # Zipf exponent of item popularity (rank ** -popularity_exponent).
    popularity_exponent: float = 0.9
    # Spread of the log-normal user activity: larger = a heavier tail of very active users.
    activity_sigma: float = 1.0
    min_per_user: int = 5

    def __post_init__(self) -> None:
        if self.users < 1 or self.items < 2 or self.interactions < 1:
            raise ValueError("users, items and interactions must be positive (items at least 2)")
        if self.clusters < 1:
            raise ValueError("clusters must be at least 1")
        if self.seed < 0:
            raise ValueError("seed must be zero or positive")
        if not 0 <= self.taste_share <= 1:
            raise ValueError("taste_share must be between 0 and 1")
        capacity = self.users * self.max_per_user
        if self.interactions > capacity:
            raise ValueError(
                f"{self.interactions:,} interactions do not fit: at most {capacity:,} distinct "
                f"(user, item) pairs when no user interacts with more than half the catalogue"
            )

    @property
    def taste_clusters(self) -> int:
        """Clusters actually used: a tiny catalogue cannot have more clusters than items."""
        return min(self.clusters, self.items)

    @property
    def max_per_user(self) -> int:
        """No user interacts with more than half the catalogue, so distinct pairs stay easy to draw."""
        return max(1, self.items // 2)


# `make demo` sweeps four levels on this on the local cloud in about 25 s (benchmarks/bench_demo.py).
DEMO = SyntheticSpec(users=600, items=1500, interactions=50_000, seed=42)
# The shape of MovieLens 25M (162,541 users, 62,423 movies, 25,000,095 ratings).
ML25M_SHAPE = SyntheticSpec(users=162_541, items=62_423, interactions=25_000_095, seed=42)
PRESETS = {"demo": DEMO, "ml-25m-shape": ML25M_SHAPE}

GENRES = (
    "ACTION", "ADVENTURE", "ANIMATION", "CHILDRENS", "COMEDY", "CRIME", "DOCUMENTARY", "DRAMA",
    "FANTASY", "FILM-NOIR", "HORROR", "MUSICAL", "MYSTERY", "ROMANCE", "SCI-FI", "THRILLER", "WAR",
    "WESTERN",
)  # fmt: skip
_TITLE_WORDS = (
    ("Silent", "Crimson", "Last", "Hidden", "Electric", "Broken", "Golden", "Midnight", "Distant",
     "Velvet", "Paper", "Iron", "Wandering", "Frozen", "Burning", "Little", "Secret", "Hollow"),
    ("Harbor", "Garden", "Empire", "Frontier", "Letters", "Orchard", "Signal", "Carnival", "Voyage",
     "Station", "Mirror", "Lantern", "Kingdom", "Summer", "Engine", "Canyon", "Parade", "Archive"),
)  # fmt: skip
# Timestamps start at 2000-01-01 and span about 20 years, like MovieLens' later releases.
_EPOCH_START = 946_684_800
_SPAN_SECONDS = 20 * 365 * 86_400
_MEAN_GAP_SECONDS = 3_600.0
# Rounds of taste-driven draws, then as many by global popularity, before the last few missing
# pairs are drawn uniformly.
_TASTE_ROUNDS = 4


def generate(spec: SyntheticSpec, out: Path) -> PreparedDataset:
    """Generate the catalogue described by `spec` into the prepared folder `out`."""
    rng = np.random.default_rng(spec.seed)
    item_cluster = rng.integers(0, spec.taste_clusters, size=spec.items)
    popularity = _popularity(rng, spec)
    counts = _activity(rng, spec)
    user_cluster = rng.integers(0, spec.taste_clusters, size=spec.users)
    users, items = _interactions(rng, spec, counts, user_cluster, item_cluster, popularity)
    timestamps = _timestamps(rng, spec, users)
    return write_prepared(
        out,
        users=users + 1,
        items=items + 1,
        timestamps=timestamps,
        item_ids=np.arange(1, spec.items + 1),
        genres=_genres(rng, spec, item_cluster),
        titles=_titles(rng, spec),
    )


def _popularity(rng: np.random.Generator, spec: SyntheticSpec) -> npt.NDArray[np.float64]:
    ranks = rng.permutation(spec.items) + 1
    weights: npt.NDArray[np.float64] = ranks.astype(np.float64) ** -spec.popularity_exponent
    return weights / weights.sum()


def _activity(rng: np.random.Generator, spec: SyntheticSpec) -> npt.NDArray[np.int64]:
    """Interactions per user: a floor like MovieLens' "at least 20 ratings", then a log-normal
    share of the rest, capped so no user exhausts half the catalogue."""
    floor = min(spec.min_per_user, spec.interactions // spec.users)
    counts = np.full(spec.users, floor, dtype=np.int64)
    weights = rng.lognormal(0.0, spec.activity_sigma, size=spec.users)
    remaining = spec.interactions - int(counts.sum())
    cap = spec.max_per_user
    while remaining > 0:
        open_users = counts < cap
        share = np.where(open_users, weights, 0.0)
        counts += rng.multinomial(remaining, share / share.sum())
        overflow = np.maximum(counts - cap, 0)
        counts -= overflow
        remaining = int(overflow.sum())
    return counts


def _interactions(
    rng: np.random.Generator,
    spec: SyntheticSpec,
    counts: npt.NDArray[np.int64],
    user_cluster: npt.NDArray[np.int64],
    item_cluster: npt.NDArray[np.int64],
    popularity: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Distinct (user, item) pairs, `counts[u]` per user, sorted by user in random item order."""
    # Items grouped by cluster, each cluster's popularity CDF shifted by its cluster number so one
    # searchsorted over the concatenation samples every row's own cluster at once.
    by_cluster = np.argsort(item_cluster, kind="stable")
    sizes = np.bincount(item_cluster, minlength=spec.taste_clusters)
    weights = popularity[by_cluster]
    cluster_sums = np.bincount(item_cluster[by_cluster], weights=weights, minlength=spec.taste_clusters)
    within = np.cumsum(weights) - np.repeat(np.cumsum(cluster_sums) - cluster_sums, sizes)
    shifted_cdf = item_cluster[by_cluster] + within / np.repeat(
        np.where(cluster_sums > 0, cluster_sums, 1), sizes
    )
    global_cdf = np.cumsum(popularity)

    keys = np.empty(0, dtype=np.int64)
    have = np.zeros(spec.users, dtype=np.int64)
    for attempt in itertools.count():
        wanted = counts - have
        if not wanted.any():
            break
        users = np.repeat(np.arange(spec.users, dtype=np.int64), wanted)
        if attempt < _TASTE_ROUNDS:
            items = _taste_draws(rng, spec, users, user_cluster, by_cluster, shifted_cdf, global_cdf)
        elif attempt < 2 * _TASTE_ROUNDS:
            # Users still short have exhausted their taste's popular items: like a MovieLens user
            # who has seen their genre, they move on to what is popular overall.
            items = np.minimum(
                np.searchsorted(global_cdf, rng.random(len(users)), side="right"), spec.items - 1
            )
        else:
            # Uniform draws end it: they collide rarely because no user may take more than half
            # the catalogue.
            items = rng.integers(0, spec.items, size=len(users))
        drawn = _sorted_unique(users * spec.items + items)
        # Only the pairs not drawn before count; later rounds are small, so checking them against
        # the sorted keys is cheap, and merging two sorted runs is what a stable sort does fastest.
        at = np.minimum(np.searchsorted(keys, drawn), max(len(keys) - 1, 0))
        fresh = drawn[keys[at] != drawn] if len(keys) else drawn
        have += np.bincount(fresh // spec.items, minlength=spec.users)
        keys = np.sort(np.concatenate([keys, fresh]), kind="stable")
    users = keys // spec.items
    items = keys % spec.items
    # Keys come sorted by (user, item); a random order inside each user keeps item ids unrelated
    # to time, which the timestamps then follow.
    order = np.argsort((users << 32) | rng.integers(0, 1 << 32, size=len(keys), dtype=np.int64))
    return users[order], items[order]


def _sorted_unique(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """np.unique by sorting: numpy 2's hash-based unique is ~10x slower on tens of millions of ints."""
    ordered = np.sort(values)
    keep = np.empty(len(ordered), dtype=bool)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _taste_draws(
    rng: np.random.Generator,
    spec: SyntheticSpec,
    users: npt.NDArray[np.int64],
    user_cluster: npt.NDArray[np.int64],
    by_cluster: npt.NDArray[np.int64],
    shifted_cdf: npt.NDArray[np.float64],
    global_cdf: npt.NDArray[np.float64],
) -> npt.NDArray[np.int64]:
    in_cluster = rng.random(len(users)) < spec.taste_share
    draws = rng.random(len(users))
    items = np.empty(len(users), dtype=np.int64)
    position = np.searchsorted(shifted_cdf, user_cluster[users[in_cluster]] + draws[in_cluster], side="right")
    # A cluster without items falls through to the next cluster's first item: still a valid item.
    items[in_cluster] = by_cluster[np.minimum(position, spec.items - 1)]
    outside = ~in_cluster
    items[outside] = np.minimum(np.searchsorted(global_cdf, draws[outside], side="right"), spec.items - 1)
    return items


def _timestamps(
    rng: np.random.Generator, spec: SyntheticSpec, users: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Strictly increasing Unix seconds per user: a random first visit, then gaps of at least a
    second drawn from an exponential distribution."""
    counts = np.bincount(users, minlength=spec.users)
    gaps = 1 + rng.exponential(_MEAN_GAP_SECONDS, size=len(users)).astype(np.int64)
    elapsed = np.cumsum(gaps)
    before_user = np.concatenate([[0], elapsed])[np.cumsum(counts) - counts]
    first_visit = _EPOCH_START + rng.integers(0, _SPAN_SECONDS, size=spec.users)
    return first_visit[users] + elapsed - np.repeat(before_user, counts)


def _genres(rng: np.random.Generator, spec: SyntheticSpec, item_cluster: npt.NDArray[np.int64]) -> list[str]:
    """One to three genres per item, the first usually one of its cluster's two favourites."""
    favourites = rng.integers(0, len(GENRES), size=(spec.taste_clusters, 2))
    primary = np.where(
        rng.random(spec.items) < 0.85,
        favourites[item_cluster, rng.integers(0, 2, size=spec.items)],
        rng.integers(0, len(GENRES), size=spec.items),
    )
    extra = rng.integers(0, len(GENRES), size=(spec.items, 2))
    extra_count = rng.integers(0, 3, size=spec.items)
    genres = []
    for first, others, count in zip(primary.tolist(), extra.tolist(), extra_count.tolist(), strict=True):
        chosen = {first, *others[:count]}
        genres.append("|".join(GENRES[g] for g in sorted(chosen)))
    return genres


def _titles(rng: np.random.Generator, spec: SyntheticSpec) -> list[str]:
    first, second = _TITLE_WORDS
    a = rng.integers(0, len(first), size=spec.items).tolist()
    b = rng.integers(0, len(second), size=spec.items).tolist()
    years = rng.integers(1930, 2020, size=spec.items).tolist()
    return [f"{first[i]} {second[j]} ({y})" for i, j, y in zip(a, b, years, strict=True)]
