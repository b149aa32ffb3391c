"""Deterministic resource names: stable, distinct per level and data version, and within
Personalize's 63-character name limit for the longest experiment name RunConfig accepts."""

from __future__ import annotations

import re

from sweep_core import names
from sweep_core.models import ALL_SENSITIVITIES

PERSONALIZE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,62}$")
LONGEST = "e" * 40


def test_every_name_fits_personalize_for_the_longest_experiment() -> None:
    produced = [names.dataset_group(LONGEST)]
    for kind in ("interactions", "items", "users"):
        produced += [
            names.schema(LONGEST, kind),
            names.dataset(LONGEST, kind),
            names.import_job(
                LONGEST, kind, "3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"
            ),
        ]
    for level in ALL_SENSITIVITIES:
        produced += [
            names.solution(LONGEST, level),
            names.campaign(LONGEST, level),
            names.solution_version(LONGEST, level, names.digest("a", "b")),
        ]
    for name in produced:
        assert PERSONALIZE_NAME.match(name), name


def test_names_are_stable_and_keyed_on_what_must_differ() -> None:
    assert names.import_job("x", "items", "v1") == names.import_job("x", "items", "v1")
    assert names.import_job("x", "items", "v1") != names.import_job("x", "items", "v2")
    assert names.solution("x", "HIGH") == "x-high"
    assert names.solution_version("x", "HIGH", "abc") != names.solution_version("x", "LOW", "abc")
    assert names.digest("a", "bc") != names.digest("ab", "c")


def test_claims_and_reports_live_outside_the_run_file_pattern() -> None:
    claim = names.run_claim_key("x", "experiments/x/sweep.json", "v1")
    assert claim.startswith("runs/x/claims/")
    assert claim != names.run_claim_key("x", "experiments/x/sweep.json", "v2")
    assert names.report_prefix("x", "run-1") == "reports/x/run-1/"
