"""Rendering registry prompts inside the gateway, from memory.

`PromptCatalog` holds every prompt's versions and labels, refreshed incrementally like keys
(no database query per request). `PromptStage` is the pipeline stage that turns a request's
`prompt` reference into messages, model and parameters, before model access and policy see
the request (docs/adr/0016).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pavedroad.core.errors import InvalidRequest, PavedroadError, PromptNotFound
from pavedroad.prompts.model import PromptContent, content_from, render_messages
from pavedroad.prompts.template import Template
from pavedroad.service.pipeline import ChatResult, Exchange, Next
from pavedroad.store.prompts import PromptRepository, PromptRow

log = logging.getLogger("pavedroad.prompts")
_CLOCK_SLACK = 5.0
DEFAULT_LABEL = "production"
_SCHEMA_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class LoadedVersion:
    """One version, parsed once when loaded so rendering is only string joins."""

    version: int
    content: PromptContent
    templates: list[Template]


@dataclass(frozen=True, slots=True)
class LoadedPrompt:
    row: PromptRow
    versions: dict[int, LoadedVersion]

    def pick(self, *, label: str | None, version: int | None) -> LoadedVersion:
        if version is not None:
            found = self.versions.get(version)
            if found is None:
                raise PromptNotFound(f"prompt {self.row.name!r} has no version {version} "
                                     f"(latest: {max(self.versions, default=0)})",
                                     param="prompt.version")
            return found
        wanted = label or DEFAULT_LABEL
        pointed = self.row.labels.get(wanted)
        if pointed is None or pointed not in self.versions:
            labels = ", ".join(sorted(self.row.labels)) or "none"
            raise PromptNotFound(f"prompt {self.row.name!r} has no label {wanted!r} "
                                 f"(labels: {labels}); name a `version` or move a label",
                                 param="prompt.label")
        return self.versions[pointed]


def load(row: PromptRow, known: LoadedPrompt | None = None) -> LoadedPrompt:
    """Parse the row's versions; versions are immutable, so ones already loaded are kept."""
    versions = {}
    for v in row.versions:
        kept = known.versions.get(v.version) if known is not None else None
        if kept is not None and kept.content.content_hash == v.content_hash:
            versions[v.version] = kept
            continue
        content = content_from(v.content)
        versions[v.version] = LoadedVersion(v.version, content, content.templates())
    return LoadedPrompt(row, versions)


class PromptCatalog:
    """In-memory copy of the registry, by app and prompt name."""

    def __init__(self, repository: PromptRepository) -> None:
        self._repository = repository
        self._by_app: dict[str, dict[str, LoadedPrompt]] = {}
        self._high_water = 0.0

    async def refresh(self) -> int:
        changed = await self._repository.changed_since(self._high_water - _CLOCK_SLACK)
        for row in changed:
            try:
                self.remember(row)
            except PavedroadError:  # stored by a newer release with rules this one lacks
                log.warning("prompt %s (%s) cannot be loaded; it keeps its previous state",
                            row.name, row.id, exc_info=True)
        return len(changed)

    def remember(self, row: PromptRow) -> None:
        pool = self._by_app.setdefault(row.app_id, {})
        pool[row.name] = load(row, pool.get(row.name))
        self._high_water = max(self._high_water, row.updated_at)

    def find(self, app_id: str | None, ref: str) -> LoadedPrompt:
        """By name (or `prm_` id) within the app; without an app (the master key), a
        name must be unique across apps."""
        if app_id is not None:
            by_name = self._by_app.get(app_id, {}).get(ref)
            if by_name is not None:
                return by_name
        pools = [self._by_app.get(app_id, {})] if app_id is not None else \
            list(self._by_app.values())
        found = [p for pool in pools for p in pool.values() if ref in (p.row.name, p.row.id)]
        if not found:
            raise PromptNotFound(f"no prompt {ref!r} for this app; `GET /admin/prompts` "
                                 "lists them", param="prompt.id")
        if len(found) > 1:
            raise InvalidRequest(f"several apps have a prompt {ref!r}; send its `prm_` id",
                                 param="prompt.id")
        return found[0]


def _reference(raw: Any) -> tuple[str, str | None, int | None, Any]:
    if not isinstance(raw, dict):
        raise InvalidRequest("`prompt` must be an object: {id, label or version, variables}",
                             param="prompt")
    unknown = set(raw) - {"id", "label", "version", "variables"}
    if unknown:
        raise InvalidRequest(f"`prompt` has unknown field(s) {', '.join(sorted(unknown))}",
                             param=f"prompt.{sorted(unknown)[0]}")
    ref, label, version = raw.get("id"), raw.get("label"), raw.get("version")
    if not isinstance(ref, str) or not ref:
        raise InvalidRequest("`prompt.id` is required: the prompt's name", param="prompt.id")
    if label is not None and version is not None:
        raise InvalidRequest("give `prompt.label` or `prompt.version`, not both",
                             param="prompt.version")
    if label is not None and not isinstance(label, str):
        raise InvalidRequest("`prompt.label` must be a string", param="prompt.label")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise InvalidRequest("`prompt.version` must be a whole number", param="prompt.version")
    return ref, label, version, raw.get("variables")


def rendered_body(body: Mapping[str, Any], name: str, chosen: LoadedVersion,
                  variables: Any) -> dict[str, Any]:
    """The request as the upstream gets it: rendered messages first, the caller's after;
    the prompt's model and parameters where the caller set none."""
    content = chosen.content
    out = {k: v for k, v in body.items() if k != "prompt"}
    own = body.get("messages")
    out["messages"] = [*render_messages(content, chosen.templates, variables),
                       *(own if isinstance(own, list) else ())]
    if not out.get("model"):
        if content.model is None:
            raise InvalidRequest(f"`model` is required: prompt {name!r} names none",
                                 param="model")
        out["model"] = content.model
    for key, value in (content.parameters or {}).items():
        out.setdefault(key, value)
    if content.response_schema is not None and "response_format" not in out:
        out["response_format"] = {"type": "json_schema", "json_schema": {
            "name": _SCHEMA_NAME.sub("_", name), "schema": dict(content.response_schema)}}
    return out


class PromptStage:
    """Renders `prompt` references; requests without one pass through untouched."""

    def __init__(self, catalog: PromptCatalog) -> None:
        self._catalog = catalog

    async def __call__(self, exchange: Exchange, call_next: Next) -> ChatResult:
        request = exchange.request
        raw = request.body.get("prompt")
        if raw is None:
            return await call_next(exchange)
        ref, label, version, variables = _reference(raw)
        caller = request.caller
        prompt = self._catalog.find(caller.app.id if caller.app else None, ref)
        chosen = prompt.pick(label=label, version=version)
        body = rendered_body(request.body, prompt.row.name, chosen, variables)
        exchange.request = dataclasses.replace(request, model=body["model"], body=body)
        exchange.prompt_id, exchange.prompt_version = prompt.row.name, chosen.version
        exchange.response_headers["x-pavedroad-prompt"] = f"{prompt.row.name}@{chosen.version}"
        return await call_next(exchange)
