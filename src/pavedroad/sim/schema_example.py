"""Build a plausible JSON instance from a JSON Schema, for tool arguments and json_schema.

Deliberately small: it covers what function-calling schemas use in practice (types,
enums, const, nested objects and arrays, anyOf/oneOf/allOf, local $refs) and falls back
to a string for anything else, so it never fails on an unfamiliar schema.
"""

from __future__ import annotations

from typing import Any

__all__ = ["example_for"]

_MAX_DEPTH = 8


def example_for(schema: Any) -> Any:
    """A value that satisfies simple schemas; required properties only, or all if none are."""
    root = schema if isinstance(schema, dict) else {}
    return _example(root, root, 0)


def _example(schema: Any, root: dict[str, Any], depth: int) -> Any:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return "example"
    if "$ref" in schema:
        return _example(_resolve(schema["$ref"], root), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return _example(_first_non_null(options), root, depth + 1)
    kind = _type_of(schema)
    if kind == "object":
        return _object(schema, root, depth)
    if kind == "array":
        return [_example(schema.get("items", {"type": "string"}), root, depth + 1)]
    return _SCALARS.get(kind, "example")


_SCALARS: dict[str, Any] = {
    "string": "example",
    "integer": 1,
    "number": 1.5,
    "boolean": True,
    "null": None,
}


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        # ["string", "null"] means optional string: prefer the real type.
        kinds = [k for k in kind if k != "null"] or ["null"]
        kind = kinds[0]
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _object(schema: dict[str, Any], root: dict[str, Any], depth: int) -> dict[str, Any]:
    props = schema.get("properties")
    if not isinstance(props, dict):
        return {}
    required = schema.get("required")
    names = [n for n in required if isinstance(n, str) and n in props] if isinstance(required, list) else []
    return {name: _example(props[name], root, depth + 1) for name in names or list(props)}


def _first_non_null(options: list[Any]) -> Any:
    for option in options:
        if not (isinstance(option, dict) and option.get("type") == "null"):
            return option
    return options[0]


def _resolve(ref: Any, root: dict[str, Any]) -> Any:
    """Only local refs (`#/...`); remote ones resolve to nothing and become a string."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return {}
    node: Any = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        if not isinstance(node, dict):
            return {}
        node = node.get(part.replace("~1", "/").replace("~0", "~"), {})
    return node
