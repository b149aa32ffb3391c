"""The bad-input catalogue (docs/bad-inputs.md): every case is refused by validate_inputs and by
`sweep validate`, and the message names the file and the line or field."""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sweep_core.errors import InvalidInputError, Problem
from sweep_core.models import RunConfig
from sweep_core.run_input import parse_run_config
from sweep_core.validation import validate_inputs

from objective_sweep.cli import main
from objective_sweep.datasets.synthetic import SyntheticSpec, generate

DOCS = Path(__file__).parents[2] / "docs" / "bad-inputs.md"
Files = dict[str, bytes]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def set_line(name: str, line: int, text: bytes) -> Callable[[Files], None]:
    """Replace line `line` (1 = header) of file `name`."""

    def change(files: Files) -> None:
        lines = _lines(files[name])
        lines[line - 1] = text
        files[name] = b"\n".join(lines)

    return change


def set_field(name: str, line: int, column: int, value: bytes) -> Callable[[Files], None]:
    def change(files: Files) -> None:
        lines = _lines(files[name])
        fields = lines[line - 1].split(b",")
        fields[column] = value
        lines[line - 1] = b",".join(fields)
        files[name] = b"\n".join(lines)

    return change


def keep_lines(name: str, count: int) -> Callable[[Files], None]:
    def change(files: Files) -> None:
        files[name] = b"\n".join(_lines(files[name])[:count]) + b"\n"

    return change


def replace_file(name: str, data: bytes) -> Callable[[Files], None]:
    def change(files: Files) -> None:
        files[name] = data

    return change


def add_column(name: str, header: bytes, value: bytes) -> Callable[[Files], None]:
    def change(files: Files) -> None:
        lines = _lines(files[name])
        files[name] = b"\n".join(
            (line + b"," + (header if i == 0 else value)) if line else line for i, line in enumerate(lines)
        )

    return change


def set_column(files: Files, name: str, column: int, value: bytes) -> None:
    """Give every data row of file `name` the same `value` in `column`."""
    lines = _lines(files[name])
    for index in range(1, len(lines)):
        if lines[index]:
            fields = lines[index].split(b",")
            fields[column] = value
            lines[index] = b",".join(fields)
    files[name] = b"\n".join(lines)


def both(*changes: Callable[[Files], None]) -> Callable[[Files], None]:
    def change(files: Files) -> None:
        for one in changes:
            one(files)

    return change


def remove_file(name: str) -> Callable[[Files], None]:
    def change(files: Files) -> None:
        del files[name]

    return change


def one_user_per_row(files: Files) -> None:
    """Every interaction by a different user: nobody has two."""
    lines = _lines(files["interactions.csv"])
    files["interactions.csv"] = b"\n".join(
        [lines[0]] + [b"u%d," % i + line.split(b",", 1)[1] for i, line in enumerate(lines[1:]) if line]
    )


@dataclass(frozen=True)
class Case:
    name: str
    change: Callable[[Files], None]
    file: str
    message: str
    line: int | None = None
    column: str | None = None
    config: dict[str, Any] = field(default_factory=dict)


USERS = b"USER_ID,AGE_GROUP\n" + b"".join(b"%d,adult\n" % u for u in range(1, 61))

