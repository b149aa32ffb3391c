"""Helpers the test folders share (fixtures that use them live in tests/conftest.py)."""
