"""A local AWS for the workflow: moto executing the real state machine with the real handlers, the
Personalize-compatible endpoint, and the S3 upload trigger, all built from template.yaml."""

from objective_sweep.localcloud.cloud import DEFAULT_TEMPLATE, LocalCloud, LocalCloudError

__all__ = ["DEFAULT_TEMPLATE", "LocalCloud", "LocalCloudError"]
