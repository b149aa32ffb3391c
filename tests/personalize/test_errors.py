"""Every exception path of the local Personalize, as boto3 sees it over HTTP: validation, missing and
duplicate resources, resources in use, quotas, tags, paging tokens, bad data and injected faults."""

from __future__ import annotations

import functools
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from support.personalize import (
    BUCKET,
    INTERACTIONS_SCHEMA,
    ITEMS_SCHEMA,
    RECIPE,
    ROLE,
    admin,
    build_group,
    deploy,
    make_clients,
    synthetic_interactions,
    train,
    wait_until,
)

from objective_sweep.personalize.faults import Faults
from objective_sweep.personalize.protocol import ApiError
from objective_sweep.personalize.server import LocalPersonalize

UNKNOWN_GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/nope"


@pytest.fixture(scope="module")
def trained(endpoint: LocalPersonalize, s3_data: dict[str, str]) -> dict[str, str]:
    """One dataset group with an ACTIVE version and campaign, shared by the tests below."""
    clients = make_clients(endpoint.url)
    group = build_group(clients, "errors", s3_data["interactions"], s3_data["items"])
    version = train(clients, group, "errors-off", "OFF")
    campaign = deploy(clients, "errors-off", version)
    return {
        "group": group.arn,
        "version": version,
        "solution": version.rsplit("/", 1)[0],
        "campaign": campaign,
    }


def test_requests_breaking_the_model_constraints_are_invalid_input(clients: Any) -> None:
    p = clients.personalize
    with pytest.raises(p.exceptions.InvalidInputException, match="regular expression pattern"):
        p.create_dataset_group(name="-starts-with-dash")
    with pytest.raises(p.exceptions.InvalidInputException, match="less than or equal to 63"):
        p.create_dataset_group(name="x" * 64)
    with pytest.raises(p.exceptions.InvalidInputException, match="not valid JSON"):
        p.create_schema(name="broken", schema="{not json")
    with pytest.raises(p.exceptions.InvalidInputException, match="must be an Avro record"):
        p.create_schema(name="broken", schema='{"type": "enum"}')


def test_unknown_resources_are_not_found(clients: Any) -> None:
    p, rt = clients.personalize, clients.runtime
    with pytest.raises(p.exceptions.ResourceNotFoundException, match="dataset-group/nope"):
        p.describe_dataset_group(datasetGroupArn=UNKNOWN_GROUP)
    with pytest.raises(p.exceptions.ResourceNotFoundException):
        p.describe_recipe(recipeArn="arn:aws:personalize:::recipe/aws-nothing")
    with pytest.raises(p.exceptions.ResourceNotFoundException):
        p.create_solution(
            name="orphan",
            datasetGroupArn=UNKNOWN_GROUP,
            recipeArn="arn:aws:personalize:::recipe/aws-user-personalization",
        )
    with pytest.raises(rt.exceptions.ResourceNotFoundException) as raised:
        rt.get_recommendations(
            campaignArn="arn:aws:personalize:us-east-1:123456789012:campaign/nope", userId="u1"
        )
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_duplicates_already_exist(clients: Any, trained: dict[str, str]) -> None:
    p = clients.personalize
    with pytest.raises(p.exceptions.ResourceAlreadyExistsException):
        p.create_dataset_group(name="errors")
    with pytest.raises(p.exceptions.ResourceAlreadyExistsException):
        p.create_schema(name="errors-interactions", schema=INTERACTIONS_SCHEMA)
    schema = p.create_schema(name="errors-second", schema=INTERACTIONS_SCHEMA)["schemaArn"]
    with pytest.raises(p.exceptions.ResourceAlreadyExistsException, match="INTERACTIONS dataset"):
        p.create_dataset(
            name="again", schemaArn=schema, datasetGroupArn=trained["group"], datasetType="Interactions"
        )
    with pytest.raises(p.exceptions.ResourceAlreadyExistsException):
        p.create_campaign(name="errors-off", solutionVersionArn=trained["version"])


def test_schema_must_fit_the_dataset_type(clients: Any, trained: dict[str, str]) -> None:
    p = clients.personalize
    schema = p.create_schema(name="items-for-users", schema=ITEMS_SCHEMA)["schemaArn"]
    with pytest.raises(p.exceptions.InvalidInputException, match="needs a USER_ID field"):
        p.create_dataset(
            name="users", schemaArn=schema, datasetGroupArn=trained["group"], datasetType="Users"
        )


