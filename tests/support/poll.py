"""The one way tests wait for something that happens in the background: read it again and again."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(
    read: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout: float,
    interval: float = 0.02,
    what: Callable[[T], str] = repr,
) -> T:
    """`read()` every `interval` seconds until `done` holds for what it read, and return that; fail
    the test after `timeout` seconds, saying what was read last (`what` describes it)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not done after {timeout:g} s: {what(value)}")
        time.sleep(interval)
