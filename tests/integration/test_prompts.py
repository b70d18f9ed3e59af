"""The prompt registry through a running gateway: push, render by label (what the upstream
receives), the version in the ledger and the audit trail, promotion gated for high-risk
apps, rollback, errors, and tenant isolation of the admin API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.ledger import wait_for_rows
from tests.support.servers import RunningGateway, Sim, ThreadServer, start_gateway

pytestmark = pytest.mark.timeout(90)

SUPPORT = "acme/support/helpdesk"
RISKY = "acme/health/triage"
OTHER = "globex/ops/bot"


class Recorder:
    """A real upstream in front of the simulator that keeps every body it is sent."""

    def __init__(self, sim_url: str) -> None:
        self.bodies: list[dict[str, Any]] = []
        self._sim = sim_url
        self._lock = threading.Lock()
        self.server = ThreadServer(Starlette(routes=[
            Route("/v1/chat/completions", self._forward, methods=["POST"])])).start()

    async def _forward(self, request: Request) -> Response:
        body = json.loads(await request.body())
        with self._lock:
            self.bodies.append(body)
        async with httpx.AsyncClient(timeout=15) as client:
            answer = await client.post(f"{self._sim}/v1/chat/completions", json=body,
                                       headers={"authorization": "Bearer sk-up"})
        return Response(answer.content, status_code=answer.status_code,
                        media_type=answer.headers.get("content-type"))

    @property
    def last(self) -> dict[str, Any]:
        with self._lock:
            return self.bodies[-1]


def reply_prompt(version_text: str) -> dict[str, Any]:
    return {
        "id": "reply", "app": SUPPORT, "description": "answers support tickets",
        "model": "gpt",
        "variables": [{"name": "customer", "type": "string"},
                      {"name": "tickets", "type": "integer", "required": False, "default": 1}],
        "messages": [{"role": "system", "content": f"{version_text} Customer: {{{{ customer }}}}."},
                     {"role": "user", "content": "They have {{ tickets }} open tickets."}],
        "parameters": {"temperature": 0.1, "max_tokens": 64},
    }


@pytest.fixture(scope="module")
def world(sim_session: Sim, tmp_path_factory: pytest.TempPathFactory,
          ) -> Iterator[tuple[RunningGateway, Recorder, dict[str, str]]]:
    recorder = Recorder(sim_session.url)
    gw = start_gateway(json.dumps({
        "store": {"url": "{db}"},
        "metering": {"ledger": {"flush_seconds": 0.05}},
        "audit": {"flush_seconds": 0.05},
        "deployments": [{"name": "rec", "provider": "openai_compatible", "model": "gpt-4o-mini",
                         "region": "local",
                         "api_base": f"{recorder.server.url}/v1", "api_key": "sk-up",
                         "retries": {"attempts": 0}}],
        "models": [{"name": "gpt", "route": "rec"}, {"name": "other", "route": "rec"}],
    }), tmp_path_factory.mktemp("prompts"))
    gw.ensure_app(SUPPORT)
    gw.ensure_app(RISKY, risk_class="high")
    gw.ensure_app(OTHER)
    keys = {
        "support": gw.create_key(name="support", app=SUPPORT),
        "risky": gw.create_key(name="risky", app=RISKY),
        "other": gw.create_key(name="other", app=OTHER),
        "acme_admin": gw.create_key(name="acme-admin", app=SUPPORT, role="tenant_admin"),
        "globex_admin": gw.create_key(name="globex-admin", app=OTHER, role="tenant_admin"),
    }
    yield gw, recorder, keys
    gw.stop()
    recorder.server.stop()


def chat(gw: RunningGateway, key: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{gw.url}/v1/chat/completions", json=body, timeout=15,
                      headers={"authorization": f"Bearer {key}"})


def admin(gw: RunningGateway, method: str, path: str, key: str | None = None,
          **kwargs: Any) -> httpx.Response:
    with gw.client(*([key] if key else [])) as client:
        return client.request(method, path, **kwargs)


def test_push_render_by_label_and_record_the_version(
        world: tuple[RunningGateway, Recorder, dict[str, str]]) -> None:
    gw, recorder, keys = world
    first = admin(gw, "POST", "/admin/prompts", json=reply_prompt("Be brief."))
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["created"] is True
    again = admin(gw, "POST", "/admin/prompts", json=reply_prompt("Be brief."))
    assert again.status_code == 200 and again.json() == {**again.json(), "version": 1,
                                                          "created": False}
    second = admin(gw, "POST", "/admin/prompts", json=reply_prompt("Be warm."))
    assert second.json()["version"] == 2
    moved = admin(gw, "POST", "/admin/prompts/reply/labels/production", json={"version": 1})
    assert moved.status_code == 200, moved.text
    assert moved.json()["from"] is None and moved.json()["to"] == 1

    response = chat(gw, keys["support"], {
        "prompt": {"id": "reply", "label": "production",
                   "variables": {"customer": "Ada", "tickets": 3}},
        "messages": [{"role": "user", "content": "Please hurry."}]})
    assert response.status_code == 200, response.text
    assert response.headers["x-pavedroad-prompt"] == "reply@1"
    sent = recorder.last
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief. Customer: Ada."},
        {"role": "user", "content": "They have 3 open tickets."},
        {"role": "user", "content": "Please hurry."}]
    assert sent["model"] == "gpt-4o-mini" and sent["temperature"] == 0.1
    assert sent["max_tokens"] == 64 and "prompt" not in sent

    by_version = chat(gw, keys["support"], {"prompt": {"id": "reply", "version": 2,
                                                       "variables": {"customer": "Bo"}}})
    assert by_version.status_code == 200, by_version.text
    assert recorder.last["messages"][0]["content"] == "Be warm. Customer: Bo."

    ids = [r.headers["x-pavedroad-request-id"] for r in (response, by_version)]
    rows = wait_for_rows(gw.url, ids)
    assert (rows[ids[0]]["prompt_id"], rows[ids[0]]["prompt_version"]) == ("reply", 1)
    assert (rows[ids[1]]["prompt_id"], rows[ids[1]]["prompt_version"]) == ("reply", 2)
    assert rows[ids[0]]["model"] == "gpt"

    deadline = time.monotonic() + 10
    while True:
        records = {r["id"]: r for r in admin(gw, "GET", "/admin/audit?limit=1000").json()["data"]}
        if ids[0] in records:
            break
        assert time.monotonic() < deadline, "the audit record never arrived"
        time.sleep(0.05)
    assert records[ids[0]]["prompt"] == {"id": "reply", "version": 1}
    actions = {r.get("action") for r in records.values()}
    assert {"prompt.push", "prompt.label"} <= actions


def test_render_errors_are_clear(world: tuple[RunningGateway, Recorder, dict[str, str]]) -> None:
    gw, _, keys = world
    admin(gw, "POST", "/admin/prompts", json=reply_prompt("Be brief.")).raise_for_status()
    admin(gw, "POST", "/admin/prompts/reply/labels/staging", json={"version": 1})
    cases = [
        ({"id": "reply", "label": "staging", "variables": {}}, 400,
         "prompt_variables_invalid", "prompt.variables.customer"),
        ({"id": "reply", "label": "staging", "variables": {"customer": "A", "tickets": "2"}},
         400, "prompt_variables_invalid", "prompt.variables.tickets"),
        ({"id": "nope", "variables": {"customer": "A"}}, 404, "prompt_not_found", "prompt.id"),
        ({"id": "reply", "label": "canary", "variables": {"customer": "A"}}, 404,
         "prompt_not_found", "prompt.label"),
        ({"id": "reply", "version": 99, "variables": {"customer": "A"}}, 404,
         "prompt_not_found", "prompt.version"),
        ({"id": "reply", "version": "1"}, 400, "invalid_request", "prompt.version"),
        ("reply", 400, "invalid_request", "prompt"),
    ]
    for prompt, status, code, param in cases:
        response = chat(gw, keys["support"], {"prompt": prompt})
        assert response.status_code == status, (prompt, response.text)
        error = response.json()["error"]
        assert (error["code"], error["param"]) == (code, param), prompt
    # Another app's key cannot render it, even knowing the name.
    foreign = chat(gw, keys["other"], {"prompt": {"id": "reply",
                                                  "variables": {"customer": "A"}}})
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "prompt_not_found"
    # Without a prompt, `model` and `messages` are required as before.
    plain = chat(gw, keys["support"], {"messages": [{"role": "user", "content": "hi"}]})
    assert plain.status_code == 400 and plain.json()["error"]["param"] == "model"


def test_high_risk_promotion_needs_a_passing_gate_and_rollback_moves_back(
        world: tuple[RunningGateway, Recorder, dict[str, str]]) -> None:
    gw, recorder, keys = world
    for text in ("Triage v1.", "Triage v2."):
        body = {**reply_prompt(text), "id": "triage", "app": RISKY}
        admin(gw, "POST", "/admin/prompts", json=body).raise_for_status()
    refused = admin(gw, "POST", "/admin/prompts/triage/labels/production", json={"version": 1})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "promotion_requires_gate"
    assert "version 1" in refused.json()["error"]["message"]
    # Staging is not gated.
    assert admin(gw, "POST", "/admin/prompts/triage/labels/staging",
                 json={"version": 1}).status_code == 200

    gate = "/admin/prompts/triage/versions/{}/gate-results"
    failed = admin(gw, "POST", gate.format(1), json={"passed": False, "gate": "quality",
                                                     "run_id": "run_1"})
    assert failed.status_code == 201, failed.text
    still = admin(gw, "POST", "/admin/prompts/triage/labels/production", json={"version": 1})
    assert still.json()["error"]["code"] == "promotion_requires_gate"
    for version in (1, 2):
        admin(gw, "POST", gate.format(version), json={
            "passed": True, "gate": "quality", "run_id": f"run_{version}",
            "summary": {"accuracy": 0.93}}).raise_for_status()
    assert admin(gw, "POST", "/admin/prompts/triage/labels/production",
                 json={"version": 1}).status_code == 200
    # A pass for version 1 says nothing about version 3.
    admin(gw, "POST", "/admin/prompts", json={**reply_prompt("Triage v3."), "id": "triage",
                                              "app": RISKY}).raise_for_status()
    assert admin(gw, "POST", "/admin/prompts/triage/labels/production",
                 json={"version": 3}).json()["error"]["code"] == "promotion_requires_gate"
    assert admin(gw, "POST", "/admin/prompts/triage/labels/production",
                 json={"version": 2}).status_code == 200

    def served() -> str:
        response = chat(gw, keys["risky"], {"prompt": {"id": "triage",
                                                       "variables": {"customer": "C"}}})
        assert response.status_code == 200, response.text
        return str(recorder.last["messages"][0]["content"])

    assert served().startswith("Triage v2.")
    back = admin(gw, "POST", "/admin/prompts/triage/labels/production/rollback")
    assert back.status_code == 200, back.text
    assert (back.json()["from"], back.json()["to"]) == (2, 1)
    assert served().startswith("Triage v1.")
    nothing = admin(gw, "POST", "/admin/prompts/triage/labels/production/rollback")
    assert nothing.status_code == 409

    shown = admin(gw, "GET", "/admin/prompts/triage").json()
    assert shown["version"] == 1 and shown["labels"]["production"] == 1
    assert [m["action"] for m in shown["history"] if m["label"] == "production"] == \
        ["move", "move", "rollback"]
    assert [g["passed"] for g in shown["gate_results"]] == [False, True]
    changes = admin(gw, "GET", "/admin/prompts/triage/diff", params={"from": 1, "to": 2}).json()
    assert "-Triage v1. Customer: {{ customer }}." in changes["template"]
    assert "+Triage v2. Customer: {{ customer }}." in changes["template"]


def test_tenant_admins_see_only_their_tenant(
        world: tuple[RunningGateway, Recorder, dict[str, str]]) -> None:
    gw, _, keys = world
    admin(gw, "POST", "/admin/prompts", json=reply_prompt("Be brief.")).raise_for_status()
    mine = admin(gw, "POST", "/admin/prompts", keys["globex_admin"],
                 json={"id": "ops", "app": OTHER, "template": "Status?"})
    assert mine.status_code == 201, mine.text
    listed = admin(gw, "GET", "/admin/prompts", keys["globex_admin"]).json()["data"]
    assert {p["id"] for p in listed} == {"ops"}
    for method, path, body in [
        ("GET", "/admin/prompts/reply", None),
        ("GET", "/admin/prompts/reply/diff?from=1&to=1", None),
        ("POST", "/admin/prompts/reply/labels/staging", {"version": 1}),
        ("POST", "/admin/prompts/reply/versions/1/gate-results",
         {"passed": True, "gate": "g", "run_id": "r"}),
    ]:
        response = admin(gw, method, path, keys["globex_admin"], json=body)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["code"] == "prompt_not_found"
    into_other = admin(gw, "POST", "/admin/prompts", keys["globex_admin"],
                       json={"id": "sneaky", "app": SUPPORT, "template": "x"})
    assert into_other.status_code == 404
    assert "reply" in {p["id"] for p in
                       admin(gw, "GET", "/admin/prompts", keys["acme_admin"]).json()["data"]}
    caller = admin(gw, "GET", "/admin/prompts", keys["support"])
    assert caller.status_code == 403


def test_bad_pushes_name_the_field(world: tuple[RunningGateway, Recorder, dict[str, str]]) -> None:
    gw, _, _ = world
    for body, param in [
        ({**reply_prompt("x"), "model": "gpt-9"}, "model"),
        ({**reply_prompt("x"), "messages": [{"role": "user", "content": "{{ who }}"}]},
         "messages[0].content"),
        ({"app": SUPPORT, "template": "x"}, "id"),
        ({**reply_prompt("x"), "variables": [{"name": "customer", "type": ["string"]}]},
         "variables[0].type"),  # was a TypeError: 500
    ]:
        response = admin(gw, "POST", "/admin/prompts", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "prompt_invalid"
        assert response.json()["error"]["param"] == param
    admin(gw, "POST", "/admin/prompts", json=reply_prompt("Be brief.")).raise_for_status()
    both = admin(gw, "GET", "/admin/prompts/reply", params={"version": 1, "label": "qa"})
    assert (both.status_code, both.json()["error"]["param"]) == (400, "label")


def test_streams_and_caller_models_work_with_prompts(
        world: tuple[RunningGateway, Recorder, dict[str, str]]) -> None:
    gw, recorder, keys = world
    admin(gw, "POST", "/admin/prompts", json=reply_prompt("Be brief.")).raise_for_status()
    admin(gw, "POST", "/admin/prompts/reply/labels/qa", json={"version": 1})
    with httpx.stream("POST", f"{gw.url}/v1/chat/completions", timeout=15,
                      headers={"authorization": f"Bearer {keys['support']}"},
                      json={"prompt": {"id": "reply", "label": "qa",
                                       "variables": {"customer": "Stream"}},
                            "model": "other", "stream": True}) as response:
        assert response.status_code == 200
        text = "".join(response.iter_text())
        request_id = response.headers["x-pavedroad-request-id"]
    assert text.rstrip().endswith("data: [DONE]")
    assert recorder.last["stream"] is True
    assert recorder.last["messages"][0]["content"] == "Be brief. Customer: Stream."
    row = wait_for_rows(gw.url, [request_id])[request_id]
    assert (row["model"], row["prompt_id"], row["prompt_version"], row["stream"]) == \
        ("other", "reply", 1, True)
