"""Guessing the admin key through the dashboard's login form is throttled per address."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.servers import MASTER_KEY, RunningGateway, Sim

CONFIG = """
store: {url: "{db}"}
deployments:
  - {name: d, provider: openai_compatible, model: up-d, api_base: "{sim}/v1"}
models:
  - {name: m, route: d}
"""


def test_ten_wrong_keys_then_even_the_right_one_waits(
    sim: Sim, gateway_factory: Callable[..., RunningGateway],
) -> None:
    gw = gateway_factory(CONFIG.replace("{sim}", sim.url))
    with httpx.Client(base_url=gw.url, follow_redirects=False, timeout=30) as browser:
        for i in range(10):
            wrong = browser.post("/ui/login", data={"key": f"sk-guess-{i}"})
            assert wrong.status_code == 401
        blocked = browser.post("/ui/login", data={"key": MASTER_KEY})
        assert blocked.status_code == 429
        assert 1 <= int(blocked.headers["retry-after"]) <= 301
        assert "Too many failed logins" in blocked.text
        assert "pavedroad_session" not in blocked.headers.get("set-cookie", "")
