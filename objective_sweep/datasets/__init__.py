"""Datasets for a sweep: the study's MovieLens preparation, the synthetic offline default, and
the prepared folder layout both produce."""

from objective_sweep.datasets.catalog import NAMES, DatasetUnavailable, resolve

__all__ = ["NAMES", "DatasetUnavailable", "resolve"]
