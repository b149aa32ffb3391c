"""Wall time of `sweep demo` (what `make demo` runs) on the synthetic demo preset, as a user sees it:
a fresh process each time, from start to the printed results folder. Checks each run's outcome too
(four ACTIVE levels, the objective sum moving from OFF to HIGH) and saves benchmarks/results/demo.json."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SWEEP = Path(sys.executable).parent / "sweep"
RESULT = ROOT / "benchmarks" / "results" / "demo.json"
RUNS = 3
TARGET_SECONDS = 60.0


def _one_run(out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    completed = subprocess.run(
        [str(SWEEP), "demo", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
        check=False,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"sweep demo exited {completed.returncode}:\n{completed.stdout}\n{completed.stderr}"
        )
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    levels = {level["sensitivity"]: level for level in report["levels"]}
    finished = re.search(r"finished in ([0-9.]+) s", completed.stdout)
    return {
        "wallSeconds": round(seconds, 2),
        "sweepSeconds": float(finished.group(1)) if finished else None,
        "statuses": {name: level["status"] for name, level in levels.items()},
        "meanTopKObjectiveSum": {name: level["meanTopKObjectiveSum"] for name, level in levels.items()},
    }


def main(argv: list[str]) -> int:
    runs = int(argv[0]) if argv else RUNS
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as scratch:
        for index in range(runs):
            result = _one_run(Path(scratch) / f"run-{index}")
            print(
                f"run {index + 1}/{runs}: {result['wallSeconds']:.1f} s wall, statuses {result['statuses']}"
            )
            results.append(result)
    walls = [r["wallSeconds"] for r in results]
    all_active = all(set(r["statuses"].values()) == {"ACTIVE"} and len(r["statuses"]) == 4 for r in results)
    objective_moves = all(
        r["meanTopKObjectiveSum"]["HIGH"] > r["meanTopKObjectiveSum"]["OFF"] for r in results
    )
    summary = {
        "benchmark": "demo",
        "command": "sweep demo (synthetic demo preset, fresh local cloud per run)",
        "runs": results,
        "medianWallSeconds": round(statistics.median(walls), 2),
        "maxWallSeconds": max(walls),
        "targetSeconds": TARGET_SECONDS,
        "allLevelsActive": all_active,
        "objectiveSumRisesOffToHigh": objective_moves,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(
        f"median {summary['medianWallSeconds']} s over {runs} runs (target < {TARGET_SECONDS:.0f} s); "
        f"all levels ACTIVE: {all_active}; objective sum OFF -> HIGH rises: {objective_moves}"
    )
    print(f"saved {RESULT.relative_to(ROOT)}")
    ok = all_active and objective_moves and summary["medianWallSeconds"] < TARGET_SECONDS
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
