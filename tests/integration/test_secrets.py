"""Upstream credentials: resolved from the environment, sent upstream, never shown back.

The deployment's key is `env:SIM_UPSTREAM_KEY`; the simulator records the headers it
received, which proves the real value went upstream. When the upstream refuses it, no
error body, header, metric, admin view or log line may contain it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import anthropic
import httpx
import openai
import pytest

from pavedroad.config.loader import ConfigError
from tests.support.servers import MASTER_KEY, RunningGateway, Sim, start_sim

SECRET = "sk-very-secret-value"
FRAGMENTS = (SECRET, "very-secret", "secret-value")
ENV = {"SIM_UPSTREAM_KEY": SECRET}

CONFIG = """
store: {url: "{db}"}
deployments:
  - name: keyed-openai
    provider: openai_compatible
    model: up-keyed
    api_base: {sim}/v1
    api_key: env:SIM_UPSTREAM_KEY
    retries: {attempts: 0}
    breaker: {enabled: false}
  - name: keyed-anthropic
    provider: anthropic
    model: up-keyed-claude
    api_base: {sim}
    api_key: env:SIM_UPSTREAM_KEY
    retries: {attempts: 0}
    breaker: {enabled: false}
models:
  - name: gpt
    route: keyed-openai
  - name: claude
    route: keyed-anthropic
  - name: embed
    kind: embedding
    route: keyed-openai
"""

HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture
def strict_sim() -> Iterator[Sim]:
    """A simulator that accepts only the key `other`, so ours is refused."""
    sim = start_sim(require_key="other")
    yield sim
    sim.server.stop()


def assert_clean(text: str, where: str) -> None:
    for fragment in FRAGMENTS:
        assert fragment not in text, f"the upstream key leaked into {where}"


def test_secret_from_env_reaches_the_upstream(
    sim: Sim, gateway_factory: Callable[..., RunningGateway]
) -> None:
    gw = gateway_factory(CONFIG.replace("{sim}", sim.url), env=ENV)
    with openai.OpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY, max_retries=0) as sdk:
        completion = sdk.chat.completions.create(model="gpt", messages=HELLO)
        assert completion.choices[0].message.content == "Simulated reply from up-keyed: hi"
        headers = sim.stats()["last_headers"]
        assert headers["authorization"] == f"Bearer {SECRET}"
        # the caller's own key is not forwarded upstream
        assert MASTER_KEY not in str(headers)

        sdk.chat.completions.create(model="claude", messages=HELLO)
        headers = sim.stats()["last_headers"]
        assert headers["x-api-key"] == SECRET
        assert "authorization" not in headers
        assert headers["anthropic-version"]


def test_missing_secret_fails_at_start_naming_the_variable(
    sim: Sim, gateway_factory: Callable[..., RunningGateway]
) -> None:
    with pytest.raises(ConfigError) as caught:
        gateway_factory(CONFIG.replace("{sim}", sim.url), env={})
    assert "SIM_UPSTREAM_KEY" in str(caught.value)
    assert "deployments[0].api_key" in str(caught.value)


def test_refused_secret_never_leaks(
    strict_sim: Sim, gateway_factory: Callable[..., RunningGateway],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    gw = gateway_factory(CONFIG.replace("{sim}", strict_sim.url), env=ENV)
    seen: list[str] = []

    def record(response: httpx.Response) -> None:
        seen.append(response.text)
        seen.append(repr(dict(response.headers)))

    with gw.client() as client:
        chat = client.post("/v1/chat/completions", json={"model": "gpt", "messages": HELLO})
        assert chat.status_code == 502
        error = chat.json()["error"]
        assert error["code"] == "upstream_auth_error"
        assert "keyed-openai" in error["message"]
        record(chat)

        stream = client.post("/v1/chat/completions",
                             json={"model": "gpt", "messages": HELLO, "stream": True})
        assert stream.status_code == 502
        assert stream.json()["error"]["code"] == "upstream_auth_error"
        record(stream)

        embed = client.post("/v1/embeddings", json={"model": "embed", "input": "x"})
        assert embed.status_code == 502
        record(embed)

        messages = client.post("/v1/messages", json={"model": "claude", "max_tokens": 10,
                                                      "messages": HELLO})
        assert messages.status_code == 502
        assert messages.json()["type"] == "error"
        record(messages)

        streamed_messages = client.post("/v1/messages", json={
            "model": "claude", "max_tokens": 10, "messages": HELLO, "stream": True})
        assert streamed_messages.status_code == 502
        record(streamed_messages)

        for path in ("/metrics", "/admin/deployments", "/admin/keys", "/admin/switches",
                     "/v1/models", "/readyz"):
            response = client.get(path)
            assert response.status_code == 200, path
            record(response)
        metrics = client.get("/metrics").text

    # the gateway did send the secret: the upstream saw it and refused it
    assert strict_sim.stats()["last_headers"]["x-api-key"] == SECRET
    # /metrics did count the failures (so it was worth checking)
    assert 'code="upstream_auth_error",deployment="keyed-openai"' in metrics or \
        'deployment="keyed-openai",code="upstream_auth_error"' in metrics

    with (
        anthropic.Anthropic(base_url=gw.url, api_key=MASTER_KEY, max_retries=0) as ant,
        pytest.raises(anthropic.APIStatusError) as caught,
    ):
        ant.messages.create(model="gpt", max_tokens=10, messages=HELLO)
    assert caught.value.status_code == 502
    seen.append(str(caught.value))
    seen.append(repr(caught.value.body))

    with (
        openai.OpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY, max_retries=0) as sdk,
        pytest.raises(openai.APIStatusError) as refused,
    ):
        sdk.chat.completions.create(model="claude", messages=HELLO)
    assert refused.value.code == "upstream_auth_error"
    seen.append(str(refused.value))

    for i, text in enumerate(seen):
        assert_clean(text, f"response #{i}")
    assert_clean(caplog.text, "the logs")
    assert_clean(repr(gw.gateway.settings), "the settings repr")
