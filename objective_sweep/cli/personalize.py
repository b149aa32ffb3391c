"""`sweep personalize serve`: run the local Personalize-compatible endpoint until interrupted."""

from __future__ import annotations

import argparse
import threading
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add `sweep personalize serve`."""
    personalize = subparsers.add_parser("personalize", help="The local Personalize-compatible endpoint.")
    commands = personalize.add_subparsers(dest="personalize_command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="Serve the Personalize control plane and runtime on 127.0.0.1; prints the endpoint URL first.",
    )
    serve.add_argument("--port", type=int, default=0, help="TCP port (default 0: pick a free one).")
    serve.add_argument(
        "--s3-endpoint-url",
        default=None,
        help="S3 endpoint that import jobs read from (default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL).",
    )
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    # Imported here so that `sweep --help` does not load numpy and implicit.
    from objective_sweep.personalize.server import LocalPersonalize

    if not 0 <= args.port <= 65535:
        raise SystemExit(f"--port {args.port} is not a TCP port; use 0-65535 (0 picks a free one)")
    with LocalPersonalize(port=args.port, s3_endpoint_url=args.s3_endpoint_url) as endpoint:
        print(endpoint.url, flush=True)
        print(
            f"export AWS_ENDPOINT_URL_PERSONALIZE={endpoint.url} AWS_ENDPOINT_URL_PERSONALIZE_RUNTIME={endpoint.url}",
            flush=True,
        )
        threading.Event().wait()
    return 0
