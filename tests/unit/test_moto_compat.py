"""The local cloud's patches of moto: each applies to the pinned version only, refuses to install when
the function it replaces has moved, and puts the original back."""

from __future__ import annotations

import pytest

from objective_sweep.localcloud.authorizer import Authorizer
from objective_sweep.localcloud.moto_compat import (
    AuthorizationPatch,
    BucketPolicyPatch,
    ExecutionNamePatch,
    FailErrorNamePatch,
    LambdaInvokePatch,
    MapRunTolerancePatch,
    MotoCompatibilityError,
    MotoPatch,
    RetrySleepPatch,
    S3EventPatch,
    WaitPatch,
    caller_of,
    exceeds_tolerance,
    scaled_wait,
)

PATCHES: list[MotoPatch] = [
    AuthorizationPatch(Authorizer([], account="123456789012"), lambda _: (), lambda _: True),
    BucketPolicyPatch(),
    ExecutionNamePatch(),
    FailErrorNamePatch(),
    LambdaInvokePatch(lambda name, body, headers: b"{}"),
    MapRunTolerancePatch(),
    WaitPatch(0.5),
    RetrySleepPatch(0.5),
    S3EventPatch(lambda account, bucket, event, key: None),
]


@pytest.mark.parametrize("patch", PATCHES, ids=lambda patch: type(patch).__name__)
def test_a_patch_replaces_its_target_and_puts_it_back(patch: MotoPatch) -> None:
    target = patch._target()
    original = target.__dict__[patch.attribute]
    patch.install()
    try:
        assert target.__dict__[patch.attribute] is not original
    finally:
        patch.uninstall()
    assert target.__dict__[patch.attribute] is original


def test_a_patch_whose_target_moved_refuses_to_install() -> None:
    class Moved(ExecutionNamePatch):
        parameters = ("self", "state_machine_arn", "name")

    with pytest.raises(MotoCompatibilityError, match="no longer fits"):
        Moved().install()


def test_a_map_run_fails_when_its_failed_items_exceed_what_it_tolerates() -> None:
    # Neither threshold set: one failed item fails the run.
    assert not exceeds_tolerance(0, 10, 0, 0.0)
    assert exceeds_tolerance(1, 10, 0, 0.0)
    # A count: more failed items than it fail the run.
    assert not exceeds_tolerance(2, 10, 2, 0.0)
    assert exceeds_tolerance(3, 10, 2, 0.0)
    # A percentage of the items: more than it fail the run.
    assert not exceeds_tolerance(2, 10, 0, 20.0)
    assert exceeds_tolerance(3, 10, 0, 20.0)
    # Both: exceeding either fails the run.
    assert exceeds_tolerance(3, 10, 2, 50.0)
    assert exceeds_tolerance(3, 10, 5, 20.0)
    assert not exceeds_tolerance(3, 10, 5, 50.0)


def test_the_caller_is_read_from_the_signature_scope() -> None:
    header = "AWS4-HMAC-SHA256 Credential=ASIAXYZ/20261203/us-east-1/s3/aws4_request, SignedHeaders=host"
    assert caller_of(header) == ("ASIAXYZ", "us-east-1", "s3")
    assert caller_of("") == (None, "", "")


class _FakeTime:
    """Real time that passes only when the wait sleeps; `computing` is True during [busy_from, busy_to)."""

    def __init__(self, busy_from: float = 0.0, busy_to: float = 0.0, stop_at: float = float("inf")) -> None:
        self.now = 0.0
        self.busy = (busy_from, busy_to)
        self.stop_at = stop_at

    def computing(self) -> bool:
        return self.busy[0] <= self.now < self.busy[1]

    def wait(self, timeout: float) -> bool:
        self.now += timeout
        return self.now >= self.stop_at

    def monotonic(self) -> float:
        return self.now


# The clock looks whether the endpoint computes every 0.1 real seconds, so a change is seen within one tick.
TICK = 0.1


def _real_seconds(declared: float, scale: float, fake: _FakeTime) -> float:
    scaled_wait(declared, scale, computing=fake.computing, wait=fake.wait, monotonic=fake.monotonic)
    return fake.now


def test_an_idle_wait_lasts_scale_times_its_duration() -> None:
    assert _real_seconds(300, 0.01, _FakeTime()) == pytest.approx(3.0)


def test_while_the_endpoint_computes_the_clock_runs_at_real_speed() -> None:
    # 100 real seconds of import work count as 100 declared seconds of a 300 s wait; the other 200 pass
    # at the scale once the work is done.
    assert _real_seconds(300, 0.01, _FakeTime(busy_to=100)) == pytest.approx(102.0, abs=TICK)
    # A wait during longer work ends after its own duration, so a wait loop's budget still runs out.
    assert _real_seconds(300, 0.01, _FakeTime(busy_to=10_000)) == pytest.approx(300.0, abs=TICK)
    # Work that starts in the middle of a wait slows only the rest of it: 1 idle real second is 100
    # declared, 50 busy ones are 50, and the last 150 take 1.5.
    assert _real_seconds(300, 0.01, _FakeTime(busy_from=1.05, busy_to=51.05)) == pytest.approx(52.5, abs=TICK)


def test_a_wait_ends_when_the_execution_stops() -> None:
    assert _real_seconds(300, 0.01, _FakeTime(busy_to=10_000, stop_at=5.0)) == pytest.approx(5.0, abs=TICK)
