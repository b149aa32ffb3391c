"""The study's preparation pinned on hand-written fixtures in both MovieLens layouts and on the real
ml-latest-small release."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sweep_core.errors import InvalidInputError

from objective_sweep.cli import main
from objective_sweep.datasets.movielens import prepare
from objective_sweep.datasets.prepared import genre_string, royalty


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_royalty_follows_item_id_mod_8_negated() -> None:
    assert royalty(range(16)).tolist() == [
        0.0, -0.005, -0.01, -0.015, -0.02, -0.025, -0.05, -0.1,
        0.0, -0.005, -0.01, -0.015, -0.02, -0.025, -0.05, -0.1,
    ]  # fmt: skip
    assert str(royalty([8])[0]) == "0.0"


def test_genre_string_uses_the_study_spelling() -> None:
    assert genre_string(["Animation", "Children's", "Comedy"]) == "ANIMATION|CHILDRENS|COMEDY"
    assert genre_string(["Children", "Sci-Fi", "Film-Noir"]) == "CHILDRENS|SCI-FI|FILM-NOIR"
    assert genre_string(["(no genres listed)"]) == ""
    assert genre_string(["unknown"]) == ""


def test_ml100k_layout(tmp_path: Path, fixtures: Path) -> None:
    prepared = prepare(fixtures / "ml-100k", tmp_path)
    interactions = _rows(tmp_path / "interactions.csv")
    # Ratings 5, 4, 4, 5, 4 are kept; 3, 2 and 1 are not positives.
    assert [(r["USER_ID"], r["ITEM_ID"], r["TIMESTAMP"]) for r in interactions] == [
        ("1", "1", "881250949"),
        ("2", "1", "881250951"),
        ("2", "8", "881250953"),
        ("3", "9", "881250954"),
        ("3", "7", "881250956"),
    ]
    items = {r["ITEM_ID"]: (float(r["ROYALTY"]), r["GENRE"]) for r in _rows(tmp_path / "items.csv")}
    assert items == {
        "1": (-0.005, "ANIMATION|CHILDRENS|COMEDY"),
        "2": (-0.01, "DRAMA"),
        "3": (-0.015, "FILM-NOIR|THRILLER"),
        "7": (-0.1, "ROMANCE"),
        "8": (0.0, "ACTION|SCI-FI"),
        "9": (-0.005, ""),
        "16": (0.0, "WAR|WESTERN"),
    }
    titles = {r["ITEM_ID"]: r["TITLE"] for r in _rows(tmp_path / "titles.csv")}
    assert titles["7"] == "Café Lumière Revisited (1997)"  # latin-1 in u.item, UTF-8 out
    assert (prepared.interactions, prepared.users, prepared.items) == (5, 3, 7)


def test_latest_small_layout(tmp_path: Path, fixtures: Path) -> None:
    prepare(fixtures / "ml-latest-small", tmp_path)
    interactions = _rows(tmp_path / "interactions.csv")
    # 3.5 is above the threshold, 3.0 is not.
    assert [(r["USER_ID"], r["ITEM_ID"]) for r in interactions] == [
        ("10", "1"),
        ("10", "5"),
        ("11", "1"),
        ("11", "4"),
        ("12", "5"),
    ]
    items = {r["ITEM_ID"]: (float(r["ROYALTY"]), r["GENRE"]) for r in _rows(tmp_path / "items.csv")}
    assert items == {
        "1": (-0.005, "ADVENTURE|ANIMATION|CHILDRENS|COMEDY"),
        "2": (-0.01, "DRAMA"),
        "4": (-0.02, "FILM-NOIR|SCI-FI"),
        "5": (-0.025, ""),
        "6": (-0.05, "IMAX|MUSICAL"),
    }
    titles = {r["ITEM_ID"]: r["TITLE"] for r in _rows(tmp_path / "titles.csv")}
    assert titles["2"] == "Harbour, Quiet and Blue (2003)"


def test_prepared_folder_carries_the_study_schemas(tmp_path: Path, fixtures: Path) -> None:
    prepare(fixtures / "ml-latest-small", tmp_path)
    items = json.loads((tmp_path / "items.schema.json").read_text())
    interactions = json.loads((tmp_path / "interactions.schema.json").read_text())
    assert items["fields"] == [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "ROYALTY", "type": "float"},
        {"name": "GENRE", "type": ["null", "string"], "categorical": True},
    ]
    assert interactions["fields"] == [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ]


def test_not_a_movielens_folder(tmp_path: Path) -> None:
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n")
    with pytest.raises(InvalidInputError, match="ml-latest-small"):
        prepare(tmp_path, tmp_path / "out")


def test_ratings_of_unknown_movies_are_refused(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "movies.csv").write_text("movieId,title,genres\n1,A (2000),Drama\n")
    (source / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,1\n1,99,5.0,2\n")
    with pytest.raises(InvalidInputError, match=r"ratings\.csv.*\[99\]"):
        prepare(source, tmp_path / "out")


def test_real_ml_latest_small(tmp_path: Path, ml_latest_small: Path) -> None:
    prepared = prepare(ml_latest_small, tmp_path)
    # 61,716 of the 100,836 ratings are above 3; 609 of 610 users have one; 9,742 movies.
    assert (prepared.interactions, prepared.users, prepared.items) == (61716, 609, 9742)
    items = {r["ITEM_ID"]: r for r in _rows(tmp_path / "items.csv")}
    assert items["1"]["GENRE"] == "ADVENTURE|ANIMATION|CHILDRENS|COMEDY|FANTASY"
    assert {r["ITEM_ID"] for r in _rows(tmp_path / "interactions.csv")} <= items.keys()
    assert all(float(r["ROYALTY"]) == royalty([int(i)])[0] for i, r in items.items())


def test_sweep_prepare_movielens(tmp_path: Path, capsys: pytest.CaptureFixture[str], fixtures: Path) -> None:
    assert main(["prepare", "movielens", "--source", str(fixtures / "ml-100k"), "--out", str(tmp_path)]) == 0
    assert "5 interactions, 3 users, 7 items" in capsys.readouterr().out
    assert main(["prepare", "movielens", "--source", str(tmp_path / "nothing"), "--out", str(tmp_path)]) == 2
    assert "not a MovieLens folder" in capsys.readouterr().err
