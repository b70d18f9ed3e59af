"""Model kinds, the model list under the kill switch, content types, upstream auth failures."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.servers import MASTER_KEY, RunningGateway, Sim, start_sim

CHAT = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}


def test_chat_and_embedding_models_refuse_the_other_endpoint(
    standard_gateway: RunningGateway,
) -> None:
    with standard_gateway.client() as client:
        wrong_chat = client.post("/v1/chat/completions", json={**CHAT, "model": "embed"})
        assert wrong_chat.status_code == 400
        assert wrong_chat.json()["error"]["param"] == "model"
        assert "/v1/embeddings" in wrong_chat.json()["error"]["message"]
        wrong_embed = client.post("/v1/embeddings", json={"model": "gpt", "input": "x"})
        assert wrong_embed.status_code == 400
        assert "kind `embedding`" in wrong_embed.json()["error"]["message"]


def test_models_list_hides_models_with_nothing_left_to_serve_them(
    standard_gateway: RunningGateway,
) -> None:
    with standard_gateway.client() as client:
        before = {m["id"] for m in client.get("/v1/models").json()["data"]}
        assert before == {"gpt", "claude", "embed"}
        client.post("/admin/switches", json={"scope": "deployment", "name": "sim-anthropic",
                                             "disabled": True}).raise_for_status()
        after = {m["id"] for m in client.get("/v1/models").json()["data"]}
        assert after == {"gpt", "embed"}


def test_only_json_content_type_is_accepted(standard_gateway: RunningGateway) -> None:
    with standard_gateway.client() as client:
        ok = client.post("/v1/chat/completions", content=httpx.Request(
            "POST", "/", json=CHAT).content,
            headers={"content-type": "application/json; charset=utf-8"})
        assert ok.status_code == 200
        wrong = client.post("/v1/chat/completions", content=b"{}",
                            headers={"content-type": "application/jsonl"})
        assert wrong.status_code == 415
        assert wrong.json()["error"]["code"] == "unsupported_media_type"


def test_refused_credentials_move_on_without_retrying_the_same_deployment(
    sim: Sim, gateway_factory: Callable[..., RunningGateway]
) -> None:
    locked = start_sim(require_key="the-right-key")
    try:
        gw = gateway_factory(f"""
store: {{url: "{{db}}"}}
deployments:
  - {{name: locked, provider: openai_compatible, model: up-locked, api_base: "{locked.url}/v1",
     api_key: wrong-key, retries: {{attempts: 3, backoff_initial: 0.01}}}}
  - {{name: open, provider: openai_compatible, model: up-open, api_base: "{sim.url}/v1"}}
models:
  - {{name: gpt, route: {{fallback: [locked, open]}}}}
""")
        response = httpx.post(f"{gw.url}/v1/chat/completions", json=CHAT,
                              headers={"authorization": f"Bearer {MASTER_KEY}"})
        assert response.status_code == 200
        assert response.headers["x-pavedroad-route"] == "locked:upstream_auth_error, open:ok"
        assert locked.stats()["requests"] == 1
    finally:
        locked.server.stop()
