"""The Avro schemas built from columns: reserved fields keep Personalize's types, the objective is a
non-null float, other strings are categorical and other numbers nullable when a row left them empty."""

from __future__ import annotations

import json

from sweep_core.schemas import Column, build_schema, schema_json


def test_interactions_schema_keeps_reserved_types() -> None:
    schema = build_schema(
        "interactions",
        [
            Column(name="USER_ID", type="long"),
            Column(name="ITEM_ID", type="string"),
            Column(name="TIMESTAMP", type="long"),
            Column(name="EVENT_TYPE", type="string"),
            Column(name="EVENT_VALUE", type="long"),
            Column(name="DEVICE", type="string", nullable=True),
        ],
    )
    assert schema["name"] == "Interactions"
    assert schema["namespace"] == "com.amazonaws.personalize.schema"
    assert schema["fields"] == [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
        {"name": "DEVICE", "type": ["null", "string"], "categorical": True},
    ]


def test_items_objective_is_a_non_null_float_even_when_whole_numbers() -> None:
    schema = build_schema(
        "items",
        [
            Column(name="ITEM_ID", type="string"),
            Column(name="MARGIN", type="long"),
            Column(name="SIZE", type="long"),
        ],
        objective="MARGIN",
    )
    assert schema["fields"][1:] == [{"name": "MARGIN", "type": "float"}, {"name": "SIZE", "type": "long"}]


def test_users_schema_and_compact_json() -> None:
    schema = build_schema(
        "users", [Column(name="USER_ID", type="string"), Column(name="AGE", type="float", nullable=True)]
    )
    assert schema["name"] == "Users"
    assert schema["fields"][1] == {"name": "AGE", "type": ["null", "float"]}
    text = schema_json(schema)
    assert " " not in text
    assert json.loads(text) == schema
