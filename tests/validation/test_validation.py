"""validate_inputs beyond the catalogue: every problem at once, streaming across block boundaries,
the fast path agreeing with the row-by-row checks, inferred column types, and S3-style errors."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from sweep_core import validation
from sweep_core.errors import InvalidInputError
from sweep_core.models import RunConfig
from sweep_core.schemas import Column, build_schema
from sweep_core.validation import DataSummary, validate_inputs

from objective_sweep.datasets.movielens import prepare

RUN = RunConfig(experiment="t", interactions="interactions.csv", items="items.csv")


def _interactions(rows: int = 1200, users: int = 40, items: int = 30) -> str:
    lines = ["USER_ID,ITEM_ID,TIMESTAMP"]
    lines += [f"u{r % users},i{r % items},{1_600_000_000 + r}" for r in range(rows)]
    return "\n".join(lines) + "\n"


def _items(count: int = 30) -> str:
    return "ITEM_ID,ROYALTY,GENRE\n" + "".join(f"i{i},-0.0{i % 8},DRAMA\n" for i in range(count))


def _validate(files: dict[str, str | bytes], run: RunConfig = RUN) -> DataSummary:
    def open_binary(name: str) -> io.BytesIO:
        data = files[name]
        return io.BytesIO(data.encode() if isinstance(data, str) else data)

    return validate_inputs(run, open_binary)


def test_every_problem_of_every_file_is_reported_at_once() -> None:
    lines = _interactions().splitlines()
    lines[3] = "u1,i1,1700000000000"
    lines[9] = ",i1,1600000000"
    lines[20] = "u1,nowhere,1600000000"
    items = _items().replace("i5,-0.05,DRAMA", "i5,,DRAMA")
    with pytest.raises(InvalidInputError) as refused:
        _validate({"interactions.csv": "\n".join(lines) + "\n", "items.csv": items})
    found = {(p.file, p.line, p.column) for p in refused.value.problems}
    assert found == {
        ("interactions.csv", 4, "TIMESTAMP"),
        ("interactions.csv", 10, "USER_ID"),
        ("interactions.csv", 21, "ITEM_ID"),
        ("items.csv", 7, "ROYALTY"),
    }


def test_a_problem_on_every_row_is_listed_once_with_the_count_of_the_others() -> None:
    lines = _interactions().replace(",16000", ",x16000").splitlines()
    lines[5] = "u1,i1"
    lines[6] = "u2,i2,1700000000000"
    with pytest.raises(InvalidInputError) as refused:
        _validate({"interactions.csv": "\n".join(lines) + "\n", "items.csv": _items()})
    assert [(p.line, p.column, p.repeats) for p in refused.value.problems] == [
        (2, "TIMESTAMP", 1197),
        (6, None, 0),
        (7, "TIMESTAMP", 0),
    ]
    text = str(refused.value)
    assert "interactions.csv, line 2, column TIMESTAMP: TIMESTAMP 'x1600000000' is not a whole number" in text
    assert text.endswith("(and 1197 more rows like it)\ninteractions.csv, line 6: 2 fields where the header has 3"
                         " — quote values that contain commas and give every row one value per column\n"
                         "interactions.csv, line 7, column TIMESTAMP: TIMESTAMP 1700000000000 looks like milliseconds"
                         " — divide by 1000: Personalize expects Unix epoch seconds")  # fmt: skip
    assert text.count("\n") == 2


def test_distinct_problems_are_capped_per_file_and_the_rest_counted() -> None:
    header = ",".join(f"{n}X" for n in range(30))
    with pytest.raises(InvalidInputError) as refused:
        _validate({"interactions.csv": _interactions(), "items.csv": f"ITEM_ID,ROYALTY,{header}\ni1,1,x\n"})
    assert len(refused.value.problems) == validation.DEFAULT_MAX_PROBLEMS
    assert refused.value.more == 30 - validation.DEFAULT_MAX_PROBLEMS
    assert str(refused.value).endswith("... and 5 more problem(s) not listed")


def test_line_numbers_survive_block_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "_BLOCK_BYTES", 100)
    lines = _interactions().splitlines()
    lines[777] = "u1,i1,2023-01-01"
    with pytest.raises(InvalidInputError) as refused:
        _validate({"interactions.csv": "\n".join(lines) + "\n", "items.csv": _items()})
    assert [(p.line, p.column) for p in refused.value.problems] == [(778, "TIMESTAMP")]


def _reordered_with_events() -> str:
    lines = ["ITEM_ID,EVENT_TYPE,USER_ID,TIMESTAMP,EVENT_VALUE"]
    for line in _interactions().splitlines()[1:]:
        user, item, timestamp = line.split(",")
        lines.append(
            f"{item},{'click' if int(timestamp) % 2 else 'watch'},{user},{timestamp},{int(timestamp) % 5 or ''}"
        )
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("block_bytes", [64, 1000, 8 * 1024 * 1024])
@pytest.mark.parametrize("layout", [_interactions, _reordered_with_events])
def test_fast_path_and_row_checks_count_the_same(
    monkeypatch: pytest.MonkeyPatch, block_bytes: int, layout: Callable[[], str]
) -> None:
    monkeypatch.setattr(validation, "_BLOCK_BYTES", block_bytes)
    plain = _validate({"interactions.csv": layout(), "items.csv": _items()})
    # Quoted ids make every block take the row-by-row path.
    quoted = re.sub(r"(^|,)(u\d+)", r'\1"\2"', layout(), flags=re.MULTILINE)
    assert quoted != layout()
    slow = _validate({"interactions.csv": quoted, "items.csv": _items()})
    assert plain == slow
    assert (plain.interactions, plain.users, plain.users_with_2plus, plain.items) == (1200, 40, 40, 30)


def test_bom_crlf_and_missing_final_newline_are_accepted() -> None:
    text = "\ufeff" + _interactions().replace("\n", "\r\n").rstrip("\r\n")
    summary = _validate({"interactions.csv": text.encode("utf-8"), "items.csv": _items()})
    assert summary.interactions == 1200


def test_column_types_are_inferred_for_the_schemas() -> None:
    items = "ITEM_ID,PRICE,STOCK,RATING,BRAND\n" + "".join(
        f"i{i},{i + 0.5},{i},{'' if i == 3 else i / 2},brand{i % 3}\n" for i in range(30)
    )
    users = "USER_ID,AGE\n" + "".join(f"u{u},{20 + u}\n" for u in range(40))
    run = RunConfig(
        experiment="t",
        interactions="interactions.csv",
        items="items.csv",
        users="users.csv",
        objective="PRICE",
    )
    summary = _validate({"interactions.csv": _interactions(), "items.csv": items, "users.csv": users}, run)
    assert summary.items_columns == [
        Column(name="ITEM_ID", type="string"),
        Column(name="PRICE", type="float"),
        Column(name="STOCK", type="long"),
        Column(name="RATING", type="float", nullable=True),
        Column(name="BRAND", type="string"),
    ]
    assert (summary.objective_min, summary.objective_max) == (0.5, 29.5)
    schema = build_schema("items", summary.items_columns, objective="PRICE")
    assert schema["fields"][1:] == [
        {"name": "PRICE", "type": "float"},
        {"name": "STOCK", "type": "long"},
        {"name": "RATING", "type": ["null", "float"]},
        {"name": "BRAND", "type": ["null", "string"], "categorical": True},
    ]
    assert summary.users_columns == [Column(name="USER_ID", type="string"), Column(name="AGE", type="long")]


def test_file_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "MAX_FILE_BYTES", 1000)
    with pytest.raises(InvalidInputError) as refused:
        _validate({"interactions.csv": _interactions(), "items.csv": _items()})
    [problem] = refused.value.problems
    assert problem.file == "interactions.csv"
    assert "a Personalize import takes at most" in problem.message


class NoSuchKey(ClientError):
    """Like the modelled exception class botocore generates for s3.exceptions.NoSuchKey."""


@pytest.mark.parametrize(
    ("error_class", "code", "message"),
    [
        (ClientError, "NoSuchKey", "does not exist"),
        (NoSuchKey, "NoSuchKey", "does not exist"),
        (ClientError, "AccessDenied", "cannot be read (AccessDenied)"),
    ],
)
def test_an_s3_error_is_a_problem_not_a_crash(
    error_class: type[ClientError], code: str, message: str
) -> None:
    def open_binary(name: str) -> io.BytesIO:
        if name == "items.csv":
            raise error_class({"Error": {"Code": code, "Message": "refused"}}, "GetObject")
        return io.BytesIO(_interactions().encode())

    with pytest.raises(InvalidInputError) as refused:
        validate_inputs(RUN, open_binary)
    assert [(p.file, p.message) for p in refused.value.problems] == [("items.csv", message)]


def test_a_bug_in_the_opener_is_not_swallowed() -> None:
    def open_binary(name: str) -> io.BytesIO:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        validate_inputs(RUN, open_binary)


def test_prepared_ml_latest_small_is_valid(tmp_path: Path, ml_latest_small: Path) -> None:
    prepare(ml_latest_small, tmp_path)
    summary = validate_inputs(RUN, lambda name: (tmp_path / name).open("rb"))
    assert (summary.interactions, summary.users, summary.users_with_2plus, summary.items) == (
        61716,
        609,
        608,
        9742,
    )
    assert summary.items_columns[2] == Column(name="GENRE", type="string", nullable=True)


@pytest.mark.parametrize("layout", [_interactions, _reordered_with_events])
def test_well_formed_blocks_skip_the_row_checks(
    monkeypatch: pytest.MonkeyPatch, layout: Callable[[], str]
) -> None:
    checked_rows: list[int] = []
    row_check = validation._FileCheck._row

    def counting(self: validation._FileCheck, line: int, row: list[str]) -> None:
        if self.kind == "interactions":
            checked_rows.append(line)
        row_check(self, line, row)

    monkeypatch.setattr(validation._FileCheck, "_row", counting)
    assert _validate({"interactions.csv": layout(), "items.csv": _items()}).interactions == 1200
    assert checked_rows == []


def test_the_first_users_in_natural_order_are_chosen_while_validating() -> None:
    lines = ["USER_ID,ITEM_ID,TIMESTAMP"]
    lines += [
        f"{user},i{r % 30},{1_600_000_000 + r}" for r in range(1200) for user in [("x", 10, 9, 100)[r % 4]]
    ]
    lines += [f"u{r % 40},i{r % 30},1600000000" for r in range(80)]
    run = RunConfig(
        experiment="t",
        interactions="interactions.csv",
        items="items.csv",
        report_users=3,
        sample_users=["u5"],
    )
    summary = _validate({"interactions.csv": "\n".join(lines) + "\n", "items.csv": _items()}, run)
    # As many as the report may need: reportUsers plus one per sample user.
    assert summary.first_users == ["9", "10", "100", "u0"]
