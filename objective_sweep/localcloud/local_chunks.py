"""The CLI's validation of an interactions file larger than the workflow's chunk threshold: the
workflow's own chunked validation (sweep_core.chunks) on the local file, its chunks validated in
parallel on the machine's cores and merged in order, so `sweep run` and `sweep validate` give exactly
what PrepareRun and the ValidateChunks Distributed Map will give, in a fraction of one core's time.

Workers are spawned, not forked: each starts a fresh interpreter (no copy of the parent's threads,
locks or patched modules) with the parent's sys.path, which multiprocessing hands it, so it finds
sweep_core (functions/) wherever the parent found it (the editable install, site-packages or
PYTHONPATH). It imports this module by name to run `_validate_part`; the module imports only
sweep_core and the standard library, not boto3.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import BinaryIO

from sweep_core.chunks import ChunkResult, check_before_rows, merge, plan, validate_chunk
from sweep_core.errors import InvalidInputError
from sweep_core.models import RunConfig
from sweep_core.progress import describe_bytes
from sweep_core.steps import Chunk, ChunkJob
from sweep_core.validation import DEFAULT_MAX_PROBLEMS, DataSummary

# Local chunks are smaller than the workflow's: several per core keep every core busy to the end and
# let progress move; each worker holds one chunk's bytes at a time, so the largest bounds its memory.
CHUNKS_PER_WORKER = 4
MIN_CHUNK_BYTES = 4 * 1024**2
MAX_CHUNK_BYTES = 32 * 1024**2
# How soon a worker whose parent died notices and ends.
PARENT_CHECK_SECONDS = 0.5


class LocalValidationError(Exception):
    """A chunk could not be validated (the file could not be read, or a worker process died); the
    message says which file and why, in plain words."""


def chunk_bytes_for(size: int, workers: int) -> int:
    """The local chunk size for a file of `size` bytes on `workers` processes."""
    share = -(-size // (CHUNKS_PER_WORKER * workers))
    return max(MIN_CHUNK_BYTES, min(MAX_CHUNK_BYTES, share))


def validate_in_chunks(
    config: RunConfig,
    open_binary: Callable[[str], BinaryIO],
    *,
    chunked_above: int,
    workers: int,
    say: Callable[[str], None] | None = None,
) -> DataSummary:
    """Validate the run's files as the workflow does when config.interactions (a local path) is larger
    than `chunked_above`: the other files and the interactions header first (their problems stop it),
    then the interactions rows in chunks on `workers` processes (in this process if 1), merged in
    order. Raises InvalidInputError as validate_inputs does, LocalValidationError if a chunk could
    not be validated."""
    path = Path(config.interactions)
    before = os.stat(path)
    size = before.st_size
    checked = check_before_rows(
        config, open_binary, lambda first, last: _read(path, first, last), size, DEFAULT_MAX_PROBLEMS
    )
    job = ChunkJob(
        experiment=config.experiment,
        execution_name="local",
        file=config.interactions,
        etag="",
        size=size,
        data_start=checked.data_start,
        header=checked.header,
        known_items=None,
        # What a refusal of a quoted line break names: the threshold, as the workflow's does.
        chunk_bytes=chunked_above,
        max_problems=DEFAULT_MAX_PROBLEMS,
    )
    chunks = plan(checked.data_start, size, chunk_bytes_for(size, workers))
    workers = max(1, min(workers, len(chunks)))
    progress = _Progress(path.name, size, checked.data_start, say)
    if say:
        cores = "in this process" if workers == 1 else f"on {workers} cores"
        say(f"validating {path.name} ({describe_bytes(size, None)}) in {len(chunks)} parts {cores}")

    def results(validated: Iterator[ChunkResult]) -> Iterator[ChunkResult]:
        yield from validated
        after = os.stat(path)
        if (after.st_size, after.st_mtime_ns) != (size, before.st_mtime_ns):
            raise LocalValidationError(
                f"{path} changed while it was validated: validate it again once it is written"
            )

    known = checked.others.known_items
    if workers == 1:
        part = _Part(path, known)
        return merge(config, job, checked.others, results(_one_by_one(part, job, chunks, progress)))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, context, initializer=_start_worker, initargs=(path, known, os.getpid())
    ) as pool:
        futures = [pool.submit(_validate_part, job, chunk) for chunk in chunks]
        try:
            return merge(config, job, checked.others, results(_in_order(path, chunks, futures, progress)))
        except InvalidInputError:
            raise  # every chunk is done: the pool shuts down as usual
        except BaseException:
            # Ctrl-C, SIGTERM or a failed chunk: the chunks still running are of no use.
            _stop(pool, futures)
            raise


def _stop(pool: ProcessPoolExecutor, futures: list[Future[ChunkResult]]) -> None:
    """Cancel the chunks not started and end the workers now, not after the chunks they are on."""
    for future in futures:
        future.cancel()
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    for process in list(getattr(pool, "_processes", {}).values()):
        process.terminate()


def _one_by_one(
    part: _Part, job: ChunkJob, chunks: list[Chunk], progress: _Progress
) -> Iterator[ChunkResult]:
    """The chunks validated in this process, in order, reporting progress after each."""
    for chunk in chunks:
        result = part.validate(job, chunk)
        progress.done(chunk)
        yield result


def _in_order(
    path: Path, chunks: list[Chunk], futures: list[Future[ChunkResult]], progress: _Progress
) -> Iterator[ChunkResult]:
    """The chunks' results in chunk order (as merge needs them), reporting progress as each finishes in
    whatever order; a worker's failure ends it at once, as a LocalValidationError."""
    pending: set[Future[ChunkResult]] = set(futures)
    chunk_of = dict(zip(futures, chunks, strict=True))
    for future in futures:
        while future in pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for done in finished:
                _outcome(path, chunk_of[done], done)
                progress.done(chunk_of[done])
        yield future.result()


