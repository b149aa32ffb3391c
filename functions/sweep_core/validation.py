"""Validation of a run's data files before anything is created in Personalize, so bad input costs
nothing: encoding, headers, types, ids, timestamps, the objective column, Personalize's minimums
and limits, and items referenced by interactions.

Files are streamed in blocks of whole lines, so memory stays bounded by the number of distinct
users and items, not by the file. Runs inside Lambda: standard library and pydantic only.
"""

from __future__ import annotations

import csv
import heapq
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import BinaryIO

from pydantic import BaseModel, Field

from sweep_core.errors import InvalidInputError, Problem
from sweep_core.models import COLUMN_NAME, RunConfig
from sweep_core.schemas import ID_COLUMNS, Column, ColumnType, DatasetKind

# Personalize's quotas (developer guide, "Endpoints and quotas").
MIN_INTERACTIONS = 1000
MIN_ACTIVE_USERS = 25
MAX_FILE_BYTES = 100 * 1024**3
MAX_ID_CHARS = 256
MAX_STRING_CHARS = 1000
MAX_METADATA_COLUMNS: dict[DatasetKind, int] = {"interactions": 5, "items": 100, "users": 25}
# Unix seconds up to 2100-01-01; a 13-digit value is almost always milliseconds.
MAX_TIMESTAMP = 4_102_444_800
DEFAULT_MAX_PROBLEMS = 25
# Problem.file of checks on the RunConfig itself rather than on a data file.
CONFIG_FILE = "run configuration"

REQUIRED_COLUMNS: dict[DatasetKind, tuple[str, ...]] = {
    "interactions": ("USER_ID", "ITEM_ID", "TIMESTAMP"),
    "items": ("ITEM_ID",),
    "users": ("USER_ID",),
}
_INTERACTION_RESERVED = frozenset({"USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"})
# Types Personalize fixes for these columns (sweep_core.schemas.INTERACTION_FIELDS), whatever the
# values look like.
_RESERVED_INTERACTION_COLUMNS = {
    "TIMESTAMP": Column(name="TIMESTAMP", type="long"),
    "EVENT_TYPE": Column(name="EVENT_TYPE", type="string"),
    "EVENT_VALUE": Column(name="EVENT_VALUE", type="float", nullable=True),
}
# Blocks of about this many bytes, cut at a line end: large enough that per-block work is
# amortised, small enough for a 128 MB Lambda.
_BLOCK_BYTES = 8 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
# Files that are not text at all, recognised by their first bytes: what they are, and what to do.
_NOT_CSV = {
    b"\x1f\x8b": ("is gzip-compressed", "gunzip it first: Personalize imports plain CSV files"),
    b"PK\x03\x04": (
        "is a ZIP archive (or an Excel workbook)",
        "unzip it, or export the sheet as CSV (comma-separated, UTF-8)",
    ),
    b"\xff\xfe": ("is UTF-16 text", "save it as UTF-8 (for example: iconv -f utf-16 -t utf-8)"),
    b"\xfe\xff": ("is UTF-16 text", "save it as UTF-8 (for example: iconv -f utf-16 -t utf-8)"),
}
# Separators some spreadsheets write instead of commas.
_OTHER_DELIMITERS = {";": "';'", "\t": "tabs", "|": "'|'"}
_INTEGER = re.compile(r"[+-]?\d+")
# What a value that passes every row check looks like, for each reserved interactions column. An
# interactions file with only these columns is checked and counted block by block by one regular
# expression (C speed); a block with any other line goes through the row checks, which say why.
# An id: 1-256 characters, not only blanks (the row checks strip before calling an id empty).
_FAST_ID = r'((?![^\S\r\n]*(?:,|\r?$))[^,"\r\n]{1,256})'
_FAST_FIELDS = {
    "USER_ID": _FAST_ID,
    "ITEM_ID": _FAST_ID,
    "TIMESTAMP": r"(?:\d{1,9}|[1-3]\d{9})",
    "EVENT_TYPE": r'[^,"\r\n]{0,1000}',
    "EVENT_VALUE": r"(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)?",
}


