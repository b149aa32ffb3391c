"""The Lambda handlers as the state machine calls them: events shaped by the ASL's Parameters, the
environment template.yaml gives them, clients reaching the local endpoint through the standard
AWS_ENDPOINT_URL_* variables; results shaped for the ASL's ResultSelectors."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sweep_core import runtime
from sweep_core.steps import ImportState, LevelState, Run

from objective_sweep.localcloud.authorizer import LAMBDA, Authorizer
from objective_sweep.localcloud.template import LocalStack

from .conftest import BUCKET, make_run, until_done

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "statemachine" / "objective_sweep.asl.json").read_text())
MAP_STATES = ASL["States"]["TrainLevels"]["ItemProcessor"]["States"]
# sweep_core.runtime silences this for Lambda; pytest resets warning filters per test.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@dataclass
class Context:
    function_name: str = "test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id: str = "req-1"


def handler(step: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    spec = importlib.util.spec_from_file_location(f"_test_{step}", ROOT / "functions" / step / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


@pytest.fixture
def lambda_env(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, s3_url: str, personalize_role: str
) -> Iterator[None]:
    for key, value in {
        "BUCKET_NAME": BUCKET,
        "PERSONALIZE_ROLE_ARN": personalize_role,
        "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:sweep",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "ObjectiveSweepTests",
        "AWS_ENDPOINT_URL_PERSONALIZE": endpoint,
        "AWS_ENDPOINT_URL_PERSONALIZE_RUNTIME": endpoint,
        "AWS_ENDPOINT_URL_S3": s3_url,
    }.items():
        monkeypatch.setenv(key, value)
    for cached in (runtime.settings, runtime.personalize, runtime.personalize_runtime, runtime.s3):
        cached.cache_clear()
    yield
    for cached in (runtime.settings, runtime.personalize, runtime.personalize_runtime, runtime.s3):
        cached.cache_clear()


@pytest.fixture
def become(
    monkeypatch: pytest.MonkeyPatch, stack: LocalStack, authorizer: Authorizer
) -> Callable[[str], None]:
    """Give the handlers about to run the credentials of `logical_id`'s role, as Lambda would."""

    def switch(logical_id: str) -> None:
        function = next(f for f in stack.functions if f.logical_id == logical_id)
        session = authorizer.assume(function.role_arn, LAMBDA, function.name)
        for key, value in session.environment().items():
            monkeypatch.setenv(key, value)
        for cached in (runtime.personalize, runtime.personalize_runtime, runtime.s3):
            cached.cache_clear()

    return switch


def _select(selector: dict[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    """Apply an ASL ResultSelector of "$.Payload.<field>" paths to a handler's result."""
    return {
        key.removesuffix(".$"): payload[path.removeprefix("$.Payload.")] for key, path in selector.items()
    }


def _drive(level: LevelState, state_name: str, step: str, key: str) -> LevelState:
    """Call a Map state's handler as its wait loop does, until the `key` part's poll is done."""
    state = MAP_STATES[state_name]
    call = handler(step)

    def advance(current: LevelState) -> LevelState:
        payload = {
            "level": current.model_dump(mode="json", by_alias=True),
            "wait": state["Parameters"]["Payload"]["wait"],
        }
        part = type(getattr(current, key)).model_validate(
            _select(state["ResultSelector"], call(payload, Context()))
        )
        return current.model_copy(update={key: part})

    done, _ = until_done(advance, level, poll_of=lambda current: getattr(current, key).poll)
    return done


def test_step_handlers_answer_what_the_state_machine_selects(
    lambda_env: None, become: Callable[[str], None], data: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run: Run = make_run("contract-handlers", data, sensitivities=["LOW"])
    imports = ImportState()
    become("ImportDatasetsFunction")
    import_step = handler("import_datasets")
    selector = {k: v for k, v in ASL["States"]["ImportDatasets"]["ResultSelector"].items()}

    def import_datasets(state: ImportState) -> ImportState:
        result = import_step(
            {
                "run": run.model_dump(mode="json", by_alias=True),
                "imports": state.model_dump(mode="json", by_alias=True),
                "wait": ASL["States"]["ImportDatasets"]["Parameters"]["Payload"]["wait"],
            },
            Context(),
        )
        return ImportState.model_validate(_select(selector, result))

    imports, _ = until_done(import_datasets, imports)
    assert imports.dataset_group_arn

    level = LevelState(sensitivity="LOW", run=run, dataset_group_arn=imports.dataset_group_arn)
    for state_name, step, key in (
        ("CreateSolution", "create_solution", "solution"),
        ("CreateSolutionVersion", "create_solution_version", "version"),
        ("DeployCampaign", "deploy_campaign", "campaign"),
    ):
        become(f"{state_name}Function")

        level = _drive(level, state_name, step, key)
    assert level.campaign.deployment is not None
    assert level.campaign.deployment.action == "created"

    record = {
        "sensitivity": "LOW",
        "status": "ACTIVE",
        "solutionArn": level.solution.solution_arn,
        "solutionVersionArn": level.version.solution_version_arn,
        "campaignArn": level.campaign.campaign_arn,
        "deployment": level.campaign.deployment.model_dump(mode="json"),
    }
    become("CompareSolutionsFunction")
    compared = handler("compare_solutions")(
        {"run": run.model_dump(mode="json", by_alias=True), "levels": [record], "finishedAt": None}, Context()
    )
    assert set(_select(ASL["States"]["CompareSolutions"]["ResultSelector"], compared)) == {
        "summary",
        "reportUris",
        "subject",
        "message",
        "deleteCampaignArns",
    }
    assert len(json.dumps(compared)) < 32_000, "the execution output must stay small"
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    published = {
        (doc["sensitivity"], m["Name"])
        for doc in emf
        if "sensitivity" in doc
        for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    assert ("LOW", "normalized_discounted_cumulative_gain_at_10") in published
    assert ("LOW", "mean_top_k_objective_sum") in published

    become("ApplyKeepFunction")
    keep = handler("apply_keep")
    arn = level.campaign.campaign_arn
    selector = ASL["States"]["ApplyKeep"]["ResultSelector"]
    run_json = run.model_dump(mode="json", by_alias=True)
    kept = _select(selector, keep({"run": run_json, "deleteCampaignArns": [arn]}, Context()))
    assert (kept["deleted"], kept["alreadyGone"]) == ([arn], [])
    assert kept["billing"] == [], "the only campaign is being deleted"
    assert kept["cleanup"] == "sweep cleanup --experiment contract-handlers --stack objective-sweep"
    gone = arn.replace("contract-handlers-low", "contract-handlers-none") if arn else ""
    again = _select(selector, keep({"run": run_json, "deleteCampaignArns": [gone]}, Context()))
    assert (again["deleted"], again["alreadyGone"]) == ([], [gone])


def test_a_malformed_event_is_rejected_before_any_call(lambda_env: None) -> None:
    with pytest.raises(ValueError, match="level"):
        handler("create_solution")(
            {"wait": {"initialSeconds": 1, "maxSeconds": 1, "budgetSeconds": 1}}, Context()
        )
