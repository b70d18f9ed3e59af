"""Differences between two prompt versions, for people reviewing a promotion."""

from __future__ import annotations

import difflib
from typing import Any

from pavedroad.prompts.model import PromptContent


def template_text(content: PromptContent) -> list[str]:
    """The messages as lines a unified diff reads well: a `[role]` header per message."""
    lines: list[str] = []
    for role, text in content.messages:
        lines.append(f"[{role}]")
        lines.extend(text.splitlines() or [""])
    return lines


def _changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {key: {"from": old.get(key), "to": new.get(key)}
            for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)}


def diff(old: PromptContent, new: PromptContent, *, old_label: str = "a",
         new_label: str = "b") -> dict[str, Any]:
    """A unified diff of the templates and the changed model, parameters, variables and
    response schema (each as {from, to})."""
    unified = list(difflib.unified_diff(template_text(old), template_text(new),
                                        fromfile=old_label, tofile=new_label, lineterm=""))
    variables = _changes({v.name: v.as_dict() for v in old.variables},
                         {v.name: v.as_dict() for v in new.variables})
    fields = _changes({"model": old.model, "response_schema": old.response_schema},
                      {"model": new.model, "response_schema": new.response_schema})
    return {"template": "\n".join(unified),
            "parameters": _changes(dict(old.parameters or {}), dict(new.parameters or {})),
            "variables": variables, **fields,
            "identical": old.content_hash == new.content_hash}