CASES = [
    Case(
        "interactions-not-utf8",
        set_field("interactions.csv", 5, 0, b"caf\xe9"),
        "interactions.csv",
        "not UTF-8",
        5,
    ),
    Case("items-not-utf8", set_field("items.csv", 3, 2, b"DRAMA\xff"), "items.csv", "not UTF-8", 3),
    Case("interactions-empty-file", replace_file("interactions.csv", b""), "interactions.csv", "is empty"),
    Case(
        "interactions-header-only", keep_lines("interactions.csv", 1), "interactions.csv", "no data rows", 2
    ),
    Case(
        "interactions-missing-timestamp-column",
        set_line("interactions.csv", 1, b"USER_ID,ITEM_ID,TIME"),
        "interactions.csv",
        "no TIMESTAMP column",
        1,
        "TIMESTAMP",
    ),
    Case(
        "interactions-lowercase-header",
        set_line("interactions.csv", 1, b"user_id,ITEM_ID,TIMESTAMP"),
        "interactions.csv",
        "no USER_ID column",
        1,
        "USER_ID",
    ),
    Case(
        "items-duplicate-column",
        set_line("items.csv", 1, b"ITEM_ID,ROYALTY,ROYALTY"),
        "items.csv",
        "appears twice",
        1,
        "ROYALTY",
    ),
    Case(
        "items-invalid-column-name",
        set_line("items.csv", 1, b"ITEM_ID,ROYALTY,MAIN GENRE"),
        "items.csv",
        "not a valid schema field name",
        1,
        "MAIN GENRE",
    ),
    Case(
        "interactions-blank-first-line",
        set_line("interactions.csv", 1, b""),
        "interactions.csv",
        "the header line is empty",
        1,
    ),
    Case(
        "interactions-missing-field",
        set_line("interactions.csv", 7, b"3,17"),
        "interactions.csv",
        "2 fields",
        7,
    ),
    Case(
        "interactions-unquoted-comma",
        set_field("interactions.csv", 8, 0, b"smith,john"),
        "interactions.csv",
        "4 fields",
        8,
    ),
    Case(
        "interactions-empty-user",
        set_field("interactions.csv", 9, 0, b""),
        "interactions.csv",
        "USER_ID is empty",
        9,
        "USER_ID",
    ),
    Case(
        "interactions-blank-user",
        set_field("interactions.csv", 18, 0, b"  "),
        "interactions.csv",
        "USER_ID is empty",
        18,
        "USER_ID",
    ),
    Case(
        "interactions-empty-item",
        set_field("interactions.csv", 10, 1, b""),
        "interactions.csv",
        "ITEM_ID is empty",
        10,
        "ITEM_ID",
    ),
    Case(
        "interactions-id-too-long",
        set_field("interactions.csv", 11, 0, b"u" * 300),
        "interactions.csv",
        "300 characters",
        11,
        "USER_ID",
    ),
    Case(
        "timestamp-milliseconds",
        set_field("interactions.csv", 12, 2, b"1700000000000"),
        "interactions.csv",
        "milliseconds",
        12,
        "TIMESTAMP",
    ),
    Case(
        "timestamp-date-string",
        set_field("interactions.csv", 13, 2, b"2023-11-14"),
        "interactions.csv",
        "not a whole number of seconds",
        13,
        "TIMESTAMP",
    ),
    Case(
        "timestamp-negative",
        set_field("interactions.csv", 14, 2, b"-5"),
        "interactions.csv",
        "outside 1970-2100",
        14,
        "TIMESTAMP",
    ),
    Case(
        "timestamp-decimal",
        set_field("interactions.csv", 15, 2, b"1700000000.5"),
        "interactions.csv",
        "not a whole number of seconds",
        15,
        "TIMESTAMP",
    ),
    Case(
        "event-value-not-numeric",
        both(
            add_column("interactions.csv", b"EVENT_VALUE", b"1.0"),
            set_field("interactions.csv", 16, 3, b"high"),
        ),
        "interactions.csv",
        "EVENT_VALUE 'high' is not a number",
        16,
        "EVENT_VALUE",
    ),
    Case(
        "interaction-item-not-in-items",
        set_field("interactions.csv", 17, 1, b"99999"),
        "interactions.csv",
        "'99999' is not in the items file",
        17,
        "ITEM_ID",
    ),
    Case(
        "interactions-too-many-metadata-columns",
        set_line("interactions.csv", 1, b"USER_ID,ITEM_ID,TIMESTAMP,A,B,C,D,E,F"),
        "interactions.csv",
        "6 metadata columns",
        1,
    ),
    Case(
        "items-duplicate-id",
        set_field("items.csv", 4, 0, b"1"),
        "items.csv",
        "'1' appears more than once",
        4,
        "ITEM_ID",
    ),
    Case("items-empty-id", set_field("items.csv", 5, 0, b""), "items.csv", "ITEM_ID is empty", 5, "ITEM_ID"),
    Case(
        "objective-missing-from-header",
        set_line("items.csv", 1, b"ITEM_ID,PRICE,GENRE"),
        "items.csv",
        "no ROYALTY column",
        1,
        "ROYALTY",
    ),
    Case(
        "objective-wrong-case",
        lambda files: None,
        "items.csv",
        "the header has no royalty column",
        1,
        "royalty",
        {"objective": "royalty"},
    ),
    Case("objective-null", set_field("items.csv", 6, 1, b""), "items.csv", "ROYALTY is empty", 6, "ROYALTY"),
    Case(
        "objective-not-numeric",
        set_field("items.csv", 7, 1, b"cheap"),
        "items.csv",
        "'cheap', not a finite number",
        7,
        "ROYALTY",
    ),
    Case(
        "objective-nan",
        set_field("items.csv", 8, 1, b"nan"),
        "items.csv",
        "not a finite number",
        8,
        "ROYALTY",
    ),
    Case(
        "objective-is-a-string-column",
        lambda files: None,
        "items.csv",
        "the objective GENRE holds text, not numbers",
        None,
        "GENRE",
        {"objective": "GENRE"},
    ),
    Case(
        "objective-constant",
        lambda files: set_column(files, "items.csv", 1, b"0"),
        "items.csv",
        "the objective ROYALTY is 0 on every item",
        None,
        "ROYALTY",
    ),
    Case(
        "items-gzip",
        lambda files: files.update({"items.csv": gzip.compress(files["items.csv"])}),
        "items.csv",
        "is gzip-compressed",
    ),
    Case(
        "items-zip",
        lambda files: files.update({"items.csv": b"PK\x03\x04" + bytes(range(40))}),
        "items.csv",
        "is a ZIP archive",
    ),
    Case(
        "interactions-utf16",
        lambda files: files.update({"interactions.csv": files["interactions.csv"].decode().encode("utf-16")}),
        "interactions.csv",
        "is UTF-16 text",
    ),
    Case(
        "interactions-semicolons",
        lambda files: files.update({"interactions.csv": files["interactions.csv"].replace(b",", b";")}),
        "interactions.csv",
        "uses ';' between fields",
        1,
    ),
    Case(
        "items-tabs",
        lambda files: files.update({"items.csv": files["items.csv"].replace(b",", b"\t")}),
        "items.csv",
        "uses tabs between fields",
        1,
    ),
    Case(
        "timestamp-milliseconds-every-row",
        lambda files: set_column(files, "interactions.csv", 2, b"1700000000000"),
        "interactions.csv",
        "looks like milliseconds",
        2,
        "TIMESTAMP",
    ),
    Case(
        "categorical-value-too-long",
        set_field("items.csv", 9, 2, b"X" * 1001),
        "items.csv",
        "1001 characters",
        9,
        "GENRE",
    ),
    Case("too-few-interactions", keep_lines("interactions.csv", 900), "interactions.csv", "899 interactions"),
    Case(
        "too-few-active-users",
        one_user_per_row,
        "interactions.csv",
        "0 users have 2 or more interactions",
        None,
        "USER_ID",
    ),
    Case(
        "users-missing-user-id",
        replace_file("users.csv", USERS.replace(b"USER_ID", b"CUSTOMER")),
        "users.csv",
        "no USER_ID column",
        1,
        "USER_ID",
        {"users": "users.csv"},
    ),
    Case(
        "users-duplicate-id",
        replace_file("users.csv", USERS + b"7,senior\n"),
        "users.csv",
        "'7' appears more than once",
        62,
        "USER_ID",
        {"users": "users.csv"},
    ),
    Case("items-file-missing", remove_file("items.csv"), "items.csv", "does not exist"),
    Case(
        "config-same-file-twice",
        lambda files: None,
        "run configuration",
        "names the same file",
        None,
        "items",
        {"items": "interactions.csv"},
    ),
    Case(
        "config-titles-is-a-data-file",
        lambda files: None,
        "run configuration",
        "titles names a data file",
        None,
        "titles",
        {"titles": "items.csv"},
    ),
]

