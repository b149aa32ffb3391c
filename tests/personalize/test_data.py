"""Unit tests of the Avro schema and CSV checks that CreateSchema, CreateDataset and import jobs use."""

from __future__ import annotations

import io

import boto3
import pytest
from support.personalize import ITEMS_SCHEMA

from objective_sweep.personalize.data import (
    ImportFailure,
    Table,
    check_schema_for_type,
    parse_schema,
    read_csv,
    read_s3_location,
)
from objective_sweep.personalize.protocol import ApiError


def test_a_schema_is_parsed_into_typed_columns() -> None:
    schema = parse_schema(ITEMS_SCHEMA)
    genre = schema.column("GENRE")
    assert genre is not None
    assert (genre.type, genre.nullable, genre.categorical) == ("string", True, True)
    check_schema_for_type(schema, "ITEMS")
    with pytest.raises(ApiError, match="needs a USER_ID field"):
        check_schema_for_type(schema, "INTERACTIONS")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type": "record", "name": "x", "fields": [{"name": "A", "type": "map"}]}', "has type"),
        (
            '{"type": "record", "name": "x", "fields": [{"name": "A", "type": "int"}, {"name": "A", "type": "int"}]}',
            "more than once",
        ),
        ('{"type": "record", "name": "x", "fields": []}', "non-empty"),
    ],
)
def test_bad_schemas_are_invalid_input(text: str, message: str) -> None:
    with pytest.raises(ApiError, match=message):
        parse_schema(text)


def test_csv_values_are_typed_and_nullable_columns_may_be_empty() -> None:
    table = read_csv(
        "s3://b/items.csv",
        io.StringIO('ITEM_ID,ROYALTY,GENRE\n1,-0.005,"A|B"\n2,0,\n'),
        parse_schema(ITEMS_SCHEMA),
    )
    columns = {name: list(values) for name, values in table.columns.items()}
    assert columns == {"ITEM_ID": ["1", "2"], "ROYALTY": [-0.005, 0.0], "GENRE": ["A|B", None]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "ITEM_ID,ROYALTY\n1,cheap\n",
            "s3://b/items.csv, line 2, column ROYALTY: 'cheap' is not a valid float",
        ),
        ("ITEM_ID,ROYALTY\n1,\n", "line 2, column ROYALTY: empty value in a non-nullable field"),
        ("ITEM_ID,ROYALTY,PRICE\n1,2,3\n", "column(s) PRICE are not in the dataset's schema"),
        ("ITEM_ID,ROYALTY\n1,2,3\n", "line 2: 3 values for 2 columns"),
        ("", "the file is empty"),
    ],
)
def test_bad_rows_name_the_file_line_and_column(body: str, message: str) -> None:
    with pytest.raises(ImportFailure, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_csv("s3://b/items.csv", io.StringIO(body), parse_schema(ITEMS_SCHEMA))


def test_incremental_rows_fill_a_missing_nullable_column_with_null() -> None:
    first = Table({"ITEM_ID": ["1"], "ROYALTY": [0.0], "GENRE": ["A"]})
    second = Table({"ITEM_ID": ["2"], "ROYALTY": [-0.1]})
    assert first.extended(second).columns == {
        "ITEM_ID": ["1", "2"],
        "ROYALTY": [0.0, -0.1],
        "GENRE": ["A", None],
    }


def test_an_import_streams_the_object_and_names_bytes_that_are_not_utf8(s3_endpoint: str) -> None:
    # The folder's S3 server, not mock_aws: moto's backends are process-wide, and leaving mock_aws
    # would empty the bucket the other tests here read.
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="streams")
    s3.put_object(Bucket="streams", Key="ok.csv", Body=b"\xef\xbb\xbfITEM_ID,ROYALTY\r\n1,-0.5\r\n2,0\r\n")
    s3.put_object(Bucket="streams", Key="bad.csv", Body=b"ITEM_ID,ROYALTY\n1\xff,-0.5\n")
    table = read_s3_location(s3, "s3://streams/ok.csv", parse_schema(ITEMS_SCHEMA))
    assert {name: list(values) for name, values in table.columns.items()} == {
        "ITEM_ID": ["1", "2"],
        "ROYALTY": [-0.5, 0.0],
    }
    with pytest.raises(ImportFailure, match=r"s3://streams/bad.csv: b'\\xff,-0' is not UTF-8"):
        read_s3_location(s3, "s3://streams/bad.csv", parse_schema(ITEMS_SCHEMA))