class DataSummary(BaseModel):
    """What the workflow needs to know about valid inputs: sizes, and each file's columns with
    their inferred types (the schemas are built from these)."""

    interactions: int
    users: int
    users_with_2plus: int
    first_users: list[str] = Field(
        description="The interactions file's first user ids in natural order (numbers as numbers, then "
        "text), as many as the report may need: the report users, chosen while the file streams by."
    )
    items: int
    interaction_columns: list[Column]
    items_columns: list[Column]
    users_columns: list[Column] | None = None
    objective_min: float
    objective_max: float


@dataclass
class _Findings:
    """The problems found in one file, capped; the rest are only counted. A problem of a `kind` that
    can repeat on every row is listed once, at its first row, with the count of the other rows."""

    file: str
    cap: int
    problems: list[Problem] = field(default_factory=list)
    more: int = 0
    # The problems counted in `more`, by (kind, column) (None: no kind): enough to merge the findings
    # of consecutive pieces of one file exactly (sweep_core.chunks).
    overflow: Counter[tuple[str, str | None] | None] = field(default_factory=Counter)
    _first_of_kind: dict[tuple[str, str | None], int] = field(default_factory=dict)
    _repeats: Counter[int] = field(default_factory=Counter)

    def add(
        self,
        message: str,
        fix: str,
        line: int | None = None,
        column: str | None = None,
        *,
        kind: str | None = None,
        repeats: int = 0,
    ) -> None:
        key = (kind, column) if kind else None
        if key and key in self._first_of_kind:
            self._repeats[self._first_of_kind[key]] += 1 + repeats
            return
        if len(self.problems) < self.cap:
            if key:
                self._first_of_kind[key] = len(self.problems)
            self._repeats[len(self.problems)] += repeats
            self.problems.append(Problem(file=self.file, message=message, fix=fix, line=line, column=column))
        else:
            self.more += 1
            self.overflow[key] += 1

    def kinds(self) -> list[str | None]:
        """The kind each listed problem was added with (None: none), in list order."""
        kinds: list[str | None] = [None] * len(self.problems)
        for (kind, _), index in self._first_of_kind.items():
            kinds[index] = kind
        return kinds

    def replay(self, problem: Problem, kind: str | None, *, line_offset: int = 0) -> None:
        """Add a problem another _Findings listed (with its repeats), as if its rows had been added here
        one by one; its line moves by `line_offset`."""
        key = (kind, problem.column) if kind else None
        if (key and key in self._first_of_kind) or len(self.problems) < self.cap:
            line = problem.line + line_offset if problem.line is not None else None
            self.add(problem.message, problem.fix, line, problem.column, kind=kind, repeats=problem.repeats)
        else:
            self.more += 1 + problem.repeats
            self.overflow[key] += 1 + problem.repeats

    def replay_overflow(self, key: tuple[str, str | None] | None, count: int) -> None:
        """Count problems another _Findings only counted (after listing all it could)."""
        if key and key in self._first_of_kind:
            self._repeats[self._first_of_kind[key]] += count
        else:
            self.more += count
            self.overflow[key] += count

    def collected(self) -> list[Problem]:
        """The problems, each with the number of further rows like it."""
        return [
            replace(p, repeats=self._repeats[i]) if self._repeats[i] else p
            for i, p in enumerate(self.problems)
        ]


@dataclass
class _ColumnState:
    """Running type inference of one metadata column."""

    name: str
    empty: int = 0
    integer: bool = True
    numeric: bool = True

    def column(self) -> Column:
        kind: ColumnType = "long" if self.integer and self.numeric else "float" if self.numeric else "string"
        return Column(name=self.name, type=kind, nullable=self.empty > 0)


@dataclass
class _FileResult:
    rows: int = 0
    columns: list[Column] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    per_user: Counter[str] = field(default_factory=Counter)
    objective_min: float = math.inf
    objective_max: float = -math.inf


