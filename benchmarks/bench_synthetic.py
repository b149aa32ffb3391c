"""The synthetic default: time and peak memory of generating the MovieLens-25M shape (target < 3 min,
< 4 GB), and whether the demo preset is worth sweeping (ALS vs popularity NDCG@10 on the local
endpoint's own evaluation, target >= 1.5x). Saves benchmarks/results/synthetic.json."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from objective_sweep.datasets.movielens import prepare
from objective_sweep.datasets.quality import compare_with_popularity
from objective_sweep.datasets.synthetic import DEMO, ML25M_SHAPE, generate

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "synthetic.json"
ML_LATEST_SMALL = Path("/work/shared/datasets/ml-latest-small")
TARGET_SECONDS = 180.0
TARGET_BYTES = 4 * 1024**3
TARGET_RATIO = 1.5


def measure(code: str) -> tuple[float, int, str]:
    """Run `code` in a fresh interpreter: (wall seconds, peak RSS in bytes of that process, stdout)."""
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    ) as child:
        assert child.stdout is not None
        out = child.stdout.read().decode()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode:
        raise RuntimeError(f"benchmark subprocess exited {child.returncode}")
    return seconds, usage.ru_maxrss * 1024, out


def generate_25m(out: Path) -> dict[str, Any]:
    seconds, peak, _ = measure(
        "from pathlib import Path\n"
        "from objective_sweep.datasets.synthetic import ML25M_SHAPE, generate\n"
        f"generate(ML25M_SHAPE, Path({str(out)!r}))\n"
    )
    return {
        "users": ML25M_SHAPE.users,
        "items": ML25M_SHAPE.items,
        "interactions": ML25M_SHAPE.interactions,
        "seconds": round(seconds, 1),
        "peakRssBytes": peak,
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
        # First, while this process is small: a child's peak RSS counts what it inherited.
        big = generate_25m(Path(scratch) / "ml25m")
        demo = Path(scratch) / "demo"
        started = time.perf_counter()
        generate(DEMO, demo)
        demo_seconds = time.perf_counter() - started
        quality = {"demo": _quality(demo)}
        if ML_LATEST_SMALL.is_dir():
            quality["ml-latest-small (reference)"] = _quality(
                prepare(ML_LATEST_SMALL, Path(scratch) / "mls").path
            )
        big = generate_25m(Path(scratch) / "ml25m")
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