# RunConfig mistakes refused before any file is read, by the parser PrepareRun and `sweep run` share:
# (case, input overrides, the whole message after "sweep.json: ", or its start when it ends with "...").
CONFIG_CASES = [
    (
        "config-experiment-name-with-spaces",
        {"experiment": "my sweep"},
        "field 'experiment': 'my sweep' is not a usable experiment name — it must start with a letter or digit...",
    ),
    (
        "config-objective-reserved-column",
        {"objective": "TIMESTAMP"},
        "field 'objective': TIMESTAMP is a reserved Personalize column, not an items column — name a numeric "
        "column of the items file (e.g. ROYALTY, PRICE, MARGIN)",
    ),
    (
        "config-recipe-without-objective",
        {"recipe": "arn:aws:personalize:::recipe/aws-sims"},
        "field 'recipe': objective optimization is swept with aws-user-personalization, not aws-sims — use "
        "aws-user-personalization",
    ),
    (
        "config-ranking-recipe",
        {"recipe": "aws-personalized-ranking"},
        "field 'recipe': aws-personalized-ranking only re-ranks a list of items you supply for each user...",
    ),
    (
        "config-unknown-sensitivity",
        {"sensitivities": ["OFF", "EXTREME"]},
        "field 'sensitivities' is \"EXTREME\", not one of the allowed values — use 'OFF', 'LOW', 'MEDIUM' or 'HIGH'",
    ),
    (
        "config-duplicate-sensitivity",
        {"sensitivities": ["OFF", "OFF"]},
        "field 'sensitivities': a sensitivity is listed twice — list each level once",
    ),
    (
        "config-unknown-field",
        {"objectve": "ROYALTY"},
        "field 'objectve' is not a RunConfig field — did you mean 'objective'?",
    ),
    (
        "config-snake-case-field",
        {"sample_users": ["user_abc"]},
        "field 'sample_users' is not a RunConfig field — field names are camelCase: did you mean 'sampleUsers'?",
    ),
    (
        "config-snake-case-nested-field",
        {"policy": {"relevance_metric": "coverage"}},
        "field 'policy.relevance_metric' is not a field of policy — field names are camelCase: did you mean "
        "'relevanceMetric'?",
    ),
    (
        "config-misspelt-keep",
        {"keep": "recomended"},
        "field 'keep' is \"recomended\", not one of the allowed values — did you mean 'recommended'? use 'all', "
        "'recommended' or 'none'",
    ),
    (
        "config-missing-items",
        {"items": None},
        "field 'items' is null, not text — write it in double quotes",
    ),
    (
        "config-num-results-not-a-number",
        {"numResults": "ten"},
        "field 'numResults' is \"ten\", not a whole number — write digits only, e.g. 25",
    ),
    (
        "config-tolerance-above-one",
        {"policy": {"tolerance": 1.5}},
        "field 'policy.tolerance' is 1.5, out of range — use at most 1",
    ),
    ("config-num-results-zero", {"numResults": 0}, "field 'numResults' is 0, out of range — use at least 1"),
    (
        "config-unknown-policy-metric",
        {"policy": {"relevanceMetric": "ndcg_at_10"}},
        "field 'policy.relevanceMetric' is \"ndcg_at_10\", not one of the allowed values — did you mean "
        "'normalized_discounted_cumulative_gain_at_10'? use 'coverage', ...",
    ),
    (
        "config-unknown-gate-metric",
        {"qualityGate": {"metric": "precision_at_100"}},
        "field 'qualityGate.metric' is \"precision_at_100\", not one of the allowed values — did you mean "
        "'precision_at_10'? ...",
    ),
]


