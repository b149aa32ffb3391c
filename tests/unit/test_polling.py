"""The wait loops' arithmetic: doubling backoff, its cap, and the budget that ends a wait."""

from __future__ import annotations

import pytest
from sweep_core.errors import WaitTimeout
from sweep_core.polling import backoff_seconds, next_poll
from sweep_core.steps import Poll, WaitPolicy

POLICY = WaitPolicy(initial_seconds=30, max_seconds=300, budget_seconds=1000)


def test_backoff_doubles_then_caps() -> None:
    assert [backoff_seconds(attempt, POLICY) for attempt in range(6)] == [30, 60, 120, 240, 300, 300]
    assert backoff_seconds(10_000, POLICY) == 300


def test_pending_schedules_the_next_wait_and_counts_it() -> None:
    poll = Poll()
    waits = []
    for _ in range(4):
        poll = next_poll(poll, status="CREATE IN_PROGRESS", done=False, policy=POLICY, what="x")
        waits.append(poll.wait_seconds)
    assert waits == [30, 60, 120, 240]
    assert poll.attempt == 4
    assert poll.waited_seconds == 450
    assert not poll.done


def test_done_needs_no_wait_and_keeps_the_counters() -> None:
    pending = next_poll(Poll(), status="CREATE PENDING", done=False, policy=POLICY, what="x")
    done = next_poll(pending, status="ACTIVE", done=True, policy=POLICY, what="x")
    assert done.done
    assert done.wait_seconds == 0
    assert (done.attempt, done.waited_seconds) == (pending.attempt, pending.waited_seconds)


def test_exceeding_the_budget_raises_wait_timeout_naming_the_resource() -> None:
    poll = Poll(attempt=5, waited_seconds=900)
    with pytest.raises(WaitTimeout, match=r"Training of demo-high is still CREATE IN_PROGRESS after 900 s"):
        next_poll(poll, status="CREATE IN_PROGRESS", done=False, policy=POLICY, what="Training of demo-high")


def test_a_done_resource_never_times_out() -> None:
    poll = Poll(attempt=50, waited_seconds=10_000)
    assert next_poll(poll, status="ACTIVE", done=True, policy=POLICY, what="x").done
