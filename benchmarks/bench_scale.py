"""The local sweep at scale: `sweep run` on MovieLens-25M-shaped data cut to 1M, 5M and the full 25M
interactions, each beside the compute floor measured on the same data in the same benchmark run.

Per size it saves the wall time and the peak resident memory of the whole process tree (the CLI, the
local cloud and every Lambda container it forks) per stage, the ratio of the sweep's wall time to the
floor, and the growth exponent of time and memory with size. SIZES=1m,5m picks sizes; RUNS=3 repeats
each and keeps medians. The generated data is cached under .cache/bench-scale/. Targets at 25M: peak
RSS <= 4 GiB, wall <= 3x the floor. Saves benchmarks/results/scale.json."""

from __future__ import annotations

import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "scale.json"
CACHE = ROOT / ".cache" / "bench-scale"
SWEEP = Path(sys.executable).with_name("sweep")
# Cuts of the MovieLens-25M shape (162,541 users, 62,423 items): users and items scale with the size.
SIZES: dict[str, tuple[int, int, int]] = {
    "1m": (6_502, 2_497, 1_000_000),
    "5m": (32_508, 12_485, 5_000_000),
    "25m": (162_541, 62_423, 25_000_095),
}
TARGET_PEAK_BYTES = 4 * 1024**3
TARGET_FLOOR_RATIO = 3.0
SAMPLE_SECONDS = 0.2
LEVELS = ("OFF", "LOW", "MEDIUM", "HIGH")

# The compute floor: what any recommender must do with this data, whatever the workflow around it —
# one implicit ALS fit with the sweep's hyperparameters and a top-200 list for every user. Reading the
# CSV is timed apart and not counted in the floor.
_FLOOR = """\
import json, sys, time
import numpy as np
import threadpoolctl
from implicit.cpu.als import AlternatingLeastSquares
from scipy.sparse import csr_matrix
threadpoolctl.threadpool_limits(1, user_api="blas")
started = time.perf_counter()
rows = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, usecols=(0, 1), dtype=np.int64)
read = time.perf_counter() - started
users, user_rows = np.unique(rows[:, 0], return_inverse=True)
items, item_cols = np.unique(rows[:, 1], return_inverse=True)
del rows
matrix = csr_matrix((np.ones(len(user_rows), dtype=np.float32), (user_rows, item_cols)),
                    shape=(len(users), len(items)))
matrix.sum_duplicates()
matrix.data[:] = 1.0
started = time.perf_counter()
model = AlternatingLeastSquares(factors=32, regularization=0.05, alpha=2.0, iterations=15,
                                num_threads=2, random_state=42)
model.fit(matrix, show_progress=False)
fit = time.perf_counter() - started
started = time.perf_counter()
model.recommend(np.arange(len(users)), matrix, N=200, filter_already_liked_items=True)
top = time.perf_counter() - started
print(json.dumps({"readSeconds": read, "fitSeconds": fit, "top200Seconds": top}))
"""


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def tree_rss(pid: int) -> dict[int, int]:
    """Resident bytes of a process and each of its descendants (Linux /proc), by process id."""
    tree, sizes, pending = _children(), {}, [pid]
    while pending:
        current = pending.pop()
        pending.extend(tree.get(current, []))
        try:
            with open(f"/proc/{current}/statm") as statm:
                sizes[current] = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
    return sizes


def _name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = cmdline.read().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    return " ".join(Path(w).name if i == 0 else w for i, w in enumerate(words) if w)[:80]


@dataclass
class Sampler:
    """Samples a process tree's resident memory until stopped: (time.time(), bytes) pairs."""

    pid: int
    samples: list[tuple[float, int]] = field(default_factory=list)
    # Each process's own peak, to see which one holds the memory: pid -> (bytes, command line).
    by_process: dict[int, tuple[int, str]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            sizes = tree_rss(self.pid)
            self.samples.append((time.time(), sum(sizes.values())))
            for pid, size in sizes.items():
                if size > self.by_process.get(pid, (0, ""))[0]:
                    self.by_process[pid] = (size, self.by_process.get(pid, (0, _name(pid)))[1])

    def process_peaks(self) -> list[dict[str, Any]]:
        ordered = sorted(self.by_process.values(), reverse=True)
        return [{"command": name, "peakRssBytes": size} for size, name in ordered]

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float = 0.0, end: float = math.inf) -> int:
        return max((b for t, b in self.samples if start <= t <= end), default=0)


