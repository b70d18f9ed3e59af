"""The template language of prompt messages: `{{ name }}` placeholders and nothing else.

No expressions, filters, loops or attribute access: a template is parsed once into literal
text and variable names, so rendering is string joining and can never run code. A literal
`{{` is written `\\{{`; any other `{{` must open a well-formed placeholder, so a typo is a
push-time error rather than text that silently reaches a model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

_PLACEHOLDER = re.compile(r"\\\{\{|\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}|\{\{")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class TemplateError(ValueError):
    """A template that does not parse; the message says where and what to write instead."""


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text alternating with variable names."""

    parts: tuple[str | tuple[str], ...]  # str: literal text; (name,): a placeholder

    @property
    def variables(self) -> list[str]:
        """Variable names in order of first use."""
        seen: dict[str, None] = {}
        for part in self.parts:
            if isinstance(part, tuple):
                seen.setdefault(part[0], None)
        return list(seen)

    def render(self, values: Mapping[str, Any]) -> str:
        """Join the parts; every name must be in `values` (validation happens before)."""
        return "".join(part if isinstance(part, str) else as_text(values[part[0]])
                       for part in self.parts)


def parse(text: str) -> Template:
    parts: list[str | tuple[str]] = []
    literal: list[str] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(text):
        literal.append(text[pos:match.start()])
        pos = match.end()
        token = match.group(0)
        if token == "\\{{":
            literal.append("{{")
        elif match.group(1) is not None:
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append((match.group(1),))
        else:
            snippet = text[match.start():match.start() + 20]
            raise TemplateError(
                f"malformed placeholder at character {match.start()} ({snippet!r}): write "
                "`{{ name }}` with a variable name, or `\\{{` for literal braces")
    literal.append(text[pos:])
    tail = "".join(literal)
    if tail:
        parts.append(tail)
    return Template(tuple(parts))


def as_text(value: Any) -> str:
    """How a typed value appears in rendered text: strings as they are, booleans as
    `true`/`false`, lists and objects as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
