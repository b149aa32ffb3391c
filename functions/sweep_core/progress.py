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
    """'120 of 576 MB (21%)', or '120 MB' when the size is unknown; the unit fits the size, so a
    small file reads '12 of 40 KB', not '0 of 0 MB'."""
    unit, scale = _unit(total or done)
    if not total:
        return f"{_amount(done, scale)} {unit}"
    return f"{_amount(done, scale)} of {_amount(total, scale)} {unit} ({100 * done / total:.0f}%)"


_UNITS = (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024))


def _unit(size: int) -> tuple[str, int]:
    return next(((name, scale) for name, scale in _UNITS if size >= scale), ("bytes", 1))


def _amount(size: int, scale: int) -> str:
    # One decimal where whole units would hide the movement (1.4 of 2.1 GB), none from 10 up.
    value = size / scale
    return f"{value:.1f}" if scale > 1 and value < 10 else f"{value:.0f}"


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
