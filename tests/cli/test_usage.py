"""`sweep` commands refusing what cannot work, before anything starts: the exit status docs/cli.md
gives (2 for usage), one plain line naming the problem, and no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from objective_sweep.cli import main
from objective_sweep.cli.status import ExitStatus

SWEEP = Path(sys.executable).parent / "sweep"


def _sweep(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    return subprocess.run(
        [str(SWEEP), *args], cwd=cwd, capture_output=True, text=True, env=environment, timeout=60, check=False
    )


# Starts the installed command (a fresh interpreter importing the CLI): slow by the marker's meaning.
@pytest.mark.slow
def test_report_refuses_the_history_beside_the_report(tmp_path: Path) -> None:
    history = tmp_path / "history.json"
    history.write_text(json.dumps([{"timestamp": "2026-12-05", "type": "ExecutionStarted", "id": 1}]))
    done = _sweep("report", str(history), cwd=tmp_path)
    assert done.returncode == ExitStatus.USAGE == 2
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"sweep report: {history} is a run's execution history, not its report")
    assert "give the report.json beside it" in done.stderr


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not json at all", "is not a report.json (not JSON)"),
        ('{"experiment": "x"}', "is not a report.json written by a sweep"),
    ],
)
def test_report_refuses_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, words: str
) -> None:
    path = tmp_path / "notes.json"
    path.write_text(content)
    assert main(["report", str(path)]) == ExitStatus.USAGE
    captured = capsys.readouterr()
    assert captured.err.startswith(f"sweep report: {path} {words}")
    assert captured.err.count("\n") == 1
    assert main(["report", str(tmp_path / "missing.json")]) == ExitStatus.USAGE
    assert "is neither a report.json file nor a Step Functions execution ARN" in capsys.readouterr().err


def test_commands_on_a_deployment_need_one(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["cleanup", "--experiment", "shop"], ["follow", "--experiment", "shop"]):
        assert main(command) == ExitStatus.USAGE
        err = capsys.readouterr().err
        assert err.startswith(f"sweep {command[0]}: works on an existing deployment: give --endpoint URL")
        assert f"sweep {command[0]}: sweep" not in err


def test_follow_needs_one_execution(capsys: pytest.CaptureFixture[str]) -> None:
    arn = "arn:aws:states:us-east-1:123456789012:execution:sweep:run-1"
    assert main(["follow", arn, "--experiment", "shop", "--stack", "s"]) == ExitStatus.USAGE
    assert "give an execution ARN or --experiment NAME" in capsys.readouterr().err
    assert main(["follow", "--stack", "s"]) == ExitStatus.USAGE
    assert "give an execution ARN or --experiment NAME" in capsys.readouterr().err
    assert main(["follow", "run-1", "--stack", "s"]) == ExitStatus.USAGE
    assert "run-1 is not a Step Functions execution ARN" in capsys.readouterr().err


def test_unknown_options_exit_2() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["follow", "--bogus"])
    assert exited.value.code == ExitStatus.USAGE
