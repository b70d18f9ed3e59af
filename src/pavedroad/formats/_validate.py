"""Type checks for caller-supplied JSON.

Callers send arbitrary JSON; every check names the exact path (`messages[2].content`)
so the 400 says what to fix instead of surfacing a KeyError from deep inside a mapper.
"""

from __future__ import annotations

from typing import Any

from pavedroad.core.errors import InvalidRequest

_JSON_NAMES: dict[type, str] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


def json_type(value: Any) -> str:
    """Name a value's JSON type the way the caller wrote it ('an array', 'null')."""
    return _JSON_NAMES.get(type(value), type(value).__name__)


def fail(param: str, message: str) -> InvalidRequest:
    """Build the error; callers `raise fail(...)` so control flow stays visible."""
    return InvalidRequest(f"{param} {message}", param=param)


def need_dict(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail(param, f"must be an object, got {json_type(value)}")
    return value


def need_list(value: Any, param: str, *, non_empty: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise fail(param, f"must be an array, got {json_type(value)}")
    if non_empty and not value:
        raise fail(param, "must contain at least one item")
    return value


def need_str(value: Any, param: str, *, non_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise fail(param, f"must be a string, got {json_type(value)}")
    if non_empty and not value:
        raise fail(param, "must not be empty")
    return value


def need_bool(value: Any, param: str) -> bool:
    if not isinstance(value, bool):
        raise fail(param, f"must be true or false, got {json_type(value)}")
    return value


def need_number(value: Any, param: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(param, f"must be a number, got {json_type(value)}")
    return value


def need_positive_int(value: Any, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(param, f"must be a positive integer, got {json_type(value)}")
    if value < 1:
        raise fail(param, f"must be a positive integer, got {value}")
    return value


def str_list(value: Any, param: str) -> list[str]:
    """A string or an array of strings, normalised to a list (stop / stop_sequences)."""
    if isinstance(value, str):
        return [value]
    items = need_list(value, param)
    return [need_str(item, f"{param}[{i}]") for i, item in enumerate(items)]