def test_resources_in_use_cannot_be_deleted_or_reused(clients: Any, trained: dict[str, str]) -> None:
    p = clients.personalize
    with pytest.raises(p.exceptions.ResourceInUseException, match="delete its solutions"):
        p.delete_dataset_group(datasetGroupArn=trained["group"])
    with pytest.raises(p.exceptions.ResourceInUseException, match="deployed by"):
        p.delete_solution(solutionArn=trained["solution"])


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        ({"performHPO": True}, "performHPO"),
        ({"solutionConfig": {"algorithmHyperParameters": {"learning_rate": "0.1"}}}, "not hyperparameters"),
        (
            {"solutionConfig": {"algorithmHyperParameters": {"hidden_dimension": "0"}}},
            "hidden_dimension must be 1-1024",
        ),
        (
            {"solutionConfig": {"optimizationObjective": {"objectiveSensitivity": "HIGH"}}},
            "needs itemAttribute",
        ),
        (
            {
                "solutionConfig": {
                    "optimizationObjective": {"itemAttribute": "GENRE", "objectiveSensitivity": "HIGH"}
                }
            },
            "non-nullable numeric column",
        ),
    ],
    ids=[
        "hpo",
        "unknown-hyperparameter",
        "hyperparameter-range",
        "objective-without-column",
        "genre-objective",
    ],
)
def test_solution_options_that_the_local_endpoint_lacks_are_refused(
    clients: Any, trained: dict[str, str], options: dict[str, Any], refusal: str
) -> None:
    p = clients.personalize
    with pytest.raises(p.exceptions.InvalidInputException, match=refusal):
        p.create_solution(name="refused", datasetGroupArn=trained["group"], recipeArn=RECIPE, **options)


def test_runtime_validation(clients: Any, trained: dict[str, str]) -> None:
    rt = clients.runtime
    with pytest.raises(rt.exceptions.InvalidInputException, match="between 1 and 500"):
        rt.get_recommendations(campaignArn=trained["campaign"], userId="u1", numResults=501)
    with pytest.raises(rt.exceptions.InvalidInputException, match="GetRecommendations"):
        rt.get_personalized_ranking(campaignArn=trained["campaign"], userId="u1", inputList=["i1"])
    response = rt.get_recommendations(campaignArn=trained["campaign"], userId="u1", numResults=500)
    assert 0 < len(response["itemList"]) <= 90
    assert len({item["itemId"] for item in response["itemList"]}) == len(response["itemList"])


def test_unknown_users_get_the_most_popular_items(clients: Any, trained: dict[str, str]) -> None:
    items = clients.runtime.get_recommendations(
        campaignArn=trained["campaign"], userId="never-seen", numResults=5
    )["itemList"]
    scores = [item["score"] for item in items]
    assert len(items) == 5
    assert scores == sorted(scores, reverse=True)


def test_too_many_tags_and_bad_page_tokens(clients: Any) -> None:
    p = clients.personalize
    tags = [{"tagKey": f"k{i}", "tagValue": "v"} for i in range(51)]
    with pytest.raises(p.exceptions.TooManyTagsException):
        p.create_dataset_group(name="tagged", tags=tags)
    with pytest.raises(p.exceptions.InvalidNextTokenException):
        p.list_dataset_groups(nextToken="forged")


def test_list_pages_through_every_resource(clients: Any) -> None:
    p = clients.personalize
    for index in range(3):
        p.create_dataset_group(name=f"paged-{index}")
    names: list[str] = []
    kwargs: dict[str, Any] = {"maxResults": 2}
    while True:
        page = p.list_dataset_groups(**kwargs)
        names += [g["name"] for g in page["datasetGroups"]]
        if "nextToken" not in page:
            break
        kwargs["nextToken"] = page["nextToken"]
    assert {"paged-0", "paged-1", "paged-2"} <= set(names)
    assert len(names) == len(set(names))


