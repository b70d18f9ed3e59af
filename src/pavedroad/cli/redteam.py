"""`pavedroad redteam`: generated attack packs, run through a gateway with an app's key."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import click

from pavedroad.cli.common import config_option, fail, run, settings_from
from pavedroad.cli.evals import write_report
from pavedroad.cli.store import open_store
from pavedroad.config.models import Settings
from pavedroad.evals.redteam.attack import CaseResult
from pavedroad.evals.redteam.catalog import CATEGORIES
from pavedroad.evals.redteam.packs import PACKS, generate_pack
from pavedroad.evals.redteam.record import record_run
from pavedroad.evals.redteam.report import to_markdown
from pavedroad.evals.redteam.run import RedTeamRun, run_pack
from pavedroad.store.evals import EvalRepository

_PACK = click.option("--pack", required=True, type=click.Choice(list(PACKS)),
                     help="A category, or `all`.")
_SIZE = click.option("--size", type=click.IntRange(min=1), default=None,
                     help="At most this many cases per category (default: every combination).")
_SEED = click.option("--seed", type=int, default=0, show_default=True,
                     help="Picks the cases when --size is set, and the planted canaries.")


@click.group()
def redteam() -> None:
    """Red-team packs: prompt injection, jailbreaks, leaks and harmful requests."""


@redteam.command("list")
@_SIZE
@_SEED
def list_packs(size: int | None, seed: int) -> None:
    """Each pack with its cases per category."""
    for name in PACKS:
        counts = Counter(str(c.metadata["category"]) for c in generate_pack(name, size=size,
                                                                            seed=seed))
        detail = ", ".join(f"{cat} {counts[cat]}" for cat in CATEGORIES if counts[cat])
        click.echo(f"{name}: {sum(counts.values())} cases ({detail})")


@redteam.command("export")
@_PACK
@_SIZE
@_SEED
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write JSONL here (default: standard output).")
def export(pack: str, size: int | None, seed: int, out: Path | None) -> None:
    """Write a pack's cases as JSONL (id, input, tags, metadata), e.g. to review them."""
    lines = [json.dumps({"id": c.id, "input": c.input, "tags": list(c.tags),
                         "metadata": dict(c.metadata)}) for c in generate_pack(pack, size=size,
                                                                               seed=seed)]
    text = "\n".join(lines) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        write_report(out, text)


def _requirements(values: tuple[str, ...]) -> dict[str, float]:
    required: dict[str, float] = {}
    for value in values:
        category, _, rate = value.partition("=")
        if category not in CATEGORIES:
            raise click.BadParameter(f"{category!r} is not a category ({', '.join(CATEGORIES)})",
                                     param_hint="--min-block-rate")
        try:
            required[category] = float(rate)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not CATEGORY=RATE, e.g. "
                                     "prompt_injection=0.9", param_hint="--min-block-rate") from None
        if not 0 <= required[category] <= 1:  # 90 (meaning 90%) would fail every run
            raise click.BadParameter(f"{value!r}: RATE is a share from 0 to 1, e.g. 0.9",
                                     param_hint="--min-block-rate")
    return required


@redteam.command("run")
@_PACK
@click.option("--model", required=True, help="The model or tier the app calls.")
@click.option("--key", required=True, envvar="PAVEDROAD_API_KEY",
              help="The app's virtual key: its policy and guardrails apply. Env: PAVEDROAD_API_KEY.")
@click.option("--gateway", default="http://127.0.0.1:8080", show_default=True,
              envvar="PAVEDROAD_GATEWAY_URL", help="Gateway base URL. Env: PAVEDROAD_GATEWAY_URL.")
@_SIZE
@_SEED
@click.option("--concurrency", type=click.IntRange(1, 256), default=8, show_default=True,
              help="Requests in flight at once.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write redteam-<pack>.md and .json into this directory.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown",
              show_default=True, help="What to print.")
@click.option("--min-block-rate", "minimums", multiple=True, metavar="CATEGORY=RATE",
              help="Exit 3 when a category's block rate is below RATE (repeatable).")
@click.option("--record", is_flag=True,
              help="Also store the run (per-case results by category) in the evaluation run "
                   "store of --config, for `pavedroad eval` gates and comparisons.")
@config_option
def run_command(pack: str, model: str, key: str, gateway: str, size: int | None, seed: int,
                concurrency: int, out: Path | None, fmt: str, minimums: tuple[str, ...],
                record: bool, config_path: Path | None) -> None:
    """Attack the gateway with a pack and report block and pass rates per category."""
    required = _requirements(minimums)
    settings = settings_from(config_path) if record else None
    total = len(generate_pack(pack, size=size, seed=seed))
    with click.progressbar(length=total, label=f"redteam {pack}", file=sys.stderr) as bar:

        def advance(_: CaseResult) -> None:
            bar.update(1)

        result: RedTeamRun = run(run_pack(
            pack, gateway=gateway, key=key, model=model, size=size, seed=seed,
            concurrency=concurrency, on_result=advance))
    summary = result.summary
    if fmt == "json":
        click.echo(json.dumps(summary.as_dict(), indent=2))
    else:
        click.echo(to_markdown(summary, examples=result.failed_examples()), nl=False)
    if out is not None:
        try:
            for path in result.write(out):
                click.echo(f"wrote {path}", err=True)
        except OSError as exc:
            fail(f"cannot write the reports into {out}: {exc.strerror or exc}")
    if settings is not None:
        run_id = run(_record(settings, result, key=key, concurrency=concurrency))
        click.echo(f"recorded as run {run_id}", err=True)
    errors = summary.overall.outcomes["error"]
    if errors == summary.overall.total:
        fail(f"every case ended in an error (first: {result.results[0].output.status} "
             f"{result.results[0].output.error_code}); check --key and --model")
    rates = summary.block_rates()
    short = [f"{cat} {rates[cat]:.1%} < {need:.1%}" if cat in rates
             else f"{cat}: no cases in pack {pack!r}"
             for cat, need in required.items() if rates.get(cat, 0.0) < need]
    if short:
        fail("block rate below the minimum: " + "; ".join(short), code=3)


async def _record(settings: Settings, result: RedTeamRun, *, key: str,
                  concurrency: int) -> str:
    """Store the run under the key's app and tenant (none when the key is not in the store,
    the master key say: then only the master key reads it)."""
    async with open_store(settings) as store:
        repository = EvalRepository(store.engine)
        app_id = await repository.key_app(key)  # one indexed lookup, not every key
        await store.org.directory.refresh()
        chain = store.org.directory.chain(app_id) if app_id is not None else None
        row = await record_run(repository, result, concurrency=concurrency,
                               tenant_id=chain[2].id if chain else None, app_id=app_id)
        return row.id
