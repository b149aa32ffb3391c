"""`sweep` subcommands for the data area: prepare MovieLens, generate the synthetic catalogue,
validate input files before they cost anything."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from sweep_core.errors import InvalidInputError
from sweep_core.run_input import parse_run_config

from objective_sweep.cli.status import ExitStatus, wrapped
from objective_sweep.datasets.prepared import PreparedDataset
from objective_sweep.datasets.synthetic import PRESETS
from objective_sweep.localcloud.runs import RunError, RunFiles, validate_locally


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

    generate = subparsers.add_parser(
        "generate", help="generate the synthetic MovieLens-shaped catalogue (deterministic, offline)"
    )
    generate.add_argument("--preset", choices=sorted(PRESETS), default="demo", help="sizes to start from")
    generate.add_argument("--users", type=int, help="number of users (overrides the preset)")
    generate.add_argument("--items", type=int, help="number of items (overrides the preset)")
    generate.add_argument("--interactions", type=int, help="number of interactions (overrides the preset)")
    generate.add_argument("--seed", type=int, help="random seed (overrides the preset)")
    generate.add_argument("--out", type=Path, required=True, help="folder to write the prepared files to")
    generate.set_defaults(func=_generate)

    validate = subparsers.add_parser(
        "validate", help="check data files the way the workflow does, before anything is created"
    )
    validate.add_argument(
        "--interactions", required=True, help="interactions CSV (USER_ID,ITEM_ID,TIMESTAMP)"
    )
    validate.add_argument("--items", required=True, help="items CSV (ITEM_ID and the objective column)")
    validate.add_argument("--users", help="optional users CSV (USER_ID and attributes)")
    validate.add_argument("--objective", default="ROYALTY", help="numeric items column to optimise")
    validate.set_defaults(func=_validate)


def _prepare_movielens(args: argparse.Namespace) -> int:
    from objective_sweep.datasets.movielens import prepare

    try:
        prepared = prepare(args.source, args.out)
    except InvalidInputError as error:
        print(f"sweep prepare: {error}", file=sys.stderr)
        return 2
    _print_prepared(prepared)
    return 0


def _generate(args: argparse.Namespace) -> int:
    from objective_sweep.datasets.synthetic import generate

    overrides = {
        k: getattr(args, k)
        for k in ("users", "items", "interactions", "seed")
        if getattr(args, k) is not None
    }
    try:
        spec = replace(PRESETS[args.preset], **overrides)
    except ValueError as error:
        print(f"sweep generate: {error}", file=sys.stderr)
        return 2
    _print_prepared(generate(spec, args.out))
    return 0


def _validate(args: argparse.Namespace) -> int:
    fields = {"interactions": args.interactions, "items": args.items, "users": args.users}
    fields["objective"] = args.objective
    try:
        config = parse_run_config(
            {"experiment": "local-validation", **{k: v for k, v in fields.items() if v is not None}},
            "sweep validate",
            options={name: f"--{name}" for name in fields},
        )
        files = RunFiles(
            Path(args.interactions), Path(args.items), users=Path(args.users) if args.users else None
        )
        summary = validate_locally(config, files)
    except InvalidInputError as error:
        print(f"sweep validate: {len(error.problems) + error.more} problem(s):", file=sys.stderr)
        print(error, file=sys.stderr)
        return 2
    except RunError as error:
        # A file that could not be read to the end: no verdict on the data.
        print(wrapped(f"sweep validate: {error}"), file=sys.stderr)
        return ExitStatus.RUN_FAILED
    print(
        f"valid: {summary.interactions:,} interactions, {summary.users:,} users "
        f"({summary.users_with_2plus:,} with 2+), {summary.items:,} items; {config.objective} from "
        f"{summary.objective_min:g} to {summary.objective_max:g}"
    )
    return 0


def _print_prepared(prepared: PreparedDataset) -> None:
    print(
        f"{prepared.path}: {prepared.interactions:,} interactions, {prepared.users:,} users, "
        f"{prepared.items:,} items"
    )