def test_bad_data_fails_the_import_job_with_the_line_and_column(
    clients: Any, s3_data: dict[str, str]
) -> None:
    p = clients.personalize
    group = build_group(clients, "bad-data", s3_data["interactions"], None)
    cases = {
        "bad-timestamp": "line 3, column TIMESTAMP: 'yesterday' is not a valid long",
        "missing-column": "required column(s) TIMESTAMP missing",
        "absent": "no such object",
    }
    for name, expected in cases.items():
        job = p.create_dataset_import_job(
            jobName=f"bad-{name}",
            datasetArn=group.interactions,
            dataSource={"dataLocation": s3_data.get(name, f"s3://{BUCKET}/data/absent.csv")},
            roleArn=ROLE,
        )["datasetImportJobArn"]
        record = wait_until(p.describe_dataset_import_job, "datasetImportJob", datasetImportJobArn=job)
        assert record["status"] == "CREATE FAILED"
        assert expected in record["failureReason"]


def test_too_little_data_fails_the_solution_version(clients: Any, s3_data: dict[str, str]) -> None:
    p = clients.personalize
    group = build_group(clients, "too-little", s3_data["few"], None)
    solution = p.create_solution(name="too-little", datasetGroupArn=group.arn, recipeArn=RECIPE)[
        "solutionArn"
    ]
    wait_until(p.describe_solution, "solution", solutionArn=solution)
    version = p.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    record = wait_until(p.describe_solution_version, "solutionVersion", solutionVersionArn=version)
    assert record["status"] == "CREATE FAILED"
    assert "200 interactions; training needs at least 1000" in record["failureReason"]
    with pytest.raises(p.exceptions.ResourceInUseException, match="CREATE FAILED"):
        p.get_solution_metrics(solutionVersionArn=version)
    with pytest.raises(
        p.exceptions.InvalidInputException, match="needs an ACTIVE solution version trained with FULL"
    ):
        p.create_solution_version(solutionArn=solution, trainingMode="UPDATE")


def test_injected_faults_fail_throttle_and_hold(endpoint: LocalPersonalize, trained: dict[str, str]) -> None:
    clients = make_clients(endpoint.url)
    p = clients.personalize
    status, active = admin(
        endpoint.url,
        "POST",
        {
            "fail": [{"resource": "solutionVersion", "name": "*-high", "reason": "Injected: HIGH fails"}],
            "throttle": [{"operation": "DescribeSolution", "count": 2, "error": "LimitExceededException"}],
            "slow": [{"resource": "solutionVersion", "name": "errors-held", "seconds": 30}],
        },
    )
    assert (status, active["fail"][0]["name"]) == (200, "*-high")
    try:
        for _ in range(2):
            with pytest.raises(p.exceptions.LimitExceededException):
                p.describe_solution(solutionArn=trained["solution"])
        assert p.describe_solution(solutionArn=trained["solution"])["solution"]["status"] == "ACTIVE"

        high = p.create_solution(name="errors-high", datasetGroupArn=trained["group"], recipeArn=RECIPE)[
            "solutionArn"
        ]
        wait_until(p.describe_solution, "solution", solutionArn=high)
        failed = p.create_solution_version(solutionArn=high)["solutionVersionArn"]
        record = wait_until(p.describe_solution_version, "solutionVersion", solutionVersionArn=failed)
        assert (record["status"], record["failureReason"]) == ("CREATE FAILED", "Injected: HIGH fails")

        held = p.create_solution(name="errors-held", datasetGroupArn=trained["group"], recipeArn=RECIPE)[
            "solutionArn"
        ]
        wait_until(p.describe_solution, "solution", solutionArn=held)
        training = p.create_solution_version(solutionArn=held)["solutionVersionArn"]
        with pytest.raises(p.exceptions.ResourceInUseException, match="already training"):
            p.create_solution_version(solutionArn=held)
        with pytest.raises(p.exceptions.ResourceInUseException, match="must be ACTIVE"):
            p.get_solution_metrics(solutionVersionArn=training)
        with pytest.raises(p.exceptions.ResourceInUseException, match="is training"):
            p.delete_solution(solutionArn=held)
        p.stop_solution_version_creation(solutionVersionArn=training)
    finally:
        assert admin(endpoint.url, "DELETE")[0] == 200
    assert endpoint.faults.describe() == {"fail": [], "throttle": [], "loseAnswer": [], "slow": []}


