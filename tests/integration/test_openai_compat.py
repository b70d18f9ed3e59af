"""The OpenAI Chat Completions surface, driven by the official `openai` SDK.

One gateway serves the whole module (requests here do not change its state); the
simulator answers deterministically, so replies, tool calls and usage are exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from tests.integration.conftest import STANDARD
from tests.support.servers import MASTER_KEY, RunningGateway, Sim, start_gateway

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
            },
            "required": ["city", "unit"],
        },
    },
}
CLOCK = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current time in a timezone",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}
WEATHER_ARGS = {"city": "example", "unit": "celsius"}
CLOCK_ARGS = {"timezone": "example"}


@pytest.fixture(scope="module")
def gw(sim_session: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = start_gateway(STANDARD.replace("{sim}", sim_session.url),
                            tmp_path_factory.mktemp("openai-compat"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(gw: RunningGateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY, max_retries=0) as sdk:
        yield sdk


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


# --- plain completions ----------------------------------------------------------------


def test_non_streaming_completion(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt", messages=user("hello there"))
    completion = raw.parse()
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Simulated reply from up-gpt: hello there"
    assert choice.finish_reason == "stop"
    assert completion.object == "chat.completion"
    assert completion.usage is not None
    # "hello there" is 2 tokens; the reply is 9 (Simulated reply from up - gpt : hello there)
    assert completion.usage.prompt_tokens == 2
    assert completion.usage.completion_tokens == 9
    assert completion.usage.total_tokens == 11
    assert raw.headers["x-pavedroad-route"] == "sim-openai:ok"
    assert raw.headers["x-pavedroad-request-id"].startswith("req_")


async def test_async_completion(gw: RunningGateway) -> None:
    async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY,
                                  max_retries=0) as sdk:
        completion = await sdk.chat.completions.create(model="gpt", messages=user("async hi"))
    assert completion.choices[0].message.content == "Simulated reply from up-gpt: async hi"


def test_streaming_with_usage_ends_with_a_usage_chunk(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt", messages=user("stream this please"), stream=True,
        stream_options={"include_usage": True})
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.headers["x-pavedroad-request-id"].startswith("req_")
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Simulated reply from up-gpt: stream this please"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) > 3, "the reply should arrive in several deltas"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == 3
    assert last.usage.completion_tokens == 10
    assert last.usage.total_tokens == 13
    assert all(c.usage is None for c in chunks[:-1])


def test_streaming_without_usage_option_sends_no_usage(client: openai.OpenAI) -> None:
    # The gateway always asks the upstream for usage (for metering) and must strip it
    # again when the caller did not ask for it.
    chunks = list(client.chat.completions.create(model="gpt", messages=user("no usage"),
                                                 stream=True))
    assert chunks, "the stream must not be empty"
    assert all(c.choices for c in chunks)
    assert all(getattr(c, "usage", None) is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == \
        "Simulated reply from up-gpt: no usage"


async def test_async_streaming(gw: RunningGateway) -> None:
    async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY,
                                  max_retries=0) as sdk:
        stream = await sdk.chat.completions.create(model="gpt", messages=user("async stream"),
                                                   stream=True)
        parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert "".join(parts) == "Simulated reply from up-gpt: async stream"


# --- tools ------------------------------------------------------------------------------


def _calls(completion: Any) -> list[tuple[str, dict[str, Any]]]:
    calls = completion.choices[0].message.tool_calls or []
    return [(c.function.name, json.loads(c.function.arguments)) for c in calls]


def test_tool_choice_auto_picks_the_mentioned_tool(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt", messages=user("what is get_time in Tokyo?"), tools=[WEATHER, CLOCK],
        tool_choice="auto")
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.choices[0].message.content is None
    assert _calls(completion) == [("get_time", CLOCK_ARGS)]
    assert completion.choices[0].message.tool_calls[0].id.startswith("call_")


def test_tool_choice_required_calls_a_tool(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt", messages=user("anything at all"), tools=[WEATHER, CLOCK],
        tool_choice="required")
    assert completion.choices[0].finish_reason == "tool_calls"
    assert _calls(completion) == [("get_weather", WEATHER_ARGS)]


def test_tool_choice_named_overrides_the_prompt(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt", messages=user("please use get_weather"), tools=[WEATHER, CLOCK],
        tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert _calls(completion) == [("get_time", CLOCK_ARGS)]


def test_tool_choice_none_answers_in_text(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt", messages=user("use get_weather"), tools=[WEATHER], tool_choice="none")
    assert completion.choices[0].message.tool_calls is None
    assert completion.choices[0].message.content == "Simulated reply from up-gpt: use get_weather"


def test_parallel_tool_calls(client: openai.OpenAI) -> None:
    prompt = user("call get_weather and get_time for Paris")
    both = client.chat.completions.create(model="gpt", messages=prompt, tools=[WEATHER, CLOCK])
    assert _calls(both) == [("get_weather", WEATHER_ARGS), ("get_time", CLOCK_ARGS)]
    ids = [c.id for c in both.choices[0].message.tool_calls]
    assert len(set(ids)) == 2
    one = client.chat.completions.create(model="gpt", messages=prompt, tools=[WEATHER, CLOCK],
                                         parallel_tool_calls=False)
    assert _calls(one) == [("get_weather", WEATHER_ARGS)]


def test_streamed_tool_calls_assemble(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt", messages=user("get_weather and get_time now"), tools=[WEATHER, CLOCK],
        stream=True)
    names: dict[int, str] = {}
    args: dict[int, str] = {}
    pieces = 0
    finish = None
    for chunk in stream:
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for call in choice.delta.tool_calls or []:
            if call.function and call.function.name:
                names[call.index] = call.function.name
            if call.function and call.function.arguments:
                args[call.index] = args.get(call.index, "") + call.function.arguments
                pieces += 1
    assert finish == "tool_calls"
    assert names == {0: "get_weather", 1: "get_time"}
    assert json.loads(args[0]) == WEATHER_ARGS
    assert json.loads(args[1]) == CLOCK_ARGS
    assert pieces > 2, "arguments should stream in fragments"


def test_tool_round_trip(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(model="gpt", messages=user("get_weather in Oslo"),
                                           tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    messages: list[Any] = [
        *user("get_weather in Oslo"),
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call.id, "type": "function",
             "function": {"name": call.function.name, "arguments": call.function.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 degrees"},
    ]
    second = client.chat.completions.create(model="gpt", messages=messages, tools=[WEATHER])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.tool_calls is None
    assert second.choices[0].message.content == "Tool results received: sunny, 21 degrees"


# --- response formats and sampling parameters ------------------------------------------


def test_response_format_json_object(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt", messages=user("give me json"), response_format={"type": "json_object"})
    data = json.loads(completion.choices[0].message.content or "")
    assert data == {"reply": "Simulated reply from up-gpt: give me json"}


PERSON_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "nickname": {"type": "string"},
    },
    "required": ["name", "age", "tags", "address"],
    "additionalProperties": False,
}

_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list,
    "object": dict,
}


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    """A small JSON Schema check: type, required, additionalProperties, items."""
    if not isinstance(value, _TYPES[schema["type"]]):
        return False
    if schema["type"] == "object":
        props = schema.get("properties", {})
        if any(name not in value for name in schema.get("required", [])):
            return False
        if schema.get("additionalProperties") is False and set(value) - set(props):
            return False
        return all(_fits(v, props[k]) for k, v in value.items() if k in props)
    if schema["type"] == "array":
        return all(_fits(v, schema["items"]) for v in value)
    return True


def test_response_format_json_schema(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt", messages=user("a person please"),
        response_format={"type": "json_schema",
                         "json_schema": {"name": "person", "schema": PERSON_SCHEMA}})
    data = json.loads(completion.choices[0].message.content or "")
    assert _fits(data, PERSON_SCHEMA)
    assert set(data) == {"name", "age", "tags", "address"}
    assert not _fits({"name": "x"}, PERSON_SCHEMA)  # the checker itself can say no


class City(BaseModel):
    name: str
    population: int
    coastal: bool


def test_structured_output_parses_into_a_model(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(
        model="gpt", messages=user("describe a city"), response_format=City)
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, City)
    assert parsed.population == 1
    assert parsed.coastal is True


def test_stop_sequence_cuts_the_reply(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt", messages=user("hi"),
                                                stop=["from"])
    assert completion.choices[0].message.content == "Simulated reply "
    assert completion.choices[0].finish_reason == "stop"


def test_max_tokens_truncates_with_length(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt", messages=user("hi"),
                                                max_tokens=3)
    assert completion.choices[0].message.content == "Simulated reply from"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 3


def test_n_returns_several_choices(client: openai.OpenAI) -> None:
    single = client.chat.completions.create(model="gpt", messages=user("twice"))
    double = client.chat.completions.create(model="gpt", messages=user("twice"), n=2)
    assert [c.index for c in double.choices] == [0, 1]
    assert all(c.message.content == "Simulated reply from up-gpt: twice"
               for c in double.choices)
    assert single.usage is not None and double.usage is not None
    assert double.usage.completion_tokens == 2 * single.usage.completion_tokens


def test_seed_and_sampling_parameters_are_accepted(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt", messages=user("seeded"), seed=42, temperature=0.2, top_p=0.9, user="u-1",
        max_completion_tokens=50)
    assert completion.choices[0].message.content == "Simulated reply from up-gpt: seeded"


def test_provider_specific_field_passes_through(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt", messages=user("top k"), extra_body={"top_k": 3, "repetition_penalty": 1.1})
    assert completion.choices[0].message.content == "Simulated reply from up-gpt: top k"


def test_legacy_path_without_v1(gw: RunningGateway) -> None:
    with openai.OpenAI(base_url=gw.url, api_key=MASTER_KEY, max_retries=0) as sdk:
        completion = sdk.chat.completions.create(model="gpt", messages=user("no prefix"))
    assert completion.choices[0].message.content == "Simulated reply from up-gpt: no prefix"


# --- embeddings and models -------------------------------------------------------------


def test_embeddings(client: openai.OpenAI) -> None:
    raw = client.embeddings.with_raw_response.create(model="embed", input=["a", "b"])
    result = raw.parse()
    assert raw.headers["x-pavedroad-route"] == "sim-embed:ok"
    assert [d.index for d in result.data] == [0, 1]
    first, second = (d.embedding for d in result.data)
    assert len(first) == len(second) == 16
    assert first != second
    assert sum(v * v for v in first) == pytest.approx(1.0, rel=1e-4)
    again = client.embeddings.create(model="embed", input="a", encoding_format="float")
    assert again.data[0].embedding == pytest.approx(first)
    assert result.usage.prompt_tokens == 2


def test_embeddings_token_arrays(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="embed", input=[[1, 2, 3], [4, 5]],
                                      dimensions=8, encoding_format="float")
    assert [len(d.embedding) for d in result.data] == [8, 8]
    assert result.usage.prompt_tokens == 5


async def test_async_embeddings(gw: RunningGateway) -> None:
    async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY,
                                  max_retries=0) as sdk:
        result = await sdk.embeddings.create(model="embed", input="one")
    assert len(result.data) == 1 and len(result.data[0].embedding) == 16


def test_models_list(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert sorted(m.id for m in models) == ["claude", "embed", "gpt"]
    assert all(m.object == "model" and m.owned_by == "pavedroad" for m in models)


async def test_concurrent_mixed_requests(gw: RunningGateway) -> None:
    """Many requests at once over the shared upstream transport: no cross-talk."""
    import asyncio

    async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY,
                                  max_retries=0) as sdk:

        async def plain(i: int, model: str) -> str:
            done = await sdk.chat.completions.create(model=model, messages=user(f"n{i}"))
            return done.choices[0].message.content or ""

        async def streamed(i: int, model: str) -> str:
            stream = await sdk.chat.completions.create(model=model, messages=user(f"s{i}"),
                                                       stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in stream
                            if c.choices])

        jobs = [(plain if i % 2 else streamed)(i, "gpt" if i % 3 else "claude")
                for i in range(24)]
        answers = await asyncio.gather(*jobs)
    for i, answer in enumerate(answers):
        upstream = "up-gpt" if i % 3 else "up-claude"
        assert answer == f"Simulated reply from {upstream}: {'n' if i % 2 else 's'}{i}"


def test_unicode_survives_the_round_trip(client: openai.OpenAI) -> None:
    text = "héllo wörld ☃ — 日本語 \"quoted\" \\ back"
    for model, upstream in (("gpt", "up-gpt"), ("claude", "up-claude")):
        completion = client.chat.completions.create(model=model, messages=user(text))
        assert completion.choices[0].message.content == f"Simulated reply from {upstream}: {text}"
        streamed = "".join(c.choices[0].delta.content or "" for c in
                           client.chat.completions.create(model=model, messages=user(text),
                                                          stream=True) if c.choices)
        assert streamed == f"Simulated reply from {upstream}: {text}"
