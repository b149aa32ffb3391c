"""Chunked validation of a 25M-row interactions file (the MovieLens-25M shape), as the ValidateChunks
Distributed Map runs it: each chunk of ValidationChunkBytes in a fresh process reading only its byte
range (wall and CPU time, peak memory), then FinishValidation's merge. Gives the throughput one chunk gets
from one core, from which docs/deploy.md derives the chunk size and the limits. Saves
benchmarks/results/chunks.json."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_synthetic import generate_25m, measure
from objective_sweep.datasets.synthetic import ML25M_SHAPE

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "chunks.json"
CHUNK_BYTES = 256 * 1024**2
# The generated 25M shape, kept between runs (generating it takes a minute or two).
CACHE = ROOT / ".cache" / "bench-chunks"

_COMMON = """
import io, json
from pathlib import Path
from sweep_core.chunks import check_header, header_end, plan
from sweep_core.models import RunConfig
from sweep_core.steps import ChunkJob
from sweep_core.validation import DEFAULT_MAX_PROBLEMS, check_other_files
folder = Path({folder!r})
path = folder / "interactions.csv"
config = RunConfig(experiment="bench", interactions="interactions.csv", items="items.csv")
size = path.stat().st_size
with path.open("rb") as f:
    head = f.read(65536)
head = head[: header_end(head)]
_, header = check_header(head, config.interactions, DEFAULT_MAX_PROBLEMS)
job = ChunkJob(experiment="bench", execution_name="bench", file=config.interactions, etag="", size=size,
               data_start=len(head), header=header, known_items=None, chunk_bytes={chunk_bytes},
               max_problems=DEFAULT_MAX_PROBLEMS)
chunks = plan(len(head), size, {chunk_bytes})
"""

_CHUNK = """
from sweep_core.chunks import dump, validate_chunk
known = set(json.loads((folder / "items.json").read_text()))
def read(first, last):
    with path.open("rb") as f:
        f.seek(first)
        return f.read(last - first + 1)
result = validate_chunk(job, chunks[{index}], read, known)
(folder / "chunk-{index}.json").write_bytes(dump(result))
import time
cpu = time.process_time()
print(json.dumps({{"chunks": len(chunks), "rows": result.rows, "bytes": chunks[{index}].end - chunks[{index}].start, "cpuSeconds": cpu}}))
"""

_ITEMS = """
others = check_other_files(config, lambda name: (folder / name).open("rb"), DEFAULT_MAX_PROBLEMS)
(folder / "items.json").write_text(json.dumps(sorted(others.known_items)))
print(json.dumps({"chunks": len(chunks)}))
"""

_MERGE = """
from sweep_core.chunks import ChunkResult, merge
others = check_other_files(config, lambda name: (folder / name).open("rb"), DEFAULT_MAX_PROBLEMS)
results = (ChunkResult.model_validate_json((folder / f"chunk-{i}.json").read_bytes()) for i in range(len(chunks)))
summary = merge(config, job, others, results)
print(json.dumps({"interactions": summary.interactions, "users": summary.users}))
"""


def main(argv: list[str]) -> int:
    chunk_bytes = int(argv[0]) if argv else CHUNK_BYTES
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-chunks-", dir=CACHE) as scratch:
        folder = Path(scratch)
        data = CACHE / "interactions.csv"
        if not data.exists():
            generate_25m(CACHE, runs=1)
        for name in ("interactions.csv", "items.csv"):
            (folder / name).symlink_to(CACHE / name)
        size = data.stat().st_size
        common = _COMMON.format(folder=str(folder), chunk_bytes=chunk_bytes)
        _, _, out = measure(common + _ITEMS)
        count = json.loads(out)["chunks"]
        chunks = []
        for index in range(count):
            seconds, peak, out = measure(common + _CHUNK.format(index=index))
            done = json.loads(out)
            cpu = done["cpuSeconds"]
            chunks.append(
                {
                    "bytes": done["bytes"],
                    "rows": done["rows"],
                    "seconds": round(seconds, 2),
                    "cpuSeconds": round(cpu, 2),
                    "peakRssBytes": peak,
                }
            )
            print(
                f"chunk {index + 1}/{count}: {seconds:.1f} s wall, {cpu:.1f} s CPU "
                f"({done['bytes'] / cpu / 1e6:.1f} MB per CPU second), peak RSS {peak / 1024**2:.0f} MiB",
                flush=True,
            )
        merge_seconds, merge_peak, out = measure(common + _MERGE)
        merged = json.loads(out)
    if (
        merged["interactions"] != ML25M_SHAPE.interactions
        or sum(c["rows"] for c in chunks) != ML25M_SHAPE.interactions
    ):
        raise RuntimeError(f"chunks counted {merged}, expected {ML25M_SHAPE.interactions} rows")
    full = [c for c in chunks if c["bytes"] == chunk_bytes] or chunks
    # CPU time, not wall: what one dedicated vCPU takes, whatever else this machine was running.
    rate = statistics.median(c["bytes"] / c["cpuSeconds"] for c in full)
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "rows": ML25M_SHAPE.interactions,
        "users": merged["users"],
        "fileBytes": size,
        "chunkBytes": chunk_bytes,
        "chunks": chunks,
        "medianBytesPerCpuSecond": round(rate),
        "secondsPerGiB": round(1024**3 / rate, 1),
        "merge": {"seconds": round(merge_seconds, 2), "peakRssBytes": merge_peak},
    }
    print(
        f"{rate / 1e6:.1f} MB per CPU second ({result['secondsPerGiB']} s per GiB on one core); merge of "
        f"{len(chunks)} chunks {merge_seconds:.1f} s, peak RSS {merge_peak / 1024**2:.0f} MiB"
    )
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