def validate_inputs(
    config: RunConfig,
    open_binary: Callable[[str], BinaryIO],
    *,
    max_problems_per_file: int = DEFAULT_MAX_PROBLEMS,
) -> DataSummary:
    """Check every file the run names and return what the workflow needs to create its datasets.

    `open_binary(path)` opens config.interactions / .items / .users (S3 bodies or local files).
    Raises InvalidInputError listing every problem found, up to `max_problems_per_file` per file.
    """
    others = check_other_files(config, open_binary, max_problems_per_file)
    interactions_found = _Findings(config.interactions, max_problems_per_file)
    interactions = _validate_file(
        "interactions", config.interactions, open_binary, interactions_found, known_items=others.known_items
    )
    return summarise(config, others, interactions, interactions_found)


@dataclass
class OtherFiles:
    """The checks of everything but the interactions file: the RunConfig, the items and users files."""

    config_found: _Findings
    items_found: _Findings
    items: _FileResult
    users_found: _Findings | None = None
    users: _FileResult | None = None

    @property
    def known_items(self) -> set[str] | None:
        # A broken items file would make every interaction look orphaned: check references only
        # against an items file that could be read.
        return self.items.ids if self.items.columns else None

    def check(self, interactions_found: _Findings) -> None:
        """Raise InvalidInputError with every file's problems, in the order of the files in the run."""
        findings = [self.config_found, self.items_found, interactions_found]
        findings += [self.users_found] if self.users_found else []
        problems = [p for f in findings for p in f.collected()]
        if problems:
            raise InvalidInputError(problems, more=sum(f.more for f in findings))


def check_other_files(config: RunConfig, open_binary: Callable[[str], BinaryIO], cap: int) -> OtherFiles:
    config_found = _Findings(CONFIG_FILE, cap)
    config_found.problems.extend(check_config(config))
    items_found = _Findings(config.items, cap)
    items = _validate_file("items", config.items, open_binary, items_found, objective=config.objective)
    others = OtherFiles(config_found, items_found, items)
    if config.users:
        others.users_found = _Findings(config.users, cap)
        others.users = _validate_file("users", config.users, open_binary, others.users_found)
    return others


def summarise(
    config: RunConfig, others: OtherFiles, interactions: _FileResult, interactions_found: _Findings
) -> DataSummary:
    """The run's DataSummary, or InvalidInputError with every file's problems (interactions' whole-file
    checks, Personalize's minimums, included)."""
    if interactions.columns and not interactions_found.problems:
        _check_minimums(interactions, interactions_found)
    others.check(interactions_found)
    # The report's users: the sample users, then the first reportUsers others, so as many may be needed.
    wanted = config.report_users + len(config.sample_users)
    return DataSummary(
        interactions=interactions.rows,
        users=len(interactions.per_user),
        first_users=heapq.nsmallest(wanted, interactions.per_user, key=natural_order),
        users_with_2plus=_active_users(interactions.per_user),
        items=others.items.rows,
        interaction_columns=interactions.columns,
        items_columns=others.items.columns,
        users_columns=others.users.columns if others.users else None,
        objective_min=others.items.objective_min,
        objective_max=others.items.objective_max,
    )


def check_config(config: RunConfig) -> list[Problem]:
    """RunConfig checks across fields that pydantic cannot express: one file named twice.
    (The objective column is checked against the items header while the items file is read.)"""
    findings = _Findings(CONFIG_FILE, DEFAULT_MAX_PROBLEMS)
    named = [("interactions", config.interactions), ("items", config.items), ("users", config.users)]
    paths = [path for _, path in named if path]
    for field_name, path in named:
        if path and paths.count(path) > 1:
            findings.add(
                f"{field_name} names the same file as another input: {path}",
                "give interactions, items and users their own files",
                column=field_name,
            )
    if config.titles and config.titles in paths:
        findings.add(
            f"titles names a data file: {config.titles}",
            "titles is a separate ITEM_ID,TITLE file used only by the report",
            column="titles",
        )
    return findings.problems


def natural_order(user: str) -> tuple[int, int, str]:
    """Sort key of ids: numeric ids as numbers (2 before 10), others after them as text; a stable choice."""
    return (0, int(user), "") if user.isascii() and user.isdigit() else (1, 0, user)


def _active_users(per_user: Counter[str]) -> int:
    return sum(1 for count in per_user.values() if count >= 2)


