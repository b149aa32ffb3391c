"""Ctrl-C and SIGTERM end a long-running `sweep` command cleanly: the exit status docs/cli.md gives
(130, 143), one line on stderr, no traceback. `sweep personalize serve` stands for every command that
waits; tests/cli/test_terminate.py does the same to `sweep run` mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from objective_sweep.cli.status import ExitStatus

SWEEP = Path(sys.executable).parent / "sweep"


@pytest.mark.parametrize(
    ("stop", "status", "words"),
    [
        (signal.SIGINT, ExitStatus.INTERRUPTED, "interrupted; stopped cleanly"),
        (signal.SIGTERM, ExitStatus.TERMINATED, "terminated (SIGTERM); stopped cleanly"),
    ],
)
def test_a_serving_command_stops_cleanly(stop: signal.Signals, status: int, words: str) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    serve = subprocess.Popen(
        [str(SWEEP), "personalize", "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
    )  # fmt: skip
    try:
        assert serve.stdout is not None
        assert serve.stdout.readline().startswith("http://127.0.0.1:")
        serve.send_signal(stop)
        _, err = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    assert serve.returncode == status
    assert err == f"sweep personalize: {words}\n"
