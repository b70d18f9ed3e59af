"""Tenants, teams and apps through the admin API, and what a key inherits from its app."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.servers import RunningGateway, Sim

CONFIG = """
store: {{url: "{{db}}"}}
deployments:
  - {{name: research, provider: openai_compatible, model: up-research, api_base: "{sim}/v1"}}
  - {{name: other, provider: openai_compatible, model: up-other, api_base: "{sim}/v1"}}
models:
  - name: m
    route: {{conditional: {{rules: [{{when: {{team: research}}, then: research}}], default: other}}}}
"""


def test_admin_api_builds_the_organisation(
    sim: Sim, gateway_factory: Callable[..., RunningGateway]
) -> None:
    gw = gateway_factory(CONFIG.format(sim=sim.url))
    with gw.client() as admin:
        assert admin.post("/admin/tenants", json={"name": "acme",
                                                  "limits": {"rpm": 5}}).status_code == 201
        assert admin.post("/admin/tenants", json={"name": "acme"}).json()["error"]["code"] \
            == "conflict"
        bad_limit = admin.post("/admin/tenants", json={"name": "x", "limits": {"rph": 1}})
        assert bad_limit.status_code == 400 and bad_limit.json()["error"]["param"] == "limits.rph"
        bad_name = admin.post("/admin/tenants", json={"name": "a/b"})
        assert bad_name.status_code == 400
        assert admin.post("/admin/teams", json={"tenant": "acme",
                                                "name": "research"}).status_code == 201
        ghost = admin.post("/admin/teams", json={"tenant": "ghost", "name": "t"})
        assert ghost.status_code == 404 and ghost.json()["error"]["code"] == "not_found"
        app = admin.post("/admin/apps", json={"team": "acme/research", "name": "copilot",
                                              "tags": {"env": "prod"}})
        assert app.status_code == 201 and app.json()["path"] == "acme/research/copilot"
        org = admin.get("/admin/org").json()
        assert {t["name"] for t in org["tenants"]} == {"default", "acme"}
        assert "acme/research/copilot" in {a["path"] for a in org["apps"]}

    # A key of an app in team `research` is routed by the team condition.
    research_key = gw.create_key(app="acme/research/copilot")
    default_key = gw.create_key()
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    for key, expected in ((research_key, "research:ok"), (default_key, "other:ok")):
        response = httpx.post(f"{gw.url}/v1/chat/completions", json=body,
                              headers={"authorization": f"Bearer {key}"})
        assert response.headers["x-pavedroad-route"] == expected
    with gw.client() as admin:
        missing = admin.post("/admin/keys", json={"name": "k", "app": "acme/research/nope"})
        assert missing.status_code == 404
