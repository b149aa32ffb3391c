"""`sweep run` and `sweep validate` on a dataset nobody here wrote (an e-commerce shop: string ids like
user_abc and SKU-00123, view/purchase events, CATEGORY text and PRICE/MARGIN numbers): every refusal
names the user's own file and field, says what is wrong in plain words once per kind of problem, exits
2, and starts nothing."""

from __future__ import annotations

import gzip
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from objective_sweep.cli import main

USERS = 80
ITEMS = 300
EVENTS = 2400
CATEGORIES = ("electronics", "garden", "toys", "kitchen", "books")
LIBRARY_WORDS = re.compile(
    r"Traceback|pydantic|Input should|Value error|Extra inputs|https?://", re.IGNORECASE
)


def _user(n: int) -> str:
    return "user_" + "".join("abcdefghij"[int(d)] for d in f"{n:03d}")


def _items(margin: str | None = None) -> str:
    rows = ["ITEM_ID,CATEGORY,PRICE,MARGIN"]
    rng = random.Random(5)
    for n in range(1, ITEMS + 1):
        price = round(rng.uniform(3, 400), 2)
        value = margin if margin is not None else f"{price * rng.uniform(0.05, 0.4):.2f}"
        rows.append(f"SKU-{n:05d},{CATEGORIES[n % len(CATEGORIES)]},{price},{value}")
    return "\n".join(rows) + "\n"


def _events() -> str:
    rng = random.Random(9)
    rows = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"]
    for n in range(EVENTS):
        event = "purchase" if rng.random() < 0.2 else "view"
        rows.append(f"{_user(n % USERS)},SKU-{rng.randint(1, ITEMS):05d},{1_700_000_000 + 60 * n},{event}")
    return "\n".join(rows) + "\n"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "catalog_2024.csv").write_text(_items(), encoding="utf-8")
    (folder / "events_2024.csv").write_text(_events(), encoding="utf-8")
    return folder


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    assert "starting the local cloud" not in captured.out, "a refused run must start nothing"
    assert not LIBRARY_WORDS.search(captured.err), captured.err
    return code, captured.err


def _files(shop: Path, items: str = "catalog_2024.csv") -> list[str]:
    return ["--interactions", str(shop / "events_2024.csv"), "--items", str(shop / items)]