def dataset(size: str) -> Path:
    """The cached cut of the 25M shape, generated on first use."""
    users, items, interactions = SIZES[size]
    folder = CACHE / size
    if not (folder / "items.csv").is_file():
        command = [str(SWEEP), "generate", "--preset", "ml-25m-shape", "--users", str(users)]
        command += ["--items", str(items), "--interactions", str(interactions), "--out", str(folder)]
        subprocess.run(command, check=True)
    return folder


def floor(data: Path) -> dict[str, Any]:
    process = subprocess.Popen(
        [sys.executable, "-c", _FLOOR, str(data / "interactions.csv")], stdout=subprocess.PIPE, text=True
    )
    with Sampler(process.pid) as sampler:
        out, _ = process.communicate()
    if process.returncode:
        raise RuntimeError(f"the floor measurement exited {process.returncode}")
    figures: dict[str, Any] = json.loads(out)
    figures["seconds"] = figures["fitSeconds"] + figures["top200Seconds"]
    figures["peakRssBytes"] = sampler.peak()
    return figures


_LINE = re.compile(r"^\[\s*([\d.]+)s\] (\w+)\s+(.*)$")


def _stage_windows(history: list[dict[str, Any]], lines: list[tuple[float, str]]) -> dict[str, list[float]]:
    """Stage -> [start, end] in epoch seconds, from the execution history and the CLI's progress lines."""
    windows: dict[str, list[float]] = {}

    def widen(name: str, start: float, end: float) -> None:
        window = windows.setdefault(name, [start, end])
        window[0], window[1] = min(window[0], start), max(window[1], end)

    uploaded = next(t for t, text in lines if text.startswith("uploaded "))
    widen("validate and upload (CLI)", lines[0][0], uploaded)
    entered: dict[str, list[float]] = {}
    for event in history:
        stamp = datetime.fromisoformat(event["timestamp"]).timestamp()
        if event["type"].endswith("StateEntered"):
            entered.setdefault(event["stateEnteredEventDetails"]["name"], []).append(stamp)
        elif event["type"].endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            widen(name, entered[name].pop(0), stamp)
    stages = {
        "PrepareRun": "validate (PrepareRun)",
        # Files above ValidationChunkBytes: PrepareRun checks the other files and splits, the Distributed
        # Map validates the chunks, FinishValidation merges their results.
        "ValidateChunks": "validate chunks (Distributed Map)",
        "FinishValidation": "merge chunk results",
        "CompareSolutions": "compare",
        "ApplyKeep": "keep",
        "Notify": "notify",
    }
    renamed = {label: windows[state] for state, label in stages.items() if state in windows}
    renamed["validate and upload (CLI)"] = windows["validate and upload (CLI)"]
    if "ImportDatasets" in windows and "TrainLevels" in windows:
        renamed["import"] = [windows["ImportDatasets"][0], windows["TrainLevels"][0]]
    for level in LEVELS:
        stamps = [(t, text) for t, text in lines if text.startswith(f"{level} ")]
        trained = [t for t, text in stamps if "trained" in text]
        active = [t for t, text in stamps if "campaign ACTIVE" in text]
        if stamps and trained:
            renamed[f"solution, training and metrics {level}"] = [stamps[0][0], trained[0]]
        if trained and active:
            renamed[f"campaign {level}"] = [trained[0], active[0]]
    return renamed


