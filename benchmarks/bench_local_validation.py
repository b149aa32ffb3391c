"""`sweep run`'s local validation of the 25M-row interactions file (the MovieLens-25M shape, cached
under .cache/bench-scale/25m): `validate_locally` in one pass on one core (what it does below the
256 MiB threshold, and did for every file before) beside its parallel chunked path on all the cores,
alternately in fresh processes. Wall time and the peak resident memory of the whole process tree (the
validating process and its workers) and their CPU time, median of RUNS=3 each, with the load average before each run
(the machine may be shared). Saves benchmarks/results/local-validation.json."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_scale import Sampler, dataset

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "local-validation.json"
RUNS = 3
# One pass: a threshold the file is not above.
_VALIDATE = """
import json, sys, time
from pathlib import Path
from objective_sweep.localcloud.runs import RunFiles, build_config, validate_locally
folder, chunked_above = Path(sys.argv[1]), int(sys.argv[2]) or None
files = RunFiles(folder / "interactions.csv", folder / "items.csv")
said = []
started = time.perf_counter()
summary = validate_locally(build_config(files, experiment="bench"), files, say=said.append, chunked_above=chunked_above)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "interactions": summary.interactions, "users": summary.users,
                  "progressLines": len(said), "summary": summary.model_dump(mode="json")}))
"""


def _run(data: Path, one_pass: bool) -> dict[str, Any]:
    load = os.getloadavg()
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    threshold = (data / "interactions.csv").stat().st_size if one_pass else 0
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", _VALIDATE, str(data), str(threshold)], stdout=subprocess.PIPE, text=True
    )
    with Sampler(process.pid) as sampler:
        out, _ = process.communicate()
    wall = time.perf_counter() - started
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode:
        raise RuntimeError(f"validation exited {process.returncode}")
    figures: dict[str, Any] = json.loads(out)
    figures.update(
        processSeconds=round(wall, 2),
        seconds=round(figures["seconds"], 2),
        peakTreeRssBytes=sampler.peak(),
        # The process's and its workers' (the pool joins them), user and system.
        cpuSeconds=round(used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime, 2),
        loadAverageBefore=[round(x, 2) for x in load],
    )
    return figures


def main(argv: list[str]) -> int:
    runs = int(os.environ.get("RUNS", RUNS))
    data = dataset("25m")
    samples: dict[str, list[dict[str, Any]]] = {"onePass": [], "parallel": []}
    for index in range(runs):
        for name in samples:
            run = _run(data, one_pass=name == "onePass")
            samples[name].append(run)
            print(
                f"{name} {index + 1}/{runs}: {run['seconds']:.1f} s ({run['cpuSeconds']:.1f} s of CPU), peak tree RSS "
                f"{run['peakTreeRssBytes'] / 1024**2:.0f} MiB, load {run['loadAverageBefore'][0]}",
                flush=True,
            )
    summaries = {
        json.dumps(run.pop("summary"), sort_keys=True) for runs_ in samples.values() for run in runs_
    }
    if len(summaries) != 1:
        raise RuntimeError("the one-pass and the parallel validation gave different summaries")
    medians = {
        name: {
            "seconds": statistics.median(r["seconds"] for r in rs),
            "peakTreeRssBytes": statistics.median(r["peakTreeRssBytes"] for r in rs),
            "cpuSeconds": statistics.median(r["cpuSeconds"] for r in rs),
        }
        for name, rs in samples.items()
    }
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "fileBytes": (data / "interactions.csv").stat().st_size,
        "interactions": samples["parallel"][0]["interactions"],
        "runs": samples,
        "medians": medians,
        "speedup": round(medians["onePass"]["seconds"] / medians["parallel"]["seconds"], 2),
    }
    for name, median in medians.items():
        print(
            f"{name}: median {median['seconds']:.1f} s, {median['cpuSeconds']:.1f} s of CPU, peak tree RSS "
            f"{median['peakTreeRssBytes'] / 1024**2:.0f} MiB"
        )
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"parallel on {os.cpu_count()} cores: {result['speedup']}x one pass; saved {RESULT.relative_to(ROOT)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