def _check_minimums(result: _FileResult, findings: _Findings) -> None:
    if result.rows < MIN_INTERACTIONS:
        findings.add(
            f"{result.rows} interactions; Personalize trains on at least {MIN_INTERACTIONS}",
            f"add interactions until there are {MIN_INTERACTIONS} or more",
        )
    active = _active_users(result.per_user)
    if active < MIN_ACTIVE_USERS:
        findings.add(
            f"{active} users have 2 or more interactions; Personalize needs at least {MIN_ACTIVE_USERS}",
            f"include at least {MIN_ACTIVE_USERS} users with two or more interactions each",
            column="USER_ID",
        )


def _validate_file(
    kind: DatasetKind,
    name: str,
    open_binary: Callable[[str], BinaryIO],
    findings: _Findings,
    *,
    objective: str | None = None,
    known_items: set[str] | None = None,
) -> _FileResult:
    try:
        stream = open_binary(name)
    except Exception as error:
        # Missing files and S3's ClientError (NoSuchKey, AccessDenied; botocore is not imported
        # here) are the user's to fix; anything else is a bug and propagates.
        s3_code = getattr(error, "response", {}).get("Error", {}).get("Code")
        s3_error = any(cls.__name__ == "ClientError" for cls in type(error).__mro__)
        if not (s3_error or isinstance(error, OSError | KeyError)):
            raise
        if isinstance(error, FileNotFoundError | KeyError) or s3_code in ("NoSuchKey", "404"):
            findings.add("does not exist", "check the path and that the file was uploaded")
        else:
            reason = s3_code if s3_error else getattr(error, "strerror", None) or type(error).__name__
            findings.add(f"cannot be read ({reason})", "check the path and that the file was uploaded")
        return _FileResult()
    try:
        return _FileCheck(kind, findings, objective, known_items).run(_blocks(stream, findings))
    except _NotText:
        return _FileResult()
    finally:
        stream.close()


class _NotText(Exception):
    """The file is not a CSV text file at all (already reported); its rows are not checked."""


def _blocks(stream: BinaryIO, findings: _Findings, *, whole_file: bool = True) -> Iterator[tuple[int, str]]:
    """(number of the block's first line, text of whole lines) for the whole file, checking the
    encoding and the size limit on the way. Not `whole_file`: lines from the middle of a file (no
    leading file signature or byte order mark to look for, no size limit), numbered from 1."""
    carry = b""
    line = 1
    size = 0
    first = whole_file
    while True:
        data = stream.read(_BLOCK_BYTES)
        size += len(data)
        if first:
            first = False
            for magic, (what, fix) in _NOT_CSV.items():
                if data.startswith(magic):
                    findings.add(what, fix)
                    raise _NotText
            data = data.removeprefix(_BOM)
        if not data:
            if carry:
                yield line, _decode(carry + b"\n", line, findings)
            break
        data = carry + data
        end = data.rfind(b"\n") + 1
        if end == 0:
            carry = data
            continue
        carry = data[end:]
        block = data[:end]
        yield line, _decode(block, line, findings)
        line += block.count(b"\n")
    if whole_file:
        check_size(size, findings)


def check_size(size: int, findings: _Findings) -> None:
    if size > MAX_FILE_BYTES:
        findings.add(
            f"is {size / 1024**3:.1f} GiB; a Personalize import takes at most {MAX_FILE_BYTES // 1024**3} GiB",
            "split the data or keep only the most recent interactions",
        )


def _decode(block: bytes, line: int, findings: _Findings) -> str:
    if block.isascii():
        return block.decode("ascii")
    try:
        return block.decode("utf-8")
    except UnicodeDecodeError as error:
        findings.add(
            f"is not UTF-8 (byte 0x{block[error.start]:02x})",
            "save the file as UTF-8 (for example: iconv -f latin1 -t utf-8)",
            line=line + block.count(b"\n", 0, error.start),
        )
        return block.decode("utf-8", errors="replace")


def no_rows(findings: _Findings) -> None:
    findings.add("has a header but no data rows", "add data rows below the header", line=2)


