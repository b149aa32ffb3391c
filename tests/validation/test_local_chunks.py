"""`sweep run` and `sweep validate` validate an interactions file larger than the workflow's chunk
threshold the way the workflow does (other files and header first, then the rows in chunks) but in
parallel on the machine's cores: the same summary and the same problems, at their true lines, naming
the user's own files, as one pass (or the workflow) gives; progress as chunks finish. The threshold is
lowered here so that a small file splits into several chunks."""

from __future__ import annotations

import io
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest
from sweep_core.chunks import ChunkResult, check_before_rows, merge, plan, validate_chunk
from sweep_core.errors import InvalidInputError
from sweep_core.models import RunConfig
from sweep_core.progress import describe_bytes
from sweep_core.steps import Chunk, ChunkJob
from sweep_core.validation import DEFAULT_MAX_PROBLEMS, DataSummary

from objective_sweep.cli import main
from objective_sweep.localcloud import local_chunks
from objective_sweep.localcloud.local_chunks import LocalValidationError
from objective_sweep.localcloud.runs import RunError, RunFiles, build_config, validate_locally

ITEMS = "ITEM_ID,ROYALTY\n" + "".join(f"i{i},-0.0{i % 8}\n" for i in range(40))
# Far below the template's 256 MiB, so that the 40 KB files here are "large".
THRESHOLD = 4096


def _lines(**edits: str) -> list[str]:
    """A good interactions file's lines, but for `edits` (line number as n1501 -> that line's text)."""
    rng = random.Random(7)
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"]
    for r in range(2000):
        lines.append(
            f"u{rng.randrange(70)},i{rng.randrange(40)},{1_600_000_000 + r},{rng.choice(['a', 'b'])}"
        )
    for name, line in edits.items():
        lines[int(name.removeprefix("n")) - 1] = line
    return lines


