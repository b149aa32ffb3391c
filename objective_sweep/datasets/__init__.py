"""Datasets for a sweep: the study's MovieLens preparation, the synthetic offline default, and
the prepared folder layout both produce."""
