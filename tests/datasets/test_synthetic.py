"""The synthetic default: deterministic, MovieLens-shaped, and worth sweeping (ALS clearly beats
popularity on the local endpoint's own offline metrics)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from objective_sweep.cli import main
from objective_sweep.datasets.prepared import royalty
from objective_sweep.datasets.quality import compare_with_popularity
from objective_sweep.datasets.synthetic import DEMO, GENRES, SyntheticSpec, generate

SMALL = SyntheticSpec(users=300, items=800, interactions=20_000, seed=5)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small")
    generate(SMALL, folder)
    return folder


def _table(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))[1:]


def test_same_seed_same_files_other_seed_other_files(small: Path, tmp_path: Path) -> None:
    generate(SMALL, tmp_path / "again")
    generate(SyntheticSpec(users=300, items=800, interactions=20_000, seed=6), tmp_path / "other")
    for name in ("interactions.csv", "items.csv", "titles.csv"):
        assert (small / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
    assert (small / "interactions.csv").read_bytes() != (tmp_path / "other" / "interactions.csv").read_bytes()


def test_movielens_shape(small: Path) -> None:
    rows = np.array(_table(small / "interactions.csv"), dtype=np.int64)
    users, items, timestamps = rows.T
    assert len(rows) == SMALL.interactions
    assert len({(u, i) for u, i in zip(users.tolist(), items.tolist(), strict=True)}) == len(rows)
    assert set(np.unique(users).tolist()) == set(range(1, SMALL.users + 1))
    assert items.min() >= 1
    assert items.max() <= SMALL.items
    # Rows are grouped by user and each user's timestamps increase.
    assert np.all(np.diff(users) >= 0)
    same_user = np.diff(users) == 0
    assert np.all(np.diff(timestamps)[same_user] > 0)
    per_user = np.bincount(users)[1:]
    assert per_user.min() >= SMALL.min_per_user
    assert per_user.max() > 4 * np.median(per_user)  # heavy-tailed activity
    per_item = np.sort(np.bincount(items, minlength=SMALL.items + 1)[1:])[::-1]
    assert per_item[: SMALL.items // 10].sum() > 0.3 * len(rows)  # long tail: top 10% of items
    assert timestamps.min() >= 946_684_800


def test_items_follow_the_study_rules(small: Path) -> None:
    items = _table(small / "items.csv")
    assert [int(r[0]) for r in items] == list(range(1, SMALL.items + 1))
    assert [float(r[1]) for r in items] == royalty(range(1, SMALL.items + 1)).tolist()
    for _, _, genre in items:
        assert set(genre.split("|")) <= set(GENRES)
    titles = _table(small / "titles.csv")
    assert [int(t[0]) for t in titles] == list(range(1, SMALL.items + 1))
    assert all(t[1] for t in titles)


def test_impossible_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        SyntheticSpec(users=10, items=20, interactions=500)
    with pytest.raises(ValueError, match="positive"):
        SyntheticSpec(users=0, items=20, interactions=5)


def test_als_beats_popularity_on_the_demo_preset(tmp_path: Path) -> None:
    generate(DEMO, tmp_path)
    comparison = compare_with_popularity(tmp_path)
    assert comparison.test_users >= 40
    assert comparison.ratio >= 1.5, comparison


def test_sweep_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["generate", "--users", "40", "--items", "90", "--interactions", "1100", "--seed", "1"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    assert "1,100 interactions, 40 users, 90 items" in capsys.readouterr().out
    assert (
        main(["generate", "--users", "2", "--items", "4", "--interactions", "1000", "--out", str(tmp_path)])
        == 2
    )
    assert "do not fit" in capsys.readouterr().err
