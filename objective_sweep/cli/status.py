"""The `sweep` command's exit statuses (docs/cli.md has the table; tests/cli pins each one) and the
terminal width long messages are wrapped to."""

from __future__ import annotations

import shutil
import textwrap
from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    # The execution failed, timed out or was aborted, or AWS / the local cloud refused a request.
    RUN_FAILED = 1
    # Unusable input or options: nothing was uploaded or started.
    USAGE = 2
    # The run succeeded, but at least one level failed (the report names each one and why).
    LEVELS_FAILED = 3
    # `sweep cleanup`: nothing in Personalize carries the experiment's name.
    NOTHING_MATCHED = 4
    # 128 + the signal's number, as shells report a process a signal ended.
    INTERRUPTED = 130
    BROKEN_PIPE = 141
    TERMINATED = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that it stops the command the way Ctrl-C does: every
    `with` block (the local cloud, its temporary folder) is closed on the way out."""


def terminal_width() -> int:
    """The terminal's width (COLUMNS, else the terminal's own, else 80), never below 40."""
    return max(shutil.get_terminal_size().columns, 40)


def wrapped(text: str, indent: str = "  ") -> str:
    """`text` whole, wrapped to the terminal: long causes are never cut, later lines indented."""
    return "\n".join(
        textwrap.fill(
            paragraph,
            terminal_width(),
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        for paragraph in text.splitlines() or [""]
    )
