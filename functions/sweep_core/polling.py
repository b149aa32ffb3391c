"""The arithmetic of the state machine's wait loops: capped exponential backoff and a time budget.

A step that is still pending returns ``done: false`` and the seconds to wait, never an error, so a
successful execution's history holds no failed task; only an exhausted budget raises WaitTimeout.
"""

from __future__ import annotations

from sweep_core.errors import WaitTimeout
from sweep_core.steps import Poll, WaitPolicy

_MAX_EXPONENT = 20


def backoff_seconds(attempt: int, policy: WaitPolicy) -> int:
    """initial x 2^attempt, capped at max."""
    return min(policy.max_seconds, policy.initial_seconds * 2 ** min(attempt, _MAX_EXPONENT))


def next_poll(previous: Poll, *, status: str, done: bool, policy: WaitPolicy, what: str) -> Poll:
    """The loop's next state; raises WaitTimeout when the next wait would exceed the budget."""
    if done:
        return Poll(
            status=status, done=True, attempt=previous.attempt, waited_seconds=previous.waited_seconds
        )
    delay = backoff_seconds(previous.attempt, policy)
    if previous.waited_seconds + delay > policy.budget_seconds:
        raise WaitTimeout(
            f"{what} is still {status} after {previous.waited_seconds} s of waiting, and the budget of this "
            f"wait is {policy.budget_seconds} s. Check the resource in the Personalize console; if it is "
            "still progressing, run the experiment again later (every step resumes where it stopped)."
        )
    return Poll(
        status=status,
        done=False,
        attempt=previous.attempt + 1,
        waited_seconds=previous.waited_seconds + delay,
        wait_seconds=delay,
    )