def _files(folder: Path, lines: list[str], items: str = ITEMS) -> tuple[RunConfig, RunFiles]:
    """The user's own file names, not those they are uploaded under."""
    folder.mkdir(exist_ok=True)
    (folder / "events_2024.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "catalog.csv").write_text(items, encoding="utf-8")
    files = RunFiles(folder / "events_2024.csv", folder / "catalog.csv")
    return build_config(files, experiment="local"), files


def _outcome(config: RunConfig, files: RunFiles, **options: Any) -> DataSummary | str:
    try:
        return validate_locally(config, files, **options)
    except InvalidInputError as error:
        return str(error)


@pytest.fixture
def cores(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Chunks as small as the lowered threshold needs (several per core)."""
    monkeypatch.setattr(local_chunks, "MIN_CHUNK_BYTES", 512)
    return monkeypatch


def test_a_bad_row_in_a_later_chunk_is_reported_at_its_true_line_as_in_one_pass(
    tmp_path: Path, cores: pytest.MonkeyPatch
) -> None:
    cores.setattr(os, "cpu_count", lambda: 2)
    bad = {
        "n1501": "u1,nowhere,1600000000,a",
        "n1701": "u2,i3,1700000000000,b",
        "n1702": "u2,i3,1700000000001,b",
    }
    config, files = _files(tmp_path, _lines(**bad))
    said: list[str] = []
    chunked = _outcome(config, files, say=said.append, chunked_above=THRESHOLD)
    one_pass = _outcome(config, files)
    assert isinstance(chunked, str)
    assert chunked == one_pass
    local = str(tmp_path / "events_2024.csv")
    assert f"{local}, line 1501, column ITEM_ID: " in chunked
    assert f"{local}, line 1701, column TIMESTAMP: " in chunked
    assert "(and 1 more row like it)" in chunked
    (split,) = [line for line in said if " parts " in line]
    assert int(split.split(" in ")[1].split()[0]) >= 8, split
    assert split.endswith("on 2 cores")


@pytest.mark.parametrize("cpus", [1, 2])
def test_a_good_file_gives_the_one_pass_summary_with_progress_as_chunks_finish(
    tmp_path: Path, cores: pytest.MonkeyPatch, cpus: int
) -> None:
    cores.setattr(os, "cpu_count", lambda: cpus)
    config, files = _files(tmp_path, _lines())
    said: list[str] = []
    summary = validate_locally(config, files, say=said.append, chunked_above=THRESHOLD)
    assert summary == validate_locally(config, files)
    assert summary.interactions == 2000
    progress = [line for line in said if line.startswith("validating events_2024.csv: ")]
    assert len(progress) >= 4, said
    size = files.interactions.stat().st_size
    assert progress[-1] == f"validating events_2024.csv: {describe_bytes(size, size)}"
    assert progress[-1].endswith("(100%)")
    (split,) = [line for line in said if " parts " in line]
    assert split.endswith("in this process" if cpus == 1 else "on 2 cores")


def _workflow(config: RunConfig, files: RunFiles, threshold: int) -> str:
    """The workflow's path on the same bytes (named by their local paths): PrepareRun's split into
    chunks of the threshold, ValidateChunk on each, FinishValidation's merge."""
    config = config.model_copy(update={"interactions": str(files.interactions), "items": str(files.items)})
    data = files.interactions.read_bytes()

    def read(first: int, last: int) -> bytes:
        return data[first : last + 1]

    others, start, header = check_before_rows(
        config, lambda path: io.BytesIO(Path(path).read_bytes()), read, len(data), DEFAULT_MAX_PROBLEMS
    )
    job = ChunkJob(
        experiment="e", execution_name="x", file=config.interactions, etag="", size=len(data), data_start=start,
        header=header, known_items=None, chunk_bytes=threshold, max_problems=DEFAULT_MAX_PROBLEMS,
    )  # fmt: skip
    results = [validate_chunk(job, c, read, others.known_items) for c in plan(start, len(data), threshold)]
    with pytest.raises(InvalidInputError) as refused:
        merge(config, job, others, results)
    return str(refused.value)


def test_a_quoted_line_break_gets_the_workflows_refusal_above_the_threshold_only(
    tmp_path: Path, cores: pytest.MonkeyPatch
) -> None:
    cores.setattr(os, "cpu_count", lambda: 1)
    config, files = _files(tmp_path, _lines(n1201='u1,i1,1600000000,"a', n1202='b"'))
    chunked = _outcome(config, files, chunked_above=THRESHOLD)
    assert isinstance(chunked, str)
    assert chunked == _workflow(config, files, THRESHOLD)
    assert f"{files.interactions}, line 1201: a quoted value breaks onto the next line" in chunked
    assert "files over 4.0 KB are validated in parallel pieces" in chunked
    # At (not above) the threshold the file is validated whole, which accepts the quoted line break.
    size = files.interactions.stat().st_size
    assert isinstance(_outcome(config, files, chunked_above=size), DataSummary)


def test_below_the_threshold_the_file_is_validated_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_here(*_: object, **__: object) -> DataSummary:
        raise AssertionError("a file below the threshold was validated in chunks")

    monkeypatch.setattr(local_chunks, "validate_in_chunks", not_here)
    config, files = _files(tmp_path, _lines())
    said: list[str] = []
    summary = validate_locally(config, files, say=said.append)
    assert summary.interactions == 2000
    assert not any(" parts " in line for line in said)


def test_problems_of_the_items_file_or_the_header_stop_before_the_rows(
    tmp_path: Path, cores: pytest.MonkeyPatch
) -> None:
    cores.setattr(os, "cpu_count", lambda: 1)
    lines = _lines(n1501="u1,nowhere,1600000000,a")
    said: list[str] = []
    config, files = _files(tmp_path / "items", lines, items=ITEMS + "i100,cheap\n")
    refused = _outcome(config, files, say=said.append, chunked_above=THRESHOLD)
    assert isinstance(refused, str)
    assert f"{files.items}, line 42, column ROYALTY: " in refused
    assert "line 1501" not in refused  # the rows were not read
    assert not any(" parts " in line for line in said)
    lines[0] = "USER_ID,ITEM_ID"
    config, files = _files(tmp_path / "header", lines)
    refused = _outcome(config, files, chunked_above=THRESHOLD)
    assert isinstance(refused, str)
    assert f"{files.interactions}, line 1" in refused
    assert "TIMESTAMP" in refused


def test_a_chunk_that_cannot_be_read_ends_with_a_plain_message(
    tmp_path: Path, cores: pytest.MonkeyPatch
) -> None:
    cores.setattr(os, "cpu_count", lambda: 1)

    def failing(job: ChunkJob, chunk: Chunk, *_: object) -> None:
        raise OSError(5, "Input/output error")

    cores.setattr(local_chunks, "validate_chunk", failing)
    config, files = _files(tmp_path, _lines())
    with pytest.raises(
        RunError, match=r"events_2024\.csv: bytes 37 to [\d,]+ could not be validated: Input/output error$"
    ):
        validate_locally(config, files, chunked_above=THRESHOLD)


def test_a_worker_that_fails_or_dies_becomes_a_plain_message() -> None:
    chunk = Chunk(index=3, start=1000, end=2000)
    for error, words in [
        (BrokenProcessPool("A child process terminated abruptly"), "ended without finishing its part"),
        (
            ValueError("the header of x.csv was checked before it was split"),
            "could not be validated: the header",
        ),
    ]:
        future: Future[ChunkResult] = Future()
        future.set_exception(error)
        with pytest.raises(LocalValidationError, match=words) as failed:
            local_chunks._outcome(Path("shop/events.csv"), chunk, future)
        assert str(failed.value).startswith("shop/events.csv: ")
        assert failed.value.__cause__ is None


def test_a_file_changed_while_it_is_validated_is_not_given_a_verdict(
    tmp_path: Path, cores: pytest.MonkeyPatch
) -> None:
    cores.setattr(os, "cpu_count", lambda: 1)
    config, files = _files(tmp_path, _lines())
    real = local_chunks.validate_chunk

    def appending(*args: Any) -> ChunkResult:
        with files.interactions.open("a") as handle:
            handle.write("u1,i1,1600000000,a\n")
        return real(*args)

    cores.setattr(local_chunks, "validate_chunk", appending)
    with pytest.raises(RunError, match="changed while it was validated"):
        validate_locally(config, files, chunked_above=THRESHOLD)


def test_sweep_validate_says_why_a_file_could_not_be_validated(
    tmp_path: Path, cores: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(*_: object, **__: object) -> DataSummary:
        raise LocalValidationError(
            "shop/events.csv: bytes 0 to 10 could not be validated: Input/output error"
        )

    cores.setattr(local_chunks, "validate_in_chunks", failing)
    _, files = _files(tmp_path, _lines())
    cores.setattr("sweep_core.chunks.CHUNKED_ABOVE_BYTES", THRESHOLD)
    status = main(["validate", "--interactions", str(files.interactions), "--items", str(files.items)])
    out, err = capsys.readouterr()
    assert status == 1
    assert "sweep validate: shop/events.csv: bytes 0 to 10 could not be validated" in err
    assert "Traceback" not in err + out


def test_an_interruption_leaves_no_worker_behind(tmp_path: Path, cores: pytest.MonkeyPatch) -> None:
    cores.setattr(os, "cpu_count", lambda: 2)
    cores.setattr(local_chunks, "MIN_CHUNK_BYTES", 64)
    config, files = _files(tmp_path, _lines())

    def interrupt(line: str) -> None:
        if line.startswith("validating events_2024.csv: "):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        validate_locally(config, files, say=interrupt, chunked_above=THRESHOLD)
    assert multiprocessing.active_children() == []


_KILLED_PARENT = """
import multiprocessing, sys, time
from pathlib import Path
from objective_sweep.localcloud import local_chunks
from objective_sweep.localcloud.runs import RunFiles, build_config, validate_locally
local_chunks.MIN_CHUNK_BYTES = 64
files = RunFiles(Path(sys.argv[1]), Path(sys.argv[2]))

def hang(line):
    if line.startswith("validating events_2024.csv: "):
        print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
        time.sleep(60)

validate_locally(build_config(files, experiment="local"), files, say=hang, chunked_above=4096)
"""


def test_workers_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    _, files = _files(tmp_path, _lines())
    parent = subprocess.Popen(
        [sys.executable, "-c", _KILLED_PARENT, str(files.interactions), str(files.items)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    parent.kill()
    parent.wait()
    assert workers
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if _running(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)  # not to leave them behind when this fails
    assert not left


def _running(pid: int) -> bool:
    """Whether the process exists and is not a zombie (Linux /proc)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
