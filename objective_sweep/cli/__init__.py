"""The `sweep` command. Each area registers its own subcommands from a module of this package."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
