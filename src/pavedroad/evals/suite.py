"""A suite file: which dataset, against what target, scored how (docs/evals.md).

The target is a model or tier, or a prompt version from the registry; either way each case
becomes one OpenAI-format request to the gateway, built here so every case is checked
before the first request is sent.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pavedroad.core.errors import EvalConfigInvalid
from pavedroad.evals.types import Case

_KEYS = {"name", "dataset", "target", "template", "request", "scorers", "concurrency"}
_REQUEST = {"max_tokens", "temperature", "top_p", "seed", "response_format", "stop"}
MAX_CONCURRENCY = 256


@dataclass(frozen=True, slots=True)
class Target:
    model: str | None = None
    prompt: Mapping[str, Any] | None = None  # {id, version | label}

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.model:
            out["model"] = self.model
        if self.prompt:
            out["prompt"] = dict(self.prompt)
        return out

    @property
    def prompt_version(self) -> tuple[str, int] | None:
        """(prompt id, version) when the target pins a version: what a gate result is for."""
        if self.prompt and isinstance(self.prompt.get("version"), int):
            return str(self.prompt["id"]), int(self.prompt["version"])
        return None


@dataclass(frozen=True, slots=True)
class Suite:
    name: str
    dataset: str  # a file path, or `name` / `name@version` in the store
    target: Target
    scorers: list[Any]
    template: str | None = None
    request: Mapping[str, Any] = field(default_factory=dict)
    concurrency: int = 8

    def spec(self, *, dataset: str) -> dict[str, Any]:
        """The suite as stored with a run (the dataset pinned): resume runs exactly this."""
        return {"name": self.name, "dataset": dataset, "target": self.target.public(),
                "scorers": self.scorers, "template": self.template,
                "request": dict(self.request), "concurrency": self.concurrency}

    def body(self, case: Case) -> dict[str, Any]:
        """The chat request for one case."""
        data = dict(case.input)
        messages = data.pop("messages", None)
        body: dict[str, Any] = dict(self.request)
        if self.target.model:
            body["model"] = self.target.model
        if self.target.prompt is not None:
            body["prompt"] = {**self.target.prompt, "variables": data}
            if messages:
                body["messages"] = messages
            return body
        if messages:
            body["messages"] = messages
        elif self.template is not None:
            try:
                text = self.template.format(**data)
            except (KeyError, ValueError, TypeError) as exc:  # TypeError: a bad format spec
                raise EvalConfigInvalid(f"suite {self.name!r}: case {case.id!r}: the template "
                                        f"needs {exc}", param="template") from None
            body["messages"] = [{"role": "user", "content": text}]
        elif len(data) == 1:
            body["messages"] = [{"role": "user", "content": str(next(iter(data.values())))}]
        else:
            raise EvalConfigInvalid(f"suite {self.name!r}: case {case.id!r} has variables "
                                    f"{sorted(data)} but the suite has no `template` to turn "
                                    "them into a message", param="template")
        return body


def _target(raw: Any, where: str) -> Target:
    if not isinstance(raw, Mapping) or not (raw.get("model") or raw.get("prompt")):
        raise EvalConfigInvalid(f"{where}: `target` needs `model` (a model or tier) or `prompt` "
                                "({id, version} or {id, label})", param="target")
    prompt = raw.get("prompt")
    if prompt is not None:
        if not isinstance(prompt, Mapping) or not isinstance(prompt.get("id"), str) or (
                "version" in prompt) == ("label" in prompt):
            raise EvalConfigInvalid(f"{where}: `target.prompt` is {{id, version}} or {{id, "
                                    "label}}", param="target.prompt")
        if "version" in prompt and not isinstance(prompt["version"], int):
            raise EvalConfigInvalid(f"{where}: `target.prompt.version` must be a whole number",
                                    param="target.prompt.version")
    model = raw.get("model")
    return Target(str(model) if model else None, dict(prompt) if prompt else None)


def _check_template(template: str, where: str) -> None:
    """`{name}` fields only: `str.format` would also follow `{q.attr}` and `{q[0]}` into
    the values, which is no way to fill a message (and a way to read what it should not)."""
    try:
        fields = [(name, spec) for _, name, spec, _ in string.Formatter().parse(template)
                  if name is not None]
    except ValueError as exc:
        raise EvalConfigInvalid(f"{where}: `template` does not parse ({exc}); write {{name}} "
                                "for a variable and {{ }} for literal braces",
                                param="template") from None
    for name, spec in fields:
        if not name.isidentifier() or "{" in (spec or ""):
            raise EvalConfigInvalid(f"{where}: `template` field {{{name}}} is not a variable "
                                    "name; write {name} with letters, digits and _",
                                    param="template")


def parse_suite(data: Any, where: str = "suite") -> Suite:
    if not isinstance(data, Mapping):
        raise EvalConfigInvalid(f"{where}: a suite is a mapping with name, dataset, target "
                                "and scorers")
    check_keys(data, _KEYS, where)
    for key in ("name", "dataset"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise EvalConfigInvalid(f"{where}: `{key}` is required", param=key)
    scorers = data.get("scorers")
    if not isinstance(scorers, list) or not scorers:
        raise EvalConfigInvalid(f"{where}: `scorers` must list at least one scorer",
                                param="scorers")
    request = data.get("request") or {}
    if not isinstance(request, Mapping) or set(request) - _REQUEST:
        raise EvalConfigInvalid(f"{where}: `request` may set {', '.join(sorted(_REQUEST))}",
                                param="request")
    concurrency = data.get("concurrency", 8)
    if not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise EvalConfigInvalid(f"{where}: `concurrency` must be 1..{MAX_CONCURRENCY}",
                                param="concurrency")
    template = data.get("template")
    if template is not None and not isinstance(template, str):
        raise EvalConfigInvalid(f"{where}: `template` must be a string", param="template")
    if template is not None:
        _check_template(template, where)
    return Suite(data["name"], data["dataset"], _target(data.get("target"), where), scorers,
                 template, dict(request), concurrency)


def check_keys(data: Mapping[Any, Any], known: set[str], where: str) -> None:
    """Refuse keys a suite or gate file does not know, naming them."""
    unknown = sorted(str(k) for k in set(data) - known)  # YAML keys may be numbers
    if unknown:
        raise EvalConfigInvalid(f"{where}: unknown key(s) {', '.join(unknown)} (known: "
                                f"{', '.join(sorted(known))})", param=unknown[0])


def read_yaml(path: Path) -> Any:
    """A suite or gate file's content; unreadable or invalid YAML is a config error."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalConfigInvalid(f"{path}: cannot read it ({exc})") from None
    except yaml.YAMLError as exc:
        raise EvalConfigInvalid(f"{path}: not valid YAML ({exc})") from None


def load_suite(path: Path) -> tuple[Suite, Path]:
    """The suite and the folder its relative dataset paths are read from."""
    return parse_suite(read_yaml(path), str(path)), path.parent
