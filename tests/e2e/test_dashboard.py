"""The dashboard in a real browser (Debian's chromium driven by Playwright), over traffic
sent through a real gateway to the simulator. Every page is screenshotted into
.artifacts/screenshots/ for a person to look at."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.servers import MASTER_KEY, RunningGateway, Sim, start_gateway, start_sim
from tests.support.services import ensure_chromium

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".artifacts" / "screenshots"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run"]
PING = [{"role": "user", "content": "ping"}]
OK_PLAIN, OK_STREAM, FAILED, PII = 10, 5, 4, 2
TOTAL = OK_PLAIN + OK_STREAM + FAILED + PII
APP = "acme/search/web"
LIMITED = "acme/search/support"  # limited risk: the default policy redacts PII and logs it
EMAIL = "jane.doe@example.com"


def _config(sim: Sim) -> str:
    price = {"input": 2.5, "output": 10.0}
    dep = {"provider": "openai_compatible", "api_base": f"{sim.url}/v1", "pricing": price,
           "retries": {"attempts": 0}}
    return json.dumps({
        "store": {"url": "{db}"},
        "audit": {"level": "full", "flush_seconds": 0.1},
        "metering": {"ledger": {"flush_seconds": 0.1}},
        "deployments": [{"name": "primary", "model": "up-primary", **dep},
                        {"name": "backup", "model": "up-backup", **dep},
                        {"name": "flaky", "model": "up-flaky", **dep}],
        "models": [{"name": "gpt", "route": {"fallback": ["primary", "backup"]}},
                   {"name": "flaky", "route": "flaky"}],
    })


def _traffic(gw: RunningGateway, sim: Sim, key: str, limited_key: str) -> None:
    sim.fault("up-flaky", status=500)
    with httpx.Client(base_url=gw.url, headers={"authorization": f"Bearer {key}"},
                      timeout=30) as client:
        for i in range(OK_PLAIN):
            client.post("/v1/chat/completions", json={"model": "gpt", "messages": PING},
                        headers={"x-pavedroad-tags": "feature=search" if i % 2 else "feature=chat"}
                        ).raise_for_status()
        for _ in range(OK_STREAM):
            with client.stream("POST", "/v1/chat/completions",
                               json={"model": "gpt", "messages": PING, "stream": True}) as r:
                r.raise_for_status()
                r.read()
        for _ in range(FAILED):
            assert client.post("/v1/chat/completions",
                               json={"model": "flaky", "messages": PING}).status_code >= 500
        for _ in range(PII):
            client.post("/v1/chat/completions", headers={"authorization": f"Bearer {limited_key}"},
                        json={"model": "gpt", "messages": [
                            {"role": "user", "content": f"please mail {EMAIL} the report"}]},
                        ).raise_for_status()


def _wait_ledger(gw: RunningGateway, count: int) -> None:
    deadline = time.monotonic() + 15
    with gw.client() as admin:
        while time.monotonic() < deadline:
            rows = admin.get("/admin/requests", params={"limit": 500}).json()["data"]
            if len(rows) >= count and all(r["outcome"] != "in_progress" for r in rows):
                return
            time.sleep(0.1)
    raise AssertionError(f"the ledger never reached {count} rows")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    sim = start_sim()
    gw = start_gateway(_config(sim), tmp_path_factory.mktemp("dash"))
    try:
        gw.ensure_app(APP)
        gw.ensure_app(LIMITED, risk_class="limited")
        key = gw.create_key(name="web", app=APP)
        limited_key = gw.create_key(name="support", app=LIMITED)
        with gw.client() as admin:
            admin.post("/admin/budgets", json={"scope": "app", "subject": APP, "amount": 1.0,
                                               "period": "month"}).raise_for_status()
        _traffic(gw, sim, key, limited_key)
        _wait_ledger(gw, TOTAL)
        yield {"gw": gw, "sim": sim, "key": key}
    finally:
        gw.stop()
        sim.server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = ensure_chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, site: dict[str, Any]) -> Iterator[Page]:
    context = browser.new_context(base_url=site["gw"].url, viewport={"width": 1360, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def login(page: Page, key: str = MASTER_KEY) -> None:
    page.goto("/ui/overview")
    page.fill("#key", key)
    page.click("button[type=submit]")


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_wrong_key_is_refused_and_pages_need_a_login(page: Page, site: dict[str, Any]) -> None:
    login(page, "sk-wrong")
    expect(page.get_by_role("alert")).to_contain_text("not an admin key")
    assert "/ui/login" in page.url
    login(page, site["key"])  # a valid caller key is not an admin key either
    expect(page.get_by_role("alert")).to_contain_text("not an admin key")
    assert not any(c["name"] == "pavedroad_session" for c in page.context.cookies())
    shot(page, "login-refused")


def test_overview_charts_show_the_traffic(page: Page) -> None:
    login(page)
    expect(page).to_have_url(re.compile(r"/ui/overview$"))
    total = TOTAL
    expect(page.locator('[data-metric="requests"]')).to_have_text(str(total))
    expect(page.locator('[data-metric="error_rate"]')).to_have_text(f"{FAILED / total * 100:.1f}%")
    # Requests and latency charts have drawn lines; the breakdown names the app.
    assert page.locator('polyline[data-series="requests"]').count() == 1
    assert page.locator('[data-series="latency p95"]').count() == 1
    assert page.locator('[data-series="TTFT p50"]').count() == 1  # the streams
    expect(page.locator("#breakdown")).to_contain_text(APP)
    expect(page.locator("#breakdown")).to_contain_text(LIMITED)
    expect(page.locator('[data-metric="findings"]')).to_have_text(str(PII))
    expect(page.locator("#findings")).to_contain_text("pii/")
    cookie = next(c for c in page.context.cookies() if c["name"] == "pavedroad_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    shot(page, "overview")
    page.select_option("select[name=by]", "model")
    expect(page.locator("#breakdown")).to_contain_text("flaky")
    shot(page, "overview-by-model")


def test_request_explorer_filters_and_opens_a_request(page: Page) -> None:
    login(page)
    page.goto("/ui/requests")
    rows = page.locator("#request-table tr[data-outcome]")
    expect(rows).to_have_count(TOTAL)
    page.select_option("select[name=status]", "error")
    page.click("#request-filters button[type=submit]")
    expect(rows).to_have_count(FAILED)
    for model in rows.evaluate_all("rs => rs.map(r => r.dataset.model)"):
        assert model == "flaky"
    shot(page, "requests-errors")
    page.goto("/ui/requests?tag=feature%3Dsearch")
    expect(rows).to_have_count(OK_PLAIN // 2)
    page.goto("/ui/requests?model=gpt")
    expect(rows).to_have_count(OK_PLAIN + OK_STREAM + PII)
    shot(page, "requests")
    page.goto(f"/ui/requests?model=gpt&app={APP}")
    expect(rows).to_have_count(OK_PLAIN + OK_STREAM)
    rows.first.locator("a").click()
    expect(page.locator("#attempts")).to_contain_text("primary")
    expect(page.locator("#request-detail")).to_contain_text(APP)
    # The default policy keeps metadata only for a minimal-risk app: no content shown,
    # though the audit level for undecided requests is `full`.
    expect(page.locator("#no-content")).to_contain_text("metadata")
    assert page.locator("#answer").count() == 0
    shot(page, "request-detail")
    # A limited-risk app's request: its findings, and its content as the policy allowed
    # it to be logged (redacted: the address replaced by a placeholder).
    page.goto("/ui/requests?app=" + LIMITED)
    expect(rows).to_have_count(PII)
    rows.first.locator("a").click()
    expect(page.locator("#findings-detail")).to_contain_text("pii")
    content = page.locator("#content")
    expect(content).to_contain_text("please mail")
    assert EMAIL not in content.inner_text()
    shot(page, "request-detail-redacted")


def test_kill_switch_with_confirmation_routes_traffic_around(
    page: Page, site: dict[str, Any]
) -> None:
    gw, sim = site["gw"], site["sim"]
    login(page)
    page.goto("/ui/routing")
    # Every attempt on the flaky deployment failed, though no request names it as the
    # deployment that answered.
    flaky = page.locator('tr[data-deployment="flaky"] [data-failure-rate]')
    expect(flaky).to_have_text("100.0%")
    row = page.locator('tr[data-deployment="primary"]')
    row.get_by_role("button", name="Switch off").click()
    dialog = row.locator("dialog")
    expect(dialog).to_be_visible()
    shot(page, "routing-confirm")
    dialog.get_by_role("button", name="Cancel").click()  # cancelling changes nothing
    expect(dialog).to_be_hidden()
    assert "off" not in row.locator("td").nth(3).inner_text()
    row.get_by_role("button", name="Switch off").click()
    dialog.locator("input[name=reason]").fill("incident 42")
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.locator("#note")).to_contain_text("primary switched off")
    expect(page.locator('tr[data-deployment="primary"] td').nth(3)).to_have_text("off")
    shot(page, "routing")
    try:
        before = sim.stats()["by_model"]
        with httpx.Client(base_url=gw.url, timeout=30,
                          headers={"authorization": f"Bearer {site['key']}"}) as client:
            answer = client.post("/v1/chat/completions", json={"model": "gpt", "messages": PING})
        assert answer.status_code == 200
        assert "backup:ok" in answer.headers["x-pavedroad-route"]
        after = sim.stats()["by_model"]
        assert after.get("up-primary", 0) == before.get("up-primary", 0)
        assert after["up-backup"] == before.get("up-backup", 0) + 1
        skipped = page.locator('tr[data-deployment="primary"] td').nth(10)
        deadline = time.monotonic() + 10
        while skipped.inner_text() == "0":  # passed over while off, once in the ledger
            assert time.monotonic() < deadline
            time.sleep(0.2)
            page.reload()
        page.goto("/ui/audit")
        expect(page.locator("#verdict")).to_contain_text("Chain intact")
        expect(page.locator("#audit-log")).to_contain_text("deployment/primary")
        shot(page, "audit")
    finally:
        with gw.client() as admin:
            admin.post("/admin/switches", json={"scope": "deployment", "name": "primary",
                                                "disabled": False})


def test_budgets_evals_prompts_and_logout(page: Page) -> None:
    login(page)
    page.goto("/ui/budgets")
    budget = page.locator("#budgets tr", has_text=APP)
    expect(budget).to_contain_text("month")
    expect(budget.locator("td").nth(6)).not_to_have_text("$0.0000")  # it has a burn rate
    shot(page, "budgets")
    for name in ("evals", "prompts"):
        page.goto(f"/ui/{name}")
        sections = page.locator("section.optional")
        assert sections.count() >= 1
        for i in range(sections.count()):  # each either a table or says it is not there
            one = sections.nth(i)
            assert one.locator(".absent").count() + one.locator("table.items").count() == 1
        shot(page, name)
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    page.goto("/ui/overview")
    assert "/ui/login" in page.url