def _outcome(path: Path, chunk: Chunk, future: Future[ChunkResult]) -> ChunkResult:
    try:
        return future.result()
    except BrokenProcessPool:
        raise LocalValidationError(
            f"{path}: a process validating it ended without finishing its part (killed, or out of memory)"
        ) from None
    except LocalValidationError:
        raise
    except Exception as error:  # a worker's error arrives here without its process's traceback
        raise _failed(path, chunk, error) from None


def _failed(path: Path, chunk: Chunk, error: Exception) -> LocalValidationError:
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return LocalValidationError(
        f"{path}: bytes {chunk.start:,} to {chunk.end:,} could not be validated: {reason or type(error).__name__}"
    )


class _Progress:
    """Tells `say` how many of the file's bytes are validated as chunks finish."""

    def __init__(self, name: str, size: int, data_start: int, say: Callable[[str], None] | None) -> None:
        self._name, self._size, self._say = name, size, say
        self._done = data_start

    def done(self, chunk: Chunk) -> None:
        self._done += chunk.end - chunk.start
        if self._say:
            self._say(f"validating {self._name}: {describe_bytes(self._done, self._size)}")


class _Part:
    """Validates chunks of one local file, each read from the file by its byte range."""

    def __init__(self, path: Path, known_items: set[str] | None) -> None:
        self.path = path
        self.known_items = known_items

    def validate(self, job: ChunkJob, chunk: Chunk) -> ChunkResult:
        try:
            return validate_chunk(
                job, chunk, lambda first, last: _read(self.path, first, last), self.known_items
            )
        except OSError as error:
            raise _failed(self.path, chunk, error) from None


# The worker process's file and item ids, set once by `_start_worker` (not sent with every chunk).
_worker: _Part | None = None


def _start_worker(path: Path, known_items: set[str] | None, parent: int) -> None:
    """Set a worker up; `parent` is the parent's pid as the parent knew it (the worker may start
    after its parent died, and then its own parent is already another process)."""
    global _worker
    # Ctrl-C is the parent's to handle: it stops the pool; a worker would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker = _Part(path, known_items)
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()


def _end_with(parent: int) -> None:
    """End this worker when its parent is gone (killed, or out of memory): an orphaned worker would
    otherwise wait for work for ever, holding its memory."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _validate_part(job: ChunkJob, chunk: Chunk) -> ChunkResult:
    if _worker is None:
        raise RuntimeError("a validation worker was used before _start_worker set it up")
    return _worker.validate(job, chunk)


def _read(path: Path, first: int, last: int) -> bytes:
    """The file's bytes first..last (inclusive; fewer at its end)."""
    with path.open("rb") as handle:
        handle.seek(first)
        return handle.read(last - first + 1)
