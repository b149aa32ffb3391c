"""`sweep` subcommands that run the workflow: demo, run, follow, local up, retrain, cleanup and report. Each
runs against a fresh local cloud, a running one (--endpoint) or a stack in AWS (--stack)."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from sweep_core.errors import InvalidInputError, Problem
from sweep_core.models import ALL_SENSITIVITIES, Sensitivity

from objective_sweep.cli.status import ExitStatus, terminal_width, wrapped
from objective_sweep.localcloud.cloud import LocalCloudError
from objective_sweep.localcloud.runs import (
    Deployment,
    Follower,
    RunError,
    RunFiles,
    build_config,
    execution_history,
    failure_cause,
    fetch_report_files,
    find_deployment,
    find_started_execution,
    json_object,
    latest_execution,
    retrain_input,
    run_fields,
    start_console_run,
    upload_run,
    validate_locally,
    write_results,
)

DEFAULT_STACK = "objective-sweep"
DEMO_EXPERIMENT = "demo"


def _sensitivities(text: str) -> list[str]:
    """The levels as written, upper-cased; RunConfig judges them, so a misspelt level gets the same
    did-you-mean as in a run file."""
    return [part.strip().upper() for part in text.split(",") if part.strip()]


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--endpoint", metavar="URL", help="a running local cloud (`sweep local up` prints its URL)"
    )
    where.add_argument(
        "--stack", metavar="NAME", help="a deployed stack in AWS (default credentials and region)"
    )


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sensitivities", type=_sensitivities, help="levels to train, e.g. OFF,HIGH (default all four)"
    )
    # No argparse choices: RunConfig refuses a bad value with a did-you-mean (e.g. recomended).
    parser.add_argument(
        "--keep",
        metavar="{all,recommended,none}",
        help="campaigns left running after the comparison (default recommended: only the recommended level's)",
    )
    parser.add_argument("--out", type=Path, help="results folder (default results/<experiment>/<execution>/)")
    _add_target_options(parser)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the workflow's subcommands."""
    demo = subparsers.add_parser("demo", help="run a full sweep on a built-in or MovieLens dataset, locally")
    # "demo" is the dataset catalogue's own name for the synthetic preset; both are accepted.
    demo.add_argument(
        "--dataset", choices=("synthetic", "demo", "ml-100k", "ml-latest-small"), default="synthetic"
    )
    demo.add_argument(
        "--data-dir",
        type=Path,
        help="MovieLens folder (u.data/u.item or ratings.csv/movies.csv); without it, the release is "
        "downloaded from GroupLens once and checked against its pinned digests",
    )
    _add_run_options(demo)
    demo.set_defaults(func=_reported(_demo))

    run = subparsers.add_parser(
        "run",
        help="sweep your own interactions and items",
        description="Sweep your own data. Give the files as options, or a run file (the sweep.json you would "
        "upload to S3: a RunConfig whose paths are relative to it); options given beside a run file override it.",
    )
    run.add_argument(
        "--run-file",
        type=Path,
        help="local run file (RunConfig JSON, e.g. examples/sweep.json); its file paths are relative to it",
    )
    run.add_argument("--interactions", type=Path, help="USER_ID,ITEM_ID,TIMESTAMP CSV")
    run.add_argument("--items", type=Path, help="ITEM_ID plus the numeric objective column CSV")
    run.add_argument("--users", type=Path, help="optional USER_ID plus attributes CSV")
    run.add_argument("--titles", type=Path, help="ITEM_ID,TITLE CSV shown in the report only")
    run.add_argument("--objective", help="numeric items column to optimise (default ROYALTY)")
    run.add_argument(
        "--experiment",
        help="experiment name; resources are named from it (default: the run file's, or sweep)",
    )
    _add_run_options(run)
    run.set_defaults(func=_reported(_run))

    follow = subparsers.add_parser(
        "follow",
        help="follow any execution to its end, then print and save its report",
        description="Attach to an execution however it was started (sweep run, an S3 upload, the console, "
        "the schedule): the same progress lines as sweep run, then the report and the results folder.",
    )
    follow.add_argument("execution", nargs="?", help="the execution ARN")
    follow.add_argument("--experiment", help="follow the experiment's latest execution instead")
    follow.add_argument("--out", type=Path, help="results folder (default results/<experiment>/<execution>/)")
    _add_target_options(follow)
    follow.set_defaults(func=_reported(_follow))

    local = subparsers.add_parser("local", help="the local cloud")
    local_commands = local.add_subparsers(dest="local_command", required=True, metavar="COMMAND")
    up = local_commands.add_parser("up", help="keep a local cloud running until Ctrl-C; prints the exports")
    up.set_defaults(func=_reported(_local_up))

    retrain = subparsers.add_parser("retrain", help="fire the retraining schedule's input for an experiment")
    retrain.add_argument("--experiment", required=True)
    _add_target_options(retrain)
    retrain.add_argument("--out", type=Path, help="results folder")
    retrain.set_defaults(func=_reported(_retrain))

    cleanup = subparsers.add_parser("cleanup", help="delete an experiment's Personalize resources")
    cleanup.add_argument("--experiment", required=True)
    _add_target_options(cleanup)
    cleanup.set_defaults(func=_reported(_cleanup))

    report = subparsers.add_parser("report", help="render a finished run's report in the terminal")
    report.add_argument("source", help="an execution ARN, or a report.json file")
    _add_target_options(report)
    report.set_defaults(func=_reported(_report))