# `sweep run --run-file shop/sweep.json` refusing the run file itself: (case, content or None for a
# missing file, the message).
RUN_FILE_CASES = [
    ("run-file-missing", None, "sweep run: shop/sweep.json: does not exist — check the path"),
    (
        "run-file-not-json",
        '{"items": "items.csv",\n "interactions": }',
        "sweep run: shop/sweep.json, line 2: is not valid JSON at column 18 (Expecting value) — correct the JSON",
    ),
    (
        "run-file-not-an-object",
        '["interactions.csv"]',
        "sweep run: shop/sweep.json: is not a JSON object — write a RunConfig object, e.g. examples/sweep.json",
    ),
    (
        "run-file-s3-path-in-a-local-run",
        '{"interactions": "s3://b/i.csv", "items": "items.csv"}',
        "sweep run: shop/sweep.json: field 'interactions' is \"s3://b/i.csv\", not a local path — a local run "
        "reads its files from disk: give a path relative to the run file",
    ),
    (
        "run-file-without-items",
        '{"interactions": "interactions.csv"}',
        "sweep run: give --items (or a --run-file that names it)",
    ),
    (
        "run-file-misspelt-field",
        '{"interactions": "i.csv", "items": "t.csv", "reportUser": 5}',
        "shop/sweep.json: field 'reportUser' is not a RunConfig field — did you mean 'reportUsers'?",
    ),
]


@pytest.fixture(scope="module")
def base_files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    folder = tmp_path_factory.mktemp("valid")
    generate(SyntheticSpec(users=60, items=200, interactions=1500, seed=3, clusters=4), folder)
    return {name: (folder / name).read_bytes() for name in ("interactions.csv", "items.csv")} | {
        "users.csv": USERS
    }


def _run(files: Files, config: dict[str, Any]) -> list[Problem]:
    run = RunConfig.model_validate(
        {"experiment": "bad", "interactions": "interactions.csv", "items": "items.csv", **config}
    )

    def open_binary(name: str) -> io.BytesIO:
        return io.BytesIO(files[name])

    with pytest.raises(InvalidInputError) as refused:
        validate_inputs(run, open_binary)
    return refused.value.problems


def _matches(problem: Problem, case: Case) -> bool:
    return (
        problem.file == case.file
        and case.message in problem.message
        and (case.line is None or problem.line == case.line)
        and (case.column is None or problem.column == case.column)
    )


