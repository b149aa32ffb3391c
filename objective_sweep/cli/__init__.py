"""The `sweep` command. Each area registers its own subcommands from a module of this package."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from objective_sweep.cli.status import ExitStatus, Terminated

# BLAS reads its thread count once, when numpy first loads it, and the subcommand modules load numpy:
# implicit runs its own threads, so BLAS threads inside them would oversubscribe the cores (and implicit
# warns about it). The user's own setting wins.
for _variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# Modules that define `register(subparsers)`; each adds its subcommands with a `func` default.
_COMMAND_MODULES = ("personalize", "data", "workflow")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep",
        description="Sweep Amazon Personalize objective sensitivities, in AWS or on a local cloud.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(subparsers)
    return parser


def _terminate(signum: int, frame: FrameType | None) -> None:
    # A second SIGTERM must not break off the cleanup the first one started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


def _tell(message: str) -> None:
    """A last word on stderr, which may be a closed pipe too (`sweep run ... 2>&1 | head`)."""
    with contextlib.suppress(OSError):
        print(message, file=sys.stderr, flush=True)


def _silence_stdout() -> None:
    """After a broken pipe: send what is still buffered to /dev/null, so that the interpreter's own
    flush at exit does not fail a second time ("Exception ignored ... BrokenPipeError")."""
    try:
        descriptor = sys.stdout.fileno()
    except (OSError, ValueError):
        return  # not a real file (a test's capture): nothing will flush it at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit statuses are ExitStatus's (docs/cli.md). Ctrl-C, SIGTERM and a
    closed output (`sweep run ... | head -3`) stop the command cleanly, with a message and no traceback."""
    # Signal handlers belong to the main thread; a caller on another thread keeps Python's defaults.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    command = "sweep"
    try:
        args = build_parser().parse_args(argv)
        command = f"sweep {args.command}"
        status = int(args.func(args) or 0)
        # A pipe buffers the output: a reader gone early shows here rather than at the exit's flush.
        sys.stdout.flush()
        return status
    except Terminated:
        _tell(f"{command}: terminated (SIGTERM); stopped cleanly")
        return ExitStatus.TERMINATED
    except KeyboardInterrupt:
        _tell(f"{command}: interrupted; stopped cleanly")
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        _tell(f"{command}: the output was closed (broken pipe); stopped")
        return ExitStatus.BROKEN_PIPE
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


if __name__ == "__main__":
    sys.exit(main())
