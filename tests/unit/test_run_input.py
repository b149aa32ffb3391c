"""The RunConfig parser PrepareRun and the CLI share: camelCase only, every refusal a plain sentence
naming the file (or option) and the field, with the right name when one is close."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sweep_core.errors import InvalidInputError
from sweep_core.models import RunConfig
from sweep_core.run_input import parse_run_config

BASE: dict[str, Any] = {"experiment": "shop", "interactions": "events.csv", "items": "catalog.csv"}
LIBRARY_WORDS = re.compile(r"pydantic|Input should|Value error|Extra inputs|https?:|type=")


def _refusal(fields: dict[str, Any], options: dict[str, str] | None = None) -> str:
    with pytest.raises(InvalidInputError) as refused:
        parse_run_config({**BASE, **fields}, "shop/sweep.json", options=options)
    text = str(refused.value)
    assert not LIBRARY_WORDS.search(text), text
    return text


def test_camel_case_fields_are_accepted() -> None:
    config = parse_run_config(
        {**BASE, "sampleUsers": ["user_abc"], "minProvisionedTPS": 2, "qualityGate": {"tolerance": 0.1}}, "x"
    )
    assert (config.sample_users, config.min_provisioned_tps, config.quality_gate.tolerance) == (
        ["user_abc"],
        2,
        0.1,
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"min_provisioned_tps": 2}, "field names are camelCase: did you mean 'minProvisionedTPS'?"),
        ({"minProvisionedTps": 2}, "field names are camelCase: did you mean 'minProvisionedTPS'?"),
        ({"quality_gate": {}}, "field names are camelCase: did you mean 'qualityGate'?"),
        ({"tolerance": 0.1}, "did you mean 'policy.tolerance' or 'qualityGate.tolerance'?"),
        ({"relevanceMetric": "coverage"}, "did you mean 'policy.relevanceMetric'?"),
        (
            {"zzz": 1},
            "the fields are experiment, interactions, items, users, titles, objective, sensitivities",
        ),
        ({"campaignTpsHourPrice": "inf"}, "field 'campaignTpsHourPrice' is \"inf\", not a number"),
        ({"sampleUsers": [1]}, "field 'sampleUsers' is 1, not text — write it in double quotes"),
        ({"minProvisionedTPS": True}, "field 'minProvisionedTPS' is true, not a whole number"),
        ({"reportUsers": 2.5}, "field 'reportUsers' is 2.5, not a whole number"),
        ({"sampleUsers": ["a"] * 11}, "field 'sampleUsers' has 11 entries — give at most 10"),
        (
            {"sampleUsers": ["a", "a"]},
            "shop/sweep.json: sampleUsers lists a user twice — list each user once",
        ),
        (
            {"sensitivities": "OFF,HIGH"},
            "field 'sensitivities' is \"OFF,HIGH\", not a list — write a JSON list",
        ),
        ({"sensitivities": []}, "field 'sensitivities' has 0 entries — give at least 1"),
        ({"performAutoTraining": "maybe"}, 'is "maybe", not true or false — write true or false'),
        ({"policy": []}, "field 'policy' is [], not an object — write a JSON object of its fields"),
        ({"numResults": 1e30}, "field 'numResults' is 1e+30, not a whole number"),
        ({"numResults": 10**30}, "is 1000000000000000000000000000000, out of range — use at most 500"),
        (
            {"mode": "sweeep"},
            "field 'mode' is \"sweeep\", not one of the allowed values — did you mean 'sweep'?",
        ),
    ],
)
def test_each_mistake_is_one_plain_sentence(fields: dict[str, Any], expected: str) -> None:
    text = _refusal(fields)
    assert expected in text, text
    assert text.count("\n") == 0, text


def test_every_mistake_is_listed_at_once() -> None:
    text = _refusal({"objectve": "MARGIN", "keep": "al", "numResults": 0})
    assert text.splitlines() == [
        "shop/sweep.json: field 'numResults' is 0, out of range — use at least 1",
        "shop/sweep.json: field 'keep' is \"al\", not one of the allowed values — did you mean 'all'? use 'all', "
        "'recommended' or 'none'",
        "shop/sweep.json: field 'objectve' is not a RunConfig field — did you mean 'objective'?",
    ]


def test_a_bad_option_is_named_as_the_option_with_its_value_as_typed() -> None:
    text = _refusal({"sensitivities": ["OFF", "OFF"]}, options={"sensitivities": "--sensitivities"})
    assert text == "--sensitivities OFF,OFF: a sensitivity is listed twice — list each level once"


def test_python_code_may_still_use_snake_case_names() -> None:
    """Only what users write goes through the parser; the code's own constructors keep Python names."""
    assert RunConfig(**BASE, sample_users=["u1"]).sample_users == ["u1"]
