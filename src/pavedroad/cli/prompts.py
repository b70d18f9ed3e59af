"""`pavedroad prompts …`: the prompt registry from the command line (docs/prompts.md).

Commands work on the store the config names, like `keys`; running gateways pick changes
up within `auth.refresh_seconds`. `sync DIR` keeps a folder of YAML prompt files (kept in
git) and the registry in step: each changed file becomes a new version.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from pavedroad.cli.common import config_option, fail, run, settings_from
from pavedroad.cli.store import audit_for, open_store
from pavedroad.config.models import Settings
from pavedroad.core.errors import PavedroadError, PromptInvalid
from pavedroad.service.prompts_admin import PromptAdmin, summary
from pavedroad.store.prompts import PromptRepository

T = TypeVar("T")
app_option = click.option("--app", default=None,
                          help="The owning app (tenant/team/app or id) when several apps have "
                               "a prompt of that name.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@asynccontextmanager
async def open_prompts(settings: Settings) -> AsyncIterator[PromptAdmin]:
    """The registry on the store `settings` names, audited as `cli`. The evaluation
    harness (`pavedroad eval gate`) records gate results through it."""
    async with open_store(settings) as store:
        yield PromptAdmin(PromptRepository(store.engine), store.org.directory,
                          audit=audit_for(settings, store.engine),
                          known_models=[m.name for m in settings.models])


def _with(config_path: Path | None, use: Callable[[PromptAdmin], Awaitable[T]]) -> T:
    settings = settings_from(config_path)

    async def go() -> T:
        async with open_prompts(settings) as admin:
            return await use(admin)

    return run(go())


def read_definition(path: Path) -> dict[str, Any]:
    """A prompt file: YAML (or JSON) with `id`, `app` and the version's content."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: cannot read it ({exc})")
    except yaml.YAMLError as exc:
        fail(f"{path}: not valid YAML ({exc})")
    if not isinstance(data, dict):
        fail(f"{path}: a prompt file holds one mapping with `id`, `messages`, …")
    return data


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group()
def prompts() -> None:
    """The prompt registry: versions, labels, diffs, promotion and rollback."""


@prompts.command("push")
@config_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@app_option
@json_option
def prompts_push(config_path: Path | None, file: Path, app: str | None, as_json: bool) -> None:
    """Push FILE as a new version (none when its content is already a version)."""
    definition = read_definition(file)
    pushed = _with(config_path, lambda admin: admin.push(definition, app=app))
    if as_json:
        _echo({"id": pushed.prompt.name, "version": pushed.version, "created": pushed.created})
        return
    state = "created" if pushed.created else "unchanged"
    click.echo(f"{pushed.prompt.name}: version {pushed.version} ({state})")


@prompts.command("list")
@config_option
@json_option
def prompts_list(config_path: Path | None, as_json: bool) -> None:
    """List prompts with their latest version and labels."""

    async def use(admin: PromptAdmin) -> list[dict[str, Any]]:
        return [summary(r, admin.app_path(r)) for r in await admin.list()]

    rows = _with(config_path, use)
    if as_json:
        _echo(rows)
        return
    click.echo(f"{'ID':<28} {'APP':<32} {'LATEST':>6}  LABELS")
    for row in rows:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(row["labels"].items()))
        click.echo(f"{row['id']:<28} {row['app']:<32} {row['latest_version']!s:>6}  {labels}")


@prompts.command("show")
@config_option
@click.argument("prompt_id")
@click.option("--version", type=int, default=None, help="A version number.")
@click.option("--label", default=None, help="A label (default: production, else the latest).")
@app_option
def prompts_show(config_path: Path | None, prompt_id: str, version: int | None,
                 label: str | None, app: str | None) -> None:
    """Show one version of PROMPT_ID as JSON: content, labels, history, gate results."""
    if version is not None and label is not None:
        fail("give --version or --label, not both")
    _echo(_with(config_path, lambda admin: admin.show(prompt_id, version=version, label=label,
                                                      app=app)))


