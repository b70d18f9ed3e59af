"""Dashboard sessions and forms over plain HTTP: cookie flags, CSRF, logout, redirects,
and the admin read endpoints the pages use (their errors and their tenant scoping)."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pavedroad.store.database import create_engine, migrate
from pavedroad.ui.session import SessionStore
from tests.support.servers import MASTER_KEY, RunningGateway, Sim, start_gateway

pytestmark = pytest.mark.timeout(60)

CONFIG = """
store: {url: "{db}"}
metering: {ledger: {flush_seconds: 0.1}}
deployments:
  - {name: one, provider: openai_compatible, model: up-one, api_base: "{sim}/v1"}
  - {name: two, provider: openai_compatible, model: up-two, api_base: "{sim}/v1"}
models:
  - {name: m, route: one}
  - {name: n, route: two}
"""


@pytest.fixture(scope="module")
def gw(sim_session: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = start_gateway(CONFIG.replace("{sim}", sim_session.url),
                            tmp_path_factory.mktemp("dash-session"))
    yield running
    running.stop()


def browser(gw: RunningGateway) -> httpx.Client:
    return httpx.Client(base_url=gw.url, follow_redirects=False, timeout=30)


@contextlib.contextmanager
def logged_in(gw: RunningGateway) -> Iterator[tuple[httpx.Client, str]]:
    """A client holding a session, and the CSRF token its pages carry."""
    with browser(gw) as client:
        yield client, _login(client)


def _login(client: httpx.Client) -> str:
    response = client.post("/ui/login", data={"key": MASTER_KEY, "next": "/ui/routing"})
    assert response.status_code == 303
    page = client.get("/ui/routing")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def switches(gw: RunningGateway) -> dict[str, bool]:
    with gw.client() as admin:
        return {s["name"]: s["disabled"] for s in admin.get("/admin/switches").json()["data"]}


def test_session_cookie_flags(gw: RunningGateway) -> None:
    with browser(gw) as client:
        plain = client.post("/ui/login", data={"key": MASTER_KEY})
        cookie = plain.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie
        assert "secure" not in cookie and "max-age=28800" in cookie
        proxied = client.post("/ui/login", data={"key": MASTER_KEY},
                              headers={"x-forwarded-proto": "https"})
        assert "secure" in proxied.headers["set-cookie"].lower()


def test_pages_send_security_headers_and_need_a_session(gw: RunningGateway) -> None:
    with browser(gw) as client:
        response = client.get("/ui/budgets")
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/login?next=%2Fui%2Fbudgets"
        login = client.get("/ui/login")
        assert "default-src 'self'" in login.headers["content-security-policy"]
        assert login.headers["x-frame-options"] == "DENY"
        forged = client.get("/ui/overview", cookies={"pavedroad_session": "made-up"})
        assert forged.status_code == 303


def test_login_never_redirects_off_site(gw: RunningGateway) -> None:
    with browser(gw) as client:
        for target in ("https://evil.example/", "//evil.example/ui/", "/admin/keys"):
            response = client.post("/ui/login", data={"key": MASTER_KEY, "next": target})
            assert response.headers["location"] == "/ui/overview", target


def test_state_changes_need_the_csrf_token_and_same_origin(gw: RunningGateway) -> None:
    form = {"scope": "deployment", "name": "two", "disabled": "1", "reason": "test"}
    with logged_in(gw) as (client, csrf):
        assert client.post("/ui/routing/switch", data=form).status_code == 403
        assert client.post("/ui/routing/switch", data={**form, "csrf": "wrong"}
                           ).status_code == 403
        cross = client.post("/ui/routing/switch", data={**form, "csrf": csrf},
                            headers={"origin": "https://evil.example"})
        assert cross.status_code == 403
        assert switches(gw).get("two") is not True
        done = client.post("/ui/routing/switch", data={**form, "csrf": csrf},
                           headers={"origin": gw.url})
        assert done.status_code == 303 and "two+switched+off" in done.headers["location"]
        assert switches(gw)["two"] is True
        bad = client.post("/ui/routing/switch", data={**form, "name": "nope", "csrf": csrf})
        assert "not+changed" in bad.headers["location"]
        client.post("/ui/routing/switch", data={**form, "disabled": "0", "csrf": csrf})
        assert switches(gw)["two"] is False


def test_logout_ends_the_session_on_the_server(gw: RunningGateway) -> None:
    with logged_in(gw) as (client, csrf):
        token = client.cookies["pavedroad_session"]
        assert client.get("/ui/overview").status_code == 200
        out = client.post("/ui/logout", data={"csrf": csrf})
        assert out.status_code == 303
        reused = client.get("/ui/overview", cookies={"pavedroad_session": token})
        assert reused.status_code == 303  # the old cookie is dead, not just deleted


async def test_sessions_expire(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    migrate(url)
    engine = create_engine(url)
    store = SessionStore(engine, ttl_seconds=60)
    token, session = await store.create("master", now=1000.0)
    assert (await store.get(token, now=1059.0)) == session
    assert await store.get(token, now=1060.0) is None
    assert await store.get("x" * 500) is None
    await engine.dispose()


def test_stats_endpoints_refuse_bad_input_clearly(gw: RunningGateway) -> None:
    with gw.client() as admin:
        for path, param in (("/admin/stats/summary?by=colour", "by"),
                            ("/admin/stats/timeseries?bucket=abc", "bucket"),
                            ("/admin/stats/timeseries?bucket=1", "bucket"),
                            ("/admin/requests?from=2030-01-01&to=2029-01-01", "from"),
                            ("/admin/requests?tag=nokey", "tag"),
                            ("/admin/requests?limit=0", "limit"),
                            ("/admin/requests?from=yesterday", "from")):
            response = admin.get(path)
            assert response.status_code == 400, path
            assert response.json()["error"]["param"] == param, path
        missing = admin.get("/admin/requests/req_nothing")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"


def test_stats_are_scoped_to_a_tenant_admin(gw: RunningGateway) -> None:
    gw.ensure_app("t1/team/app")
    gw.ensure_app("t2/team/app")
    one = gw.create_key(name="one", app="t1/team/app")
    two = gw.create_key(name="two", app="t2/team/app")
    reader = gw.create_key(name="reader", app="t1/team/app", role="tenant_admin")
    for key in (one, two):
        with httpx.Client(base_url=gw.url, headers={"authorization": f"Bearer {key}"}) as c:
            c.post("/v1/chat/completions", json={"model": "m", "messages": [
                {"role": "user", "content": "hi"}]}).raise_for_status()
    deadline = time.monotonic() + 10
    with gw.client() as admin:
        while len(admin.get("/admin/requests?model=m").json()["data"]) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        tenants = {r["tenant_id"] for r in admin.get("/admin/requests?model=m").json()["data"]}
    with gw.client(reader) as scoped:
        rows = scoped.get("/admin/requests?model=m").json()["data"]
        assert len(rows) == 1 and len(tenants) == 2
        assert scoped.get("/admin/stats/summary?model=m").json()["data"][0]["requests"] == 1
        other = next(iter(tenants - {rows[0]["tenant_id"]}))
        with gw.client() as admin:
            theirs = admin.get("/admin/requests?model=m").json()["data"]
        foreign = next(r["request_id"] for r in theirs if r["tenant_id"] == other)
        assert scoped.get(f"/admin/requests/{foreign}").status_code == 404
    with gw.client(one) as caller:
        assert caller.get("/admin/stats/summary").status_code == 403


def test_explicit_time_window_and_bad_input_on_the_explorer(gw: RunningGateway) -> None:
    with logged_in(gw) as (client, _):
        empty = client.get("/ui/requests", params={"from": "2001-01-01T00:00",
                                                    "to": "2001-01-02T00:00"})
        assert empty.status_code == 200 and "No requests match." in empty.text
        bad = client.get("/ui/requests", params={"from": "last tuesday"})
        assert bad.status_code == 200 and "`from` must be a date" in bad.text


def test_the_dashboard_can_be_turned_off(sim_session: Sim, tmp_path: Path) -> None:
    off = start_gateway(CONFIG.replace("{sim}", sim_session.url) + "ui: {enabled: false}\n",
                        tmp_path)
    try:
        with browser(off) as client:
            assert client.get("/ui/login").status_code == 404
            assert client.post("/ui/login", data={"key": MASTER_KEY}).status_code == 404
        with off.client() as admin:  # the admin API is unchanged
            assert admin.get("/admin/stats/summary").status_code == 200
    finally:
        off.stop()


def test_a_tenant_admin_logs_in_to_its_tenant_only(gw: RunningGateway) -> None:
    gw.ensure_app("ta/team/app")
    gw.ensure_app("tb/team/app")
    ours = gw.create_key(name="ours", app="ta/team/app")
    theirs = gw.create_key(name="theirs", app="tb/team/app")
    with gw.client() as admin:
        made = admin.post("/admin/keys", json={"name": "ta-admin", "app": "ta/team/app",
                                                "role": "tenant_admin"})
        made.raise_for_status()
        reader, reader_id = made.json()["key"], made.json()["id"]
    ids = {}
    for name, key in (("ours", ours), ("theirs", theirs)):
        with httpx.Client(base_url=gw.url, headers={"authorization": f"Bearer {key}"}) as c:
            answer = c.post("/v1/chat/completions", json={"model": "n", "messages": [
                {"role": "user", "content": f"hello from {name}"}]})
            answer.raise_for_status()
            ids[name] = answer.headers["x-pavedroad-request-id"]
    with gw.client() as admin:
        deadline = time.monotonic() + 10
        while not set(ids.values()) <= {r["request_id"] for r in admin.get(
                "/admin/requests?model=n&limit=500").json()["data"]}:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    before = switches(gw)
    with browser(gw) as client:
        assert client.post("/ui/login", data={"key": reader}).status_code == 303
        listing = client.get("/ui/requests", params={"model": "n"})
        assert listing.status_code == 200 and "ta-admin · tenant ta only" in listing.text
        assert ids["ours"] in listing.text and ids["theirs"] not in listing.text
        assert client.get(f"/ui/requests/{ids['theirs']}").status_code == 404
        page = client.get("/ui/routing")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        flipped = client.post("/ui/routing/switch", data={
            "csrf": csrf.group(1), "scope": "deployment", "name": "two", "disabled": "1"})
        assert flipped.status_code == 303 and "not+changed" in flipped.headers["location"]
        assert switches(gw) == before  # the kill switch stays the master key's
        with gw.client() as admin:
            admin.delete(f"/admin/keys/{reader_id}").raise_for_status()
        deadline = time.monotonic() + 10
        while (gone := client.get("/ui/overview")).status_code == 200:  # the cache refreshes
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert gone.status_code == 303 and "/ui/login" in gone.headers["location"]
        assert client.get("/ui/overview").status_code == 303  # the session was deleted


def test_a_caller_key_still_cannot_log_in(gw: RunningGateway) -> None:
    gw.ensure_app("tc/team/app")
    plain = gw.create_key(name="plain", app="tc/team/app")
    with browser(gw) as client:
        refused = client.post("/ui/login", data={"key": plain})
        assert refused.status_code == 401 and "not an admin key" in refused.text
        assert "pavedroad_session" not in refused.headers.get("set-cookie", "")
