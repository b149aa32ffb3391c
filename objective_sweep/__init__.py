"""Objective Sweep's local side: the `sweep` CLI, the local cloud, the Personalize-compatible
endpoint and the datasets."""
