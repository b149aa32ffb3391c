"""Validating a 25M-row interactions file (the MovieLens-25M shape, from the synthetic generator):
median wall time and peak memory of several fresh-process runs, target < 60 s and < 1 GB.
Saves benchmarks/results/validation.json."""

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
RESULT = ROOT / "benchmarks" / "results" / "validation.json"
RUNS = 3
TARGET_SECONDS = 60.0
TARGET_BYTES = 1024**3

_VALIDATE = """
import json
from pathlib import Path
from sweep_core.models import RunConfig
from sweep_core.validation import validate_inputs
folder = Path({folder!r})
config = RunConfig(experiment="bench", interactions="interactions.csv", items="items.csv")
summary = validate_inputs(config, lambda name: (folder / name).open("rb"))
print(json.dumps({{"interactions": summary.interactions, "users": summary.users, "items": summary.items}}))
"""


def main(argv: list[str]) -> int:
    runs = int(argv[0]) if argv else RUNS
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as scratch:
        folder = Path(scratch)
        size = generate_25m(folder, runs=1)["fileBytes"]
        samples = []
        for index in range(runs):
            seconds, peak, out = measure(_VALIDATE.format(folder=str(folder)))
            counts = json.loads(out)
            if counts["interactions"] != ML25M_SHAPE.interactions:
                raise RuntimeError(f"validation counted {counts}, expected {ML25M_SHAPE.interactions} rows")
            samples.append({"seconds": round(seconds, 2), "peakRssBytes": peak})
            print(f"run {index + 1}/{runs}: {seconds:.1f} s, peak RSS {peak / 1024**2:.0f} MiB", flush=True)
    median_seconds = statistics.median(s["seconds"] for s in samples)
    median_peak = statistics.median(s["peakRssBytes"] for s in samples)
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "rows": ML25M_SHAPE.interactions,
        "fileBytes": size,
        "runs": samples,
        "medianSeconds": median_seconds,
        "medianPeakRssBytes": median_peak,
        "targets": {"seconds": TARGET_SECONDS, "peakRssBytes": TARGET_BYTES},
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"25M-row interactions file ({size / 1024**2:.0f} MiB): median {median_seconds:.1f} s, "
        f"peak RSS {median_peak / 1024**2:.0f} MiB (targets {TARGET_SECONDS:.0f} s, 1 GiB); "
        f"saved {RESULT.relative_to(ROOT)}"
    )
    return 0 if median_seconds < TARGET_SECONDS and median_peak < TARGET_BYTES else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
