"""What one prompt version holds, how it is validated, hashed and rendered.

A version's content is normalised before hashing (defaults filled, keys sorted), so two
pushes that mean the same thing get the same hash and create one version, however the
YAML was laid out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from pavedroad.core.errors import PromptInvalid, PromptVariablesInvalid
from pavedroad.prompts.template import NAME, Template, TemplateError, parse

ROLES = ("system", "developer", "user", "assistant")
TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "list": (list,), "object": (dict,),
}
# Request fields a prompt may set, and the JSON types each accepts.
PARAMETERS: dict[str, tuple[type, ...]] = {
    "temperature": (int, float), "top_p": (int, float), "max_tokens": (int,),
    "max_completion_tokens": (int,), "stop": (str, list), "seed": (int,),
    "presence_penalty": (int, float), "frequency_penalty": (int, float),
    "tools": (list,), "tool_choice": (str, dict), "parallel_tool_calls": (bool,),
}
PROMPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
LABEL = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
_CONTENT_KEYS = {"messages", "template", "variables", "model", "parameters", "response_schema"}


def type_ok(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind != "boolean":
        return False  # JSON true is not the integer 1
    return isinstance(value, TYPES[kind])


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    type: str = "string"
    required: bool = True
    default: Any = None
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "required": self.required,
                "default": self.default, "description": self.description}


@dataclass(frozen=True, slots=True)
class PromptContent:
    """The immutable part of a version: what is hashed and what renders."""

    messages: tuple[tuple[str, str], ...]  # (role, template text)
    variables: tuple[Variable, ...] = ()
    model: str | None = None
    parameters: Mapping[str, Any] | None = None
    response_schema: Mapping[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"messages": [{"role": r, "content": c} for r, c in self.messages],
                "variables": [v.as_dict() for v in self.variables], "model": self.model,
                "parameters": dict(self.parameters or {}),
                "response_schema": self.response_schema}

    @property
    def content_hash(self) -> str:
        canonical = orjson.dumps(self.as_dict(), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()

    def templates(self) -> list[Template]:
        return [parse(content) for _, content in self.messages]


def _fail(message: str, param: str) -> PromptInvalid:
    return PromptInvalid(message, param=param)


def _messages(data: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    if "template" in data and "messages" in data:
        raise _fail("give either `messages` or `template` (one user message), not both",
                    "messages")
    if "template" in data:
        if not isinstance(data["template"], str) or not data["template"]:
            raise _fail("`template` must be a non-empty string", "template")
        return (("user", data["template"]),)
    raw = data.get("messages")
    if not isinstance(raw, list) or not raw:
        raise _fail("a prompt needs `messages`: a list of {role, content}", "messages")
    out = []
    for i, message in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(message, dict) or set(message) - {"role", "content"}:
            raise _fail(f"`{where}` must be an object with `role` and `content` only", where)
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise _fail(f"`{where}.role` must be one of {', '.join(ROLES)}", f"{where}.role")
        if not isinstance(content, str):
            raise _fail(f"`{where}.content` must be a string", f"{where}.content")
        try:
            parse(content)
        except TemplateError as exc:
            raise _fail(f"`{where}.content`: {exc}", f"{where}.content") from None
        out.append((role, content))
    return tuple(out)


def _variable(raw: Any, where: str) -> Variable:
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise _fail(f"`{where}` must be a name or an object with `name`", where)
    unknown = sorted(str(k) for k in set(raw) - {"name", "type", "required", "default",
                                                 "description"})
    if unknown:
        raise _fail(f"`{where}` has unknown field(s) {', '.join(unknown)}", where)
    name, kind = raw["name"], raw.get("type", "string")
    if not NAME.match(name):
        raise _fail(f"variable name {name!r}: use letters, digits and _ (not first)",
                    f"{where}.name")
    if not isinstance(kind, str) or kind not in TYPES:  # a list or map is not hashable
        raise _fail(f"variable {name!r}: type must be one of {', '.join(TYPES)}",
                    f"{where}.type")
    default = raw.get("default")
    required = raw.get("required", default is None)
    if not isinstance(required, bool):
        raise _fail(f"variable {name!r}: `required` must be true or false", f"{where}.required")
    if default is not None and not type_ok(default, kind):
        raise _fail(f"variable {name!r}: the default is not of type {kind}", f"{where}.default")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise _fail(f"variable {name!r}: `description` must be a string",
                    f"{where}.description")
    return Variable(name, kind, required, default, description)


def _variables(raw: Any) -> tuple[Variable, ...]:
    if raw is None:
        return ()
    if isinstance(raw, dict):  # {name: {type: …}} as well as [{name: …}]
        raw = [{"name": k, **(v if isinstance(v, dict) else {"type": v})} for k, v in raw.items()]
    if not isinstance(raw, list):
        raise _fail("`variables` must be a list of {name, type, required, default}", "variables")
    out = [_variable(item, f"variables[{i}]") for i, item in enumerate(raw)]
    names = [v.name for v in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _fail(f"variable(s) declared twice: {', '.join(dupes)}", "variables")
    return tuple(sorted(out, key=lambda v: v.name))


def _parameters(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fail("`parameters` must be an object", "parameters")
    for key, value in raw.items():
        if key not in PARAMETERS:
            raise _fail(f"unknown parameter {key!r}; a prompt may set "
                        f"{', '.join(sorted(PARAMETERS))}", f"parameters.{key}")
        types = PARAMETERS[key]
        if not isinstance(value, types) or (isinstance(value, bool) and types != (bool,)):
            raise _fail(f"parameter {key!r} has the wrong type", f"parameters.{key}")
    return dict(raw)


def content_from(data: Mapping[str, Any]) -> PromptContent:
    """Validate a prompt definition (a YAML file's or an admin request's content)."""
    unknown = sorted(str(k) for k in set(data) - _CONTENT_KEYS)  # YAML keys may be numbers
    if unknown:
        raise _fail(f"unknown field(s) {', '.join(unknown)}; a prompt has "
                    f"{', '.join(sorted(_CONTENT_KEYS))}", unknown[0])
    messages = _messages(data)
    variables = _variables(data.get("variables"))
    model = data.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        raise _fail("`model` must be the name of a model or tier", "model")
    schema = data.get("response_schema")
    if schema is not None and not isinstance(schema, dict):
        raise _fail("`response_schema` must be a JSON schema object", "response_schema")
    content = PromptContent(messages, variables, model, _parameters(data.get("parameters")),
                            schema)
    declared = {v.name for v in variables}
    for i, template in enumerate(content.templates()):
        undeclared = [n for n in template.variables if n not in declared]
        if undeclared:
            raise _fail(f"`messages[{i}]` uses undeclared variable(s) "
                        f"{', '.join(undeclared)}; declare them under `variables`",
                        f"messages[{i}].content")
    return content


def bind(content: PromptContent, given: Any) -> dict[str, Any]:
    """The values to render with: given ones checked, defaults filled, nothing unknown."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise PromptVariablesInvalid("`prompt.variables` must be an object of name: value",
                                     param="prompt.variables")
    declared = {v.name: v for v in content.variables}
    for name in given:
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise PromptVariablesInvalid(
                f"unknown variable {name!r}; this prompt declares: {known}",
                param=f"prompt.variables.{name}")
    values: dict[str, Any] = {}
    for var in content.variables:
        value = given.get(var.name)
        if value is None:
            if var.required:
                raise PromptVariablesInvalid(f"variable {var.name!r} ({var.type}) is required",
                                             param=f"prompt.variables.{var.name}")
            value = var.default if var.default is not None else ""
        elif not type_ok(value, var.type):
            raise PromptVariablesInvalid(
                f"variable {var.name!r} must be of type {var.type}, got "
                f"{type(value).__name__}", param=f"prompt.variables.{var.name}")
        values[var.name] = value
    return values


def render_messages(content: PromptContent, templates: list[Template],
                    given: Any) -> list[dict[str, str]]:
    values = bind(content, given)
    return [{"role": role, "content": template.render(values)}
            for (role, _), template in zip(content.messages, templates, strict=True)]
