"""Benchmark scripts: each `bench_<area>.py` measures one target, prints its figures and saves them
as JSON under benchmarks/results/."""

import os
from pathlib import Path

# The team's copy of MovieLens latest-small sits beside the checkout (it may not be committed here);
# OBJECTIVE_SWEEP_ML_LATEST_SMALL points elsewhere.
ML_LATEST_SMALL = Path(
    os.environ.get(
        "OBJECTIVE_SWEEP_ML_LATEST_SMALL",
        Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-latest-small",
    )
)
