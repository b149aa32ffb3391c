"""The libraries the deployed functions run are the ones the tests ran: the dependencies layer pins
exactly the versions of requirements/dev.txt, covers everything the functions import, and the template
gives that layer (and no other) to every function. The locks themselves pin every package with its
hashes, so an install gets exactly the files the lock was made from."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import distribution
from pathlib import Path

from sweep_core.report import render

from objective_sweep.localcloud.template import load_template

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "dependencies" / "requirements.txt"


def _requirements(path: Path) -> list[str]:
    """One entry per requirement: continuation lines joined, comments dropped."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for requirement in _requirements(path):
        name, _, version = requirement.split()[0].partition("==")
        assert version, f"{path.name}: {requirement} is not pinned with =="
        pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_every_lock_pins_every_package_with_its_hashes() -> None:
    for lock in ("dev", "tools", "uv"):
        unhashed = [
            requirement.split()[0]
            for requirement in _requirements(ROOT / "requirements" / f"{lock}.txt")
            if "--hash=sha256:" not in requirement
        ]
        assert _pins(ROOT / "requirements" / f"{lock}.txt")
        assert unhashed == [], f"requirements/{lock}.txt"


def test_the_layer_pins_the_versions_the_tests_run() -> None:
    layer, lock = _pins(LAYER), _pins(ROOT / "requirements" / "dev.txt")
    assert {name: lock.get(name) for name in layer} == layer


def test_the_layer_holds_everything_its_libraries_need() -> None:
    layer = _pins(LAYER)
    missing = set()
    for name in layer:
        for requirement in distribution(name).requires or []:
            if "extra ==" in requirement:
                continue
            needed = re.sub(r"[-_.]+", "-", re.split(r"[ ;<>=!~\[(]", requirement)[0]).lower()
            if needed not in layer:
                missing.add(f"{name} needs {needed}")
    assert missing == set()


def test_every_third_party_import_of_the_functions_is_in_the_layer() -> None:
    layer = _pins(LAYER)
    # Distribution names of the packages the functions import (stubs are for the type checker only).
    provided = {"boto3": "boto3", "botocore": "botocore", "pydantic": "pydantic"}
    provided["aws_lambda_powertools"] = "aws-lambda-powertools"
    provided |= {"jinja2": "jinja2", "markupsafe": "markupsafe"}
    imported = set()
    for source in (ROOT / "functions").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    own = {"sweep_core", "mypy_boto3_personalize", "mypy_boto3_personalize_runtime", "mypy_boto3_s3"}
    own |= {"mypy_boto3_sns", "mypy_boto3_stepfunctions", "__future__"}
    third_party = {name for name in imported - own if name not in sys.stdlib_module_names}
    assert third_party <= set(provided), f"unknown imports: {third_party - set(provided)}"
    assert {provided[name] for name in third_party} <= set(layer)


def test_every_function_gets_the_layer_and_only_it() -> None:
    template = load_template(ROOT / "template.yaml")
    assert template["Globals"]["Function"]["Layers"] == [{"Ref": "DependenciesLayer"}]
    layer = template["Resources"]["DependenciesLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/dependencies/"
    assert layer["Metadata"]["BuildMethod"] == template["Globals"]["Function"]["Runtime"]
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert all("Layers" not in f.get("Properties", {}) for f in functions)


def test_the_report_templates_ship_with_the_functions() -> None:
    """sam build copies the whole CodeUri folder: the templates are found there, beside the module
    that loads them, and every template a template includes is among them."""
    template = load_template(ROOT / "template.yaml")
    code_uri = (ROOT / template["Globals"]["Function"]["CodeUri"]).resolve()
    assert render.TEMPLATES.resolve().is_relative_to(code_uri)
    shipped = {path.name for path in render.TEMPLATES.iterdir()}
    included = set()
    for name in shipped:
        included |= set(
            re.findall(r'{%-? include "([^"]+)"', (render.TEMPLATES / name).read_text(encoding="utf-8"))
        )
    assert included
    assert included <= shipped
    assert {"report.html.j2", "report.md.j2"} <= shipped
