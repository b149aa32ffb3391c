"""Chunked validation (sweep_core.chunks) gives what validate_inputs gives for the whole file: the same
summary for good files, the same problems at the same lines for bad ones, however the chunks cut the
lines — and a quoted value with a line break, which chunks cannot split safely, is refused clearly."""

from __future__ import annotations

import io
import random

import pytest
from sweep_core.chunks import check_before_rows, header_end, merge, plan, validate_chunk
from sweep_core.errors import InvalidInputError
from sweep_core.models import RunConfig
from sweep_core.steps import ChunkJob
from sweep_core.validation import DEFAULT_MAX_PROBLEMS, DataSummary, validate_inputs

RUN = RunConfig(experiment="t", interactions="interactions.csv", items="items.csv")
ITEMS = "ITEM_ID,ROYALTY\n" + "".join(f"i{i},-0.0{i % 8}\n" for i in range(40))


def _interactions(rows: int = 1500, users: int = 60, header: str = "USER_ID,ITEM_ID,TIMESTAMP") -> list[str]:
    rng = random.Random(rows)
    lines = [header]
    for r in range(rows):
        extra = f",{rng.choice(['click', 'buy'])},{rng.randint(1, 9)}" if "EVENT_TYPE" in header else ""
        lines.append(f"u{rng.randrange(users)},i{rng.randrange(40)},{1_600_000_000 + r}{extra}")
    return lines


def _whole(data: bytes, run: RunConfig = RUN, cap: int = DEFAULT_MAX_PROBLEMS) -> DataSummary | str:
    files = {"interactions.csv": data, "items.csv": ITEMS.encode()}
    try:
        return validate_inputs(run, lambda name: io.BytesIO(files[name]), max_problems_per_file=cap)
    except InvalidInputError as error:
        return str(error)


def _chunked(
    data: bytes, chunk_bytes: int, run: RunConfig = RUN, cap: int = DEFAULT_MAX_PROBLEMS
) -> tuple[DataSummary | str, int]:
    """The same file through the chunked path, each chunk reading only its byte range."""
    files = {"interactions.csv": data, "items.csv": ITEMS.encode()}
    reads: list[tuple[int, int]] = []

    def read(first: int, last: int) -> bytes:
        reads.append((first, last))
        return data[first : last + 1]

    others, data_start, header = check_before_rows(
        run, lambda name: io.BytesIO(files[name]), read, len(data), cap
    )
    assert data_start == header_end(data[:65536])
    reads.clear()
    job = ChunkJob(
        experiment="t", execution_name="e", file=run.interactions, etag="x", size=len(data),
        data_start=data_start, header=header, known_items=None, chunk_bytes=chunk_bytes, max_problems=cap,
    )  # fmt: skip
    chunks = plan(data_start, len(data), chunk_bytes)
    results = [validate_chunk(job, chunk, read, others.known_items) for chunk in chunks]
    assert all(first >= chunk.start - 1 for (first, _), chunk in zip(reads, chunks, strict=True))
    try:
        return merge(run, job, others, results), len(chunks)
    except InvalidInputError as error:
        return str(error), len(chunks)


@pytest.mark.parametrize("chunk_bytes", [7, 64, 1000, 4096, 10**6])
def test_a_good_file_gives_the_same_summary_in_chunks(chunk_bytes: int) -> None:
    data = ("\n".join(_interactions()) + "\n").encode()
    whole = _whole(data)
    assert isinstance(whole, DataSummary)
    assert _chunked(data, chunk_bytes)[0] == whole


def test_metadata_columns_crlf_and_no_final_newline_give_the_same_summary() -> None:
    lines = _interactions(header="USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE")
    lines[700] = lines[700].rsplit(",", 1)[0] + ",2.5"  # EVENT_VALUE becomes a float column
    lines[300] = '"u,1",i1,1600000300,"say ""hi""",1'  # quoted values on one line are fine in chunks
    data = "\r\n".join(lines).encode()
    whole = _whole(data)
    assert isinstance(whole, DataSummary)
    for chunk_bytes in (33, 2048):
        assert _chunked(data, chunk_bytes)[0] == whole


