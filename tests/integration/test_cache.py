"""The exact-match response cache, end to end with the simulator and the official SDKs.

One gateway serves the module; every test asks its own questions (a random suffix), so
entries left by one test never answer another's. "Reached the upstream" is read from the
simulator's request counter.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.integration.conftest import STANDARD
from tests.support.servers import MASTER_KEY, RunningGateway, Sim, start_gateway

pytestmark = pytest.mark.timeout(30)

CONFIG = STANDARD + """
cache:
  enabled: true
  default_ttl_seconds: 600
"""
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}


@pytest.fixture(scope="module")
def gw(sim_session: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = start_gateway(CONFIG.replace("{sim}", sim_session.url),
                            tmp_path_factory.mktemp("cache"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def keys(gw: RunningGateway) -> dict[str, str]:
    """Keys of three apps: two of tenant acme, one of tenant globex (same app names)."""
    out = {}
    for path in ("acme/core/search", "acme/core/support", "globex/core/search"):
        gw.ensure_app(path)
        out[path] = gw.create_key(app=path)
    gw.ensure_app("acme/core/nocache", settings={"cache": {"enabled": False}})
    out["acme/core/nocache"] = gw.create_key(app="acme/core/nocache")
    return out


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{text} {uuid.uuid4().hex[:10]}"}]


def post(gw: RunningGateway, key: str, body: dict[str, Any],
         headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{gw.url}/v1/chat/completions", json=body, timeout=10,
                      headers={"authorization": f"Bearer {key}", **(headers or {})})


def sse(gw: RunningGateway, key: str, body: dict[str, Any]) -> tuple[httpx.Headers, list[str]]:
    with httpx.stream("POST", f"{gw.url}/v1/chat/completions", json=body, timeout=10,
                      headers={"authorization": f"Bearer {key}"}) as response:
        assert response.status_code == 200
        lines = [line[5:].strip() for line in response.iter_lines() if line.startswith("data:")]
        return response.headers, lines


def upstream(sim: Sim) -> int:
    return int(sim.stats()["requests"])


def oai(gw: RunningGateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0)


def test_a_repeated_request_is_answered_from_the_cache(
    gw: RunningGateway, keys: dict[str, str], sim: Sim
) -> None:
    client = oai(gw, keys["acme/core/search"])
    messages = ask("what is a cache")
    live = client.chat.completions.with_raw_response.create(model="gpt", messages=messages)
    assert live.headers["x-pavedroad-cache"] == "miss"
    assert upstream(sim) == 1
    again = client.chat.completions.with_raw_response.create(model="gpt", messages=messages)
    assert again.headers["x-pavedroad-cache"] == "hit"
    assert again.headers["x-pavedroad-cache-kind"] == "exact"
    assert int(again.headers["x-pavedroad-cache-age"]) >= 0
    assert upstream(sim) == 1  # the simulator was not asked again
    first, second = live.parse(), again.parse()
    assert second.choices[0].message.content == first.choices[0].message.content
    assert second.id == first.id and second.usage == first.usage
    # Fields that cannot change the answer do not split the cache.
    varied = post(gw, keys["acme/core/search"], {
        "model": "gpt", "messages": messages, "user": "someone", "metadata": {"a": "b"},
        "n": 1})
    assert varied.headers["x-pavedroad-cache"] == "hit"
    # Fields that can, do.
    colder = post(gw, keys["acme/core/search"],
                  {"model": "gpt", "messages": messages, "temperature": 0})
    assert colder.headers["x-pavedroad-cache"] == "miss"
    assert upstream(sim) == 2


def test_a_streamed_answer_is_replayed_as_a_stream_the_sdk_reads_alike(
    gw: RunningGateway, keys: dict[str, str], sim: Sim
) -> None:
    client = oai(gw, keys["acme/core/search"])
    messages = ask("tell me about streams and how they flow through a gateway")

    def streamed() -> tuple[str, str, list[Any]]:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt", messages=messages, stream=True)
        chunks = list(raw.parse())
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return raw.headers["x-pavedroad-cache"], text, chunks

    status, live_text, live_chunks = streamed()
    assert status == "miss" and live_text
    assert upstream(sim) == 1
    status, replay_text, replay_chunks = streamed()
    assert (status, replay_text) == ("hit", live_text)
    assert upstream(sim) == 1
    assert replay_chunks[0].choices[0].delta.role == "assistant"
    assert replay_chunks[-1].choices[0].finish_reason == "stop"
    assert {c.id for c in replay_chunks} == {live_chunks[0].id}
    # The same question asked without streaming is the same entry.
    whole = client.chat.completions.with_raw_response.create(model="gpt", messages=messages)
    assert whole.headers["x-pavedroad-cache"] == "hit"
    assert whole.parse().choices[0].message.content == live_text
    assert upstream(sim) == 1


def test_replayed_streams_carry_usage_only_when_asked(
    gw: RunningGateway, keys: dict[str, str], sim: Sim
) -> None:
    key = keys["acme/core/search"]
    body = {"model": "gpt", "messages": ask("usage please"), "stream": True,
            "stream_options": {"include_usage": True}}
    _, live = sse(gw, key, body)
    headers, replay = sse(gw, key, body)
    assert headers["x-pavedroad-cache"] == "hit"
    assert replay[-1] == live[-1] == "[DONE]"
    live_usage, replay_usage = json.loads(live[-2]), json.loads(replay[-2])
    assert replay_usage["choices"] == [] and replay_usage["usage"] == live_usage["usage"]
    assert replay_usage["usage"]["completion_tokens"] > 0
    headers, bare = sse(gw, key, {**body, "stream_options": None})
    assert headers["x-pavedroad-cache"] == "hit"
    assert bare[-1] == "[DONE]"
    assert not any(json.loads(d).get("usage") for d in bare[:-1])
    assert upstream(sim) == 1


def test_streamed_tool_calls_replay_to_the_same_final_completion(
    gw: RunningGateway, keys: dict[str, str], sim: Sim
) -> None:
    client = oai(gw, keys["acme/core/search"])
    messages = ask("get_weather for Paris")

    def final() -> Any:
        with client.chat.completions.stream(model="gpt", messages=messages,  # type: ignore[arg-type]
                                            tools=[WEATHER]) as stream:  # type: ignore[list-item]
            return stream.get_final_completion()

    live = final()
    replay = final()
    assert upstream(sim) == 1
    live_call, replay_call = (c.choices[0].message.tool_calls[0] for c in (live, replay))
    assert replay_call.id == live_call.id and replay_call.function == live_call.function
    assert json.loads(replay_call.function.arguments) == {"city": "example"}
    assert replay.choices[0].finish_reason == live.choices[0].finish_reason == "tool_calls"
    whole = post(gw, keys["acme/core/search"],
                 {"model": "gpt", "messages": messages, "tools": [WEATHER]})
    assert whole.headers["x-pavedroad-cache"] == "hit"
    assert whole.json()["choices"][0]["message"]["tool_calls"][0]["id"] == live_call.id


def test_the_anthropic_sdk_gets_hits_whole_and_streamed(
    gw: RunningGateway, keys: dict[str, str], sim: Sim
) -> None:
    client = anthropic.Anthropic(base_url=gw.url, api_key=keys["acme/core/search"],
                                 max_retries=0)
    messages: Any = ask("hello from anthropic")
    live = client.messages.with_raw_response.create(model="claude", max_tokens=200,
                                                    messages=messages)
    assert live.headers["x-pavedroad-cache"] == "miss"
    again = client.messages.with_raw_response.create(model="claude", max_tokens=200,
                                                     messages=messages)
    assert again.headers["x-pavedroad-cache"] == "hit"
    assert again.parse().content == live.parse().content
    with client.messages.stream(model="claude", max_tokens=200, messages=messages) as stream:
        streamed = stream.get_final_message()
    assert [b.text for b in streamed.content] == [b.text for b in live.parse().content]  # type: ignore[union-attr]
    assert streamed.stop_reason == "end_turn"
    assert streamed.usage.output_tokens == live.parse().usage.output_tokens
    assert upstream(sim) == 1


def test_no_store_no_cache_and_ttl_headers(
    gw: RunningGateway, keys: dict[str, str], sim: Sim
) -> None:
    key = keys["acme/core/search"]
    body = {"model": "gpt", "messages": ask("controls")}
    for _ in range(2):  # no-store: neither read nor written
        response = post(gw, key, body, {"cache-control": "no-store"})
        assert response.headers["x-pavedroad-cache"] == "bypass"
    assert upstream(sim) == 2
    assert post(gw, key, body).headers["x-pavedroad-cache"] == "miss"  # nothing was stored
    assert post(gw, key, body).headers["x-pavedroad-cache"] == "hit"
    assert upstream(sim) == 3
    refreshed = post(gw, key, body, {"cache-control": "no-cache"})  # not read, written
    assert refreshed.headers["x-pavedroad-cache"] == "miss"
    assert upstream(sim) == 4
    assert post(gw, key, body).json()["id"] == refreshed.json()["id"]  # the new answer
    assert upstream(sim) == 4

    short = {"model": "gpt", "messages": ask("short-lived")}
    assert post(gw, key, short, {"x-pavedroad-cache-ttl": "0.4"}).headers[
        "x-pavedroad-cache"] == "miss"
    assert post(gw, key, short).headers["x-pavedroad-cache"] == "hit"
    time.sleep(0.5)
    assert post(gw, key, short).headers["x-pavedroad-cache"] == "miss"  # expired
    assert upstream(sim) == 6
    bad = post(gw, key, short, {"x-pavedroad-cache-ttl": "soon"})
    assert bad.status_code == 400 and "x-pavedroad-cache-ttl" in bad.json()["error"]["message"]


def test_failed_broken_abandoned_and_truncated_answers_are_not_cached(
    gw: RunningGateway, keys: dict[str, str], sim: Sim
) -> None:
    key = keys["acme/core/search"]
    failing = {"model": "gpt", "messages": ask("fails")}
    sim.fault("up-gpt", status=500, times=2)  # the first try and its one retry
    assert post(gw, key, failing).status_code >= 500
    assert post(gw, key, failing).headers["x-pavedroad-cache"] == "miss"

    broken = {"model": "gpt", "messages": ask("breaks mid-way, after a few words"),
              "stream": True}
    sim.fault("up-gpt", reset_after_chunks=2, times=1)
    _, datas = sse(gw, key, broken)
    assert "error" in json.loads(datas[-1])  # the stream ended in an error event
    headers, datas = sse(gw, key, broken)
    assert headers["x-pavedroad-cache"] == "miss" and datas[-1] == "[DONE]"

    # Every chunk arrived, finish and usage included, but not the terminal [DONE]: the
    # answer looks complete and still is not trusted.
    unterminated = {"model": "gpt", "messages": ask("all but the last event"), "stream": True}
    sim.fault("up-gpt", truncate_after_chunks=10_000, times=1)
    _, datas = sse(gw, key, unterminated)
    assert "error" in json.loads(datas[-1])
    assert any(json.loads(d)["choices"][0]["finish_reason"] == "stop" for d in datas[:-1])
    assert sse(gw, key, unterminated)[0]["x-pavedroad-cache"] == "miss"

    abandoned = {"model": "gpt", "messages": ask("a slow answer the caller walks away from"),
                 "stream": True}
    sim.fault("up-gpt", chunk_delay_ms=40, times=1)
    with httpx.stream("POST", f"{gw.url}/v1/chat/completions", json=abandoned, timeout=10,
                      headers={"authorization": f"Bearer {key}"}) as response:
        next(response.iter_lines())  # read the first event, then hang up
    time.sleep(0.2)
    headers, _ = sse(gw, key, abandoned)
    assert headers["x-pavedroad-cache"] == "miss"

    truncated = {"model": "gpt", "messages": ask("a long answer cut short by max tokens"),
                 "max_tokens": 2}
    assert post(gw, key, truncated).json()["choices"][0]["finish_reason"] == "length"
    assert post(gw, key, truncated).headers["x-pavedroad-cache"] == "miss"
    before = upstream(sim)
    assert post(gw, key, broken | {"stream": False}).headers["x-pavedroad-cache"] == "hit"
    assert upstream(sim) == before


def test_a_tenants_entry_is_never_served_to_another_tenant_or_app(
    gw: RunningGateway, keys: dict[str, str], sim: Sim
) -> None:
    body = {"model": "gpt", "messages": ask("the same question from everyone")}
    a = post(gw, keys["acme/core/search"], body)
    assert a.headers["x-pavedroad-cache"] == "miss"
    assert post(gw, keys["acme/core/search"], body).headers["x-pavedroad-cache"] == "hit"
    assert upstream(sim) == 1
    # Tenant globex has an app of the same name; acme's entry is not its entry.
    b = post(gw, keys["globex/core/search"], body)
    assert b.headers["x-pavedroad-cache"] == "miss"
    assert upstream(sim) == 2
    assert b.json()["id"] != a.json()["id"]
    # Another app of the same tenant: not shared either.
    c = post(gw, keys["acme/core/support"], body)
    assert c.headers["x-pavedroad-cache"] == "miss"
    assert upstream(sim) == 3
    # The master key has a scope of its own.
    assert post(gw, MASTER_KEY, body).headers["x-pavedroad-cache"] == "miss"
    for path, response in (("globex/core/search", b), ("acme/core/support", c)):
        again = post(gw, keys[path], body)
        assert again.headers["x-pavedroad-cache"] == "hit"
        assert again.json()["id"] == response.json()["id"]
    assert upstream(sim) == 4


def test_an_app_can_turn_the_cache_off_and_settings_are_checked(
    gw: RunningGateway, keys: dict[str, str], sim: Sim
) -> None:
    body = {"model": "gpt", "messages": ask("not cached here")}
    for _ in range(2):
        response = post(gw, keys["acme/core/nocache"], body)
        assert response.status_code == 200 and "x-pavedroad-cache" not in response.headers
    assert upstream(sim) == 2
    with gw.client() as admin:
        bad = admin.post("/admin/apps", json={"team": "acme/core", "name": "typo",
                                              "settings": {"cache": {"ttl_second": 5}}})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "settings.cache.ttl_second"


def test_a_cached_answer_is_not_served_once_its_deployment_is_switched_off(
    gw: RunningGateway, keys: dict[str, str], sim: Sim
) -> None:
    key = keys["acme/core/search"]
    body = {"model": "gpt", "messages": ask("switch")}
    post(gw, key, body)
    assert post(gw, key, body).headers["x-pavedroad-cache"] == "hit"
    with gw.client() as admin:
        off = {"scope": "deployment", "name": "sim-openai", "disabled": True}
        admin.post("/admin/switches", json=off).raise_for_status()
        try:
            refused = post(gw, key, body)
        finally:
            admin.post("/admin/switches", json={**off, "disabled": False}).raise_for_status()
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "model_disabled"
    assert post(gw, key, body).headers["x-pavedroad-cache"] == "hit"
