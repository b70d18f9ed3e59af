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

READS = ["/admin/audit", "/admin/ledger", "/admin/spend", "/admin/budgets", "/admin/org",
         "/admin/requests", "/admin/stats/overview", "/admin/stats/summary", "/admin/prompts",
         "/admin/collections"]
# Tenant-scoped reads where this world has nothing of either tenant's to show: they are
# checked for leaks and for refusing plain callers, not for showing the reader's own data.
READS_MAYBE_EMPTY = ["/admin/alerts", "/admin/slos", "/admin/evals/runs", "/admin/evals/online",
                     "/admin/stats/findings", "/admin/stats/attempts", "/admin/stats/timeseries"]
# One object by id: another tenant's is 404, like one that does not exist.
DETAILS = {"/admin/requests/{request_id}": "request", "/admin/collections/{collection}": "col",
           "/admin/prompts/{prompt}": "prompt", "/admin/prompts/{prompt}/diff": "prompt"}
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
    objects: dict[str, str] = field(default_factory=dict)  # kind -> an id of this tenant's


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
            prompt = client.post("/admin/prompts", json={
                "id": f"greet-{tenant.name}", "app": path,
                "messages": [{"role": "user", "content": "hello {{ who }}"}],
                "variables": {"who": {"type": "string"}}})
            prompt.raise_for_status()
            client.post("/admin/prompts", json={
                "id": f"greet-{tenant.name}", "app": path,
                "messages": [{"role": "user", "content": "hi {{ who }}"}],
                "variables": {"who": {"type": "string"}}}).raise_for_status()
            made_col = client.post("/admin/collections", json={
                "name": f"kb-{tenant.name}", "tenant": tenant.name, "apps": [path]})
            made_col.raise_for_status()
            collection = made_col.json()["id"]
            client.post(f"/admin/collections/{collection}/documents", json={"documents": [
                {"source": f"notes-{tenant.name}.md",
                 "text": f"# Notes\n\nThe {tenant.name} runbook says restart twice."}]},
                        ).raise_for_status()
        tenant.objects.update(prompt=f"greet-{tenant.name}", col=collection)
        tenant.ids |= {f"greet-{tenant.name}", collection, f"kb-{tenant.name}",
                       f"notes-{tenant.name}.md"}
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
            tenant.objects["request"] = request_ids[-1]
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


def page(path: str) -> dict[str, str]:
    """The largest page each list endpoint allows (so nothing hides beyond the first)."""
    return {"/admin/audit": {"limit": "1000"}, "/admin/ledger": {"limit": "1000"},
            "/admin/requests": {"limit": "500"},
            "/admin/stats/summary": {"by": "app"}}.get(path, {})


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
        response = get(gw, me.admin, path, **page(path))
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
        text = get(gw, MASTER_KEY, path, **page(path)).text
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


@pytest.mark.parametrize("path", READS_MAYBE_EMPTY)
def test_other_tenant_scoped_reads_never_leak(
    world: tuple[RunningGateway, Tenant, Tenant], path: str,
) -> None:
    gw, alpha, bravo = world
    for me, other in ((alpha, bravo), (bravo, alpha)):
        response = get(gw, me.admin, path)
        assert response.status_code == 200, (path, response.text)
        assert_clean(response.text, other)
    assert get(gw, alpha.caller, path).status_code == 403


@pytest.mark.parametrize("template", sorted(DETAILS))
def test_another_tenants_object_is_not_found(
    world: tuple[RunningGateway, Tenant, Tenant], template: str,
) -> None:
    gw, alpha, bravo = world
    kind = DETAILS[template]
    name = template.split("{")[1].split("}", maxsplit=1)[0]
    params = {"from": "1", "to": "2"} if template.endswith("/diff") else {}
    mine = get(gw, alpha.admin, template.replace(f"{{{name}}}", alpha.objects[kind]), **params)
    assert mine.status_code == 200, (template, mine.text)
    theirs = get(gw, alpha.admin, template.replace(f"{{{name}}}", bravo.objects[kind]), **params)
    assert theirs.status_code == 404, (template, theirs.text)
    # The error may repeat the id the caller sent; nothing else of bravo's.
    assert_clean(theirs.text.replace(bravo.objects[kind], ""), bravo)


def test_a_caller_key_lists_and_searches_only_its_apps_collections(
    world: tuple[RunningGateway, Tenant, Tenant],
) -> None:
    gw, alpha, bravo = world
    listed = get(gw, alpha.caller, "/v1/collections")
    assert listed.status_code == 200 and alpha.objects["col"] in listed.text
    assert_clean(listed.text, bravo)
    with gw.client(alpha.caller) as client:
        mine = client.post(f"/v1/collections/{alpha.objects['col']}/search",
                           json={"query": "runbook restart"})
        theirs = client.post(f"/v1/collections/{bravo.objects['col']}/search",
                             json={"query": "runbook restart"})
    assert mine.status_code == 200 and "alpha runbook" in mine.text
    assert theirs.status_code == 404
    assert_clean(theirs.text.replace(bravo.objects["col"], ""), bravo)


def test_every_admin_read_route_is_classified() -> None:
    """A new admin GET route must join one of the lists above (and so these tests)."""
    from pavedroad.api.app import create_app
    from pavedroad.config.models import Settings
    from pavedroad.service.gateway import build_gateway

    app = create_app(build_gateway(Settings(), env={}))
    gets = {route.path for route in app.routes  # type: ignore[attr-defined]
            if route.path.startswith("/admin") and "GET" in (route.methods or ())}  # type: ignore[attr-defined]
    known = {*READS, *READS_MAYBE_EMPTY, *DETAILS,
             *(path for method, path in MASTER_ONLY if method == "GET"),
             "/admin/evals/runs/{run_id}", "/admin/evals/compare"}  # tests/integration/test_eval_runs.py
    assert gets - known == set()