def sweep(size: str, data: Path, scratch: Path) -> dict[str, Any]:
    out = scratch / f"sweep-{size}"
    command = [str(SWEEP), "run", "--interactions", str(data / "interactions.csv")]
    command += ["--items", str(data / "items.csv"), "--titles", str(data / "titles.csv")]
    command += ["--experiment", f"scale-{size}", "--out", str(out)]
    started = time.time()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[tuple[float, str]] = [(started, "start")]
    with Sampler(process.pid) as sampler:
        assert process.stdout is not None
        for raw in process.stdout:
            match = _LINE.match(raw.strip())
            text = f"{match.group(2)} {match.group(3)}" if match else raw.strip()
            lines.append((time.time(), text))
        process.wait()
    ended = time.time()
    if process.returncode:
        raise RuntimeError(
            f"sweep run on {size} exited {process.returncode}:\n" + "\n".join(t for _, t in lines[-30:])
        )
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    stages = {
        name: {"seconds": round(end - start, 2), "peakRssBytes": sampler.peak(start, end)}
        for name, (start, end) in sorted(_stage_windows(history, lines).items(), key=lambda kv: kv[1][0])
    }
    levels = {level["sensitivity"]: level for level in report["levels"]}
    return {
        "seconds": round(ended - started, 2),
        "peakRssBytes": sampler.peak(),
        "stages": stages,
        "peakRssBytesByProcess": sampler.process_peaks(),
        "levels": {name: level["status"] for name, level in levels.items()},
        "metricCount": {name: len(level.get("metrics") or {}) for name, level in levels.items()},
        "meanTopKObjectiveSum": {name: level.get("meanTopKObjectiveSum") for name, level in levels.items()},
    }