@prompts.command("diff")
@config_option
@click.argument("prompt_id")
@click.argument("old", type=int)
@click.argument("new", type=int)
@app_option
@json_option
def prompts_diff(config_path: Path | None, prompt_id: str, old: int, new: int,
                 app: str | None, as_json: bool) -> None:
    """Diff two versions of PROMPT_ID: templates (unified) and parameter changes."""
    result = _with(config_path, lambda admin: admin.diff(prompt_id, old, new, app=app))
    if as_json:
        _echo(result)
        return
    click.echo(result["template"] or "(templates identical)")
    for what in ("model", "response_schema"):
        if what in result:
            click.echo(f"{what}: {result[what]['from']!r} -> {result[what]['to']!r}")
    for group in ("parameters", "variables"):
        for name, change in result[group].items():
            click.echo(f"{group[:-1]} {name}: {change['from']!r} -> {change['to']!r}")


@prompts.command("promote")
@config_option
@click.argument("prompt_id")
@click.argument("version", type=int)
@click.option("--label", default="production", show_default=True, help="The label to move.")
@app_option
def prompts_promote(config_path: Path | None, prompt_id: str, version: int, label: str,
                    app: str | None) -> None:
    """Point LABEL of PROMPT_ID at VERSION. `production` of a high-risk app's prompt needs
    a passing gate result for that version."""
    move = _with(config_path, lambda admin: admin.move_label(prompt_id, version, label=label,
                                                             app=app))
    click.echo(f"{prompt_id}: {label} {move.from_version} -> {move.to_version}")


@prompts.command("rollback")
@config_option
@click.argument("prompt_id")
@click.option("--label", default="production", show_default=True, help="The label to move.")
@app_option
def prompts_rollback(config_path: Path | None, prompt_id: str, label: str,
                     app: str | None) -> None:
    """Move LABEL of PROMPT_ID back to the version it held before."""
    move = _with(config_path, lambda admin: admin.rollback(prompt_id, label=label, app=app))
    click.echo(f"{prompt_id}: {label} {move.from_version} -> {move.to_version} (rolled back)")


def prompt_files(directory: Path) -> list[Path]:
    """The *.yaml / *.yml files under `directory`, hidden folders skipped; a link that
    leads outside it is refused rather than pushed from wherever it points."""
    root = directory.resolve()
    files = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if path.suffix not in (".yaml", ".yml") or any(p.startswith(".") for p in relative.parts):
            continue
        if not path.resolve().is_relative_to(root):
            fail(f"{path}: a link to {path.resolve()}, outside {directory}")
        if path.is_file():
            files.append(path)
    if not files:
        fail(f"{directory}: no .yaml or .yml prompt files")
    return files


@prompts.command("sync")
@config_option
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@app_option
@json_option
def prompts_sync(config_path: Path | None, directory: Path, app: str | None,
                 as_json: bool) -> None:
    """Push every *.yaml / *.yml prompt file in DIRECTORY (recursively, hidden folders
    skipped) whose content changed; report each as created or unchanged. All files (and
    their apps) are checked before any is pushed, so one bad file changes nothing."""
    definitions = [(f, read_definition(f)) for f in prompt_files(directory)]

    async def use(admin: PromptAdmin) -> list[dict[str, Any]]:
        out = []
        await admin.directory.refresh()
        seen: dict[tuple[str, str], Path] = {}
        for file, definition in definitions:
            try:
                name = admin.check(definition)[0]
                owner = admin.owner(definition, app=app).id
            except PavedroadError as exc:  # a bad file or an unknown app: nothing pushed yet
                raise type(exc)(f"{file}: {exc.message}", param=exc.param) from None
            if (owner, name) in seen:  # two versions pushed in one sync: one would be lost
                raise PromptInvalid(f"{seen[owner, name]} and {file} both define prompt "
                                    f"{name!r}", param="id")
            seen[owner, name] = file
        for file, definition in definitions:
            pushed = await admin.push(definition, app=app)
            out.append({"file": str(file.relative_to(directory)), "id": pushed.prompt.name,
                        "version": pushed.version,
                        "state": "created" if pushed.created else "unchanged"})
        return out

    report = _with(config_path, use)
    if as_json:
        _echo(report)
        return
    for item in report:
        click.echo(f"{item['state']:<10} {item['id']} v{item['version']}  ({item['file']})")
    created = sum(1 for item in report if item["state"] == "created")
    click.echo(f"{created} created, {len(report) - created} unchanged")
