"""SIGTERM (a CI job cancelled, `kill`, a container stopping) ends `sweep run` the way Ctrl-C does: a
message, exit status 143, the fresh local cloud stopped and its temporary folder gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from objective_sweep.cli.status import ExitStatus
from objective_sweep.localcloud.runs import RunFiles

pytestmark = pytest.mark.slow

SWEEP = Path(sys.executable).parent / "sweep"


def test_sigterm_mid_run_stops_cleanly_and_leaves_no_temporary_files(files: RunFiles, tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment.update({"TMPDIR": str(temporary), "OPENBLAS_NUM_THREADS": "1"})
    run = subprocess.Popen(
        [str(SWEEP), "run", "--interactions", str(files.interactions), "--items", str(files.items),
         "--experiment", "stopped", "--sensitivities", "OFF", "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
    )  # fmt: skip
    try:
        assert run.stdout is not None
        lines: list[str] = []
        # Mid-run: the execution has started and is being followed.
        while not (line := run.stdout.readline()).startswith("["):
            assert line, "sweep run ended before following its execution: " + "".join(lines)
            lines.append(line)
        assert any(line.startswith("execution arn:") for line in lines), lines
        assert os.listdir(temporary), "the local cloud works in the temporary folder while it runs"
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == ExitStatus.TERMINATED == 143, err
    assert err == "sweep run: terminated (SIGTERM); stopped cleanly\n"
    assert os.listdir(temporary) == []
    assert not (tmp_path / "out").exists(), "an interrupted run writes no results"
