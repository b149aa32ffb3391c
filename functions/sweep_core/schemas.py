"""Personalize dataset schemas (Avro JSON) built from a CSV's columns and their inferred types.

The workflow creates its schemas from these, and a prepared dataset folder stores the same JSON
beside its CSVs, so the two can never disagree about a column.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

DatasetKind = Literal["interactions", "items", "users"]
ColumnType = Literal["string", "long", "float"]

ID_COLUMNS: dict[DatasetKind, tuple[str, ...]] = {
    "interactions": ("USER_ID", "ITEM_ID"),
    "items": ("ITEM_ID",),
    "users": ("USER_ID",),
}
# Columns Personalize gives a fixed meaning and type in an interactions dataset.
INTERACTION_FIELDS: dict[str, Any] = {
    "TIMESTAMP": "long",
    "EVENT_TYPE": "string",
    "EVENT_VALUE": ["null", "float"],
}
_RECORD_NAMES: dict[DatasetKind, str] = {"interactions": "Interactions", "items": "Items", "users": "Users"}


class Column(BaseModel):
    """A CSV column as validation saw it: its header name, the narrowest type that holds every
    value, and whether any row left it empty."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: ColumnType
    nullable: bool = False


def build_schema(
    kind: DatasetKind, columns: Iterable[Column], objective: str | None = None
) -> dict[str, Any]:
    """The Avro schema Personalize expects for a dataset of `kind` with these columns.

    Ids are non-null strings; the objective column (items only) is a non-null float, the type
    optimizationObjective requires; other string metadata is categorical (Personalize accepts
    free-text metadata only when marked textual, which the sweep never needs); other numbers are
    floats or longs, nullable when a row left them empty.
    """
    return {
        "type": "record",
        "name": _RECORD_NAMES[kind],
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [_field(kind, column, objective) for column in columns],
        "version": "1.0",
    }


def _field(kind: DatasetKind, column: Column, objective: str | None) -> dict[str, Any]:
    name = column.name
    if name in ID_COLUMNS[kind]:
        return {"name": name, "type": "string"}
    if kind == "interactions" and name in INTERACTION_FIELDS:
        return {"name": name, "type": INTERACTION_FIELDS[name]}
    if kind == "items" and name == objective:
        return {"name": name, "type": "float"}
    if column.type == "string":
        return {"name": name, "type": ["null", "string"], "categorical": True}
    return {"name": name, "type": ["null", column.type] if column.nullable else column.type}


def schema_json(schema: dict[str, Any]) -> str:
    """The schema as the compact JSON string CreateSchema takes."""
    return json.dumps(schema, separators=(",", ":"))
