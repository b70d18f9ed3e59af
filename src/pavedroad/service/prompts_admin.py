"""Prompt registry use cases: push, read, diff, move labels, roll back, record gate results.

Shared by the admin API and the CLI. Every change is audited (`prompt.push`,
`prompt.label`, `prompt.rollback`, `prompt.gate_result`). `tenant` arguments limit what a
call may see or touch to one tenant (a tenant admin key); None means every tenant.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.audit.record import AdminAudit
from pavedroad.core.errors import (
    Conflict,
    InvalidRequest,
    PromotionRequiresGate,
    PromptInvalid,
    PromptNotFound,
)
from pavedroad.prompts.diff import diff
from pavedroad.prompts.model import LABEL, PROMPT_NAME, PromptContent, content_from
from pavedroad.service.org import OrgDirectory
from pavedroad.service.prompts import DEFAULT_LABEL, PromptCatalog, PromptStage
from pavedroad.store.org import DEFAULT_APP, AppRecord
from pavedroad.store.prompts import GateResult, LabelMove, PromptRepository, PromptRow

GATED_LABEL = "production"
GATED_RISK = "high"
_META_KEYS = {"id", "name", "app", "description", "note"}


@dataclass(frozen=True, slots=True)
class Pushed:
    prompt: PromptRow
    version: int
    created: bool  # False: identical content was already a version


def summary(row: PromptRow, app_path: str) -> dict[str, Any]:
    latest = row.versions[-1] if row.versions else None
    return {"id": row.name, "prompt_id": row.id, "app": app_path, "app_id": row.app_id,
            "tenant_id": row.tenant_id, "description": row.description,
            "latest_version": latest.version if latest else None, "labels": row.labels,
            "created_at": row.created_at, "updated_at": row.updated_at}


def label_stack(moves: Iterable[LabelMove]) -> list[int]:
    """The versions a label held, oldest first, with rolled-back ones popped: rolling back
    twice goes two versions back, not to and fro."""
    stack: list[int] = []
    for move in moves:
        if move.action == "rollback" and stack:
            stack.pop()
        else:
            stack.append(move.to_version)
    return stack


class PromptAdmin:
    def __init__(self, repository: PromptRepository, directory: OrgDirectory, *,
                 catalog: PromptCatalog | None = None, audit: AdminAudit | None = None,
                 known_models: Iterable[str] | None = None) -> None:
        self._repository = repository
        self.directory = directory
        self.catalog = catalog
        self._audit = audit
        self._known = set(known_models) if known_models is not None else None

    async def refresh(self) -> None:
        """Pull prompts changed elsewhere into the gateway's catalog."""
        if self.catalog is not None:
            await self.catalog.refresh()

    def stage(self) -> PromptStage:
        if self.catalog is None:
            raise RuntimeError("a registry without a catalog renders nothing")
        return PromptStage(self.catalog)

    # --- reads -------------------------------------------------------------------------

    async def list(self, *, tenant: str | None = None) -> list[PromptRow]:
        return await self._repository.find(tenant_id=tenant)

    async def get(self, ref: str, *, app: str | None = None,
                  tenant: str | None = None) -> PromptRow:
        """A prompt by name or `prm_` id; `app` (tenant/team/app or id) when names clash."""
        rows = [r for r in await self._repository.find(tenant_id=tenant) if ref in (r.name, r.id)]
        if app is not None:
            await self.directory.refresh()
            app_id = self.directory.app(app).id
            rows = [r for r in rows if r.app_id == app_id]
        if not rows:
            raise PromptNotFound(f"no prompt {ref!r}" + (f" in app {app!r}" if app else ""))
        if len(rows) > 1:
            apps = ", ".join(sorted(self.directory.path(r.app_id) for r in rows))
            raise InvalidRequest(f"several apps have a prompt {ref!r} ({apps}); name the app",
                                 param="app")
        return rows[0]

    def app_path(self, row: PromptRow) -> str:
        return self.directory.path(row.app_id)

    @staticmethod
    def version_of(row: PromptRow, *, version: int | None = None,
                   label: str | None = None) -> tuple[int, PromptContent]:
        if version is not None and label is not None:
            raise InvalidRequest("give `version` or `label`, not both", param="label")
        if version is None:
            wanted = label or DEFAULT_LABEL
            if wanted not in row.labels:
                if label is None and row.versions:  # no production yet: show the latest
                    version = row.versions[-1].version
                else:
                    raise PromptNotFound(f"prompt {row.name!r} has no label {wanted!r}")
            else:
                version = row.labels[wanted]
        for v in row.versions:
            if v.version == version:
                return version, content_from(v.content)
        raise PromptNotFound(f"prompt {row.name!r} has no version {version}")

    async def show(self, ref: str, *, version: int | None = None, label: str | None = None,
                   app: str | None = None, tenant: str | None = None) -> dict[str, Any]:
        row = await self.get(ref, app=app, tenant=tenant)
        number, content = self.version_of(row, version=version, label=label)
        stored = next(v for v in row.versions if v.version == number)
        gates = await self._repository.gate_results(row.id, version=number)
        return {**summary(row, self.app_path(row)), "version": number,
                "content": content.as_dict(), "content_hash": stored.content_hash,
                "note": stored.note, "created_by": stored.created_by,
                "created_at": stored.created_at,
                "versions": [{"version": v.version, "content_hash": v.content_hash,
                              "note": v.note, "created_at": v.created_at}
                             for v in row.versions],
                "gate_results": [g.public() for g in gates],
                "history": [m.public() for m in await self._repository.history(row.id)]}

    async def diff(self, ref: str, old: int, new: int, *, app: str | None = None,
                   tenant: str | None = None) -> dict[str, Any]:
        row = await self.get(ref, app=app, tenant=tenant)
        _, before = self.version_of(row, version=old)
        _, after = self.version_of(row, version=new)
        return {"id": row.name, "from": old, "to": new,
                **diff(before, after, old_label=f"{row.name}@{old}", new_label=f"{row.name}@{new}")}

    # --- writes ------------------------------------------------------------------------

    def check(self, definition: Any) -> tuple[str, PromptContent, str, str]:
        """Validate a prompt definition without storing it: (name, content, description,
        note). `sync` checks every file first, so one bad file changes nothing."""
        if not isinstance(definition, Mapping):
            raise PromptInvalid("a prompt definition must be an object", param="id")
        name = definition.get("id", definition.get("name"))
        if not isinstance(name, str) or not PROMPT_NAME.match(name):
            raise PromptInvalid("a prompt needs an `id`: letters, digits and . _ - (at most "
                                "100 characters)", param="id")
        content = content_from({k: v for k, v in definition.items() if k not in _META_KEYS})
        if content.model is not None and self._known is not None \
                and content.model not in self._known:
            raise PromptInvalid(f"unknown model {content.model!r}; configured: "
                                f"{', '.join(sorted(self._known))}", param="model")
        description, note = definition.get("description", ""), definition.get("note", "")
        if not isinstance(description, str) or not isinstance(note, str):
            raise PromptInvalid("`description` and `note` must be strings", param="description")
        return name, content, description, note

    def owner(self, definition: Mapping[str, Any], *, app: str | None = None) -> AppRecord:
        """The app a definition is pushed to: `app`, else the file's `app`, else the default
        app (the directory must be fresh)."""
        owner_ref = app or definition.get("app")
        return self.directory.app(str(owner_ref) if owner_ref else DEFAULT_APP)

    async def push(self, definition: Mapping[str, Any], *, app: str | None = None,
                   actor: str = "cli", tenant: str | None = None) -> Pushed:
        """Add a version from a prompt definition (a YAML file's content: `id`, `app`,
        `description`, `note` and the version's content). Identical content creates none."""
        name, content, description, note = self.check(definition)
        await self.directory.refresh()
        owner = self.owner(definition, app=app)
        chain = self.directory.chain(owner.id)
        tenant_id = chain[2].id if chain else ""
        if tenant is not None and tenant_id != tenant:
            raise PromptNotFound(f"no app {self.directory.path(owner.id)!r} in your tenant; "
                                 "name one of yours as `app` (tenant/team/app)", param="app")
        prompt_id, version, created = await self._repository.add_version(
            app_id=owner.id, tenant_id=tenant_id, name=name, description=description,
            content=content.as_dict(), content_hash=content.content_hash, note=note,
            actor=actor, now=time.time())
        row = await self.get(prompt_id, tenant=tenant)
        if created:
            await self._changed(row, actor, "prompt.push", None,
                                {"version": version, "content_hash": content.content_hash})
        return Pushed(row, version, created)

    async def move_label(self, ref: str, version: int, *, label: str = GATED_LABEL,
                         app: str | None = None, actor: str = "cli",
                         tenant: str | None = None) -> LabelMove:
        """Point `label` at `version` (promote). `production` of a high-risk app's prompt
        needs the latest gate result recorded for that version to be a pass."""
        if not LABEL.match(label):
            raise PromptInvalid("a label is lower-case letters, digits and . _ - (at most 40)",
                                param="label")
        row = await self.get(ref, app=app, tenant=tenant)
        self.version_of(row, version=version)
        return await self._move(row, label, version, action="move", actor=actor)

    async def rollback(self, ref: str, *, label: str = GATED_LABEL, app: str | None = None,
                       actor: str = "cli", tenant: str | None = None) -> LabelMove:
        """Move `label` back to the version it held before its current one."""
        row = await self.get(ref, app=app, tenant=tenant)
        stack = label_stack(await self._repository.history(row.id, label=label))
        if len(stack) < 2:
            raise Conflict(f"label {label!r} of prompt {row.name!r} has no earlier version "
                           "to roll back to")
        return await self._move(row, label, stack[-2], action="rollback", actor=actor)

    async def record_gate_result(self, ref: str, version: int, *, passed: bool, gate: str,
                                 run_id: str, summary: Mapping[str, Any] | None = None,
                                 app: str | None = None, actor: str = "cli",
                                 tenant: str | None = None) -> GateResult:
        """Record an evaluation gate's verdict on one version. Called by `pavedroad eval
        gate` (the evaluation harness) and `POST /admin/prompts/{id}/versions/{version}/
        gate-results`; `move_label` reads it to allow promoting high-risk apps' prompts."""
        if not gate.strip() or not run_id.strip():
            raise InvalidRequest("a gate result names its `gate` and `run_id`",
                                 param="gate" if not gate.strip() else "run_id")
        row = await self.get(ref, app=app, tenant=tenant)
        self.version_of(row, version=version)
        result = await self._repository.add_gate_result(
            row.id, version, passed=passed, gate=gate, run_id=run_id,
            summary=dict(summary or {}), actor=actor, now=time.time())
        await self._changed(row, actor, "prompt.gate_result", None, result.public())
        return result

    async def _move(self, row: PromptRow, label: str, version: int, *, action: str,
                    actor: str) -> LabelMove:
        current = row.labels.get(label)
        if current == version:
            raise Conflict(f"label {label!r} of prompt {row.name!r} already points at "
                           f"version {version}")
        await self._check_gate(row, label, version)
        now = time.time()
        await self._repository.move_label(row.id, label, version=version, expected=current,
                                          action=action, actor=actor, now=now)
        await self._changed(row, actor, f"prompt.{'label' if action == 'move' else action}",
                            {"label": label, "version": current},
                            {"label": label, "version": version})
        return LabelMove(label, current, version, action, actor, now)

    async def _check_gate(self, row: PromptRow, label: str, version: int) -> None:
        if label != GATED_LABEL:
            return
        await self.directory.refresh()  # the app's risk class may have changed elsewhere
        app = self.directory.apps.get(row.app_id)
        if app is None or app.risk_class != GATED_RISK:
            return
        results = await self._repository.gate_results(row.id, version=version)
        if not results or not results[-1].passed:
            latest = "none recorded" if not results else \
                f"the latest ({results[-1].gate}, run {results[-1].run_id}) failed"
            raise PromotionRequiresGate(
                f"app {self.app_path(row)!r} is high-risk: moving {label!r} of prompt "
                f"{row.name!r} to version {version} needs a passing gate result for that "
                f"version ({latest}); run `pavedroad eval gate` against it first",
                param="version")

    async def _changed(self, row: PromptRow, actor: str, action: str, before: Any,
                       after: Any) -> None:
        if self.catalog is not None:
            await self.catalog.refresh()  # this gateway serves the change at once
        if self._audit is not None:
            await self._audit.admin_action(actor=actor, action=action,
                                           target=f"{row.id}:{row.name}", before=before,
                                           after=after, tenant_id=row.tenant_id)


def build_prompts(engine: AsyncEngine, directory: OrgDirectory, *,
                  audit: AdminAudit | None = None,
                  known_models: Iterable[str] | None = None) -> PromptAdmin:
    """The registry as a gateway runs it: admin use cases plus the in-memory catalog."""
    repository = PromptRepository(engine)
    return PromptAdmin(repository, directory, catalog=PromptCatalog(repository), audit=audit,
                       known_models=known_models)
