"""The synthetic default: time and peak memory of generating the MovieLens-25M shape (median of three
fresh processes; target < 3 min, < 4 GB), and whether the demo preset is worth sweeping (ALS vs
popularity NDCG@10 on the local endpoint's own evaluation, target >= 1.5x). Saves
benchmarks/results/synthetic.json."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import ML_LATEST_SMALL
from objective_sweep.datasets.movielens import prepare
from objective_sweep.datasets.quality import compare_with_popularity
from objective_sweep.datasets.synthetic import DEMO, ML25M_SHAPE, generate

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "synthetic.json"
RUNS = 3
TARGET_SECONDS = 180.0
TARGET_BYTES = 4 * 1024**3
TARGET_RATIO = 1.5


# Prepended to a measured child's code: at exit it writes its own VmHWM (peak resident set of the
# address space exec gave it, in kB). The rusage of a child counts the parent's pages it held before
# exec, so it would report the benchmark process's size whenever that is larger.
_PEAK_PROBE = """\
import atexit as _atexit, os as _os
def _write_peak():
    with open("/proc/self/status") as _s, open(_os.environ["BENCH_PEAK_FILE"], "w") as _out:
        _out.write(next(_l.split()[1] for _l in _s if _l.startswith("VmHWM:")))
_atexit.register(_write_peak)
"""


def measure(code: str) -> tuple[float, int, str]:
    """Run `code` in a fresh interpreter: (wall seconds, that program's peak RSS in bytes, its stdout)."""
    with tempfile.TemporaryDirectory(prefix="bench-peak-") as scratch:
        peak_file = Path(scratch) / "peak"
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _PEAK_PROBE + code],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "BENCH_PEAK_FILE": str(peak_file)},
            check=False,
        )
        seconds = time.perf_counter() - started
        if done.returncode:
            raise RuntimeError(f"benchmark subprocess exited {done.returncode}")
        peak = int(peak_file.read_text()) * 1024
    return seconds, peak, done.stdout.decode()


def generate_25m(out: Path, runs: int) -> dict[str, Any]:
    """Median time and peak memory of `runs` fresh-process generations of the 25M shape into `out`."""
    measured = []
    for _ in range(runs):
        seconds, peak, _ = measure(
            "from pathlib import Path\n"
            "from objective_sweep.datasets.synthetic import ML25M_SHAPE, generate\n"
            f"generate(ML25M_SHAPE, Path({str(out)!r}))\n"
        )
        measured.append((seconds, peak))
    return {
        "users": ML25M_SHAPE.users,
        "items": ML25M_SHAPE.items,
        "interactions": ML25M_SHAPE.interactions,
        "runs": runs,
        "seconds": round(statistics.median(s for s, _ in measured), 1),
        "peakRssBytes": int(statistics.median(p for _, p in measured)),
        "secondsPerRun": [round(s, 1) for s, _ in measured],
        "peakRssBytesPerRun": [p for _, p in measured],
        "fileBytes": (out / "interactions.csv").stat().st_size,
    }


def _quality(folder: Path) -> dict[str, Any]:
    comparison = compare_with_popularity(folder)
    return {
        "alsNdcg10": comparison.als,
        "popularityNdcg10": comparison.popularity,
        "ratio": round(comparison.ratio, 3),
        "testUsers": comparison.test_users,
    }


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-synthetic-") as scratch:
        big = generate_25m(Path(scratch) / "ml25m", RUNS)
        demo = Path(scratch) / "demo"
        started = time.perf_counter()
        generate(DEMO, demo)
        demo_seconds = time.perf_counter() - started
        quality = {"demo": _quality(demo)}
        if ML_LATEST_SMALL.is_dir():
            quality["ml-latest-small (reference)"] = _quality(
                prepare(ML_LATEST_SMALL, Path(scratch) / "mls").path
            )
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "demoPreset": {
            "users": DEMO.users,
            "items": DEMO.items,
            "interactions": DEMO.interactions,
            "seconds": round(demo_seconds, 2),
        },
        "alsVsPopularity": quality,
        "ml25mShape": big,
        "targets": {"seconds": TARGET_SECONDS, "peakRssBytes": TARGET_BYTES, "ratio": TARGET_RATIO},
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name, q in quality.items():
        print(f"{name}: ALS NDCG@10 {q['alsNdcg10']} vs popularity {q['popularityNdcg10']} = {q['ratio']}x")
    print(
        f"25M shape: {big['seconds']} s, peak RSS {big['peakRssBytes'] / 1024**3:.2f} GiB "
        f"(targets {TARGET_SECONDS:.0f} s, {TARGET_BYTES / 1024**3:.0f} GiB); saved {RESULT.relative_to(ROOT)}"
    )
    ok = (
        big["seconds"] < TARGET_SECONDS
        and big["peakRssBytes"] < TARGET_BYTES
        and quality["demo"]["ratio"] >= TARGET_RATIO
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