def test_the_shop_is_valid_as_written(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *_files(shop), "--objective", "MARGIN"]) == 0
    assert f"valid: {EVENTS:,} interactions, {USERS} users" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_text_objective_names_the_numeric_columns_once(
    shop: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    code, err = _run(capsys, command, *_files(shop), "--objective", "CATEGORY")
    assert code == 2
    expected = (
        f"{shop / 'catalog_2024.csv'}, column CATEGORY: the objective CATEGORY holds text, not numbers "
        "('garden' on line 2) — set objective to a numeric column of this file: PRICE, MARGIN"
    )
    assert expected in err, err
    assert err.count("CATEGORY holds text") == 1
    assert "items.csv" not in err, "the upload name is not the user's file"


def test_a_constant_objective_is_refused_with_the_reason(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (shop / "catalog_2024.csv").write_text(_items(margin="0"), encoding="utf-8")
    code, err = _run(capsys, "run", *_files(shop), "--objective", "MARGIN")
    assert code == 2
    assert f"{shop / 'catalog_2024.csv'}, column MARGIN: the objective MARGIN is 0 on every item" in err
    assert "objective optimization has nothing to trade" in err
    assert "nothing was uploaded" in err


def test_a_gzipped_catalog_is_recognised(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    packed = shop / "catalog_2024.csv.gz"
    packed.write_bytes(gzip.compress((shop / "catalog_2024.csv").read_bytes()))
    code, err = _run(capsys, "run", *_files(shop, "catalog_2024.csv.gz"), "--objective", "MARGIN")
    assert code == 2
    assert f"{packed}: is gzip-compressed — gunzip it first" in err
    assert "iconv" not in err
    assert "UTF-8" not in err


def test_a_semicolon_file_is_told_to_use_commas(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = shop / "events_2024.csv"
    events.write_text(events.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")
    code, err = _run(capsys, "run", *_files(shop), "--objective", "MARGIN")
    assert code == 2
    assert f"{events}, line 1: uses ';' between fields — Personalize needs commas" in err
    assert "no USER_ID column" not in err


def test_a_problem_on_every_row_is_one_line_with_a_count(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = shop / "events_2024.csv"
    events.write_text(
        re.sub(r",(1\d{9}),", r",\g<1>000,", events.read_text(encoding="utf-8")), encoding="utf-8"
    )
    code, err = _run(capsys, "validate", *_files(shop), "--objective", "MARGIN")
    assert code == 2
    assert f"{events}, line 2, column TIMESTAMP: TIMESTAMP 1700000000000 looks like milliseconds" in err
    assert f"(and {EVENTS - 1} more rows like it)" in err
    assert err.count("milliseconds") == 1


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"sample_users": ["user_abc"]},
            "field 'sample_users' is not a RunConfig field — field names are camelCase: did you mean 'sampleUsers'?",
        ),
        ({"objectve": "MARGIN"}, "field 'objectve' is not a RunConfig field — did you mean 'objective'?"),
        (
            {"keep": "recomended"},
            "field 'keep' is \"recomended\", not one of the allowed values — did you mean 'recommended'?",
        ),
        ({"numResults": 0}, "field 'numResults' is 0, out of range — use at least 1"),
    ],
)
def test_run_file_mistakes_name_the_run_file_and_the_field(
    shop: Path, capsys: pytest.CaptureFixture[str], fields: dict[str, object], expected: str
) -> None:
    run_file = shop / "sweep.json"
    config = {"interactions": "events_2024.csv", "items": "catalog_2024.csv", "objective": "MARGIN", **fields}
    run_file.write_text(json.dumps(config), encoding="utf-8")
    code, err = _run(capsys, "run", "--run-file", str(run_file))
    assert code == 2
    assert f"{run_file}: {expected}" in err, err


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--objective", "TIMESTAMP", "--objective TIMESTAMP: TIMESTAMP is a reserved Personalize column"),
        (
            "--objective",
            "margin",
            "catalog_2024.csv, line 1, column margin: the header has no margin column, the run's objective — "
            "did you mean MARGIN? Column names are case-sensitive",
        ),
        (
            "--objective",
            "PROFIT",
            "catalog_2024.csv, line 1, column PROFIT: the header has no PROFIT column, the run's objective — "
            "add a numeric PROFIT column or set objective to one of: CATEGORY, PRICE, MARGIN",
        ),
        ("--experiment", "my shop", "--experiment my shop: 'my shop' is not a usable experiment name"),
        (
            "--sensitivities",
            "OFF,OFF",
            "--sensitivities OFF,OFF: a sensitivity is listed twice — list each level once",
        ),
        (
            "--sensitivities",
            "off,HIHG",
            "--sensitivities HIHG: the value is \"HIHG\", not one of the allowed values — did you mean 'HIGH'?",
        ),
        ("--sensitivities", ",", "--sensitivities: the value has 0 entries — give at least 1"),
        (
            "--keep",
            "recomended",
            '--keep recomended: the value is "recomended", not one of the allowed values — '
            "did you mean 'recommended'? use 'all', 'recommended' or 'none'",
        ),
    ],
)
def test_option_mistakes_name_the_option(
    shop: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, expected: str
) -> None:
    code, err = _run(capsys, "run", *_files(shop), option, value)
    assert code == 2
    assert expected in err, err


# Starts the installed command (a fresh interpreter importing the CLI): slow by the marker's meaning.
@pytest.mark.slow
def test_the_installed_command_prints_no_traceback(shop: Path) -> None:
    sweep = Path(sys.executable).parent / "sweep"
    done = subprocess.run(
        [str(sweep), "run", *_files(shop), "--objective", "CATEGORY", "--keep", "none"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "CATEGORY holds text, not numbers" in done.stderr
    assert not LIBRARY_WORDS.search(done.stderr), done.stderr
    # Validation may report its progress; nothing was started or uploaded.
    assert "starting the local cloud" not in done.stdout
    assert "uploaded" not in done.stdout
