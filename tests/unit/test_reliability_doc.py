"""docs/reliability.md's scenario table names exactly the tests in tests/faults: a scenario added
without its row, or a row whose test was renamed or removed, fails here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_scenario_table_lists_exactly_the_fault_tests() -> None:
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/faults"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tests = {line.removeprefix("tests/faults/") for line in collected.splitlines() if "::" in line}
    doc = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    table = doc.split("## Scenarios", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|[^|\n]+\| `([^`]+)` \|", table, flags=re.MULTILINE)
    assert len(rows) == len(set(rows)), "a test named in two rows"
    assert len(tests) >= 12
    assert set(rows) == tests
