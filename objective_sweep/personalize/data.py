"""Datasets as Personalize sees them: Avro schemas checked like CreateSchema/CreateDataset do, and CSV
imports read from S3 and checked row by row against the dataset's schema."""

from __future__ import annotations

import codecs
import csv
import json
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from objective_sweep.personalize.protocol import invalid

# The columns each dataset type must declare, with the Avro types Personalize accepts for them.
_REQUIRED_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "INTERACTIONS": {"USER_ID": ("string",), "ITEM_ID": ("string",), "TIMESTAMP": ("long", "int")},
    "ITEMS": {"ITEM_ID": ("string",)},
    "USERS": {"USER_ID": ("string",)},
}
DATASET_TYPES = tuple(_REQUIRED_FIELDS)
NUMERIC_TYPES = frozenset({"int", "long", "float", "double"})
_SCALAR_TYPES = NUMERIC_TYPES | {"string", "boolean"}


class ImportFailure(Exception):
    """Bad data: the import job fails with this message as its failureReason."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    categorical: bool


@dataclass(frozen=True)
class Schema:
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


def parse_schema(text: str) -> Schema:
    """Parse an Avro record schema the way CreateSchema accepts it, or raise InvalidInputException."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise invalid(
            f"schema is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); pass an Avro record schema"
        ) from exc
    if not isinstance(document, dict) or document.get("type") != "record":
        raise invalid('schema must be an Avro record: {"type": "record", "name": ..., "fields": [...]}')
    if not isinstance(document.get("name"), str) or not document["name"]:
        raise invalid('schema needs a "name" for the Avro record')
    fields = document.get("fields")
    if not isinstance(fields, list) or not fields:
        raise invalid('schema needs a non-empty "fields" list')
    columns: list[Column] = []
    for index, entry in enumerate(fields):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise invalid(f'schema field {index + 1} needs a string "name"')
        columns.append(_column(entry, index))
    names = [c.name for c in columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise invalid(f"schema declares field(s) {', '.join(duplicates)} more than once; keep one of each")
    return Schema(tuple(columns))


def _column(entry: dict[str, Any], index: int) -> Column:
    name, declared = entry["name"], entry.get("type")
    types = declared if isinstance(declared, list) else [declared]
    nullable = "null" in types
    concrete = [t for t in types if t != "null"]
    if len(concrete) != 1 or concrete[0] not in _SCALAR_TYPES:
        raise invalid(
            f"schema field {index + 1} ({name}) has type {json.dumps(declared)}; use one of "
            f'{", ".join(sorted(_SCALAR_TYPES))}, optionally in a union with "null"'
        )
    return Column(name, concrete[0], nullable, bool(entry.get("categorical", False)))


def check_schema_for_type(schema: Schema, dataset_type: str) -> None:
    """CreateDataset's check that a schema fits the dataset type."""
    for name, types in _REQUIRED_FIELDS[dataset_type].items():
        column = schema.column(name)
        if column is None:
            raise invalid(
                f"a {dataset_type} dataset's schema needs a {name} field of type {' or '.join(types)}"
            )
        if column.type not in types or column.nullable:
            raise invalid(
                f"field {name} of a {dataset_type} dataset's schema must be non-null {' or '.join(types)}, "
                f"not {column.type}{' (nullable)' if column.nullable else ''}"
            )


# A column of values in file order: a list, or a typed array for non-nullable numbers.
Values = list[Any] | array


@dataclass
class Table:
    """Imported rows as typed columns, in file order.

    Sized for tens of millions of rows: non-nullable numbers are packed in arrays (8 bytes a value,
    not a Python object each) and equal strings of a column are one object."""

    columns: dict[str, Values] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def extended(self, other: Table) -> Table:
        """Rows of both tables; a nullable column absent from one side is null in its rows."""
        names = list(dict.fromkeys([*self.columns, *other.columns]))
        mine, theirs = len(self), len(other)
        return Table(
            {
                name: _joined(self.columns.get(name, [None] * mine), other.columns.get(name, [None] * theirs))
                for name in names
            }
        )


def _joined(first: Values, second: Values) -> Values:
    if isinstance(first, array) and isinstance(second, array) and first.typecode == second.typecode:
        return first + second
    return [*first, *second]


def _empty_values(column: Column) -> Values:
    if not column.nullable and column.type in ("int", "long"):
        return array("q")
    if not column.nullable and column.type in ("float", "double"):
        return array("d")
    return []


def _converter(column: Column) -> Callable[[str], Any]:
    if column.type in ("int", "long"):
        return int
    if column.type in ("float", "double"):
        return float
    if column.type == "boolean":
        return _boolean
    return str


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise ValueError(text)
    return lowered == "true"


# Characters of whole lines the import's fast path splits at once.
_BLOCK_CHARS = 4 * 1024 * 1024


def read_csv(source: str, text: Iterable[str], schema: Schema) -> Table:
    """Check a Personalize CSV against its schema and return typed columns; ImportFailure names the
    file, line and column of the first problem and the fix. `text` is the file's text in pieces of
    any size (its lines, or decoded chunks)."""
    blocks = _line_blocks(text)
    first_lines = _lines_of([next(blocks, "")])
    # The csv reader takes lines one at a time as it needs them; the rest of the block follows.
    header = next(csv.reader(first_lines), None)
    if not header:
        raise ImportFailure(
            f"{source}: the file is empty; the first line must be a header naming the columns"
        )
    header = [h.strip() for h in header]
    by_upper = {c.name.upper(): c for c in schema.columns}
    unknown = [h for h in header if h.upper() not in by_upper]
    if unknown:
        raise ImportFailure(
            f"{source}, line 1: column(s) {', '.join(unknown)} are not in the dataset's schema "
            f"({', '.join(c.name for c in schema.columns)}); rename or remove them"
        )
    present = {by_upper[h.upper()].name for h in header}
    missing = [c.name for c in schema.columns if not c.nullable and c.name not in present]
    if missing:
        raise ImportFailure(
            f"{source}, line 1: required column(s) {', '.join(missing)} missing from the header; add them"
        )
    columns = _Columns(source, [by_upper[h.upper()] for h in header])
    line_number = 2
    for block in chain(["".join(first_lines)], blocks):
        if '"' in block:
            # A quoted value may hold commas or span lines: the csv module reads the rest of the file.
            columns.add_rows(line_number, _lines_of(chain([block], blocks)))
            break
        if not block:
            continue
        line_count = block.count("\n") + (not block.endswith("\n"))
        if not columns.add_plain_block(block, line_count):
            columns.add_rows(line_number, _lines_of([block]))
        line_number += line_count
    return columns.table()


def _line_blocks(pieces: Iterable[str]) -> Iterator[str]:
    """The text in blocks of about _BLOCK_CHARS that end at a line end (the last one may not)."""
    held: list[str] = []
    size = 0
    for piece in pieces:
        held.append(piece)
        size += len(piece)
        if size >= _BLOCK_CHARS:
            text = "".join(held)
            end = text.rfind("\n") + 1
            if end:
                yield text[:end]
                held, size = [text[end:]], len(text) - end
    if text := "".join(held):
        yield text


def _lines_of(blocks: Iterable[str]) -> Iterator[str]:
    """The lines of blocks of whole lines, each with its newline (only "\n" ends a line)."""
    for block in blocks:
        *complete, last = block.split("\n")
        for line in complete:
            yield line + "\n"
        if last:
            yield last


def _decoded(body: Any, chunk_size: int = 1 << 20) -> Iterator[str]:
    """An S3 body's text a chunk at a time (UTF-8, a byte-order mark dropped)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    while chunk := body.read(chunk_size):
        yield decoder.decode(chunk)
    yield decoder.decode(b"", final=True)


class _Columns:
    """The typed columns of one CSV file as its rows are added.

    Rows come in two ways with the same result: a block of lines without quotes whose every value
    converts is split and converted a column at a time (C loops, most of a large file); anything
    else goes row by row through the csv module, which finds and names the first problem."""

    def __init__(self, source: str, ordered: list[Column]) -> None:
        self.source = source
        self.ordered = ordered
        self.converters = [_converter(c) for c in ordered]
        self.values = [_empty_values(c) for c in ordered]
        # One shared object per distinct string of a column (a 25M-row file has ~200k distinct ids).
        self.distinct: list[dict[str, str] | None] = [{} if c.type == "string" else None for c in ordered]

    def table(self) -> Table:
        return Table({column.name: values for column, values in zip(self.ordered, self.values, strict=True)})

    def add_plain_block(self, text: str, line_count: int) -> bool:
        """Add every line of a block of unquoted lines, or nothing (False) when some line or value
        needs the row-by-row reading to be read or refused."""
        if "\r" in text:
            text = text.replace("\r\n", "\n")
            if "\r" in text:
                return False
        if not text.endswith("\n"):
            text += "\n"
        # Each line's values, then a "\n" of its own: the newlines fall every len(ordered) + 1
        # values exactly when every line has one value per column.
        stride = len(self.ordered) + 1
        split = text.replace("\n", ",\n,").split(",")
        if len(split) != line_count * stride + 1 or split[stride - 1 :: stride].count("\n") != line_count:
            return False
        split.pop()  # what follows the last newline: nothing
        converted: list[Values] = []
        for index in range(stride - 1):
            texts = split[index::stride]
            if "" in texts:
                return False
            strings = self.distinct[index]
            if strings is not None:
                converted.append(list(map(strings.setdefault, texts, texts)))
                continue
            empty = _empty_values(self.ordered[index])
            try:
                converted.append(
                    array(empty.typecode, map(self.converters[index], texts))
                    if isinstance(empty, array)
                    else list(map(self.converters[index], texts))
                )
            except (ValueError, OverflowError):
                return False
        for values, new in zip(self.values, converted, strict=True):
            values.extend(new)  # an array gets an array, a list a list
        return True

    def add_rows(self, first_line: int, lines: Iterable[str]) -> None:
        source, ordered, values, distinct = self.source, self.ordered, self.values, self.distinct
        for line_number, row in enumerate(csv.reader(lines), start=first_line):
            if not row:
                continue
            if len(row) != len(ordered):
                raise ImportFailure(
                    f"{source}, line {line_number}: {len(row)} values for {len(ordered)} columns; "
                    "quote values that contain commas"
                )
            for index, (column, convert, text) in enumerate(zip(ordered, self.converters, row, strict=True)):
                strings = distinct[index]
                if strings is not None and text:
                    values[index].append(strings.setdefault(text, text))
                    continue
                if text == "":
                    if not column.nullable:
                        raise ImportFailure(
                            f"{source}, line {line_number}, column {column.name}: empty value in a non-nullable "
                            f'field; fill it in or declare the field as ["null", "{column.type}"]'
                        )
                    values[index].append(None)
                    continue
                try:
                    values[index].append(convert(text))
                except (ValueError, OverflowError):
                    raise ImportFailure(
                        f"{source}, line {line_number}, column {column.name}: {text!r} is not a valid "
                        f"{column.type}; correct the value or the schema's field type"
                    ) from None


def read_s3_location(s3: Any, location: str, schema: Schema) -> Table:
    """Read one CSV object, or every .csv object under a folder location (ending in /), from S3."""
    if not location.startswith("s3://"):
        raise ImportFailure(f"{location}: dataLocation must be an s3://bucket/key URI")
    bucket, _, key = location[len("s3://") :].partition("/")
    if not bucket or not key:
        raise ImportFailure(f"{location}: dataLocation needs both a bucket and a key (s3://bucket/key.csv)")
    if key.endswith("/"):
        keys = sorted(
            obj["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
            for obj in page.get("Contents", [])
            if obj["Key"].endswith(".csv")
        )
        if not keys:
            raise ImportFailure(f"{location}: the folder holds no .csv objects; upload the data there first")
    else:
        keys = [key]
    table = Table()
    for object_key in keys:
        uri = f"s3://{bucket}/{object_key}"
        try:
            body = s3.get_object(Bucket=bucket, Key=object_key)["Body"]
        except s3.exceptions.NoSuchKey:
            raise ImportFailure(f"{uri}: no such object; upload the file or correct dataLocation") from None
        except s3.exceptions.NoSuchBucket:
            raise ImportFailure(f"{uri}: bucket {bucket} does not exist; correct dataLocation") from None
        # Decoded as the object streams in: the whole file is never held as bytes or as text.
        try:
            part = read_csv(uri, _decoded(body), schema)
        except UnicodeDecodeError as exc:
            raise ImportFailure(
                f"{uri}: {exc.object[exc.start : exc.start + 4]!r} is not UTF-8; save the file as UTF-8"
            ) from None
        finally:
            body.close()
        table = part if not table.columns else table.extended(part)
    return table
