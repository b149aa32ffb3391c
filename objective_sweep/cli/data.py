"""`sweep` subcommands for the data area: prepare MovieLens, generate the synthetic catalogue,
validate input files before they cost anything."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sweep_core.errors import InvalidInputError

from objective_sweep.datasets.prepared import PreparedDataset


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add `sweep prepare`, `sweep generate` and `sweep validate`."""
    prepare = subparsers.add_parser("prepare", help="prepare a dataset the way the study did")
    sources = prepare.add_subparsers(dest="source_kind", required=True, metavar="SOURCE")
    movielens = sources.add_parser(
        "movielens", help="MovieLens 100K (u.data, u.item) or latest-small (ratings.csv, movies.csv)"
    )
    movielens.add_argument("--source", type=Path, required=True, help="unzipped MovieLens folder")
    movielens.add_argument("--out", type=Path, required=True, help="folder to write the prepared files to")
    movielens.set_defaults(func=_prepare_movielens)


def _prepare_movielens(args: argparse.Namespace) -> int:
    from objective_sweep.datasets.movielens import prepare

    try:
        prepared = prepare(args.source, args.out)
    except InvalidInputError as error:
        print(f"sweep prepare: {error}", file=sys.stderr)
        return 2
    _print_prepared(prepared)
    return 0


def _print_prepared(prepared: PreparedDataset) -> None:
    print(
        f"{prepared.path}: {prepared.interactions:,} interactions, {prepared.users:,} users, "
        f"{prepared.items:,} items"
    )