def _exponent(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of log(value) against log(size): 1 is linear growth."""
    if len(points) < 2:
        return None
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return round(
        sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs), 2
    )


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda r: r["sweep"]["seconds"])[len(runs) // 2]


def markdown(result: dict[str, Any]) -> str:
    """The per-stage table of docs/local-personalize.md: seconds and peak GiB per size."""
    sizes = list(result["sizes"])
    # In the order of the largest size's run, which has every stage (small files skip the chunks).
    stages = list(
        dict.fromkeys(name for size in reversed(sizes) for name in result["sizes"][size]["sweep"]["stages"])
    )
    gib = 1024**3
    lines = [
        "| stage | " + " | ".join(f"{size} s | {size} GiB" for size in sizes) + " |",
        "| --- |" + " ---: | ---: |" * len(sizes),
    ]
    for stage in stages:
        cells = []
        for size in sizes:
            figures = result["sizes"][size]["sweep"]["stages"].get(stage)
            cells += (
                [f"{figures['seconds']:.1f}", f"{figures['peakRssBytes'] / gib:.2f}"] if figures else ["", ""]
            )
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    for label, seconds, peak in (
        ("whole sweep", "sweepSeconds", "sweepPeakRssBytes"),
        ("compute floor (fit + top-200)", "floorSeconds", "floorPeakRssBytes"),
    ):
        cells = []
        for size in sizes:
            row = result["sizes"][size]
            cells += [f"{row[seconds]:.1f}", f"{row[peak] / gib:.2f}"]
        lines.append(f"| **{label}** | " + " | ".join(cells) + " |")
    ratios = " | ".join(f"{result['sizes'][size]['ratioToFloor']}x | " for size in sizes)
    lines.append(f"| **ratio to the floor** | {ratios}")
    return "\n".join(lines)


def _summary(size: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs of one size, with the median run's details."""
    middle = _median_run(runs)
    floor_seconds = statistics.median(r["floor"]["seconds"] for r in runs)
    sweep_seconds = statistics.median(r["sweep"]["seconds"] for r in runs)
    return {
        "interactions": SIZES[size][2],
        "users": SIZES[size][0],
        "items": SIZES[size][1],
        "runs": len(runs),
        "sweepSeconds": sweep_seconds,
        "sweepPeakRssBytes": int(statistics.median(r["sweep"]["peakRssBytes"] for r in runs)),
        "floorSeconds": round(floor_seconds, 2),
        "floorPeakRssBytes": int(statistics.median(r["floor"]["peakRssBytes"] for r in runs)),
        "ratioToFloor": round(sweep_seconds / floor_seconds, 2),
        "floor": middle["floor"],
        "sweep": middle["sweep"],
        "commit": _commit(),
        "runsEndedAt": [r["endedAt"] for r in runs],
        "loadAveragePerRun": [r["loadAverage"] for r in runs],
        "sweepSecondsPerRun": [r["sweep"]["seconds"] for r in runs],
        "sweepPeakRssBytesPerRun": [r["sweep"]["peakRssBytes"] for r in runs],
        "floorSecondsPerRun": [r["floor"]["seconds"] for r in runs],
        "ratioToFloorPerRun": [round(r["sweep"]["seconds"] / r["floor"]["seconds"], 2) for r in runs],
    }


def _commit() -> str | None:
    """The commit measured (with "+changes" when the working tree differs from it)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", ":!benchmarks/results"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def _save(results: dict[str, Any], failed: dict[str, Any]) -> dict[str, Any]:
    ordered = sorted(results.values(), key=lambda r: r["interactions"])
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "targets": {"peakRssBytes": TARGET_PEAK_BYTES, "ratioToFloor": TARGET_FLOOR_RATIO, "at": "25m"},
        "growthExponent": {
            "sweepSeconds": _exponent([(r["interactions"], r["sweepSeconds"]) for r in ordered]),
            "sweepPeakRssBytes": _exponent([(r["interactions"], r["sweepPeakRssBytes"]) for r in ordered]),
            "floorSeconds": _exponent([(r["interactions"], r["floorSeconds"]) for r in ordered]),
        },
        "sizes": {size: results[size] for size in SIZES if size in results},
        "failed": failed,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def main(argv: list[str]) -> int:
    chosen = [s.strip() for s in os.environ.get("SIZES", ",".join(SIZES)).split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SIZES]
    if unknown:
        print(f"SIZES: unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}", file=sys.stderr)
        return 2
    repeats = int(os.environ.get("RUNS", "1"))
    previous = json.loads(RESULT.read_text(encoding="utf-8")) if RESULT.is_file() else {}
    results: dict[str, Any] = previous.get("sizes", {})
    # A size whose sweep failed keeps its floor and the failure, so a partial run is not lost.
    failed: dict[str, Any] = previous.get("failed", {})
    for size in chosen:
        data = dataset(size)
        runs: list[dict[str, Any]] = []
        for attempt in range(repeats):
            with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
                print(f"== {size} run {attempt + 1}/{repeats}: floor", flush=True)
                measured_floor = floor(data)
                print(f"== {size}: sweep", flush=True)
                try:
                    measured_sweep = sweep(size, data, Path(scratch))
                except RuntimeError as failure:
                    print(failure, file=sys.stderr)
                    failed[size] = {"floor": measured_floor, "error": str(failure).splitlines()[-3:]}
                    break
            runs.append(
                {
                    "floor": measured_floor,
                    "sweep": measured_sweep,
                    # What else the machine ran: the 1-minute load average when the run ended.
                    "endedAt": datetime.now(UTC).isoformat(timespec="seconds"),
                    "loadAverage": round(os.getloadavg()[0], 2),
                }
            )
            # Saved after every run (medians of the runs so far, "runs" says how many), so a long
            # benchmark stopped part way keeps what it measured.
            failed.pop(size, None)
            results[size] = _summary(size, runs)
            _save(results, failed)
            row = results[size]
            print(
                f"{size} ({len(runs)} run(s)): sweep {row['sweepSeconds']:.1f} s, peak "
                f"{row['sweepPeakRssBytes'] / 1024**3:.2f} GiB; floor {row['floorSeconds']:.1f} s; "
                f"ratio {row['ratioToFloor']}x",
                flush=True,
            )
        if size in failed and not runs:
            results.pop(size, None)
    result = _save(results, failed)
    print(markdown(result))
    print(f"growth exponents {result['growthExponent']}; saved {RESULT.relative_to(ROOT)}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    full = results.get("25m")
    if full is None:
        return 0
    ok = full["sweepPeakRssBytes"] <= TARGET_PEAK_BYTES and full["ratioToFloor"] <= TARGET_FLOOR_RATIO
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