def test_the_valid_base_passes(base_files: Files) -> None:
    run = RunConfig(experiment="good", interactions="interactions.csv", items="items.csv", users="users.csv")
    summary = validate_inputs(run, lambda name: io.BytesIO(base_files[name]))
    assert (summary.interactions, summary.users, summary.items) == (1500, 60, 200)
    assert [c.type for c in summary.users_columns or []] == ["string", "string"]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_validate_inputs_refuses(case: Case, base_files: Files) -> None:
    files = dict(base_files)
    case.change(files)
    problems = _run(files, case.config)
    assert any(_matches(p, case) for p in problems), "\n".join(map(str, problems))


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if not c.config or set(c.config) <= {"users", "objective"}],
    ids=lambda c: c.name,
)
def test_sweep_validate_refuses(
    case: Case, base_files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = dict(base_files)
    case.change(files)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    args = [
        "validate",
        "--interactions",
        str(tmp_path / "interactions.csv"),
        "--items",
        str(tmp_path / "items.csv"),
    ]
    if "users" in case.config:
        args += ["--users", str(tmp_path / "users.csv")]
    if "objective" in case.config:
        args += ["--objective", case.config["objective"]]
    assert main(args) == 2
    err = capsys.readouterr().err
    where = str(tmp_path / case.file) + (f", line {case.line}" if case.line else "")
    assert where in err, err
    assert case.message in err


@pytest.mark.parametrize(("name", "overrides", "expected"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_run_config_refuses_in_plain_words(name: str, overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        parse_run_config(
            {"experiment": "bad", "interactions": "i.csv", "items": "t.csv", **overrides}, "shop/sweep.json"
        )
    text = str(refused.value)
    assert len(refused.value.problems) == 1, text
    if expected.endswith("..."):
        assert text.startswith("shop/sweep.json: " + expected.removesuffix("...")), text
    else:
        assert text == "shop/sweep.json: " + expected
    assert not re.search(r"pydantic|Input should|Value error|Extra inputs|https?:", text), text


def test_the_catalogue_is_documented() -> None:
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \|(.*)$", DOCS.read_text(encoding="utf-8"), re.MULTILINE))
    names = {c.name for c in CASES} | {c[0] for c in CONFIG_CASES} | {c[0] for c in RUN_FILE_CASES}
    assert names == set(rows)
    assert len(names) >= 25
    for case in CASES:
        assert f"`{case.file}" in rows[case.name], case.name
        assert case.message in rows[case.name], case.name
    for name, _, expected in CONFIG_CASES:
        assert f"`shop/sweep.json: {expected.removesuffix('...')}" in rows[name], name
    for name, _, message in RUN_FILE_CASES:
        assert f"`{message}`" in rows[name], name
    assert all(row.rstrip().endswith("| 2 |") for row in rows.values()), "every case exits 2"
    assert f"lists the {len(names)} cases" in (DOCS.parents[1] / "README.md").read_text(encoding="utf-8")


def test_a_missing_field_is_named_with_what_it_is_for() -> None:
    with pytest.raises(InvalidInputError) as refused:
        parse_run_config({"experiment": "bad", "interactions": "i.csv"}, "sweep.json")
    message = str(refused.value)
    assert message == (
        "sweep.json: the required field 'items' is missing — add it: items CSV (ITEM_ID, the objective column, "
        "optional categorical columns): s3:// URI or relative key"
    )
    assert f"`{message}`" in DOCS.read_text(encoding="utf-8")


def test_sweep_validate_names_a_bad_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["validate", "--interactions", str(tmp_path / "i.csv"), "--items", str(tmp_path / "t.csv")]
    assert main([*args, "--objective", "TIMESTAMP"]) == 2
    err = capsys.readouterr().err
    assert "--objective TIMESTAMP: TIMESTAMP is a reserved Personalize column, not an items column" in err
    assert "Value error" not in err


@pytest.mark.parametrize(("name", "content", "expected"), RUN_FILE_CASES, ids=[c[0] for c in RUN_FILE_CASES])
def test_sweep_run_refuses_a_bad_run_file_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str | None, expected: str
) -> None:
    run_file = tmp_path / "shop" / "sweep.json"
    run_file.parent.mkdir()
    if content is not None:
        run_file.write_text(content, encoding="utf-8")
    assert main(["run", "--run-file", str(run_file)]) == 2
    captured = capsys.readouterr()
    assert expected.replace("shop/sweep.json", str(run_file)) in captured.err, captured.err
    assert "starting the local cloud" not in captured.out
