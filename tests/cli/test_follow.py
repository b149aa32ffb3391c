"""`sweep run`, `sweep follow` and `sweep cleanup` on one local cloud, as a user runs them: the exit
status of each ending (docs/cli.md), the progress view on an execution the CLI did not start, what
`keep` left per level, failure causes shown whole, and a closed pipe or Ctrl-C ending the command
cleanly (no traceback)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.runs import start_upload

from objective_sweep.cli import main
from objective_sweep.cli.status import ExitStatus
from objective_sweep.localcloud import LocalCloud
from objective_sweep.localcloud.runs import Deployment, RunFiles

pytestmark = pytest.mark.slow

SWEEP = Path(sys.executable).parent / "sweep"
# Long enough for the piped run's follower to start and be interrupted while the execution runs.
PIPED_HOLD_S = 15
# Long enough that a cut ("...") or a terminal-wide line would lose its end.
REASON = (
    "Injected failure: the HIGH level's training could not converge on this data because the "
    "interactions file has too few distinct items per user; create more interactions per user, or "
    "lower the objective sensitivity, then run the experiment again (END-OF-REASON)"
)
FAULTS = {
    "fail": [{"resource": "solutionVersion", "name": "partial-high*", "reason": REASON}],
    # The piped run's training is held, so its execution is still running when its follower is
    # interrupted (otherwise a quick execution can end first and the follower exits 0).
    "slowTraining": [{"name": "piped-*", "seconds": PIPED_HOLD_S}],
}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(personalize_options={"faults": FAULTS}) as running:
        yield running


def _main(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


def _campaign_row(text: str) -> list[str]:
    (row,) = [line for line in text.splitlines() if line.startswith("campaign ")]
    return row.split()[1:]


def _environment() -> dict[str, str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    return {**clean, "OPENBLAS_NUM_THREADS": "1", "COLUMNS": "80"}


def _live_campaigns(deployment: Deployment, experiment: str) -> list[str]:
    pz = deployment.client("personalize")
    return [
        campaign["name"]
        for campaign in pz.list_campaigns()["campaigns"]
        if campaign["name"].startswith(f"{experiment}-") and not campaign["status"].startswith("DELETE")
    ]


def test_run_with_a_failed_level_exits_3_and_shows_the_cause_whole(
    cloud: LocalCloud, files: RunFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    status, out, err = _main(
        "run", "--interactions", str(files.interactions), "--items", str(files.items),
        "--experiment", "partial", "--sensitivities", "OFF,HIGH",
        "--endpoint", cloud.endpoint_url, "--out", str(tmp_path / "partial"),
    )  # fmt: skip
    assert status == ExitStatus.LEVELS_FAILED == 3, out + err
    assert err == "1 level(s) failed: HIGH (causes above)\n"
    assert "Traceback" not in out + err
    flowing = " ".join(out.split())
    # The progress line and the report's failure line both carry the reason to its last word...
    assert f"HIGH training failed: {REASON}" in flowing
    assert "FAILED HIGH: ResourceFailedError: " in flowing
    assert flowing.count("(END-OF-REASON)") == 2
    # ... wrapped to the terminal's 60 columns rather than cut.
    report_lines = out.split("\n\n", 1)[1].split("\nfinished in")[0].splitlines()
    assert max(len(line) for line in report_lines) <= 60, out
    assert "..." not in out
    # keep=recommended (the default): OFF's campaign is the one left; HIGH never got one.
    assert _campaign_row(out) == ["KEPT", "FAILED"]
    assert "Cost: 1 campaign(s) left running (keep=recommended)" in flowing
    # The cleanup command reaches this local cloud, not a stack in AWS; nothing here bills.
    assert f"sweep cleanup --experiment partial --endpoint {cloud.endpoint_url}" in flowing
    assert "--stack" not in out
    assert "This ran on the local cloud: nothing bills" in flowing


def test_follow_attaches_to_a_run_an_upload_started(
    cloud: LocalCloud, deployment: Deployment, files: RunFiles, tmp_path: Path
) -> None:
    # Started as `aws s3 cp sweep.json s3://.../experiments/attach/` would: the CLI did not start it.
    arn = start_upload(deployment, files, "attach", sensitivities=["OFF", "LOW"])
    status, out, err = _main("follow", "--experiment", "attach", "--endpoint", cloud.endpoint_url,
                             "--out", str(tmp_path / "attach"))  # fmt: skip
    assert status == ExitStatus.OK == 0, out + err
    assert out.startswith(f"execution {arn}\n")
    progress = [line.split("] ", 1)[1].split()[0] for line in out.splitlines() if line.startswith("[")]
    assert {"workflow", "OFF", "LOW"} <= set(progress), out
    assert "workflow  SUCCEEDED" in out
    assert "NDCG@10" in out
    assert f"results in {tmp_path / 'attach'}/" in out
    assert {p.name for p in (tmp_path / "attach").iterdir()} >= {"report.json", "history.json"}
    # One of the two campaigns was deleted after the comparison, as the row says.
    assert sorted(_campaign_row(out)) == ["DELETED", "KEPT"]
    assert len(_live_campaigns(deployment, "attach")) == 1
    assert "1 deleted after the comparison" in " ".join(out.split())

    # By ARN, after the fact, through the stack's outputs: the same ending and the same report.
    again, later, _ = _main("follow", arn, "--stack", cloud.stack_name, "--out", str(tmp_path / "again"))
    assert again == ExitStatus.OK
    assert "workflow  SUCCEEDED" in later
    first, second = (
        " ".join(text.split("\n\n", 1)[1].split("finished in")[0].split()) for text in (out, later)
    )
    # Each names the cleanup command that reaches the cloud the way it was reached.
    assert f"sweep cleanup --experiment attach --endpoint {cloud.endpoint_url}" in first
    assert f"sweep cleanup --experiment attach --stack {cloud.stack_name}" in second
    assert first.split("To remove them")[0] == second.split("To remove them")[0]

    # cleanup: a misspelt name matches nothing (exit 4, with the likely name); the real one is removed.
    status, out, err = _main("cleanup", "--experiment", "atach", "--endpoint", cloud.endpoint_url)
    assert status == ExitStatus.NOTHING_MATCHED == 4
    assert out == ""
    assert err.startswith("sweep cleanup: nothing in Personalize is named after experiment atach")
    assert "did you mean attach?" in " ".join(err.split())
    assert "sweep cleanup: sweep" not in err
    status, out, err = _main("cleanup", "--experiment", "attach", "--endpoint", cloud.endpoint_url)
    assert status == ExitStatus.OK, err
    assert "experiment attach: " in out
    assert "resource(s) deleted, nothing of it is left" in out


def test_a_closed_pipe_or_ctrl_c_stops_the_command_without_a_traceback(
    cloud: LocalCloud, files: RunFiles, tmp_path: Path
) -> None:
    run = subprocess.Popen(
        [str(SWEEP), "run", "--interactions", str(files.interactions), "--items", str(files.items),
         "--experiment", "piped", "--sensitivities", "OFF", "--endpoint", cloud.endpoint_url,
         "--out", str(tmp_path / "piped")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_environment(),
    )  # fmt: skip
    follower: subprocess.Popen[str] | None = None
    arn = ""
    try:
        assert run.stdout is not None
        # `sweep run ... | head -N`: lines read up to the first progress line, then the reader is gone.
        head: list[str] = []
        while not head or not head[-1].startswith("["):
            head.append(run.stdout.readline())
            assert head[-1], head
        (execution,) = [line for line in head if line.startswith("execution ")]
        arn = execution.split()[1]
        # A shell starts a background job with Ctrl-C ignored, and a child inherits that: the follower
        # gets Ctrl-C's default here whoever started the tests (exec resets a handler, not SIG_IGN).
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            follower = subprocess.Popen(
                [str(SWEEP), "follow", arn, "--endpoint", cloud.endpoint_url, "--out", str(tmp_path / "f")],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_environment(),
            )  # fmt: skip
        finally:
            signal.signal(signal.SIGINT, previous)
        assert follower.stdout is not None
        assert follower.stdout.readline().startswith(f"execution {arn}")
        follower.send_signal(signal.SIGINT)
        _, follower_err = follower.communicate(timeout=60)
        assert follower.returncode == ExitStatus.INTERRUPTED == 130
        assert follower_err == "sweep follow: interrupted; stopped cleanly\n"
        # The run writes its next progress line when the held training ends, and finds the pipe closed.
        run.stdout.close()
        assert run.wait(timeout=PIPED_HOLD_S + 120) == ExitStatus.BROKEN_PIPE == 141
        run_err = run.stderr.read() if run.stderr else ""
        assert run_err == "sweep run: the output was closed (broken pipe); stopped\n"
    finally:
        for process in (run, follower):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    # The execution itself carries on, as one started from a terminal that was closed would (the
    # module's cloud stops it at the end; waiting for it here would only add time).
    if arn:
        status = cloud.deployment().client("stepfunctions").describe_execution(executionArn=arn)["status"]
        assert status in ("RUNNING", "SUCCEEDED")