class UsageError(Exception):
    """The options cannot work together (e.g. a command that needs a deployment was given none)."""


def _reported(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Errors from AWS, the local cloud or the run end the command with their message, not a traceback."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except UsageError as error:
            print(wrapped(f"sweep {args.command}: {error}"), file=sys.stderr)
            return ExitStatus.USAGE
        except (RunError, LocalCloudError, BotoCoreError, ClientError) as error:
            print(wrapped(f"sweep {args.command}: {error}"), file=sys.stderr)
            return ExitStatus.RUN_FAILED

    return run


# -- where a command runs --------------------------------------------------------------------------


@contextlib.contextmanager
def _deployment(args: argparse.Namespace, **cloud_options: Any) -> Iterator[Deployment]:
    """The target of a command: AWS (--stack), a running local cloud (--endpoint) or a fresh one."""
    if getattr(args, "stack", None):
        yield find_deployment(args.stack)
        return
    if getattr(args, "endpoint", None):
        # A local cloud accepts any key; without this a shell that exported nothing could not sign.
        for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(variable, "local")
        personalize = _local_personalize_url(args.endpoint)
        yield find_deployment(
            DEFAULT_STACK, endpoint_url=args.endpoint, personalize_url=personalize, region="us-east-1"
        )
        return
    from objective_sweep.localcloud import LocalCloud

    print("starting the local cloud ...", flush=True)
    with LocalCloud(**cloud_options) as cloud:
        yield cloud.deployment()


def _starts_own_cloud(args: argparse.Namespace) -> bool:
    """Whether `_deployment` starts a fresh local cloud for the command (neither --stack nor --endpoint)."""
    return not (getattr(args, "stack", None) or getattr(args, "endpoint", None))


def _local_personalize_url(endpoint: str) -> str | None:
    """A running local cloud stores its Personalize endpoint beside its stack (see LocalCloud)."""
    import boto3

    from objective_sweep.localcloud.cloud import personalize_parameter

    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1")
    try:
        value = ssm.get_parameter(Name=personalize_parameter(DEFAULT_STACK))["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None
    return str(value)


# -- demo and run ----------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from objective_sweep.datasets import DatasetUnavailable, resolve
    from objective_sweep.datasets.prepared import INTERACTIONS_FILE, ITEMS_FILE, TITLES_FILE

    # The catalogue calls the synthetic preset "demo"; the command line says what it is.
    name = "demo" if args.dataset in ("synthetic", "demo") else args.dataset
    try:
        prepared = resolve(name, data_dir=args.data_dir)
    except DatasetUnavailable as error:
        print(f"sweep demo: {error}", file=sys.stderr)
        return 2
    print(f"dataset {args.dataset}: prepared in {prepared}")
    files = RunFiles(prepared / INTERACTIONS_FILE, prepared / ITEMS_FILE, titles=prepared / TITLES_FILE)
    experiment = DEMO_EXPERIMENT if name == "demo" else f"demo-{name}"
    return _sweep(args, files, experiment=experiment)


# The RunConfig fields that name files; a local run file gives them as paths relative to itself.
_FILE_FIELDS = ("interactions", "items", "users", "titles")


def _run(args: argparse.Namespace) -> int:
    try:
        fields = _read_run_file(args.run_file) if args.run_file else {}
    except InvalidInputError as error:
        print(f"sweep run: {error}", file=sys.stderr)
        return 2
    paths = {name: getattr(args, name) or fields.pop(name, None) for name in _FILE_FIELDS}
    for name in ("interactions", "items"):
        if paths[name] is None:
            print(f"sweep run: give --{name} (or a --run-file that names it)", file=sys.stderr)
            return 2
    files = RunFiles(paths["interactions"], paths["items"], titles=paths["titles"], users=paths["users"])
    # Options given on the command line win over the run file's fields.
    options = {"experiment": args.experiment, "objective": args.objective}
    fields.update({name: value for name, value in options.items() if value is not None})
    fields.setdefault("experiment", "sweep")
    return _sweep(args, files, **fields)


def _read_run_file(path: Path) -> dict[str, Any]:
    """The fields of a local run file, its file paths made local paths relative to its folder."""

    def problem(message: str, fix: str, line: int | None = None) -> InvalidInputError:
        return InvalidInputError([Problem(file=str(path), message=message, fix=fix, line=line)])

    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise problem("does not exist", "check the path") from error
    except UnicodeDecodeError as error:
        raise problem(
            f"is not UTF-8 (byte 0x{error.object[error.start]:02x})", "save it as UTF-8 JSON"
        ) from error
    except OSError as error:
        raise problem(
            f"cannot be read ({error.strerror})", "check the path; run files are UTF-8 JSON"
        ) from error
    except json.JSONDecodeError as error:
        raise problem(
            f"is not valid JSON at column {error.colno} ({error.msg})", "correct the JSON", error.lineno
        ) from error
    if not isinstance(fields, dict):
        raise problem("is not a JSON object", "write a RunConfig object, e.g. examples/sweep.json")
    for name in _FILE_FIELDS:
        value = fields.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or value.startswith("s3://"):
            raise problem(
                f"field '{name}' is {json.dumps(value)}, not a local path",
                "a local run reads its files from disk: give a path relative to the run file",
            )
        fields[name] = path.parent / value
    return fields


def _sweep(args: argparse.Namespace, files: RunFiles, **fields: Any) -> int:
    """Validate and run. `fields` are RunConfig fields (experiment, and any from a run file); the
    --sensitivities and --keep options override them."""
    for name in ("sensitivities", "keep"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    # A refusal names the run file, or the option, that gave the field.
    given = [
        name
        for name in ("experiment", "objective", "sensitivities", "keep")
        if getattr(args, name, None) is not None
    ]
    run_file = getattr(args, "run_file", None)
    try:
        source = str(run_file) if run_file else "the run options"
        config = build_config(files, source=source, options={name: f"--{name}" for name in given}, **fields)
        validate_locally(config, files, say=_progress)
    except InvalidInputError as error:
        print("the input is not usable; nothing was uploaded:", file=sys.stderr)
        print(str(error), file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"invalid run options: {error}", file=sys.stderr)
        return 2
    experiment = config.experiment
    started = time.monotonic()
    with _deployment(args) as deployment:
        uploaded = upload_run(deployment, config, files, say=_progress)
        print(f"uploaded s3://{deployment.bucket}/{uploaded.key}; waiting for the execution it starts")
        execution_arn = find_started_execution(deployment, uploaded)
        own_cloud = _starts_own_cloud(args)
        return _follow_and_collect(
            deployment,
            execution_arn,
            experiment,
            list(config.sensitivities),
            args.out,
            started,
            own_cloud=own_cloud,
        )


def _progress(text: str) -> None:
    print(text, flush=True)


def _follow_and_collect(
    deployment: Deployment,
    execution_arn: str,
    experiment: str,
    levels: list[Sensitivity],
    out: Path | None,
    started: float,
    *,
    own_cloud: bool = False,
) -> int:
    """Follow the execution to its end, then write its results; the exit status says how it ended:
    every level ACTIVE, some levels failed, or the run failed. `own_cloud`: the command started the
    local cloud the run used, and stops it when it returns."""
    from sweep_core.report import Report

    print(f"execution {execution_arn}")
    # Locally a state lasts a fraction of a second; in AWS minutes, and List*/Describe* calls are rate limited.
    local = deployment.is_local()
    poll = 0.5 if local else 10.0
    described = Follower(
        deployment, execution_arn, experiment, levels, sys.stdout, poll_seconds=poll, width=terminal_width()
    ).follow()
    output = json_object(described.get("output"))
    if described["status"] == "SUCCEEDED" and output.get("duplicate") is True and output.get("duplicateOf"):
        # A repeated S3 event: this execution only found the one that runs the same run file version.
        print(f"this execution repeated an event; the run is {output['duplicateOf']}")
        return _follow_and_collect(
            deployment, str(output["duplicateOf"]), experiment, levels, out, started, own_cloud=own_cloud
        )
    history = execution_history(deployment, execution_arn)
    folder = out or Path("results") / experiment / execution_arn.rsplit(":", 1)[1]
    if described["status"] != "SUCCEEDED":
        # The local cloud's handler and interpreter logs vanish with it; keep them beside the history.
        logs = {path.name: path.read_bytes() for path in deployment.log_files if path.is_file()}
        write_results(folder, logs, history)
        print(wrapped(f"the run {described['status']}: {failure_cause(described, history)}"), file=sys.stderr)
        print(f"history and logs: {folder}/", file=sys.stderr)
        return ExitStatus.RUN_FAILED
    files = fetch_report_files(deployment, experiment, execution_arn)
    write_results(folder, files, history)
    report = Report.model_validate_json(files["report.json"])
    print()
    print(_render(_as_seen_here(report, deployment, local=local, own_cloud=own_cloud)))
    if local:
        print(
            wrapped(
                "This ran on the local cloud: nothing bills, and the cost line is what the same sweep would "
                "cost in AWS."
                + (" The local cloud stops now, and its campaigns with it." if own_cloud else ""),
                indent="",
            )
        )
    print(f"\nfinished in {time.monotonic() - started:.1f} s; results in {folder}/")
    if report.failures:
        failed = ", ".join(failure.sensitivity for failure in report.failures)
        print(f"{len(report.failures)} level(s) failed: {failed} (causes above)", file=sys.stderr)
        return ExitStatus.LEVELS_FAILED
    return ExitStatus.OK


def _as_seen_here(report: Any, deployment: Deployment, *, local: bool, own_cloud: bool) -> Any:
    """The report with the cleanup command this user can run: CompareSolutions names the stack (AWS),
    but a local cloud is reached by its endpoint, and a cloud the command started is gone after it."""
    if not local or deployment.endpoint_url is None:
        # AWS, or a local cloud reached through the exported environment, where --stack works as is.
        return report
    command = (
        ""
        if own_cloud
        else f"sweep cleanup --experiment {report.run.experiment} --endpoint {deployment.endpoint_url}"
    )
    return report.model_copy(update={"cost": report.cost.model_copy(update={"cleanup_command": command})})


def _render(report: Any) -> str:
    """The report in the terminal's width (the table needs 45 columns; past 100 it only spreads out)."""
    from sweep_core.report import render_text

    return render_text(report, width=min(max(terminal_width(), 45), 100)).rstrip("\n")


# -- local up, retrain, cleanup, report ------------------------------------------------------------


def _local_up(args: argparse.Namespace) -> int:
    from objective_sweep.localcloud import LocalCloud

    stop = threading.Event()
    # Ctrl-C and SIGTERM both just ask the wait below to end; a KeyboardInterrupt raised inside
    # Event.wait can break the event's lock ("release unlocked lock") instead of stopping cleanly.
    previous = {
        stopping: signal.signal(stopping, lambda *_: stop.set())
        for stopping in (signal.SIGINT, signal.SIGTERM)
    }
    with LocalCloud() as cloud:
        for key, value in sorted(cloud.environment.items()):
            print(f"export {key}={value}")
        print(
            f"# stack {cloud.stack_name}: bucket {cloud.stack.bucket_name}, "
            f"state machine {cloud.stack.state_machine_arn}"
        )
        print(f"# e.g. sweep run --endpoint {cloud.endpoint_url} ...; Ctrl-C stops the cloud", flush=True)
        while not stop.wait(0.5):
            pass
    for stopping, handler in previous.items():
        signal.signal(stopping, handler)
    print("local cloud stopped", file=sys.stderr)
    return 0


def _follow(args: argparse.Namespace) -> int:
    if bool(args.execution) == bool(args.experiment):
        raise UsageError("give an execution ARN or --experiment NAME (its latest execution): one of the two")
    if args.execution and not (args.execution.startswith("arn:") and ":execution:" in args.execution):
        raise UsageError(f"{args.execution} is not a Step Functions execution ARN")
    started = time.monotonic()
    with _existing_deployment(args) as deployment:
        arn = args.execution or latest_execution(deployment, args.experiment)
        described = deployment.client("stepfunctions").describe_execution(executionArn=arn)
        experiment, levels = _what_it_runs(deployment, dict(described))
        return _follow_and_collect(deployment, arn, experiment, levels, args.out, started)


def _retrain(args: argparse.Namespace) -> int:
    started = time.monotonic()
    with _existing_deployment(args) as deployment:
        execution_arn = start_console_run(deployment, retrain_input(deployment, args.experiment))
        # The schedule's input may train fewer levels than four: follow the ones it asks for.
        described = deployment.client("stepfunctions").describe_execution(executionArn=execution_arn)
        _, levels = _what_it_runs(deployment, dict(described))
        return _follow_and_collect(deployment, execution_arn, args.experiment, levels, args.out, started)


def _cleanup(args: argparse.Namespace) -> int:
    from sweep_core.cleanup import CleanupProgress, delete_experiment

    passes: list[CleanupProgress] = []

    def report(progress: CleanupProgress) -> None:
        passes.append(progress)
        for arn in progress.requested:
            print(f"deleting {arn}")
        if progress.remaining:
            print(f"waiting for {len(progress.remaining)} deletion(s) ...", flush=True)

    with _existing_deployment(args) as deployment:
        personalize = deployment.client("personalize")
        # The local endpoint finishes a deletion in well under a second; AWS takes minutes.
        interval = 0.2 if deployment.is_local() else 10.0
        deleted = delete_experiment(personalize, args.experiment, interval_s=interval, on_progress=report)
        if not (passes[0].requested or passes[0].remaining):
            print(wrapped(f"sweep cleanup: {_nothing_named(personalize, args.experiment)}"), file=sys.stderr)
            return ExitStatus.NOTHING_MATCHED
    print(f"experiment {args.experiment}: {len(deleted)} resource(s) deleted, nothing of it is left")
    return ExitStatus.OK


def _nothing_named(personalize: Any, experiment: str) -> str:
    """Why cleanup found nothing, with the dataset groups (one per experiment) whose names come close."""
    import difflib

    groups = [
        group["name"]
        for page in personalize.get_paginator("list_dataset_groups").paginate()
        for group in page["datasetGroups"]
    ]
    close = difflib.get_close_matches(experiment, groups, n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return (
        f"nothing in Personalize is named after experiment {experiment} (no dataset group, schema or "
        f"campaign of it): it was never run here, or is already cleaned up{hint}"
    )


def _report(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from sweep_core.report import Report

    source = Path(args.source)
    if source.is_dir():
        source = source / "report.json"
    if source.is_file():
        try:
            report = Report.model_validate_json(source.read_bytes())
        except (ValidationError, ValueError):
            print(f"sweep report: {source} {_not_a_report(source)}", file=sys.stderr)
            return ExitStatus.USAGE
    elif args.source.startswith("arn:") and ":execution:" in args.source:
        with _existing_deployment(args) as deployment:
            described = deployment.client("stepfunctions").describe_execution(executionArn=args.source)
            if described["status"] != "SUCCEEDED":
                history = execution_history(deployment, args.source)
                cause = failure_cause(described, history)
                print(wrapped(f"the run {described['status']}: {cause}"), file=sys.stderr)
                return ExitStatus.RUN_FAILED
            experiment, _ = _what_it_runs(deployment, dict(described))
            text = fetch_report_files(deployment, experiment, args.source)["report.json"]
            report = Report.model_validate_json(text)
    else:
        print(
            f"sweep report: {args.source} is neither a report.json file nor a Step Functions execution ARN",
            file=sys.stderr,
        )
        return ExitStatus.USAGE
    print(_render(report))
    return ExitStatus.OK


def _not_a_report(path: Path) -> str:
    """What a file given to `sweep report` is instead of a report, in a few words."""
    try:
        value = json.loads(path.read_bytes())
    except (ValueError, OSError):
        return "is not a report.json (not JSON): give the report.json of a run, or its execution ARN"
    if path.name == "history.json" or (isinstance(value, list) and value and "timestamp" in str(value[0])):
        return "is a run's execution history, not its report: give the report.json beside it, or the execution ARN"
    return "is not a report.json written by a sweep (its fields differ): give the report.json of a run"


@contextlib.contextmanager
def _existing_deployment(args: argparse.Namespace) -> Iterator[Deployment]:
    if not (args.endpoint or args.stack):
        raise UsageError(
            "works on an existing deployment: give --endpoint URL (a running local cloud, see "
            "`sweep local up`) or --stack NAME (AWS)"
        )
    with _deployment(args) as deployment:
        yield deployment


def _what_it_runs(deployment: Deployment, described: dict[str, Any]) -> tuple[str, list[Sensitivity]]:
    """The experiment and levels of an execution: from its output summary once it has one, else from
    its input (a RunConfig, or the run file it points to)."""
    fields = run_fields(deployment, json_object(described.get("input")))
    output = json_object(described.get("output"))
    summary = output.get("summary")
    for candidate in (output, summary if isinstance(summary, dict) else {}, fields):
        if isinstance(candidate.get("experiment"), str):
            experiment = str(candidate["experiment"])
            break
    else:
        raise RunError(f"cannot tell the experiment of {described['executionArn']} from its input or output")
    asked = fields.get("sensitivities")
    levels = [level for level in ALL_SENSITIVITIES if isinstance(asked, list) and level in asked]
    return experiment, levels or list(ALL_SENSITIVITIES)
