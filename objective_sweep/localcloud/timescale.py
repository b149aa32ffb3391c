"""Compresses time in moto's ASL interpreter: Wait states and Retry intervals sleep for `scale` times
their declared duration, so a local sweep is dominated by real training, not by sleeping.

moto has no setting for this, so the patch replaces two pinned internals (moto 5.2.5): the Wait
state's `WaitFunction._wait_interval` and the `time` module the retrier calls `sleep` on.
tests/workflow/test_localcloud.py fails if an upgrade moves either.
"""

from __future__ import annotations

import time
import types
from typing import Any


class TimeScale:
    """Installs and removes the compression; `scale` 0.01 turns a 60 s wait into 0.6 s."""

    def __init__(self, scale: float) -> None:
        if not 0 < scale <= 1:
            raise ValueError(f"time scale must be in (0, 1], got {scale}")
        self.scale = scale
        self._saved_wait: Any = None
        self._saved_time: Any = None

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
            WaitFunction,
        )

        scale = self.scale

        def wait_interval(_function: Any, env: Any, wait_seconds: int) -> None:
            # Same contract as moto's: return early when the execution stops, else wait it out.
            deadline = time.monotonic() + wait_seconds * scale
            while env.is_running():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                env.program_state_event.wait(remaining)

        scaled_time = types.SimpleNamespace(
            **{name: getattr(time, name) for name in dir(time) if not name.startswith("_")}
        )
        scaled_time.sleep = lambda seconds: time.sleep(seconds * scale)

        self._saved_wait = WaitFunction.__dict__["_wait_interval"]
        self._saved_time = retrier_decl.time
        WaitFunction._wait_interval = wait_interval  # type: ignore[method-assign,assignment]
        retrier_decl.time = scaled_time  # type: ignore[assignment]

    def uninstall(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
            WaitFunction,
        )

        if self._saved_wait is not None:
            WaitFunction._wait_interval = self._saved_wait  # type: ignore[method-assign]
            retrier_decl.time = self._saved_time
            self._saved_wait = self._saved_time = None
