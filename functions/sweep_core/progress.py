"""Progress of long reads: a stream wrapper that reports how much of a file has been read, so the
person waiting on a 25M-row validation or upload sees it move. PrepareRun publishes it in a small
S3 object under runs/ that `sweep run` shows; the CLI prints its own local validation the same way."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import BinaryIO

from pydantic import Field

from sweep_core.models import CamelModel

# How often progress is reported at most: often enough that a waiting person sees the work move,
# rarely enough that reporting (an S3 write in PrepareRun) costs nothing next to the reading.
REPORT_EVERY_SECONDS = 3.0


class ReadProgress(CamelModel):
    """How far an execution's PrepareRun has read the file it is validating."""

    execution_name: str
    file: str
    bytes_read: int = Field(ge=0)
    bytes_total: int | None = Field(default=None, ge=0)

    def describe(self) -> str:
        name = self.file.rsplit("/", 1)[-1]
        return f"validating {name}: {describe_bytes(self.bytes_read, self.bytes_total)}"


def describe_bytes(done: int, total: int | None) -> str:
    """'120 of 576 MB (21%)', or '120 MB' when the size is unknown."""
    mb = 1024 * 1024
    if not total:
        return f"{done / mb:.0f} MB"
    return f"{done / mb:.0f} of {total / mb:.0f} MB ({100 * done / total:.0f}%)"


class ProgressReader:
    """A binary stream (read/close) that calls `report(bytes read, total)` at most every
    REPORT_EVERY_SECONDS while it is read, and once more when it ends."""

    def __init__(
        self,
        stream: BinaryIO,
        total: int | None,
        report: Callable[[int, int | None], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._total = total
        self._report = report
        self._clock = clock
        self._read = 0
        self._last = clock()

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._read += len(data)
        now = self._clock()
        if not data or now - self._last >= REPORT_EVERY_SECONDS:
            self._last = now
            self._report(self._read, self._total)
        return data

    def close(self) -> None:
        self._stream.close()
