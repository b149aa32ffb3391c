"""Personalize's wire contract, read from botocore's service models: request validation with the
service's constraint messages, the error type, projection of stored records onto output shapes, and
List paging."""

from __future__ import annotations

import base64
import functools
import re
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

# HTTP status per error code; Personalize's JSON errors are 400 except a missing resource on the
# REST runtime API, which answers 404, and a refused authorization, 403.
_RUNTIME_STATUS = {"ResourceNotFoundException": 404, "AccessDeniedException": 403}


class ApiError(Exception):
    """An error the service returns to the caller, named like Personalize's exception shapes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def runtime_status(self) -> int:
        return _RUNTIME_STATUS.get(self.code, 400)


def invalid(message: str) -> ApiError:
    return ApiError("InvalidInputException", message)


def not_found(kind: str, arn: str) -> ApiError:
    return ApiError("ResourceNotFoundException", f"Could not find {kind} with ARN {arn}.")


def in_use(message: str) -> ApiError:
    return ApiError("ResourceInUseException", message)


def already_exists(message: str) -> ApiError:
    return ApiError("ResourceAlreadyExistsException", message)


def limit_exceeded(message: str) -> ApiError:
    return ApiError("LimitExceededException", message)


@functools.cache
def service_model(name: str) -> ServiceModel:
    """botocore's model of `personalize` or `personalize-runtime`: the contract this server implements."""
    return botocore.session.get_session().get_service_model(name)


def _java_pattern(pattern: str) -> re.Pattern[str] | None:
    # The models carry Java regexes; the Unicode classes used by tag patterns map onto Python's.
    translated = pattern.replace(r"\p{L}", r"\w").replace(r"\p{Z}", r"\s").replace(r"\p{N}", r"\d")
    try:
        return re.compile(translated)
    except re.error:
        return None


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    return _java_pattern(pattern)


def validate_request(shape: Shape | None, params: Any) -> None:
    """Raise InvalidInputException listing every constraint of `shape` that `params` breaks."""
    if shape is None:
        return
    problems: list[str] = []
    _check(shape, params, "", problems)
    if problems:
        count = len(problems)
        raise invalid(f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    where = path or "request"
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be an object")
            return
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(
                    f"Value null at '{_join(path, name)}' failed to satisfy constraint: Member must not be null"
                )
        for name, member_value in value.items():
            if name not in shape.members:
                problems.append(f"Unknown field '{_join(path, name)}': it is not a member of {shape.name}")
            elif member_value is not None:
                _check(shape.members[name], member_value, _join(path, name), problems)
        return
    if kind == "list":
        assert isinstance(shape, ListShape)
        if not isinstance(value, list):
            problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a list")
            return
        _check_length(shape, len(value), where, problems)
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}.{index + 1}", problems)
        return
    if kind == "map":
        assert isinstance(shape, MapShape)
        if not isinstance(value, dict):
            problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a map")
            return
        _check_length(shape, len(value), where, problems)
        for key, item in value.items():
            _check(shape.key, key, f"{path}.key", problems)
            _check(shape.value, item, f"{path}.{key}", problems)
        return
    if kind == "string":
        _check_string(shape, value, where, problems)
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(
                f"Value '{value}' at '{where}' failed to satisfy constraint: Member must be an integer"
            )
        else:
            _check_range(shape, value, where, problems)
    elif kind in ("double", "float"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            problems.append(
                f"Value '{value}' at '{where}' failed to satisfy constraint: Member must be a number"
            )
        else:
            _check_range(shape, value, where, problems)
    elif kind == "boolean" and not isinstance(value, bool):
        problems.append(
            f"Value '{value}' at '{where}' failed to satisfy constraint: Member must be a boolean"
        )


def _check_string(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(f"Value '{value}' at '{where}' failed to satisfy constraint: Member must be a string")
        return
    _check_length(shape, len(value), where, problems)
    enum = getattr(shape, "enum", None)
    if enum and value not in enum:
        problems.append(
            f"Value '{value}' at '{where}' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(enum)}]"
        )
    pattern = shape.metadata.get("pattern")
    compiled = _compiled(pattern) if pattern else None
    if compiled is not None and not compiled.fullmatch(value):
        problems.append(
            f"Value '{value}' at '{where}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {pattern}"
        )


def _check_length(shape: Shape, length: int, where: str, problems: list[str]) -> None:
    _check_bounds(shape, length, f"Value at '{where}'", "length", problems)


def _check_range(shape: Shape, value: float, where: str, problems: list[str]) -> None:
    _check_bounds(shape, value, f"Value '{value}' at '{where}'", "value", problems)


def _check_bounds(shape: Shape, measure: float, subject: str, what: str, problems: list[str]) -> None:
    for bound, relation in (("min", "greater"), ("max", "less")):
        limit = shape.metadata.get(bound)
        if limit is not None and (measure < limit if bound == "min" else measure > limit):
            problems.append(
                f"{subject} failed to satisfy constraint: Member must have {what} {relation} than or equal to {limit}"
            )


def project(value: Any, shape: Shape) -> Any:
    """Keep only what `shape` declares, so a full record can answer Describe and its summary List."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return {
            name: project(value[name], member)
            for name, member in shape.members.items()
            if value.get(name) is not None
        }
    if kind == "list":
        assert isinstance(shape, ListShape)
        return [project(item, shape.member) for item in value]
    if kind == "map":
        assert isinstance(shape, MapShape)
        return {key: project(item, shape.value) for key, item in value.items()}
    return value


def page(items: list[dict[str, Any]], params: dict[str, Any], key: str) -> dict[str, Any]:
    """One page of a List answer, with a nextToken when more remain."""
    start = _decode_token(params.get("nextToken"))
    size = params.get("maxResults", 100)
    result: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        result["nextToken"] = _encode_token(start + size)
    return result


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if text.startswith("offset:"):
            return int(text[len("offset:") :])
    except (ValueError, UnicodeDecodeError):
        pass
    raise ApiError(
        "InvalidNextTokenException", "The nextToken is not one this endpoint issued; start again without it."
    )
