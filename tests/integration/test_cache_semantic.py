"""The semantic cache with the simulator's embeddings (identical text, identical vector;
different text, nearly orthogonal): the asked text is compared after whitespace and case
are normalised, so a re-typed question matches and a different one never does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import STANDARD
from tests.support.servers import RunningGateway, Sim, start_gateway

pytestmark = pytest.mark.timeout(30)

CONFIG = STANDARD + """
cache:
  enabled: true
  semantic: {embedding_model: embed, threshold: 0.95}
"""
SEMANTIC = {"cache": {"semantic": True}}


@pytest.fixture(scope="module")
def gw(sim_session: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = start_gateway(CONFIG.replace("{sim}", sim_session.url),
                            tmp_path_factory.mktemp("cache-semantic"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def keys(gw: RunningGateway) -> dict[str, str]:
    out = {}
    for path in ("acme/core/search", "acme/core/support", "globex/core/search"):
        gw.ensure_app(path, settings=SEMANTIC)
        out[path] = gw.create_key(app=path)
    gw.ensure_app("acme/core/exact-only")
    out["acme/core/exact-only"] = gw.create_key(app="acme/core/exact-only")
    return out


def post(gw: RunningGateway, key: str, messages: list[dict[str, str]]) -> httpx.Response:
    response = httpx.post(f"{gw.url}/v1/chat/completions", timeout=10,
                          json={"model": "gpt", "messages": messages},
                          headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response


def chat_calls(sim: Sim) -> int:
    return int(sim.stats()["by_model"].get("up-gpt", 0))


def content(response: httpx.Response) -> Any:
    return response.json()["choices"][0]["message"]["content"]


def test_the_same_question_retyped_is_a_semantic_hit_and_another_question_is_not(
    gw: RunningGateway, keys: dict[str, str], sim: Sim
) -> None:
    key = keys["acme/core/search"]
    tag = uuid.uuid4().hex[:8]
    first = post(gw, key, [{"role": "user", "content": f"What is the capital of France {tag}?"}])
    assert first.headers["x-pavedroad-cache"] == "miss"
    retyped = post(gw, key, [{"role": "user",
                              "content": f"  what is the CAPITAL of\nfrance {tag}? "}])
    assert retyped.headers["x-pavedroad-cache"] == "hit"
    assert retyped.headers["x-pavedroad-cache-kind"] == "semantic"
    assert float(retyped.headers["x-pavedroad-cache-similarity"]) >= 0.95
    assert content(retyped) == content(first)
    assert chat_calls(sim) == 1
    other = post(gw, key, [{"role": "user", "content": f"What is the capital of Spain {tag}?"}])
    assert other.headers["x-pavedroad-cache"] == "miss"
    assert "Spain" in content(other)
    assert chat_calls(sim) == 2


def test_a_different_context_never_matches(
    gw: RunningGateway, keys: dict[str, str], sim: Sim
) -> None:
    key = keys["acme/core/search"]
    question = f"Summarise the policy {uuid.uuid4().hex[:8]}"
    post(gw, key, [{"role": "system", "content": "You are a lawyer."},
                   {"role": "user", "content": question}])
    for messages in (
        [{"role": "system", "content": "You are a pirate."}, {"role": "user", "content": question}],
        [{"role": "user", "content": question}],
        [{"role": "user", "content": "earlier turn"}, {"role": "assistant", "content": "ok"},
         {"role": "system", "content": "You are a lawyer."}, {"role": "user", "content": question}],
    ):
        assert post(gw, key, messages).headers["x-pavedroad-cache"] == "miss"
    assert chat_calls(sim) == 4


def test_semantic_entries_are_never_shared_across_tenants_or_apps(
    gw: RunningGateway, keys: dict[str, str], sim: Sim
) -> None:
    tag = uuid.uuid4().hex[:8]
    original = [{"role": "user", "content": f"How do I reset my password {tag}?"}]
    retyped = [{"role": "user", "content": f"how do i reset my PASSWORD {tag}?"}]
    post(gw, keys["acme/core/search"], original)
    assert post(gw, keys["acme/core/search"], retyped).headers["x-pavedroad-cache"] == "hit"
    for path in ("globex/core/search", "acme/core/support", "acme/core/exact-only"):
        response = post(gw, keys[path], retyped)
        assert response.headers["x-pavedroad-cache"] == "miss", path
    assert chat_calls(sim) == 4
    # An app without the semantic cache still has its exact cache.
    again = post(gw, keys["acme/core/exact-only"], retyped)
    assert again.headers["x-pavedroad-cache-kind"] == "exact"


def test_a_failing_embedding_model_degrades_to_the_exact_cache(
    gw: RunningGateway, keys: dict[str, str], sim: Sim
) -> None:
    key = keys["acme/core/support"]
    messages = [{"role": "user", "content": f"embeddings are down {uuid.uuid4().hex[:8]}"}]
    sim.fault("up-embed", status=400)
    assert post(gw, key, messages).headers["x-pavedroad-cache"] == "miss"
    assert post(gw, key, messages).headers["x-pavedroad-cache-kind"] == "exact"
    assert chat_calls(sim) == 1
