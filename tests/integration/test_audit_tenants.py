"""Tenant isolation of the admin read API: a tenant admin key reads its own tenant's audit
records, ledger rows, spend, budgets and organisation, never another tenant's (not via
filters or ids either); plain caller keys get 403; the master key reads everything."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.support.ledger import wait_for_rows
from tests.support.servers import MASTER_KEY, RunningGateway, Sim, start_gateway

pytestmark = pytest.mark.timeout(60)

READS = ["/admin/audit", "/admin/ledger", "/admin/spend", "/admin/budgets", "/admin/org"]
SPEND_BY = ["tenant", "team", "app", "key", "model", "deployment", "user"]
MASTER_ONLY = [("GET", "/admin/audit/verify"), ("GET", "/admin/keys"),
               ("GET", "/admin/switches"), ("GET", "/admin/deployments"),
               ("POST", "/admin/keys"), ("POST", "/admin/tenants"), ("POST", "/admin/budgets")]


@dataclass
class Tenant:
    name: str
    admin: str = ""
    caller: str = ""
    ids: set[str] = field(default_factory=set)  # every id and name that is only this tenant's


@pytest.fixture(scope="module")
def world(sim_session: Sim, tmp_path_factory: pytest.TempPathFactory,
          ) -> Iterator[tuple[RunningGateway, Tenant, Tenant]]:
    gw = start_gateway(json.dumps({
        "store": {"url": "{db}"},
        "metering": {"ledger": {"flush_seconds": 0.05}},
        "audit": {"flush_seconds": 0.05},
        "deployments": [{"name": "oa", "provider": "openai_compatible", "model": "gpt-4o-mini",
                         "api_base": f"{sim_session.url}/v1", "retries": {"attempts": 0}}],
        "models": [{"name": "m", "route": "oa"}],
    }), tmp_path_factory.mktemp("tenants"))
    tenants = (Tenant("alpha"), Tenant("bravo"))
    request_ids: list[str] = []
    for tenant in tenants:
        path = gw.ensure_app(f"{tenant.name}/team-{tenant.name}/app-{tenant.name}")
        with gw.client() as client:
            tenant.caller = client.post("/admin/keys", json={
                "name": f"caller-{tenant.name}", "app": path}).json()["key"]
            made = client.post("/admin/keys", json={"name": f"admin-{tenant.name}", "app": path,
                                                    "role": "tenant_admin"})
            made.raise_for_status()
            tenant.admin = made.json()["key"]
            for scope, subject in (("tenant", tenant.name), ("app", path),
                                   ("user", f"{tenant.name}/user-{tenant.name}"),
                                   ("key", f"caller-{tenant.name}")):
                client.post("/admin/budgets", json={"scope": scope, "subject": subject,
                                                    "amount": 100}).raise_for_status()
        directory = gw.gateway.org_admin.directory
        app = directory.app(path)
        team = directory.teams[app.team_id]
        tenant.ids |= {app.id, team.id, team.tenant_id, f"app-{tenant.name}",
                       f"team-{tenant.name}", f"user-{tenant.name}", f"caller-{tenant.name}"}
        for user in (f"user-{tenant.name}", None):
            response = httpx.post(
                f"{gw.url}/v1/chat/completions", timeout=15,
                headers={"authorization": f"Bearer {tenant.caller}"},
                json={"model": "m", "messages": [{"role": "user", "content": "hi"}],
                      **({"user": user} if user else {})})
            response.raise_for_status()
            request_ids.append(response.headers["x-pavedroad-request-id"])
            tenant.ids.add(request_ids[-1])
    rows = wait_for_rows(gw.url, request_ids)
    for tenant in tenants:
        tenant.ids |= {r["key_id"] for r in rows.values() if r["request_id"] in tenant.ids}
    deadline = time.monotonic() + 10
    with gw.client() as client:  # the audit flusher has caught up
        while not set(request_ids) <= {r["id"] for r in
                                        client.get("/admin/audit?limit=1000").json()["data"]}:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    yield gw, tenants[0], tenants[1]
    gw.stop()


def get(gw: RunningGateway, key: str, path: str, **params: str) -> httpx.Response:
    with gw.client(key) as client:
        return client.get(path, params=params)


def assert_clean(text: str, other: Tenant) -> None:
    leaked = sorted(i for i in other.ids if i in text)
    assert not leaked, f"leaked {leaked}"


@pytest.mark.parametrize("path", READS)
def test_a_tenant_admin_reads_only_its_tenant(
    world: tuple[RunningGateway, Tenant, Tenant], path: str,
) -> None:
    gw, alpha, bravo = world
    for me, other in ((alpha, bravo), (bravo, alpha)):
        response = get(gw, me.admin, path, **({"limit": "1000"} if "spend" not in path else {}))
        assert response.status_code == 200, response.text
        assert_clean(response.text, other)
        # ... and it does see its own data there.
        assert any(i in response.text for i in me.ids), path


@pytest.mark.parametrize("by", SPEND_BY)
def test_spend_reports_of_a_tenant_admin_hold_its_tenant_only(
    world: tuple[RunningGateway, Tenant, Tenant], by: str,
) -> None:
    gw, alpha, bravo = world
    mine = get(gw, alpha.admin, "/admin/spend", by=by, period="day")
    assert mine.status_code == 200
    assert_clean(mine.text, bravo)
    every = get(gw, MASTER_KEY, "/admin/spend", by=by, period="day").json()
    requests = sum(line["requests"] for line in mine.json()["data"])
    assert 0 < requests < sum(line["requests"] for line in every["data"])


def test_filters_and_ids_do_not_leak_another_tenant(
    world: tuple[RunningGateway, Tenant, Tenant],
) -> None:
    gw, alpha, bravo = world
    directory = gw.gateway.org_admin.directory
    bravo_app = directory.app("bravo/team-bravo/app-bravo")
    for ref in (bravo_app.id, "bravo/team-bravo/app-bravo"):
        probe = get(gw, alpha.admin, "/admin/audit", app=ref)
        unknown = get(gw, alpha.admin, "/admin/audit", app="bravo/team-bravo/nope")
        assert probe.status_code == unknown.status_code == 404
        assert_clean(probe.text.replace(ref, ""), bravo)
    everything = get(gw, alpha.admin, "/admin/audit", after="0", limit="1000").json()
    assert_clean(json.dumps(everything), bravo)
    rows = get(gw, alpha.admin, "/admin/ledger", after="", limit="1000").json()
    assert rows["data"] and all(r["tenant_id"] == alpha_tenant(gw) for r in rows["data"])
    assert get(gw, alpha.admin, "/admin/spend", by="tag:env").status_code == 403


def alpha_tenant(gw: RunningGateway) -> str:
    return gw.gateway.org_admin.directory.tenant("alpha").id


def test_the_master_key_reads_every_tenant(world: tuple[RunningGateway, Tenant, Tenant],
                                           ) -> None:
    gw, alpha, bravo = world
    for path in READS:
        text = get(gw, MASTER_KEY, path, **({"limit": "1000"}
                                                   if "spend" not in path else {})).text
        assert any(i in text for i in alpha.ids) and any(i in text for i in bravo.ids), path


@pytest.mark.parametrize("path", [*READS, "/admin/audit/verify"])
def test_plain_caller_keys_get_403(world: tuple[RunningGateway, Tenant, Tenant],
                                   path: str) -> None:
    gw, alpha, _ = world
    response = get(gw, alpha.caller, path)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize(("method", "path"), MASTER_ONLY)
def test_tenant_admins_cannot_use_master_only_endpoints(
    world: tuple[RunningGateway, Tenant, Tenant], method: str, path: str,
) -> None:
    gw, alpha, _ = world
    with gw.client(alpha.admin) as client:
        response = client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 403
