"""`sweep personalize serve`: run the local Personalize-compatible endpoint until interrupted."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
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
    serve.add_argument(
        "--faults",
        default=None,
        metavar="JSON_OR_FILE",
        help="Fault rules to start with (the JSON of POST /_local/faults, inline or a file path); "
        "see docs/local-personalize.md.",
    )
    serve.add_argument(
        "--status-delay",
        type=float,
        default=0.05,
        help="Seconds each intermediate status stays observable (default 0.05).",
    )
    serve.set_defaults(func=_serve)


def _load_faults(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    text = value if value.lstrip().startswith("{") else _read(value)
    try:
        rules = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(
            f"--faults: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(rules, dict):
        raise SystemExit('--faults: expected a JSON object such as {"fail": [...]}')
    return rules


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise SystemExit(
            f"--faults: cannot read {path}: {exc.strerror}; pass inline JSON or an existing file"
        ) from None


def _serve(args: argparse.Namespace) -> int:
    # Imported here so that `sweep --help` does not load numpy and implicit.
    from objective_sweep.personalize.protocol import ApiError
    from objective_sweep.personalize.server import LocalPersonalize

    if not 0 <= args.port <= 65535:
        raise SystemExit(f"--port {args.port} is not a TCP port; use 0-65535 (0 picks a free one)")
    if args.status_delay < 0:
        raise SystemExit("--status-delay must be 0 or more seconds")
    endpoint = LocalPersonalize(
        port=args.port,
        s3_endpoint_url=args.s3_endpoint_url,
        faults=_load_faults(args.faults),
        status_delay=args.status_delay,
    )
    try:
        endpoint.start()
    except ApiError as exc:
        raise SystemExit(f"--faults: {exc.message}") from None
    with endpoint:
        print(endpoint.url, flush=True)
        print(
            f"export AWS_ENDPOINT_URL_PERSONALIZE={endpoint.url} AWS_ENDPOINT_URL_PERSONALIZE_RUNTIME={endpoint.url}",
            flush=True,
        )
        # Until Ctrl-C or SIGTERM, which `sweep` turns into a clean stop; a sleep, unlike Event.wait,
        # can be interrupted without leaving a lock half released.
        while True:
            time.sleep(3600)