class _FileCheck:
    """Row checks of one file; the header decides which check applies to each column."""

    def __init__(
        self, kind: DatasetKind, findings: _Findings, objective: str | None, known_items: set[str] | None
    ) -> None:
        self.kind = kind
        self.findings = findings
        self.objective = objective
        self.known_items = known_items
        self.result = _FileResult()
        self.header: list[str] = []
        self.states: list[_ColumnState] = []
        self.id_index = -1
        self.user_index = -1
        self.fast_line: re.Pattern[str] | None = None
        self.user_of = self.item_of = itemgetter(0)
        # The objective's numbers, and its first bad value of each kind: (line, value, rows).
        self.objective_numbers = 0
        self.objective_bad: dict[str, tuple[int, str, int]] = {}

    def run(self, blocks: Iterator[tuple[int, str]]) -> _FileResult:
        empty = True
        for first_line, text in blocks:
            if empty:
                empty = False
                newline = text.find("\n")
                if not self._take_header(text[:newline].rstrip("\r")):
                    return self.result
                text, first_line = text[newline + 1 :], first_line + 1
            if text:
                self._block(first_line, text)
        if empty:
            self.findings.add(
                "is empty", f"write a header line ({','.join(REQUIRED_COLUMNS[self.kind])}) and data"
            )
            return self.result
        if self.result.rows == 0:
            no_rows(self.findings)
        elif self.kind == "items" and self.objective:
            self._objective_findings()
        self.result.columns = [self._column(state) for state in self.states]
        return self.result

    def _column(self, state: _ColumnState) -> Column:
        """Reserved columns have the type Personalize gives them; the others what their values hold."""
        if state.name in ID_COLUMNS[self.kind]:
            return Column(name=state.name, type="string")
        if self.kind == "interactions" and state.name in _RESERVED_INTERACTION_COLUMNS:
            return _RESERVED_INTERACTION_COLUMNS[state.name]
        if self.kind == "items" and state.name == self.objective:
            return Column(name=state.name, type="float")
        return state.column()

    def _take_header(self, line: str) -> bool:
        if not line.strip():
            self.findings.add(
                "the header line is empty",
                "put the header on the first line, e.g. " + ",".join(REQUIRED_COLUMNS[self.kind]),
                line=1,
            )
            return False
        header = next(csv.reader([line]))
        delimiter = max(_OTHER_DELIMITERS, key=lambda d: len(next(csv.reader([line], delimiter=d))))
        split = next(csv.reader([line], delimiter=delimiter))
        if len(split) > len(header):
            self.findings.add(
                f"uses {_OTHER_DELIMITERS[delimiter]} between fields",
                f"Personalize needs commas: save it as comma-separated CSV (header {','.join(split)})",
                line=1,
            )
            return False
        if not self._header_ok(header):
            return False
        self.header = header
        self.states = [_ColumnState(name) for name in header]
        self.id_index = header.index(ID_COLUMNS[self.kind][-1])
        if self.kind == "interactions":
            self.user_index = header.index("USER_ID")
            if set(header) <= _FAST_FIELDS.keys():
                self.fast_line = re.compile(
                    "^" + ",".join(_FAST_FIELDS[name] for name in header) + "\r?$", re.MULTILINE
                )
                # findall gives (USER_ID, ITEM_ID) groups in header order.
                user_first = header.index("USER_ID") < header.index("ITEM_ID")
                self.user_of, self.item_of = (
                    (itemgetter(0), itemgetter(1)) if user_first else (itemgetter(1), itemgetter(0))
                )
        return True

    def _header_ok(self, header: list[str]) -> bool:
        ok = True
        upper = {name.strip().upper(): name for name in header}
        for required in REQUIRED_COLUMNS[self.kind]:
            if required not in header:
                hint = (
                    f"rename {upper[required]!r} to {required}"
                    if required in upper
                    else f"add the {required} column"
                )
                self.findings.add(f"the header has no {required} column", hint, line=1, column=required)
                ok = False
        if self.kind == "items" and self.objective and self.objective not in header:
            self.findings.add(
                f"the header has no {self.objective} column, the run's objective",
                _objective_hint(self.objective, [h for h in header if h not in ID_COLUMNS["items"]]),
                line=1,
                column=self.objective,
            )
            ok = False
        for position, name in enumerate(header, start=1):
            if not COLUMN_NAME.match(name):
                self.findings.add(
                    f"column {position} is named {name!r}, not a valid schema field name",
                    "use letters, digits and '_' only, not starting with a digit",
                    line=1,
                    column=name or f"#{position}",
                )
                ok = False
            elif header.count(name) > 1 and header.index(name) == position - 1:
                self.findings.add(
                    f"column {name} appears twice", "keep one column per name", line=1, column=name
                )
                ok = False
        reserved = _INTERACTION_RESERVED if self.kind == "interactions" else set(ID_COLUMNS[self.kind])
        metadata = [h for h in header if h not in reserved]
        if len(metadata) > MAX_METADATA_COLUMNS[self.kind]:
            self.findings.add(
                f"{len(metadata)} metadata columns; Personalize allows {MAX_METADATA_COLUMNS[self.kind]} "
                f"in the {self.kind} dataset",
                "drop the columns the sweep does not need",
                line=1,
            )
            ok = False
        return ok

    def _block(self, first_line: int, text: str) -> None:
        if self.fast_line is not None and self._fast_block(self.fast_line, text):
            return
        reader = csv.reader(text.splitlines())
        for row in reader:
            self._row(first_line + reader.line_num - 1, row)

    def _fast_block(self, fast_line: re.Pattern[str], text: str) -> bool:
        """Count a block whose every line passes the row checks; False (nothing counted) when any
        line needs them to say what is wrong."""
        rows = fast_line.findall(text)
        if len(rows) != text.count("\n"):
            return False
        if self.known_items is not None and not set(map(self.item_of, rows)) <= self.known_items:
            return False
        self.result.per_user.update(map(self.user_of, rows))
        self.result.rows += len(rows)
        return True

    def _row(self, line: int, row: list[str]) -> None:
        if not row:
            return
        if len(row) != len(self.header):
            self.findings.add(
                f"{len(row)} fields where the header has {len(self.header)}",
                "quote values that contain commas and give every row one value per column",
                line=line,
                kind="fields",
            )
            return
        self.result.rows += 1
        for index, value in enumerate(row):
            self._value(line, index, value)
        if self.kind == "interactions":
            self.result.per_user[row[self.user_index]] += 1
        else:
            self._unique_id(line, row[self.id_index])

    def _unique_id(self, line: int, value: str) -> None:
        if value in self.result.ids:
            self.findings.add(
                f"{ID_COLUMNS[self.kind][-1]} {value!r} appears more than once",
                "keep one row per id",
                line=line,
                column=ID_COLUMNS[self.kind][-1],
                kind="duplicate id",
            )
        self.result.ids.add(value)

    def _value(self, line: int, index: int, value: str) -> None:
        name = self.header[index]
        add = self.findings.add
        if name in ID_COLUMNS[self.kind]:
            if not value.strip():
                add(
                    f"{name} is empty",
                    f"give every row a value in {name}",
                    line=line,
                    column=name,
                    kind="empty",
                )
            elif len(value) > MAX_ID_CHARS:
                add(
                    f"{name} has {len(value)} characters",
                    f"keep ids to {MAX_ID_CHARS}",
                    line=line,
                    column=name,
                    kind="too long",
                )
            elif name == "ITEM_ID" and self.kind == "interactions":
                self._known_item(line, value)
            return
        if self.kind == "interactions" and name == "TIMESTAMP":
            self._timestamp(line, value)
            return
        if name == self.objective and self.kind == "items":
            self._objective(line, value)
            return
        self._metadata(line, index, value)

    def _known_item(self, line: int, value: str) -> None:
        if self.known_items is not None and value not in self.known_items:
            self.findings.add(
                f"ITEM_ID {value!r} is not in the items file",
                "add the item to the items file or drop its interactions",
                line=line,
                column="ITEM_ID",
                kind="unknown item",
            )

    def _timestamp(self, line: int, value: str) -> None:
        text = value.strip()
        if not _INTEGER.fullmatch(text):
            self.findings.add(
                f"TIMESTAMP {value!r} is not a whole number of seconds",
                "write Unix epoch seconds, e.g. 881250949 (not a date string)",
                line=line,
                column="TIMESTAMP",
                kind="timestamp text",
            )
            return
        seconds = int(text)
        if seconds > MAX_TIMESTAMP * 100:
            self.findings.add(
                f"TIMESTAMP {text} looks like milliseconds",
                "divide by 1000: Personalize expects Unix epoch seconds",
                line=line,
                column="TIMESTAMP",
                kind="timestamp milliseconds",
            )
        elif not 0 <= seconds <= MAX_TIMESTAMP:
            self.findings.add(
                f"TIMESTAMP {text} is outside 1970-2100",
                "write Unix epoch seconds",
                line=line,
                column="TIMESTAMP",
                kind="timestamp range",
            )

    def _objective(self, line: int, value: str) -> None:
        text = value.strip()
        number = _number(text)
        if not text or number is None or not math.isfinite(number):
            kind = "empty" if not text else "text" if number is None else "not finite"
            first_line, first_value, rows = self.objective_bad.get(kind, (line, value, 0))
            self.objective_bad[kind] = (first_line, first_value, rows + 1)
            return
        self.objective_numbers += 1
        self.result.objective_min = min(self.result.objective_min, number)
        self.result.objective_max = max(self.result.objective_max, number)

    def _objective_findings(self) -> None:
        """The objective's problems, once per kind: a text column is named as such with the numeric
        columns to choose from, and a constant one is refused because it gives nothing to optimise."""
        objective = self.objective
        text = self.objective_bad.get("text")
        if text and not self.objective_numbers:
            line, value, _ = text
            numeric = [
                s.name
                for s in self.states
                if s.numeric
                and s.empty < self.result.rows
                and s.name not in (objective, *ID_COLUMNS["items"])
            ]
            self.findings.add(
                f"the objective {objective} holds text, not numbers ({value!r} on line {line})",
                f"set objective to a numeric column of this file: {', '.join(numeric)}"
                if numeric
                else "add a numeric column for the objective (e.g. the margin or price of each item)",
                column=objective,
            )
            return
        for kind, (line, value, rows) in self.objective_bad.items():
            what = "empty" if kind == "empty" else f"{value!r}, not a finite number"
            self.findings.add(
                f"the objective {objective} is {what}",
                "give every item a numeric value (Personalize cannot optimise a null objective)",
                line=line,
                column=objective,
                kind=f"objective {kind}",
                repeats=rows - 1,
            )
        if (
            self.objective_numbers
            and not self.objective_bad
            and self.result.objective_min == self.result.objective_max
        ):
            self.findings.add(
                f"the objective {objective} is {self.result.objective_min:g} on every item",
                "objective optimization has nothing to trade, so every sensitivity would train the same model "
                "(each a paid training); choose a column whose values differ between items",
                column=objective,
            )

    def _metadata(self, line: int, index: int, value: str) -> None:
        state = self.states[index]
        text = value.strip()
        if not text:
            state.empty += 1
            return
        if len(value) > MAX_STRING_CHARS:
            self.findings.add(
                f"{state.name} has {len(value)} characters",
                f"keep values to {MAX_STRING_CHARS} characters",
                line=line,
                column=state.name,
                kind="too long",
            )
        if state.numeric:
            if _INTEGER.fullmatch(text):
                return
            state.integer = False
            number = _number(text)
            state.numeric = number is not None and math.isfinite(number)
        if self.kind == "interactions" and state.name == "EVENT_VALUE" and not state.numeric:
            state.numeric = True
            self.findings.add(
                f"EVENT_VALUE {value!r} is not a number",
                "write a number or leave it empty",
                line=line,
                column="EVENT_VALUE",
                kind="event value",
            )


def _objective_hint(objective: str, columns: list[str]) -> str:
    """How to name an objective the items header has not got: the column differing only in case,
    else every column."""
    same = [c for c in columns if c.lower() == objective.lower()]
    if same:
        return f"did you mean {same[0]}? Column names are case-sensitive"
    return f"add a numeric {objective} column or set objective to one of: {', '.join(columns)}"


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