def test_problems_keep_their_true_lines_across_chunk_boundaries() -> None:
    lines = _interactions()
    lines[1] = "u1,i1,1700000000000"  # line 2: the first data line
    lines[400] = ",i1,1600000000"
    lines[401] = "u1,nowhere,1600000000"
    lines[900] = "u1,i1"
    lines[901] = "u1,i1,x"
    lines[902] = "u1,i1,y"
    lines[-1] = "u1,i1,1700000000001"  # the last line, without a line end
    data = "\n".join(lines).encode()
    whole = _whole(data)
    assert isinstance(whole, str)
    assert "line 401, column USER_ID" in whole
    assert "line 902, column TIMESTAMP" in whole
    for chunk_bytes in (5, 97, 1024, 5000):
        chunked, count = _chunked(data, chunk_bytes)
        assert chunked == whole, f"chunks of {chunk_bytes} bytes ({count} chunks)"


@pytest.mark.parametrize("cap", [1, 2, 4])
def test_more_problems_than_the_cap_are_listed_and_counted_as_in_one_pass(cap: int) -> None:
    lines = _interactions(rows=3000)
    rng = random.Random(cap)
    for n in rng.sample(range(1, 3000), 400):
        lines[n] = rng.choice(
            ["u1,i1", "u1,nowhere,1", ",i1,1", "u1,,1", "u1,i1,1e3", "u1,i1,99999999999999"]
        )
    data = ("\n".join(lines) + "\n").encode()
    whole = _whole(data, cap=cap)
    assert isinstance(whole, str)
    assert "not listed" in whole
    for chunk_bytes in (50, 700, 3000, 20000):
        assert _chunked(data, chunk_bytes, cap=cap)[0] == whole


def test_too_few_users_and_interactions_are_judged_on_the_whole_file() -> None:
    data = ("\n".join(_interactions(rows=900, users=20)) + "\n").encode()
    whole = _whole(data)
    assert isinstance(whole, str)
    assert "900 interactions" in whole
    assert "20 users have 2 or more" in whole
    assert _chunked(data, 512)[0] == whole


def test_non_utf8_bytes_are_reported_at_their_line() -> None:
    data = ("\n".join(_interactions()) + "\n").encode().replace(b"u7,", b"u\xe97,", 1)
    whole = _whole(data)
    assert isinstance(whole, str)
    assert "is not UTF-8" in whole
    assert _chunked(data, 300)[0] == whole


def test_a_quoted_line_break_is_refused_at_its_line() -> None:
    lines = _interactions()
    lines[600] = 'u1,"i1'
    lines[601] = '",1600000000'
    data = ("\n".join(lines) + "\n").encode()
    chunked, _ = _chunked(data, 1000)
    assert isinstance(chunked, str)
    assert "interactions.csv, line 601: a quoted value breaks onto the next line" in chunked
    assert "(and 1 more row like it)" in chunked
    assert "one record per line" in chunked


def test_a_line_longer_than_the_read_ahead_is_reported_not_read_without_end() -> None:
    lines = _interactions(rows=100)
    lines[50] = "u1,i1," + "9" * (3 * 1024 * 1024)
    data = ("\n".join(lines) + "\n").encode()
    chunked, _ = _chunked(data, 256 * 1024)
    assert isinstance(chunked, str)
    assert "line 51: a line longer than 1024 KiB" in chunked


def test_chunks_cover_the_data_after_the_header_without_overlap() -> None:
    chunks = plan(26, 1000, 300)
    assert [(c.start, c.end) for c in chunks] == [(26, 326), (326, 626), (626, 926), (926, 1000)]
    assert plan(26, 26, 300) == []
