"""Every metric the gateway registers is documented, and the Grafana dashboard only
queries metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pavedroad.config.models import Settings
from pavedroad.service.gateway import build_gateway

ROOT = Path(__file__).resolve().parents[2]


def _exposed_names(tmp_path: Path) -> set[str]:
    settings = Settings.model_validate({
        "store": {"url": f"sqlite:///{tmp_path}/m.db"},
        "telemetry": {"alerts": {"webhook_url": "http://127.0.0.1:9/hook"}},
    })
    gateway = build_gateway(settings, env={})
    names = set()
    for family in gateway.metrics.registry.collect():
        suffix = "_total" if family.type == "counter" else ""
        names.add(family.name + suffix)
    return names


def test_every_registered_metric_is_documented(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "metrics.md").read_text()
    names = _exposed_names(tmp_path)
    assert "pavedroad_requests_total" in names
    missing = sorted(n for n in names if f"`{n}`" not in text)
    assert missing == []


def test_grafana_dashboard_queries_only_documented_metrics() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "pavedroad.json").read_text())
    documented = set(re.findall(r"`(pavedroad_[a-z_]+)`", (ROOT / "docs" / "metrics.md").read_text()))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    for expr in exprs:
        for name in re.findall(r"pavedroad_[a-z_]+", expr):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in documented or base in documented, (name, expr)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
