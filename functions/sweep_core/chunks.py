"""Validation of an interactions file too large for one Lambda: the file is cut into byte ranges
(chunks) that a Distributed Map validates in parallel, and the chunks' results are merged into
exactly the problems and the summary `validation.validate_inputs` gives for the whole file.

A chunk owns the lines that start inside it: it skips the end of a line begun in the chunk before
and reads past its own end to finish its last line. Its problems carry chunk-relative line numbers;
the merge adds the line counts of the chunks before it. This companion of sweep_core.validation uses
its row checks and problem lists directly.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import BinaryIO, NamedTuple, cast

from pydantic import Field

from sweep_core.errors import Problem
from sweep_core.models import CamelModel, RunConfig
from sweep_core.progress import describe_bytes
from sweep_core.steps import Chunk, ChunkJob, PendingRun
from sweep_core.validation import (
    CONFIG_FILE,
    DataSummary,
    OtherFiles,
    _blocks,
    _FileCheck,
    _FileResult,
    _Findings,
    _NotText,
    check_other_files,
    check_size,
    no_rows,
    summarise,
)

# The template's default ValidationChunkBytes: the workflow validates an interactions file larger than
# this in chunks, and `sweep run`/`sweep validate` validate one the same way, in parallel on the
# machine's cores (objective_sweep/localcloud/local_chunks.py). tests/unit/test_definition.py checks
# that template.yaml's default says the same.
CHUNKED_ABOVE_BYTES = 256 * 1024**2

# How far past its end a chunk reads to finish its last line. No interactions row comes near it (at
# most 3 ids of 256 characters and 5 values of 1000, 4 bytes each in UTF-8: about 23 KB).
MAX_LINE_BYTES = 1024 * 1024
# The header must end within this many bytes of the start of the file.
MAX_HEADER_BYTES = 64 * 1024
_QUOTED_BREAK = "quoted line break"
_LONG_LINE = "long line"


class ChunkProblem(CamelModel):
    """A problem a chunk found, its line relative to the chunk's first line, and its kind (the key
    `_Findings` groups repeats by)."""

    message: str
    fix: str
    line: int | None = None
    column: str | None = None
    repeats: int = 0
    kind: str | None = None


class Overflow(CamelModel):
    """Problems a chunk only counted, by kind and column."""

    kind: str | None = None
    column: str | None = None
    count: int


class ColumnState(CamelModel):
    name: str
    empty: int
    integer: bool
    numeric: bool


class ChunkResult(CamelModel):
    """One chunk's findings, as stored in S3 for FinishValidation (too large for the state: the
    per-user counts)."""

    index: int
    lines: int = Field(description="Lines that start in the chunk.")
    rows: int
    problems: list[ChunkProblem]
    overflow: list[Overflow]
    columns: list[ColumnState]
    users: dict[str, int]


def plan(data_start: int, size: int, chunk_bytes: int) -> list[Chunk]:
    """Byte ranges of at most `chunk_bytes` covering the data after the header."""
    starts = range(data_start, size, chunk_bytes)
    return [Chunk(index=i, start=s, end=min(s + chunk_bytes, size)) for i, s in enumerate(starts)]


def header_end(head: bytes) -> int:
    """The offset just past the header line in the file's first bytes (all of them if no line ends)."""
    newline = head.find(b"\n")
    return len(head) if newline == -1 else newline + 1


class BeforeRows(NamedTuple):
    """What a chunked validation knows before it reads the interactions rows."""

    others: OtherFiles
    data_start: int  # the offset of line 2, the first after the header
    header: str  # the header line as written


def check_before_rows(
    config: RunConfig,
    open_binary: Callable[[str], BinaryIO],
    read: Callable[[int, int], bytes],
    size: int,
    cap: int,
) -> BeforeRows:
    """Check everything but the interactions rows: the run configuration, the items and users files
    and the interactions header (so that their problems stop a run before the parallel pass over the
    rows). `read(first, last)` returns the interactions file's bytes first..last (inclusive), `size`
    its length. Raises InvalidInputError with every problem found."""
    others = check_other_files(config, open_binary, cap)
    head = read(0, min(size, MAX_HEADER_BYTES) - 1)
    data_start = header_end(head)
    header_found, header = check_header(head[:data_start], config.interactions, cap)
    others.check(header_found)
    if header is None:
        raise RuntimeError(f"the header of {config.interactions} was refused without a problem to report")
    return BeforeRows(others, data_start, header)


def check_header(head: bytes, file: str, cap: int) -> tuple[_Findings, str | None]:
    """The header line's problems (as validate_inputs reports them) and the line itself when it is good.
    `head` is the file's first bytes up to and including the header's line end."""
    findings = _Findings(file, cap)
    check = _FileCheck("interactions", findings, None, None)
    try:
        for _, text in _blocks(io.BytesIO(head), findings):
            line = text.split("\n", 1)[0].rstrip("\r")
            return findings, line if check._take_header(line) and not findings.problems else None
    except _NotText:
        return findings, None
    return findings, None