def test_a_probability_throttles_that_share_of_every_call_runtime_included(
    endpoint: LocalPersonalize, trained: dict[str, str]
) -> None:
    clients = make_clients(endpoint.url)
    rule = {"operation": "*", "probability": 0.3, "seed": 11}
    assert admin(endpoint.url, "POST", {"throttle": [rule]})[0] == 200
    outcomes: list[bool] = []
    try:
        for index in range(200):
            call = (
                functools.partial(
                    clients.runtime.get_recommendations, campaignArn=trained["campaign"], userId="u3"
                )
                if index % 2
                else functools.partial(clients.personalize.describe_campaign, campaignArn=trained["campaign"])
            )
            outcomes.append(_answer_code(call) == "ThrottlingException")
        # Unlimited until cleared, and the rule says what it does.
        assert admin(endpoint.url, "GET")[1]["throttle"] == [{**rule, "error": "ThrottlingException"}]
    finally:
        assert admin(endpoint.url, "DELETE")[0] == 200
    assert 40 <= sum(outcomes) <= 80
    # Runtime and control plane alike, and never every call.
    assert any(outcomes[1::2])
    assert any(outcomes[0::2])
    # The same seed draws the same sequence: a failing run can be replayed.
    replay = Faults()
    replay.add({"throttle": [rule]})
    assert [_throttled(replay, "Any") for _ in range(200)] == outcomes


def _answer_code(call: Any) -> str:
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "OK"


def _throttled(faults: Faults, operation: str) -> bool:
    try:
        faults.check_throttle(operation)
    except ApiError:
        return True
    return False


def test_a_lost_answer_leaves_the_work_done_and_the_client_without_a_reply(
    endpoint: LocalPersonalize,
) -> None:
    clients = make_clients(endpoint.url)
    p = clients.personalize
    rules = {
        "loseAnswer": [
            {"operation": "CreateDatasetGroup", "count": 1},
            {"operation": "CreateSchema", "count": 1, "seconds": 2},
        ]
    }
    assert admin(endpoint.url, "POST", rules)[0] == 200
    try:
        with pytest.raises(ConnectionClosedError):
            p.create_dataset_group(name="lost-answer")
        impatient = boto3.client(
            "personalize",
            endpoint_url=endpoint.url,
            config=Config(read_timeout=0.5, retries={"mode": "standard", "total_max_attempts": 1}),
        )
        with pytest.raises(ReadTimeoutError):
            impatient.create_schema(name="lost-answer", schema=INTERACTIONS_SCHEMA)
    finally:
        assert admin(endpoint.url, "DELETE")[0] == 200
    # Both were created: a retry of the call finds the resource already there.
    group = p.describe_dataset_group(datasetGroupArn=_arn("dataset-group/lost-answer"))["datasetGroup"]
    assert group["name"] == "lost-answer"
    with pytest.raises(p.exceptions.ResourceAlreadyExistsException):
        p.create_dataset_group(name="lost-answer")
    assert p.describe_schema(schemaArn=_arn("schema/lost-answer"))["schema"]["name"] == "lost-answer"


def _arn(resource: str) -> str:
    return f"arn:aws:personalize:us-east-1:123456789012:{resource}"


def test_an_sdk_retry_after_a_lost_answer_meets_the_resource_it_created(endpoint: LocalPersonalize) -> None:
    """What the workflow's clients see: the SDK retries the dropped connection, and the retry is told
    the resource already exists — which describe-or-create then finds."""
    retrying = boto3.client(
        "personalize", endpoint_url=endpoint.url, config=Config(retries={"mode": "standard"})
    )
    assert admin(endpoint.url, "POST", {"loseAnswer": {"operation": "Create*", "count": 1}})[0] == 200
    try:
        with pytest.raises(retrying.exceptions.ResourceAlreadyExistsException):
            retrying.create_dataset_group(name="lost-then-retried")
    finally:
        assert admin(endpoint.url, "DELETE")[0] == 200


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"fail": [{"resource": "bucket", "name": "x"}]}, "fail.resource 'bucket'"),
        ({"throttle": [{"operation": "*", "probability": 1.5}]}, "throttle.probability must be a number"),
        ({"throttle": [{"operation": "*", "probability": 0}]}, "throttle.probability must be a number"),
        ({"loseAnswer": [{"operation": "*", "seed": "x", "probability": 0.1}]}, "loseAnswer.seed must be"),
        ({"loseAnswer": [{"operation": "Create*", "seconds": -1}]}, "loseAnswer.seconds must be"),
        ({"loseAnswer": [{"count": 2}]}, "loseAnswer.operation is required"),
        ({"throttle": [{"operation": "*", "count": 0}]}, "throttle.count must be a positive integer"),
        ({"drop": []}, "unknown fault kind(s) drop"),
    ],
)
def test_bad_fault_rules_are_rejected(
    endpoint: LocalPersonalize, rules: dict[str, Any], message: str
) -> None:
    status, answer = admin(endpoint.url, "POST", rules)
    assert status == 400
    assert message in answer["message"]
    assert endpoint.faults.describe() == {"fail": [], "throttle": [], "loseAnswer": [], "slow": []}


