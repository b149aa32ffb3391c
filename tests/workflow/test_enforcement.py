"""IAM on the local cloud as AWS applies it, on variants of the toy template: a function reads only what
its role allows, the state machine invokes only the functions its role names, and each refusal has
AWS's AccessDenied form naming the caller, the action and the resource."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from support.runs import wait_for
from support.toy import TOY, TOY_SCALE

from objective_sweep.localcloud import LocalCloud

# Two more readers for the variant: one whose role grants no S3 action, one that may get objects but
# not list the bucket.
EXTRA_FUNCTIONS = """  NosyFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: toy_handlers.reader
  GetterFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: toy_handlers.reader
      Policies:
        - Statement:
            - Effect: Allow
              Action: s3:GetObject
              Resource: !Sub "${Bucket.Arn}/*"
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """The toy without the state machine's grant to invoke FlakyFunction, and with two more readers."""
    folder = tmp_path_factory.mktemp("toy")
    shutil.copytree(TOY, folder, dirs_exist_ok=True)
    template = (folder / "template.yaml").read_text(encoding="utf-8")
    variant = template.replace(
        "        - LambdaInvokePolicy:\n            FunctionName: !Ref FlakyFunction\n", ""
    )
    variant = variant.replace("  SleepyFunction:\n", EXTRA_FUNCTIONS + "  SleepyFunction:\n")
    assert variant.count("FlakyFunction") == template.count("FlakyFunction") - 1
    (folder / "template.yaml").write_text(variant, encoding="utf-8")
    with LocalCloud(folder / "template.yaml", personalize=False, time_scale=TOY_SCALE) as running:
        running.client("s3").put_object(Bucket=running.stack.bucket_name, Key="data/x.csv", Body=b"12345")
        yield running


def _invoke(cloud: LocalCloud, logical_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    function = next(f for f in cloud.stack.functions if f.logical_id == logical_id)
    answer = cloud.client("lambda").invoke(FunctionName=function.name, Payload=json.dumps(payload).encode())
    result: dict[str, Any] = json.loads(answer["Payload"].read())
    return result


def test_a_function_reads_what_its_role_allows(cloud: LocalCloud) -> None:
    assert _invoke(cloud, "ReaderFunction", {"key": "data/x.csv"}) == {"bytes": 5}
    # SAM's S3ReadPolicy grants s3:ListBucket too, so a missing key is a 404.
    assert _invoke(cloud, "ReaderFunction", {"key": "data/none.csv"})["errorType"] == "NoSuchKey"


def test_a_function_whose_role_grants_nothing_is_refused_in_aws_words(cloud: LocalCloud) -> None:
    refused = _invoke(cloud, "NosyFunction", {"key": "data/x.csv"})
    # botocore raises S3's AccessDenied as an exception class of that name.
    assert refused["errorType"] == "AccessDenied"
    assert (
        "User: arn:aws:sts::123456789012:assumed-role/objective-sweep-NosyFunctionRole/objective-sweep-NosyFunction"
        f" is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::{cloud.stack.bucket_name}/data/x.csv"
        " because no identity-based policy allows the s3:GetObject action"
    ) in refused["errorMessage"]


def test_without_list_bucket_a_missing_key_is_a_403_as_in_s3(cloud: LocalCloud) -> None:
    assert _invoke(cloud, "GetterFunction", {"key": "data/x.csv"}) == {"bytes": 5}
    missing = _invoke(cloud, "GetterFunction", {"key": "data/none.csv"})
    assert missing["errorType"] == "AccessDenied"
    assert "s3:ListBucket" in missing["errorMessage"]


def test_the_state_machine_invokes_only_the_functions_its_role_names(cloud: LocalCloud) -> None:
    sfn = cloud.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=cloud.stack.state_machine_arn, input=json.dumps({"items": [1]})
    )["executionArn"]
    described = wait_for(cloud.deployment(), arn, timeout=60, interval=0.1)
    assert described["status"] == "FAILED"
    flaky = next(f for f in cloud.stack.functions if f.logical_id == "FlakyFunction")
    assert "lambda:InvokeFunction" in described["cause"]
    assert flaky.arn in described["cause"]
    assert "assumed-role/objective-sweep-ToyStateMachineRole/" in described["cause"]
