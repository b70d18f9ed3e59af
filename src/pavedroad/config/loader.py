"""Load settings: defaults < file < environment < flags, with every problem located.

A problem names the path inside the file (`deployments[1].timeouts.connect`) and, when
the value came from the file, its line, so `pavedroad config check` can point at it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pavedroad.config.models import Settings
from pavedroad.config.references import reference_problems

Loc = tuple[str | int, ...]

# The one table of environment variables (documented in docs/configuration.md).
ENV_VARS: dict[str, Loc] = {
    "PAVEDROAD_HOST": ("server", "host"),
    "PAVEDROAD_PORT": ("server", "port"),
    "PAVEDROAD_LOG_LEVEL": ("server", "log_level"),
    "PAVEDROAD_STORE_URL": ("store", "url"),
    "PAVEDROAD_REDIS_URL": ("redis", "url"),
    "PAVEDROAD_SECRETS_FILE": ("secrets_file",),
    "PAVEDROAD_EMBEDDER": ("retrieval", "embedder"),
}


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    path: str
    message: str
    line: int | None = None
    source: str = "file"

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        origin = "" if self.source == "file" else f" (from {self.source})"
        return f"{where}{self.path or '<root>'}: {self.message}{origin}"


class ConfigError(Exception):
    """The configuration is unusable; `problems` lists every reason, not just the first."""

    def __init__(self, problems: list[ConfigProblem], *, file: str | None = None) -> None:
        self.problems = problems
        self.file = file
        head = f"{file}: " if file else ""
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{head}{len(problems)} configuration problem(s):\n{lines}")


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that remembers the line of every mapping key and sequence item."""


def _read_yaml(text: str, file: str | None) -> tuple[Any, dict[Loc, int]]:
    try:
        node = yaml.compose(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem("", f"not valid YAML: {problem}", line)], file=file) from exc
    lines: dict[Loc, int] = {}

    def walk(n: yaml.Node | None, loc: Loc) -> None:
        if n is None:
            return
        lines[loc] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                child = (*loc, str(key.value))
                lines[child] = key.start_mark.line + 1
                walk(value, child)
                lines[child] = key.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*loc, i))

    walk(node, ())
    data = yaml.load(text, Loader=yaml.SafeLoader) if node is not None else None
    return data, lines


def _line_for(loc: Loc, lines: Mapping[Loc, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _set(data: dict[str, Any], loc: Loc, value: Any) -> None:
    target = data
    for part in loc[:-1]:
        nxt = target.get(str(part))
        if not isinstance(nxt, dict):
            nxt = {}
            target[str(part)] = nxt
        target = nxt
    target[str(loc[-1])] = value


def load_settings(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[Loc, Any] | None = None,
    text: str | None = None,
) -> Settings:
    """Build the settings from a file (or `text`), the environment and flag overrides."""
    file = str(path) if path is not None else None
    lines: dict[Loc, int] = {}
    data: Any = {}
    if text is None and path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([ConfigProblem("", f"cannot read file: {exc.strerror}")], file=file) from exc
    if text is not None:
        data, lines = _read_yaml(text, file)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem("", "the top level must be a mapping", 1)], file=file)
    sources: dict[Loc, str] = {}
    environ = os.environ if env is None else env
    for name, loc in ENV_VARS.items():
        if environ.get(name):
            _set(data, loc, environ[name])
            sources[loc] = f"env {name}"
    for loc, value in (overrides or {}).items():
        if value is not None:
            _set(data, loc, value)
            sources[loc] = "command-line flag"
    problems: list[ConfigProblem] = []
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = _without_union_tags(tuple(err["loc"]))
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key (check the spelling; see docs/configuration.md)"
            problems.append(ConfigProblem(format_loc(loc), message, _line_for(loc, lines),
                                          sources.get(loc, "file")))
    problems += [ConfigProblem(format_loc(loc), msg, _line_for(loc, lines))
                 for loc, msg in reference_problems(data)]
    if problems or settings is None:
        problems.sort(key=lambda p: (p.line or 0, p.path))
        raise ConfigError(problems, file=file) from None
    return settings


_ROUTE_PARENTS = {"route", "target", "then", "default"}
_ROUTE_LISTS = {"fallback", "least_latency"}


def _without_union_tags(loc: Loc) -> Loc:
    """Drop the tags pydantic adds for route-node unions; they are not keys of the file."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if isinstance(part, str) and part == nxt:
            continue  # `fallback.fallback`: the tag, then the field of the same name
        prev = out[-1] if out else None
        before = out[-2] if len(out) > 1 else None
        if part == "name" and (
            prev in _ROUTE_PARENTS or (isinstance(prev, int) and before in _ROUTE_LISTS)
        ):
            continue
        out.append(part)
    return tuple(out)
