"""`pavedroad prompts …` on a store: sync a folder of YAML prompt files (created, then
unchanged, then one changed), show, diff, promote with the gate rule, and roll back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner, Result

from pavedroad.cli.main import cli
from pavedroad.cli.prompts import open_prompts
from pavedroad.cli.store import open_store
from pavedroad.config.loader import load_settings

GREETING = """\
id: greeting
app: default/default/default
description: says hello
model: gpt
variables:
  - {name: who, type: string}
messages:
  - role: system
    content: Be polite.
  - role: user
    content: Say hello to {{ who }}.
parameters: {temperature: 0.2}
"""

SUMMARY = """\
id: summary
app: shop/web/checkout
template: "Summarise: {{ text }}"
variables: {text: string}
"""


def invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args[:2], "--config", str(config), *args[2:]])


def setup(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "pavedroad.yaml"
    config.write_text(f'store: {{url: "sqlite:///{tmp_path}/p.db"}}\n'
                      "deployments: [{name: d, provider: openai_compatible, model: m, "
                      "api_base: 'http://127.0.0.1:9/v1'}]\n"
                      "models: [{name: gpt, route: d}]\n")
    settings = load_settings(config)

    async def org() -> None:
        async with open_store(settings) as store:
            await store.org.create_tenant("shop")
            await store.org.create_team("shop", "web")
            await store.org.create_app("shop/web", "checkout", risk_class="high")

    asyncio.run(org())
    folder = tmp_path / "prompts"
    (folder / "shop").mkdir(parents=True)
    (folder / "greeting.yaml").write_text(GREETING)
    (folder / "shop" / "summary.yml").write_text(SUMMARY)
    (folder / "README.md").write_text("not a prompt")
    (folder / ".github").mkdir()
    (folder / ".github" / "ci.yaml").write_text("on: push\n")  # hidden: not a prompt
    return config, folder


def test_sync_reports_created_then_unchanged_then_the_changed_file(tmp_path: Path) -> None:
    config, folder = setup(tmp_path)
    first = invoke(config, "prompts", "sync", str(folder), "--json")
    assert first.exit_code == 0, first.output
    assert [(r["id"], r["version"], r["state"]) for r in json.loads(first.output)] == [
        ("greeting", 1, "created"), ("summary", 1, "created")]

    again = invoke(config, "prompts", "sync", str(folder))
    assert again.exit_code == 0, again.output
    assert again.output.strip().endswith("0 created, 2 unchanged")

    (folder / "greeting.yaml").write_text(GREETING.replace("Be polite.", "Be brief."))
    changed = invoke(config, "prompts", "sync", str(folder), "--json")
    assert [(r["id"], r["version"], r["state"]) for r in json.loads(changed.output)] == [
        ("greeting", 2, "created"), ("summary", 1, "unchanged")]

    diff = invoke(config, "prompts", "diff", "greeting", "1", "2")
    assert diff.exit_code == 0, diff.output
    assert "-Be polite." in diff.output and "+Be brief." in diff.output


def test_a_bad_file_stops_sync_before_anything_is_pushed(tmp_path: Path) -> None:
    config, folder = setup(tmp_path)
    (folder / "zz-broken.yaml").write_text("id: broken\nmessages:\n  - {role: user, "
                                           "content: '{{ missing }}'}\n")
    result = invoke(config, "prompts", "sync", str(folder))
    assert result.exit_code == 1
    assert "zz-broken.yaml" in result.output and "missing" in result.output
    assert "prompt_invalid" in result.output
    listed = invoke(config, "prompts", "list", "--json")
    assert json.loads(listed.output) == []


def test_sync_checks_apps_duplicates_and_links_before_pushing(tmp_path: Path) -> None:
    """Each of these used to push the files before it (or, for a link, read a file from
    outside the folder); now the sync stops first and the registry stays empty."""
    config, folder = setup(tmp_path)
    nowhere = folder / "zz-nowhere.yaml"
    nowhere.write_text(SUMMARY.replace("id: summary", "id: lost").replace("checkout", "gone"))
    result = invoke(config, "prompts", "sync", str(folder))
    assert result.exit_code == 1 and "zz-nowhere.yaml" in result.output, result.output
    assert "gone" in result.output and "[not_found]" in result.output
    nowhere.unlink()
    (folder / "zz-again.yaml").write_text(GREETING.replace("Be polite.", "Be quick."))
    result = invoke(config, "prompts", "sync", str(folder))
    assert result.exit_code == 1 and "both define prompt 'greeting'" in result.output
    (folder / "zz-again.yaml").unlink()
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(GREETING.replace("id: greeting", "id: elsewhere"))
    (folder / "zz-link.yaml").symlink_to(outside)
    result = invoke(config, "prompts", "sync", str(folder))
    assert result.exit_code == 1 and "outside" in result.output
    assert json.loads(invoke(config, "prompts", "list", "--json").output) == []


def test_promote_show_and_rollback(tmp_path: Path) -> None:
    config, folder = setup(tmp_path)
    invoke(config, "prompts", "sync", str(folder))
    two = folder / "greeting.yaml"
    two.write_text(GREETING.replace("Be polite.", "Be brief."))
    pushed = invoke(config, "prompts", "push", str(two))
    assert pushed.output.strip() == "greeting: version 2 (created)"
    assert invoke(config, "prompts", "promote", "greeting", "1").exit_code == 0
    assert invoke(config, "prompts", "promote", "greeting", "2").output.strip() == \
        "greeting: production 1 -> 2"
    shown = json.loads(invoke(config, "prompts", "show", "greeting").output)
    assert shown["version"] == 2 and shown["content"]["messages"][0]["content"] == "Be brief."
    back = invoke(config, "prompts", "rollback", "greeting")
    assert back.output.strip() == "greeting: production 2 -> 1 (rolled back)"
    staged = invoke(config, "prompts", "show", "greeting", "--label", "staging")
    assert staged.exit_code == 1 and "no label 'staging'" in staged.output

    # The checkout app is high-risk: production needs a recorded passing gate.
    refused = invoke(config, "prompts", "promote", "summary", "1")
    assert refused.exit_code == 1 and "promotion_requires_gate" in refused.output

    async def record() -> None:
        async with open_prompts(load_settings(config)) as admin:
            await admin.record_gate_result("summary", 1, passed=True, gate="ci",
                                           run_id="run_9")

    asyncio.run(record())
    assert invoke(config, "prompts", "promote", "summary", "1").exit_code == 0
