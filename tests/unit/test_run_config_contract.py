"""The published contract: schema/run-config.schema.json is what RunConfig generates, the sample
inputs in examples/ are valid, the README documents every RunConfig field and stack parameter, and
the Lambda package's version matches the project's."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import sweep_core
from sweep_core.models import RunConfig, run_config_schema_json

from objective_sweep.localcloud.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def test_published_schema_matches_the_model() -> None:
    published = (ROOT / "schema" / "run-config.schema.json").read_text()
    assert published == run_config_schema_json(), (
        "schema/run-config.schema.json is stale; regenerate it (see run_config_schema_json's docstring)"
    )


def test_console_example_is_a_valid_run_config() -> None:
    config = RunConfig.model_validate(json.loads((ROOT / "examples" / "console-input.json").read_text()))
    assert config.keep == "recommended"
    assert config.sensitivities == ["OFF", "LOW", "MEDIUM", "HIGH"]


def test_run_file_example_is_valid_once_named() -> None:
    raw = json.loads((ROOT / "examples" / "sweep.json").read_text())
    assert "experiment" not in raw, "the run file takes its name from experiments/<name>/sweep.json"
    RunConfig.model_validate({**raw, "experiment": "demo"})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sensitivities", ["OFF", "OFF"], "a sensitivity is listed twice"),
        ("sensitivities", ["EXTREME"], "Input should be 'OFF', 'LOW', 'MEDIUM' or 'HIGH'"),
        ("experiment", "has space", "must start with a letter or digit"),
        ("objective", "USER_ID", "reserved Personalize column"),
    ],
)
def test_bad_fields_are_named_with_a_fix(field: str, value: object, message: str) -> None:
    raw = {"experiment": "demo", "interactions": "i.csv", "items": "t.csv", field: value}
    with pytest.raises(ValueError, match=message):
        RunConfig.model_validate(raw)


def test_lambda_package_version_is_the_project_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sweep_core.__version__ == project["version"]


def _table_names(markdown: str, heading: str) -> list[str]:
    """The backticked names in the first column of the table under `## heading`."""
    section = markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)


def test_readme_documents_every_run_config_field() -> None:
    schema = RunConfig.model_json_schema(by_alias=True)
    expected = []
    for name, field in schema["properties"].items():
        nested = field.get("$ref", "").rsplit("/", 1)[-1]
        if nested:
            expected += [f"{name}.{inner}" for inner in schema["$defs"][nested]["properties"]]
        else:
            expected.append(name)
    documented = _table_names((ROOT / "README.md").read_text(encoding="utf-8"), "The RunConfig")
    assert documented == expected, "README's RunConfig table must list every field once, in schema order"


def test_readme_documents_every_stack_parameter_with_its_default() -> None:
    parameters = load_template(ROOT / "template.yaml")["Parameters"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert _table_names(readme, "Deploying to AWS") == list(parameters)
    for name, parameter in parameters.items():
        default = str(parameter.get("Default", "")) or "empty"
        row = re.search(rf"^\| `{name}` \| ([^|]+) \|", readme, flags=re.MULTILINE)
        assert row is not None, f"README has no row for {name}"
        assert row[1].strip().strip("`") == default, f"README's default of {name}"
