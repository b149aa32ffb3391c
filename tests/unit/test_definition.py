"""The state machine and template.yaml agree with each other and with the workflow's rules: every
Task is a Lambda invoke with a timeout, transient retries and a Catch; every wait loop returns to
the step it waits on; placeholders, handlers and the functions' environment all line up."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sweep_core import errors
from sweep_core.chunks import CHUNKED_ABOVE_BYTES
from sweep_core.runtime import Settings

from objective_sweep.localcloud.template import load_template

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "statemachine" / "objective_sweep.asl.json").read_text())
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
MACHINE = next(r for r in RESOURCES.values() if r["Type"] == "AWS::Serverless::StateMachine")["Properties"]
FUNCTIONS = {lid: r["Properties"] for lid, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
GLOBAL_FUNCTION = TEMPLATE["Globals"]["Function"]
LAMBDA_TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def _states(states: dict[str, Any], scope: str = "top") -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, state in states.items():
        yield scope, name, state
        if state["Type"] == "Map":
            yield from _states(state["ItemProcessor"]["States"], name)


ALL = list(_states(ASL["States"]))
TASKS = [(scope, name, state) for scope, name, state in ALL if state["Type"] == "Task"]


@pytest.mark.parametrize(("scope", "name", "state"), TASKS, ids=[name for _, name, _ in TASKS])
def test_every_task_is_a_lambda_invoke_with_timeout_retry_and_catch(
    scope: str, name: str, state: dict[str, Any]
) -> None:
    assert state["Resource"] == "${LambdaInvoke}"
    assert MACHINE["DefinitionSubstitutions"]["LambdaInvoke"] == {
        "Fn::Sub": "arn:${AWS::Partition}:states:::lambda:invoke"
    }
    placeholder = re.fullmatch(r"\$\{(\w+)\}", state["Parameters"]["FunctionName"])
    assert placeholder, "FunctionName must be a DefinitionSubstitutions placeholder"
    function_id = MACHINE["DefinitionSubstitutions"][placeholder.group(1)]["Fn::GetAtt"][0]
    timeout = FUNCTIONS[function_id].get("Timeout", GLOBAL_FUNCTION["Timeout"])
    assert state["TimeoutSeconds"] > timeout, "the task must outlast the function's own timeout"
    retried = {error for retry in state["Retry"] for error in retry["ErrorEquals"]}
    assert retried >= LAMBDA_TRANSIENT
    for error in retried - LAMBDA_TRANSIENT:
        assert issubclass(getattr(errors, error), errors.SweepError), f"{error} is not in sweep_core.errors"
    catch = state["Catch"][0]
    assert catch["ErrorEquals"] == ["States.ALL"]
    assert catch["Next"] == CATCH_TARGETS.get(
        name, "LevelFailed" if scope == "TrainLevels" else "AfterFailure"
    )


# Where a failure goes: before PrepareRun has a run nothing exists; once campaigns are settled (or the
# settling itself failed) only the notice remains; the notice's own failure ends the run.
CATCH_TARGETS = {
    "PrepareRun": "NotifyFailure",
    "FinishValidation": "NotifyFailure",
    # A chunk's error fails its child execution; the Map's own Catch goes to NotifyFailure.
    "ValidateChunk": "ChunkFailed",
    "SettleAfterFailure": "NotifyFailure",
    "Notify": "NotifyFailure",
    "NotifyFailure": "RunFailed",
}


def test_every_failure_after_the_run_exists_settles_its_campaigns_before_the_notice() -> None:
    states = ASL["States"]
    after = states["AfterFailure"]
    assert after["Choices"] == [{"Variable": "$.run", "IsPresent": True, "Next": "SettleAfterFailure"}]
    assert after["Default"] == "NotifyFailure"
    settle = states["SettleAfterFailure"]
    assert settle["Parameters"]["Payload"] == {"state.$": "$"}
    assert settle["ResultPath"] == "$.keep"
    assert settle["Next"] == "NotifyFailure"
    assert states["NotifyFailure"]["Parameters"]["Payload"]["state.$"] == "$"
    # Everything between PrepareRun and the comparison's ApplyKeep that can fail goes through it.
    for name in ("ImportDatasets", "TrainLevels", "CompareSolutions", "ApplyKeep"):
        assert [c["Next"] for c in states[name]["Catch"]] == ["AfterFailure"], name


def test_personalize_steps_retry_limits_and_busy_resources_with_backoff() -> None:
    for _, name, state in TASKS:
        if name in ("PrepareRun", "ValidateChunk", "FinishValidation", "Notify", "NotifyFailure"):
            continue
        retry = next(r for r in state["Retry"] if "ResourceLimitError" in r["ErrorEquals"])
        assert "ResourceBusyError" in retry["ErrorEquals"]
        assert retry["BackoffRate"] > 1
        assert retry["MaxDelaySeconds"] >= retry["IntervalSeconds"]


def test_every_wait_loop_returns_to_its_step_within_a_written_budget() -> None:
    by_name = {name: state for _, name, state in ALL}
    choices = [
        (name, state)
        for name, state in by_name.items()
        if state["Type"] == "Choice" and name.endswith("Active")
    ]
    assert len(choices) == 4
    for name, choice in choices:
        poll = choice["Choices"][0]["Variable"].removesuffix(".done")
        wait = by_name[choice["Default"]]
        assert wait["Type"] == "Wait"
        assert wait["SecondsPath"] == f"{poll}.waitSeconds"
        step = by_name[wait["Next"]]
        assert step["ResultPath"] == poll.removesuffix(".poll"), f"{name} waits on {wait['Next']}'s result"
        assert step["ResultSelector"]["poll.$"] == "$.Payload.poll"
        policy = step["Parameters"]["Payload"]["wait"]
        assert 0 < policy["initialSeconds"] <= policy["maxSeconds"] <= policy["budgetSeconds"]


def test_the_fan_out_keeps_within_personalize_campaign_quota() -> None:
    train = ASL["States"]["TrainLevels"]
    assert train["ItemsPath"] == "$.run.config.sensitivities"
    assert 1 <= train["MaxConcurrency"] <= 5
    failed = train["ItemProcessor"]["States"]["LevelFailed"]["Parameters"]
    # A failed level keeps every ARN it created: what it left billing must still be found.
    assert failed == {
        "sensitivity.$": "$.sensitivity",
        "status": "FAILED",
        "solutionArn.$": "$.solution.solutionArn",
        "solutionVersionArn.$": "$.version.solutionVersionArn",
        "campaignArn.$": "$.campaign.campaignArn",
        "error.$": "$.failure.Error",
        "cause.$": "$.failure.Cause",
    }
    # The paths exist from the start, so a level failing at its first step records nulls.
    assert {key: train["ItemSelector"][key] for key in ("solution", "version", "campaign")} == {
        "solution": {"solutionArn": None},
        "version": {"solutionVersionArn": None},
        "campaign": {"campaignArn": None},
    }


def test_the_experiment_lease_outlasts_the_longest_run() -> None:
    from sweep_core.prepare import LEASE_TTL

    budgets = [
        state["Parameters"]["Payload"]["wait"]["budgetSeconds"]
        for _, _, state in TASKS
        if "wait" in state["Parameters"]["Payload"]
    ]
    task_seconds = sum(state["TimeoutSeconds"] for _, _, state in TASKS)
    assert LEASE_TTL.total_seconds() > sum(budgets) + task_seconds


def test_failure_ends_in_a_fail_state_carrying_the_real_error() -> None:
    assert ASL["States"]["RunFailed"] == {
        "Type": "Fail",
        "Comment": ASL["States"]["RunFailed"]["Comment"],
        "ErrorPath": "$.failure.Error",
        "CausePath": "$.failure.Cause",
    }


def test_placeholders_and_substitutions_match_one_to_one() -> None:
    text = (ROOT / MACHINE["DefinitionUri"]).read_text()
    used = set(re.findall(r"\$\{(\w+)\}", text))
    assert used == set(MACHINE["DefinitionSubstitutions"])
    referenced = {
        value["Fn::GetAtt"][0]
        for value in MACHINE["DefinitionSubstitutions"].values()
        if "Fn::GetAtt" in value
    }
    assert referenced == set(FUNCTIONS), "every function is a step and every step a function"


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_handlers_exist_and_define_lambda_handler(function_id: str) -> None:
    module_path, _, attribute = FUNCTIONS[function_id]["Handler"].rpartition(".")
    source = ROOT / GLOBAL_FUNCTION["CodeUri"] / f"{module_path}.py"
    assert source.is_file()
    spec = importlib.util.spec_from_file_location(f"_handler_{function_id}", source)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(getattr(module, attribute))


def test_functions_environment_satisfies_settings() -> None:
    variables = set(GLOBAL_FUNCTION["Environment"]["Variables"])
    required = {field.alias for field in Settings.model_fields.values() if field.alias}
    assert required <= variables


def test_run_file_rule_matches_run_files_only() -> None:
    pattern = MACHINE["Events"]["RunFileUploaded"]["Properties"]["Pattern"]
    assert pattern["detail-type"] == ["Object Created"]
    wildcard = pattern["detail"]["object"]["key"][0]["wildcard"]
    assert fnmatch.fnmatchcase("experiments/demo/sweep.json", wildcard)
    for key in ("experiments/demo/items.csv", "reports/demo/x/report.json", "runs/demo/claims/a.json"):
        assert not fnmatch.fnmatchcase(key, wildcard)


def test_retrain_schedule_is_disabled_by_default_and_sends_the_retrain_input() -> None:
    schedule = RESOURCES["RetrainSchedule"]["Properties"]
    assert TEMPLATE["Parameters"]["RetrainScheduleState"]["Default"] == "DISABLED"
    assert schedule["State"] == {"Ref": "RetrainScheduleState"}
    text = schedule["Target"]["Input"]["Fn::Sub"]
    assert json.loads(text.replace("${RetrainExperiment}", "demo")) == {
        "mode": "retrain",
        "experiment": "demo",
    }


def test_a_duplicate_s3_event_ends_before_anything_is_created() -> None:
    states = ASL["States"]
    assert states["PrepareRun"]["Next"] == "IsDuplicateEvent"
    choice = states["IsDuplicateEvent"]
    assert choice["Choices"][0] == {
        "Variable": "$.duplicate",
        "BooleanEquals": True,
        "Next": "DuplicateEvent",
    }
    assert choice["Default"] == "ImportDatasets"
    assert states["DuplicateEvent"]["Type"] == "Succeed"


def test_a_large_interactions_file_is_validated_by_a_distributed_map_before_anything_is_created() -> None:
    states = ASL["States"]
    assert states["IsDuplicateEvent"]["Choices"][1] == {
        "Variable": "$.chunked",
        "IsNull": False,
        "Next": "ValidateChunks",
    }
    chunks = states["ValidateChunks"]
    assert chunks["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    # moto's interpreter executes an S3 JSON ItemReader, and its parser refuses ItemBatcher.
    assert chunks["ItemReader"]["Resource"] == "${S3GetObject}"
    assert chunks["ItemReader"]["ReaderConfig"] == {"InputType": "JSON"}
    assert "ItemBatcher" not in chunks
    assert chunks["ResultPath"] is None, "the chunks' findings are in S3; the state stays small"
    assert chunks["Catch"][0]["Next"] == "NotifyFailure"
    assert chunks["Next"] == "FinishValidation"
    assert states["FinishValidation"]["Next"] == "ImportDatasets"


def _statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM policy statement anywhere in the template (roles, SAM Policies, the bucket policy)."""
    if isinstance(node, dict):
        statements = node.get("Statement")
        if isinstance(statements, list):
            yield from (s for s in statements if isinstance(s, dict))
        for value in node.values():
            yield from _statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from _statements(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# Actions whose IAM reference allows no resource narrower than "*".
UNSCOPABLE_PREFIXES = ("personalize:List", "logs:", "xray:")


def test_iam_grants_no_wildcard_action_and_resource_star_only_where_nothing_narrower_exists() -> None:
    allows = [s for s in _statements(RESOURCES) if s.get("Effect") == "Allow"]
    assert len(allows) > 10, "the walk must reach the functions' and roles' policies"
    for statement in allows:
        actions = _as_list(statement["Action"])
        assert not [a for a in actions if "*" in a], statement
        if "*" in _as_list(statement.get("Resource")):
            assert all(a.startswith(UNSCOPABLE_PREFIXES) for a in actions), statement
    denies = [s for s in _statements(RESOURCES) if s.get("Effect") == "Deny"]
    assert [s["Sid"] for s in denies] == ["TlsOnly"], "the only wildcard is the bucket's TLS-only deny"


def test_every_resource_star_is_explained_beside_it() -> None:
    lines = (ROOT / "template.yaml").read_text(encoding="utf-8").splitlines()
    stars = [i for i, line in enumerate(lines) if line.strip() == 'Resource: "*"']
    assert stars
    for index in stars:
        start = next(i for i in range(index, -1, -1) if lines[i].lstrip().startswith("- Effect:"))
        above = [line.strip() for line in lines[max(0, start - 3) : start]]
        assert any(line.startswith("#") for line in above), f"template.yaml line {index + 1}: say why"


def test_the_cli_splits_interactions_files_where_the_workflow_does() -> None:
    # `sweep run` and `sweep validate` validate a file above the default in chunks, as the workflow does.
    assert TEMPLATE["Parameters"]["ValidationChunkBytes"]["Default"] == CHUNKED_ABOVE_BYTES
