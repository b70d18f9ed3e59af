"""`pavedroad alerts list` reads what the gateways stored."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner

from pavedroad.cli.main import cli
from pavedroad.store.alerts import AlertRecord, AlertRepository
from pavedroad.store.database import create_engine, migrate


def test_alerts_list_shows_firing_and_resolved(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/a.db"
    config = tmp_path / "pavedroad.yaml"
    config.write_text(f'store: {{url: "{url}"}}\n')
    migrate(url)

    async def seed() -> None:
        engine = create_engine(url)
        repository = AlertRepository(engine)
        await repository.open(AlertRecord(id="alr_1", fingerprint="f1", kind="slo_burn",
                                          severity="page", message="bot burns fast",
                                          started_at=1_800_000_000.0))
        await repository.open(AlertRecord(id="alr_2", fingerprint="f2", kind="cost_anomaly",
                                          severity="ticket", message="bot spends fast",
                                          started_at=1_800_000_100.0))
        await repository.resolve("alr_1", 1_800_000_050.0)
        await engine.dispose()

    asyncio.run(seed())
    runner = CliRunner()
    table = runner.invoke(cli, ["alerts", "list", "--config", str(config)])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert "bot spends fast" in lines[1] and "bot burns fast" in lines[2]  # newest first
    assert "2027-01-15 08:00:50" in lines[2]
    firing = runner.invoke(cli, ["alerts", "list", "--state", "firing", "--json",
                                 "--config", str(config)])
    assert [json.loads(line)["id"] for line in firing.output.splitlines()] == ["alr_2"]
    bad = runner.invoke(cli, ["alerts", "list", "--state", "loud", "--config", str(config)])
    assert bad.exit_code == 2 and "loud" in bad.output
