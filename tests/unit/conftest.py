"""Unit tests: moto's in-process mocks (never a real account) answer every AWS call, with the
environment tests/conftest.py sets for the whole session."""

from __future__ import annotations

BUCKET = "sweep-unit"
