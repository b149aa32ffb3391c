"""The toy template (tests/workflow/toy): the local cloud's mechanics without the real workflow."""

from __future__ import annotations

from pathlib import Path

TOY = Path(__file__).resolve().parents[1] / "workflow" / "toy"
TOY_TEMPLATE = TOY / "template.yaml"
# The toy waits 3600 s and retries after 3600 s; at this scale that is 0.36 s each, while without the
# time patches a run would hit pytest's timeout.
TOY_SCALE = 0.0001