def test_quotas_raise_limit_exceeded(s3_endpoint: str, s3_data: dict[str, str]) -> None:
    # Every job is held in CREATE IN_PROGRESS, so the pending quotas fill up deterministically.
    held = {
        "slow": [
            {"resource": kind, "name": "*", "seconds": 60} for kind in ("datasetImportJob", "solutionVersion")
        ]
    }
    with LocalPersonalize(port=0, s3_endpoint_url=s3_endpoint, status_delay=0.01, faults=held) as local:
        clients = make_clients(local.url)
        p = clients.personalize
        groups = [
            build_group(clients, f"quota-{i}", s3_data["interactions"], None, wait=False) for i in range(3)
        ]
        for index in range(2):
            p.create_dataset_import_job(
                jobName=f"quota-extra-{index}",
                datasetArn=groups[0].interactions,
                dataSource={"dataLocation": s3_data["interactions"]},
            )
        with pytest.raises(p.exceptions.LimitExceededException, match="More than 5 resources"):
            p.create_dataset_import_job(
                jobName="quota-sixth",
                datasetArn=groups[0].interactions,
                dataSource={"dataLocation": s3_data["interactions"]},
            )
        solutions = []
        for index in range(21):
            group = groups[index // 10].arn
            solutions.append(
                p.create_solution(name=f"quota-solution-{index}", datasetGroupArn=group, recipeArn=RECIPE)[
                    "solutionArn"
                ]
            )
        with pytest.raises(p.exceptions.LimitExceededException, match="limit is 10"):
            p.create_solution(name="quota-eleventh", datasetGroupArn=groups[0].arn, recipeArn=RECIPE)
        for solution in solutions:
            wait_until(p.describe_solution, "solution", solutionArn=solution)
        for solution in solutions[:20]:
            p.create_solution_version(solutionArn=solution)
        with pytest.raises(p.exceptions.LimitExceededException, match="More than 20 solution versions"):
            p.create_solution_version(solutionArn=solutions[20])


def test_more_than_five_active_campaigns_per_group_is_a_limit(clients: Any, trained: dict[str, str]) -> None:
    p = clients.personalize
    for index in range(4):
        p.create_campaign(name=f"errors-extra-{index}", solutionVersionArn=trained["version"])
    with pytest.raises(p.exceptions.LimitExceededException, match="5 active campaigns"):
        p.create_campaign(name="errors-sixth", solutionVersionArn=trained["version"])


def test_unimplemented_operations_say_so(clients: Any) -> None:
    with pytest.raises(ClientError, match="does not implement CreateFilter"):
        clients.personalize.create_filter(
            name="f",
            datasetGroupArn=UNKNOWN_GROUP,
            filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("x")',
        )


def test_a_folder_location_imports_every_csv_in_it(
    clients: Any, s3_endpoint: str, s3_data: dict[str, str]
) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    rows = synthetic_interactions(users=40, per_user=30).splitlines()
    header, body = rows[0], rows[1:]
    for part, chunk in enumerate((body[:600], body[600:])):
        s3.put_object(Bucket=BUCKET, Key=f"folder/part-{part}.csv", Body="\n".join([header, *chunk]).encode())
    p = clients.personalize
    group = build_group(clients, "folder", f"s3://{BUCKET}/folder/", None)
    # 1200 interactions in two files of 600: training only passes the 1000 minimum if both were read.
    version = train(clients, group, "folder", None)
    assert p.get_solution_metrics(solutionVersionArn=version)["metrics"]["coverage"] > 0
    empty = p.create_dataset_import_job(
        jobName="folder-empty",
        datasetArn=group.interactions,
        dataSource={"dataLocation": f"s3://{BUCKET}/nothing/"},
    )["datasetImportJobArn"]
    record = wait_until(p.describe_dataset_import_job, "datasetImportJob", datasetImportJobArn=empty)
    assert record["status"] == "CREATE FAILED"
    assert "holds no .csv objects" in record["failureReason"]
