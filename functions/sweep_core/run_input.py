"""Reading a RunConfig from what a user wrote (a run file, an execution input, command-line options)
with every mistake said in plain words that name the user's file and field: one parser for PrepareRun
and the `sweep` command, so both accept the same camelCase names and word their refusals the same way."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from sweep_core.errors import InvalidInputError, Problem
from sweep_core.models import RunConfig

SCHEMA_HINT = "schema/run-config.schema.json lists every field"
_QUOTED = re.compile(r"'([^']*)'")
# What a value of each pydantic type error should have been, and how to write it, in the user's words.
_WHOLE = ("a whole number", "write digits only, e.g. 25")
_NUMBER = ("a number", "write a number, e.g. 0.05")
_OBJECT = ("an object", 'write a JSON object of its fields, e.g. {"tolerance": 0.05}')
_EXPECTED = {
    "int_type": _WHOLE,
    "int_parsing": _WHOLE,
    "int_from_float": _WHOLE,
    "int_parsing_size": ("a whole number of a usable size", "give a number in the field's range"),
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "finite_number": _NUMBER,
    "bool_type": ("true or false", "write true or false, without quotes"),
    "bool_parsing": ("true or false", "write true or false, without quotes"),
    "string_type": ("text", "write it in double quotes"),
    "list_type": ("a list", 'write a JSON list, e.g. ["OFF", "HIGH"]'),
    "model_type": _OBJECT,
    "model_attributes_type": _OBJECT,
    "dict_type": _OBJECT,
}
# Abbreviations people write for Personalize's metric names.
_ABBREVIATIONS = {"ndcg": "normalized_discounted_cumulative_gain", "mrr": "mean_reciprocal_rank"}
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "more than"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
}


def parse_run_config(
    raw: Mapping[str, Any], source: str, *, options: Mapping[str, str] | None = None
) -> RunConfig:
    """Validate `raw` (camelCase field names only) into a RunConfig.

    `source` names where the fields were written (the run file's path or URI); `options` maps a
    top-level field to the command-line option that gave it (e.g. {"objective": "--objective"}), so a
    bad option is named as the option. Raises InvalidInputError with one plain problem per mistake."""
    try:
        return RunConfig.model_validate(dict(raw), by_alias=True, by_name=False)
    except ValidationError as error:
        problems = [_problem(issue, source, options or {}) for issue in error.errors()]
        raise InvalidInputError(problems) from None


def _problem(issue: Mapping[str, Any], source: str, options: Mapping[str, str]) -> Problem:
    loc = [part for part in issue["loc"] if isinstance(part, str)]
    path = ".".join(loc)
    option = options.get(loc[0]) if loc else None
    kind = issue["type"]
    ctx = issue.get("ctx") or {}
    value = _shown(issue["input"])
    subject = "the value" if option else f"field '{path}'"
    if kind == "extra_forbidden":
        owner, owner_name = _owner(loc[:-1])
        return Problem(source, f"field '{path}' is not {owner_name}", _suggestion(loc[-1], owner))
    if kind == "missing":
        described = _field_description(loc)
        return Problem(source, f"the required field '{path}' is missing", f"add it{described}")
    if option:
        typed = issue["input"]
        written = ",".join(map(str, typed)) if isinstance(typed, list) else str(typed)
        source = f"{option} {written}" if written else option
    if kind in ("value_error", "assertion_error"):
        reason = str(ctx.get("error", issue["msg"]))
        return Problem(source, reason if option or not path else f"field '{path}': {reason}", "")
    if kind == "literal_error":
        allowed = _QUOTED.findall(str(ctx.get("expected", "")))
        written = str(issue["input"]).lower()
        for short, long in _ABBREVIATIONS.items():
            written = re.sub(rf"\b{short}(?=_|$)", long, written)
        # Compared in lower case, so "HIHG" finds HIGH as "recomended" finds recommended.
        by_lower = {name.lower(): name for name in allowed}
        close = difflib.get_close_matches(written, list(by_lower), n=1, cutoff=0.5)
        hint = f"did you mean '{by_lower[close[0]]}'? " if close else ""
        return Problem(
            source, f"{subject} is {value}, not one of the allowed values", f"{hint}use {_listed(allowed)}"
        )
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return Problem(source, f"{subject} is {value}, out of range", f"use {words} {_shown(ctx.get(key))}")
    if kind in ("too_short", "too_long"):
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        words = "at least" if kind == "too_short" else "at most"
        return Problem(source, f"{subject} has {ctx.get('actual_length')} entries", f"give {words} {bound}")
    if kind in _EXPECTED:
        expected, fix = _EXPECTED[kind]
        return Problem(source, f"{subject} is {value}, not {expected}", fix)
    # A type of mistake the fields above cannot make today; still no library wording or URL.
    return Problem(source, f"{subject} is {value}, which RunConfig does not accept", SCHEMA_HINT)


def _shown(value: Any) -> str:
    """A value as the user wrote it in JSON (null, "text", 1.5), shortened."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _listed(values: list[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else "".join(quoted)


def _owner(loc: list[str]) -> tuple[type[BaseModel], str]:
    """The model that holds the field at `loc` + [name], and how to call it in a sentence."""
    model: type[BaseModel] = RunConfig
    for part in loc:
        nested = _nested_model(model, part)
        if nested is None:
            break
        model = nested
    return (model, "a RunConfig field") if not loc else (model, f"a field of {'.'.join(loc)}")


def _nested_model(model: type[BaseModel], alias: str) -> type[BaseModel] | None:
    for name, info in model.model_fields.items():
        if (info.alias or name) == alias:
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                return annotation
    return None


def _suggestion(name: str, model: type[BaseModel]) -> str:
    """Did-you-mean for an unknown field: the camelCase spelling of a snake_case name, else the closest name."""
    aliases = {(info.alias or python_name): python_name for python_name, info in model.model_fields.items()}
    by_python_name = {python_name: alias for alias, python_name in aliases.items()}
    if name in by_python_name:
        return f"field names are camelCase: did you mean '{by_python_name[name]}'?"
    lowered = {alias.lower().replace("_", ""): alias for alias in aliases}
    same = lowered.get(name.lower().replace("_", ""))
    if same:
        return f"field names are camelCase: did you mean '{same}'?"
    close = difflib.get_close_matches(name, list(aliases), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    nested = [f"'{alias}.{name}'" for alias in aliases if name in _aliases(_nested_model(model, alias))]
    if nested:
        return f"did you mean {' or '.join(nested)}?"
    return "the fields are " + ", ".join(aliases)


def _aliases(model: type[BaseModel] | None) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()] if model else []


def _field_description(loc: list[str]) -> str:
    model, _ = _owner(loc[:-1])
    for name, info in model.model_fields.items():
        if (info.alias or name) == loc[-1] and info.description:
            return f": {info.description[0].lower()}{info.description[1:].rstrip('.')}"
    return ""