def validate_chunk(
    job: ChunkJob, chunk: Chunk, read: Callable[[int, int], bytes], known_items: set[str] | None
) -> ChunkResult:
    """Check the lines that start in `chunk`. `read(first, last)` returns the file's bytes first..last
    (inclusive, as an HTTP Range; fewer at the end of the file)."""
    findings = _Findings(job.file, 2 * job.max_problems)
    check = _FileCheck("interactions", findings, None, known_items)
    if not check._take_header(job.header):
        raise ValueError(f"the header of {job.file} was checked before it was split: {job.header!r}")
    # One byte before the chunk says whether a line starts at its first byte.
    first = chunk.start - 1 if chunk.start > job.data_start else chunk.start
    last = min(chunk.end + MAX_LINE_BYTES, job.size) - 1
    data = read(first, last)
    owned_end = chunk.end - first  # index of the chunk's end in `data`
    begin = 0
    if chunk.start > job.data_start:
        newline = data.find(b"\n", 0, owned_end - 1)
        if newline == -1:
            # Every byte belongs to a line that started in an earlier chunk.
            return _result(chunk, check, findings, lines=0)
        begin = newline + 1
    stop = data.find(b"\n", owned_end - 1)
    long_line = None
    if stop != -1:
        owned, lines = memoryview(data)[begin : stop + 1], data.count(b"\n", begin, stop + 1)
    elif first + len(data) >= job.size:
        owned = memoryview(data)[begin:]
        lines = data.count(b"\n", begin) + 1
    else:
        # The chunk's last line runs on past MAX_LINE_BYTES: checked only up to the line before it.
        owned_lines = data.count(b"\n", begin, owned_end)
        cut = data.rfind(b"\n", begin, owned_end) + 1 or begin
        owned, lines = memoryview(data)[begin:cut], owned_lines + 1
        long_line = lines
    for first_line, text in _blocks(cast(BinaryIO, _Reader(owned)), findings, whole_file=False):
        _check_block(check, findings, first_line, text, job.chunk_bytes)
    if long_line is not None:
        findings.add(
            f"a line longer than {MAX_LINE_BYTES // 1024} KiB; no interactions row is that long",
            "check that the file is CSV with one interaction per line",
            line=long_line,
            kind=_LONG_LINE,
        )
    return _result(chunk, check, findings, lines=lines)


class _Reader:
    """read(n) over a slice of the chunk's bytes, copying only what is read: the chunk is not copied whole."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._position = 0

    def read(self, size: int) -> bytes:
        part = self._view[self._position : self._position + size].tobytes()
        self._position += len(part)
        return part


def _check_block(
    check: _FileCheck, findings: _Findings, first_line: int, text: str, chunk_bytes: int
) -> None:
    """Row checks of a block, one record per line: a quoted value with a line break cannot be split
    safely between chunks, so it is refused here (a whole-file validation would accept it)."""
    lines = text.split("\n")[:-1] if '"' in text else []
    if not any(line.count('"') % 2 for line in lines):
        check._block(first_line, text)
        return
    for i, line in enumerate(lines):
        if line.count('"') % 2:
            findings.add(
                "a quoted value breaks onto the next line (or a quote is not closed)",
                f"files over {describe_bytes(chunk_bytes, None)} are validated in parallel pieces, which needs "
                "one record per line: remove the line breaks inside quoted values",
                line=first_line + i,
                kind=_QUOTED_BREAK,
            )
        else:
            check._block(first_line + i, line + "\n")


def _result(chunk: Chunk, check: _FileCheck, findings: _Findings, *, lines: int) -> ChunkResult:
    problems = [
        ChunkProblem(message=p.message, fix=p.fix, line=p.line, column=p.column, repeats=p.repeats, kind=kind)
        for p, kind in zip(findings.collected(), findings.kinds(), strict=True)
    ]
    overflow = [
        Overflow(kind=key[0] if key else None, column=key[1] if key else None, count=count)
        for key, count in findings.overflow.items()
    ]
    return ChunkResult(
        index=chunk.index,
        lines=lines,
        rows=check.result.rows,
        problems=problems,
        overflow=overflow,
        columns=[
            ColumnState(name=s.name, empty=s.empty, integer=s.integer, numeric=s.numeric)
            for s in check.states
        ],
        users=dict(check.result.per_user),
    )


def merge(
    config: RunConfig, job: ChunkJob, others: OtherFiles, results: Iterable[ChunkResult]
) -> DataSummary:
    """The whole file's summary from its chunks' results (in index order), or InvalidInputError with the
    problems validate_inputs would list, at their lines in the file."""
    findings = _Findings(job.file, job.max_problems)
    check = _FileCheck("interactions", findings, None, None)
    check._take_header(job.header)
    per_user: Counter[str] = Counter()
    rows = 0
    line_offset = 1  # the header
    for expected, result in enumerate(results):
        if result.index != expected:
            raise ValueError(f"chunk {result.index} of {job.file} came where chunk {expected} belongs")
        for p in result.problems:
            problem = Problem(job.file, p.message, p.fix, line=p.line, column=p.column, repeats=p.repeats)
            findings.replay(problem, p.kind, line_offset=line_offset)
        for o in result.overflow:
            findings.replay_overflow((o.kind, o.column) if o.kind else None, o.count)
        line_offset += result.lines
        rows += result.rows
        per_user.update(result.users)
        for state, seen in zip(check.states, result.columns, strict=True):
            state.empty += seen.empty
            state.integer = state.integer and seen.integer
            state.numeric = state.numeric and seen.numeric
    check_size(job.size, findings)
    if rows == 0:
        no_rows(findings)
    interactions = _FileResult(rows=rows, per_user=per_user)
    interactions.columns = [check._column(state) for state in check.states]
    return summarise(config, others, interactions, findings)


def others_from(pending: PendingRun) -> OtherFiles:
    """The checks of the other files as PrepareRun left them: passed (else it would have stopped)."""
    items = _FileResult(rows=pending.items, columns=pending.items_columns)
    items.objective_min, items.objective_max = pending.objective_min, pending.objective_max
    config = pending.config
    others = OtherFiles(_Findings(CONFIG_FILE, 1), _Findings(config.items, 1), items)
    if config.users:
        others.users_found = _Findings(config.users, 1)
        others.users = _FileResult(columns=pending.users_columns or [])
    return others


def dump(result: ChunkResult) -> bytes:
    return json.dumps(result.model_dump(mode="json", by_alias=True), separators=(",", ":")).encode("utf-8")
