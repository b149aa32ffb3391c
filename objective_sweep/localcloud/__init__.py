"""A local AWS for the workflow: moto executing the real state machine with the real handlers, the
Personalize-compatible endpoint, and the S3 upload trigger, all built from template.yaml, with IAM
enforced as template.yaml defines it.

The package's modules are imported on first use: the Personalize endpoint and the Lambda containers
need only the authorizer, not moto."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from objective_sweep.localcloud.cloud import DEFAULT_TEMPLATE, LocalCloud, LocalCloudError

__all__ = ["DEFAULT_TEMPLATE", "LocalCloud", "LocalCloudError"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from objective_sweep.localcloud import cloud

        return getattr(cloud, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
