"""Unit tests of the endpoint's records and operations table against botocore's model: a member name
misspelt in a record's `wire()` would be dropped silently by the projection, so it is caught here."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.model import Shape, StructureShape
from sweep_core.schemas import Column, build_schema, schema_json

from objective_sweep.personalize.access import REQUIRED_RESOURCES
from objective_sweep.personalize.data import parse_schema
from objective_sweep.personalize.operations import OPERATIONS
from objective_sweep.personalize.protocol import ApiError, project, service_model
from objective_sweep.personalize.records import (
    Campaign,
    CampaignUpdate,
    Dataset,
    DatasetGroup,
    DatasetImportJob,
    Schema,
    Solution,
    SolutionVersion,
    Store,
)

ARN = "arn:aws:personalize:us-east-1:123456789012"
INTERACTIONS_SCHEMA = schema_json(
    build_schema(
        "interactions",
        [
            Column(name=n, type=t)
            for n, t in (("USER_ID", "string"), ("ITEM_ID", "string"), ("TIMESTAMP", "long"))
        ],
    )
)


def _every_kind() -> dict[str, Any]:
    """One record of each kind with every optional member set, keyed by its kind's name in botocore."""
    solution = Solution(
        arn=f"{ARN}:solution/s",
        name="s",
        perform_auto_training=True,
        perform_incremental_update=False,
        recipe_arn="arn:aws:personalize:::recipe/aws-user-personalization",
        dataset_group_arn=f"{ARN}:dataset-group/g",
        event_type="click",
        config={"optimizationObjective": {"itemAttribute": "ROYALTY"}},
        failure_reason="no",
    )
    version = SolutionVersion(
        arn=f"{solution.arn}/v", name="v", solution=solution, training_mode="FULL", training_hours=0.1
    )
    solution.latest_version = version
    update = CampaignUpdate(version=version, min_provisioned_tps=2, config={"itemExplorationConfig": {}})
    return {
        "DatasetGroup": DatasetGroup(
            arn=f"{ARN}:dataset-group/g", name="g", role_arn="r", kms_key_arn="k", domain="VIDEO_ON_DEMAND"
        ),
        "Schema": Schema(
            arn=f"{ARN}:schema/i",
            name="i",
            body=INTERACTIONS_SCHEMA,
            parsed=parse_schema(INTERACTIONS_SCHEMA),
        ),
        "Dataset": Dataset(
            arn=f"{ARN}:dataset/g/INTERACTIONS",
            name="d",
            dataset_group_arn=f"{ARN}:dataset-group/g",
            dataset_type="INTERACTIONS",
            schema_arn=f"{ARN}:schema/i",
        ),
        "DatasetImportJob": DatasetImportJob(
            arn=f"{ARN}:dataset-import-job/j",
            job_name="j",
            dataset_arn=f"{ARN}:dataset/g/INTERACTIONS",
            data_location="s3://b/k.csv",
            role_arn="r",
            import_mode="FULL",
            publish_attribution_metrics_to_s3=False,
        ),
        "Solution": solution,
        "SolutionVersion": version,
        "Campaign": Campaign(
            arn=f"{ARN}:campaign/c",
            name="c",
            version=version,
            min_provisioned_tps=1,
            config={},
            latest_update=update,
        ),
        "CampaignUpdateSummary": update,
    }


def _members(shape: Shape) -> set[str]:
    assert isinstance(shape, StructureShape)
    return set(shape.members)


def _shape(kind: str) -> Shape:
    """The shape a record answers as: DescribeX's output member, or a named shape for nested ones."""
    model = service_model("personalize")
    if kind == "CampaignUpdateSummary":
        return model.shape_for(kind)
    member = kind[0].lower() + kind[1:]
    output = model.operation_model(f"Describe{kind}").output_shape
    assert isinstance(output, StructureShape)
    return output.members[member]


@pytest.mark.parametrize("kind", sorted(_every_kind()))
def test_each_record_projects_onto_its_describe_shape_without_losing_a_member(kind: str) -> None:
    shape = _shape(kind)
    wire = _every_kind()[kind].wire()
    assert set(wire) - _members(shape) == set()
    projected = project(wire, shape)
    assert set(projected) == {k for k, v in wire.items() if v is not None}


def test_nested_records_project_onto_their_summary_shapes() -> None:
    records = _every_kind()
    solution = project(records["Solution"].wire(), _shape("Solution"))
    assert solution["latestSolutionVersion"]["solutionVersionArn"] == records["SolutionVersion"].arn
    assert "solutionConfig" not in solution["latestSolutionVersion"]  # not a member of the summary
    campaign = project(records["Campaign"].wire(), _shape("Campaign"))
    assert campaign["latestCampaignUpdate"]["minProvisionedTPS"] == 2


def test_every_operation_in_the_table_is_a_personalize_operation_that_iam_can_authorize() -> None:
    names = set(service_model("personalize").operation_names)
    assert set(OPERATIONS) - names == set()
    assert set(OPERATIONS) - set(REQUIRED_RESOURCES) == set()


def test_a_taken_arn_is_refused_and_the_store_lock_is_reentrant() -> None:
    store = Store()
    record = _every_kind()["DatasetGroup"]
    with store.transaction() as records:
        records.add(record)
        assert record.created == record.updated > 0
        with store.transaction() as again:
            assert again.get(DatasetGroup, record.arn) is record
    with pytest.raises(ApiError, match="already exists") as taken, store.transaction() as records:
        records.add(_every_kind()["DatasetGroup"])
    assert taken.value.code == "ResourceAlreadyExistsException"
    with pytest.raises(ApiError) as missing, store.transaction() as records:
        records.get(Campaign, f"{ARN}:campaign/none")
    assert (missing.value.code, missing.value.message) == (
        "ResourceNotFoundException",
        f"Could not find campaign with ARN {ARN}:campaign/none.",
    )


def test_another_thread_waits_for_a_transaction_to_end() -> None:
    store = Store()
    seen: list[int] = []

    def reader() -> None:
        with store.transaction() as records:
            seen.append(len(records.all(DatasetGroup)))

    with store.transaction() as records:
        thread = threading.Thread(target=reader)
        thread.start()
        thread.join(0.2)
        assert thread.is_alive()  # blocked on the lock
        records.add(_every_kind()["DatasetGroup"])
    thread.join(5)
    assert seen == [1]


def test_the_map_in_the_docs_names_every_module_of_the_package() -> None:
    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "local-personalize.md").read_text()
    section = doc.split("## Map of objective_sweep/personalize", 1)[1].split("\n## ", 1)[0]
    mapped = set(re.findall(r"^\| `(\w+\.py)` \|", section, re.MULTILINE))
    modules = {p.name for p in (root / "objective_sweep" / "personalize").glob("*.py")} - {"__init__.py"}
    assert mapped == modules
