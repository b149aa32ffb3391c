"""The local cloud's patches of moto: each applies to the pinned version only, refuses to install when
the function it replaces has moved, and puts the original back."""

from __future__ import annotations

import pytest

from objective_sweep.localcloud.authorizer import Authorizer
from objective_sweep.localcloud.moto_compat import (
    AuthorizationPatch,
    BucketPolicyPatch,
    ExecutionNamePatch,
    LambdaInvokePatch,
    MotoCompatibilityError,
    MotoPatch,
    RetrySleepPatch,
    S3EventPatch,
    WaitPatch,
    caller_of,
)

PATCHES: list[MotoPatch] = [
    AuthorizationPatch(Authorizer([], account="123456789012"), lambda _: (), lambda _: True),
    BucketPolicyPatch(),
    ExecutionNamePatch(),
    LambdaInvokePatch(lambda name, body, headers: b"{}"),
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


def test_the_caller_is_read_from_the_signature_scope() -> None:
    header = "AWS4-HMAC-SHA256 Credential=ASIAXYZ/20261203/us-east-1/s3/aws4_request, SignedHeaders=host"
    assert caller_of(header) == ("ASIAXYZ", "us-east-1", "s3")
    assert caller_of("") == (None, "", "")
