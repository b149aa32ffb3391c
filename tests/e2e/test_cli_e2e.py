"""The `sweep` command as a user runs it, in a fresh process: `sweep demo` on the synthetic preset and
on the real MovieLens latest-small, `sweep run` refusing bad input before anything is uploaded, and `sweep local up`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.slow

SWEEP = Path(sys.executable).parent / "sweep"
ROOT = Path(__file__).resolve().parents[2]


# Thread settings a user's shell does not have (the Makefile exports one): `sweep` must set its own.
_BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def _environment() -> dict[str, str]:
    """This environment without AWS or BLAS settings, which another test or the developer's shell may hold."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in _BLAS_VARIABLES
    }


def _sweep(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SWEEP), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=240,
        check=False,
    )


def _check_sweep_output(done: subprocess.CompletedProcess[str], out: Path) -> dict[str, dict[str, object]]:
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"results in {out}/" in done.stdout
    # implicit warns when BLAS runs its own threads inside its training threads.
    assert "OpenBLAS" not in done.stderr, done.stderr
    assert "threadpool" not in done.stderr, done.stderr
    assert {p.name for p in out.iterdir()} == {"report.json", "report.md", "report.html", "history.json"}
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    levels = {level["sensitivity"]: level for level in report["levels"]}
    assert list(levels) == ["OFF", "LOW", "MEDIUM", "HIGH"]
    assert {level["status"] for level in levels.values()} == {"ACTIVE"}, report["failures"]
    # The comparison table was printed, and the royalty paid falls from OFF to HIGH.
    assert "NDCG@10" in done.stdout
    # The demo's cloud is gone when it returns: no cleanup command to run, and it says nothing billed.
    assert "sweep cleanup" not in done.stdout
    assert "nothing bills" in done.stdout
    off, high = levels["OFF"]["meanTopKObjectiveSum"], levels["HIGH"]["meanTopKObjectiveSum"]
    assert isinstance(off, float)
    assert isinstance(high, float)
    assert high > off, (off, high)
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    assert history[-1]["type"] == "ExecutionSucceeded"
    failures = [e for e in history if e["type"] in ("TaskFailed", "LambdaFunctionFailed")]
    assert not failures, failures
    return levels


def test_demo_on_the_synthetic_preset(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    _check_sweep_output(_sweep("demo", "--out", str(out)), out)


def test_demo_on_movielens_latest_small(tmp_path: Path, ml_latest_small: Path) -> None:
    out = tmp_path / "ml"
    done = _sweep(
        "demo", "--dataset", "ml-latest-small", "--data-dir", str(ml_latest_small), "--out", str(out)
    )
    _check_sweep_output(done, out)


def test_run_refuses_bad_input_before_uploading(tmp_path: Path) -> None:
    interactions = tmp_path / "interactions.csv"
    interactions.write_text("USER_ID,ITEM_ID,TIMESTAMP\n1,10,978300760\n2,11,not-a-time\n", encoding="utf-8")
    items = tmp_path / "items.csv"
    items.write_text("ITEM_ID,ROYALTY\n10,-0.01\n11,-0.02\n", encoding="utf-8")
    done = _sweep(
        "run", "--interactions", str(interactions), "--items", str(items), "--out", str(tmp_path / "o")
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "nothing was uploaded" in done.stderr
    assert "interactions.csv, line 3" in done.stderr
    # Refused before a local cloud was even started.
    assert "starting the local cloud" not in done.stdout


def test_local_up_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [str(SWEEP), "local", "up"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
    )
    try:
        exports: dict[str, str] = {}
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("export "):
                key, _, value = line.removeprefix("export ").strip().partition("=")
                exports[key] = value
            if line.startswith("# e.g."):
                break
        # With the printed variables, plain boto3 (or the AWS CLI) reaches the local cloud.
        sfn = boto3.client(
            "stepfunctions",
            endpoint_url=exports["AWS_ENDPOINT_URL"],
            region_name=exports["AWS_DEFAULT_REGION"],
            aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
        )
        (machine,) = sfn.list_state_machines()["stateMachines"]
        assert machine["name"] == "objective-sweep"  # named after the stack
        assert exports["AWS_ENDPOINT_URL_PERSONALIZE"].startswith("http://127.0.0.1:")
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    port = int(exports["AWS_ENDPOINT_URL"].rsplit(":", 1)[1])
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
