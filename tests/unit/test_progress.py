"""Progress of long reads: reported at most every few seconds while a stream is read, and at its end."""

from __future__ import annotations

import io

from sweep_core.progress import REPORT_EVERY_SECONDS, ProgressReader, ReadProgress, describe_bytes


def test_progress_is_reported_at_most_every_few_seconds_and_at_the_end() -> None:
    now = [0.0]
    heard: list[tuple[int, int | None]] = []
    reader = ProgressReader(
        io.BytesIO(b"x" * 10), 10, lambda done, total: heard.append((done, total)), clock=lambda: now[0]
    )
    reader.read(2)
    now[0] = REPORT_EVERY_SECONDS / 2
    reader.read(2)
    now[0] = REPORT_EVERY_SECONDS
    reader.read(2)
    reader.read(4)
    assert reader.read(4) == b""
    assert heard == [(6, 10), (10, 10)]


def test_progress_reads_as_megabytes_of_the_total() -> None:
    mb = 1024 * 1024
    assert describe_bytes(120 * mb, 576 * mb) == "120 of 576 MB (21%)"
    assert describe_bytes(5 * mb, None) == "5 MB"
    progress = ReadProgress(
        execution_name="e", file="s3://b/experiments/x/interactions.csv", bytes_read=mb, bytes_total=4 * mb
    )
    assert progress.describe() == "validating interactions.csv: 1 of 4 MB (25%)"
