"""template.yaml reading: CloudFormation's intrinsic functions resolve to the local names and ARNs, and
what the local cloud cannot reproduce is refused with the place named."""

from __future__ import annotations

from pathlib import Path

import pytest

from objective_sweep.localcloud.template import TemplateError, read_stack

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
  Levels: {Type: CommaDelimitedList, Default: "OFF,HIGH"}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Globals:
  Function:
    CodeUri: fns/
    Runtime: python3.12
    Environment:
      Variables:
        STAGE: !Ref Stage
Resources:
  Store:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Join ["-", [store, !Ref Stage, !Select [1, !Split [",", "a,b,c"]]]]
  Alerts:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !If [IsProd, alerts-prod, !Sub "alerts-${Stage}"]
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-worker"
      Handler: worker/app.handler
      Policies:
        - SNSPublishMessagePolicy:
            TopicName: !GetAtt Alerts.TopicName
      Environment:
        Variables:
          TOPIC: !Ref Alerts
          QUEUE_ARN: !GetAtt Store.Arn
          EXTRA: !If [IsProd, extra, !Ref AWS::NoValue]
          LEVELS: !Join [",", !Ref Levels]
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: machine
      DefinitionUri: sm.json
      DefinitionSubstitutions:
        WorkerArn: !GetAtt Worker.Arn
Outputs:
  Bucket: {Value: !Ref Store}
  Machine: {Value: !GetAtt Machine.Arn}
"""
DEFINITION = '{"StartAt": "W", "States": {"W": {"Type": "Task", "Resource": "${WorkerArn}", "End": true}}}'


def _write(folder: Path, template: str = TEMPLATE, definition: str = DEFINITION) -> Path:
    (folder / "sm.json").write_text(definition, encoding="utf-8")
    path = folder / "template.yaml"
    path.write_text(template, encoding="utf-8")
    return path


def test_intrinsics_resolve(tmp_path: Path) -> None:
    stack = read_stack(_write(tmp_path), stack_name="s1")
    (worker,) = stack.functions
    assert worker.name == "s1-worker"
    assert worker.code_dir == (tmp_path / "fns").resolve()
    assert worker.environment == {
        "STAGE": "dev",
        "TOPIC": "arn:aws:sns:us-east-1:123456789012:alerts-dev",
        "QUEUE_ARN": "arn:aws:s3:::store-dev-b",
        "LEVELS": "OFF,HIGH",
    }
    assert stack.bucket_name == "store-dev-b"
    assert stack.state_machine_arn == "arn:aws:states:us-east-1:123456789012:stateMachine:machine"
    assert worker.arn in stack.definition
    assert stack.outputs == {"Bucket": "store-dev-b", "Machine": stack.state_machine_arn}


def test_parameters_and_conditions_follow_overrides(tmp_path: Path) -> None:
    stack = read_stack(_write(tmp_path), stack_name="s1", parameters={"Stage": "prod"})
    (worker,) = stack.functions
    assert worker.environment["TOPIC"].endswith(":alerts-prod")
    assert worker.environment["EXTRA"] == "extra"


def test_unknown_parameter_override_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no parameter"):
        read_stack(_write(tmp_path), parameters={"Stag": "prod"})


def test_placeholder_without_substitution_is_refused(tmp_path: Path) -> None:
    definition = DEFINITION.replace("${WorkerArn}", "${WorkerArn}${Missing}")
    with pytest.raises(TemplateError, match=r"\['Missing'\]"):
        read_stack(_write(tmp_path, definition=definition))


def test_reference_to_nothing_names_it(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="!Ref Nowhere"):
        read_stack(_write(tmp_path, TEMPLATE.replace("TOPIC: !Ref Alerts", "TOPIC: !Ref Nowhere")))


def test_sam_policy_templates_become_the_role_iam_evaluates(tmp_path: Path) -> None:
    stack = read_stack(_write(tmp_path), stack_name="s1")
    (worker,) = stack.functions
    role = next(r for r in stack.roles if r.arn == worker.role_arn)
    assert role.logical_id == "WorkerRole"
    publish = next(s for s in role.policies if "sns:Publish" in s.actions)
    assert publish.resources == ("arn:aws:sns:us-east-1:123456789012:alerts-dev",)
    # The managed policy SAM attaches to every function role is evaluated from its published document.
    assert any("logs:PutLogEvents" in s.actions for s in role.policies)
    trust = role.trust[0]
    assert trust.principal == {"Service": ["lambda.amazonaws.com"]}


def test_what_the_sam_transform_refuses_names_the_resource(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"Resource with id \[Worker\] is invalid"):
        read_stack(_write(tmp_path, TEMPLATE.replace("    Runtime: python3.12\n", "")))
