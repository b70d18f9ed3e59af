"""The Anthropic Messages surface (`POST /v1/messages`), driven by the official SDK.

Every behaviour is checked against both kinds of deployment: `claude` (an Anthropic
upstream, so Anthropic -> canonical -> Anthropic) and `gpt` (an OpenAI upstream).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from tests.integration.conftest import STANDARD
from tests.support.servers import MASTER_KEY, RunningGateway, Sim, start_gateway

UPSTREAM = {"claude": "up-claude", "gpt": "up-gpt"}
BOTH = pytest.mark.parametrize("model", ["claude", "gpt"])

WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
                       "metric": {"type": "boolean"}},
        "required": ["city", "days", "metric"],
    },
}
CLOCK = {
    "name": "get_time",
    "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}},
                     "required": ["tz"]},
}
WEATHER_INPUT = {"city": "example", "days": 1, "metric": True}
CLOCK_INPUT = {"tz": "example"}


@pytest.fixture(scope="module")
def gw(sim_session: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = start_gateway(STANDARD.replace("{sim}", sim_session.url),
                            tmp_path_factory.mktemp("anthropic-compat"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(gw: RunningGateway) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gw.url, api_key=MASTER_KEY, max_retries=0) as sdk:
        yield sdk


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


@BOTH
def test_non_streaming_message(client: anthropic.Anthropic, model: str) -> None:
    raw = client.messages.with_raw_response.create(model=model, max_tokens=100,
                                                   messages=user("hello there"))
    message = raw.parse()
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == model
    assert message.id.startswith("msg_")
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == f"Simulated reply from {UPSTREAM[model]}: hello there"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 2
    assert message.usage.output_tokens == 9
    assert raw.headers["x-pavedroad-route"] == f"sim-{'anthropic' if model == 'claude' else 'openai'}:ok"
    assert raw.headers["x-pavedroad-request-id"].startswith("req_")


@BOTH
async def test_async_message(gw: RunningGateway, model: str) -> None:
    async with anthropic.AsyncAnthropic(base_url=gw.url, api_key=MASTER_KEY,
                                        max_retries=0) as sdk:
        message = await sdk.messages.create(model=model, max_tokens=100,
                                            messages=user("async hi"))
    assert message.content[0].type == "text"
    assert message.content[0].text == f"Simulated reply from {UPSTREAM[model]}: async hi"


@BOTH
def test_streaming_text_and_final_message(client: anthropic.Anthropic, model: str) -> None:
    events: list[str] = []
    with client.messages.stream(model=model, max_tokens=100,
                                messages=user("stream this please")) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    with client.messages.stream(model=model, max_tokens=100,
                                messages=user("stream this please")) as again:
        events = [event.type for event in again]
    expected = f"Simulated reply from {UPSTREAM[model]}: stream this please"
    assert "".join(pieces) == expected
    assert len(pieces) > 3, "text should arrive in several deltas"
    assert final.content[0].type == "text" and final.content[0].text == expected
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 10
    assert final.usage.input_tokens == 3
    assert events[0] == "message_start"
    assert events[-1] == "message_stop"
    assert "content_block_start" in events and "content_block_stop" in events
    assert "message_delta" in events


@BOTH
async def test_async_streaming(gw: RunningGateway, model: str) -> None:
    async with (
        anthropic.AsyncAnthropic(base_url=gw.url, api_key=MASTER_KEY, max_retries=0) as sdk,
        sdk.messages.stream(model=model, max_tokens=100,
                            messages=user("async stream")) as stream,
    ):
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text == f"Simulated reply from {UPSTREAM[model]}: async stream"
    assert final.usage.output_tokens > 0


@BOTH
def test_system_prompt_reaches_the_upstream(client: anthropic.Anthropic, model: str) -> None:
    # The simulator counts every text it was sent, so the system prompt shows up in the
    # prompt tokens: "You are terse and precise." is 6 tokens.
    plain = client.messages.create(model=model, max_tokens=100, messages=user("hi"))
    with_system = client.messages.create(model=model, max_tokens=100, messages=user("hi"),
                                         system="You are terse and precise.")
    as_blocks = client.messages.create(
        model=model, max_tokens=100, messages=user("hi"),
        system=[{"type": "text", "text": "You are terse"}, {"type": "text", "text": "and precise."}])
    assert with_system.usage.input_tokens - plain.usage.input_tokens == 6
    assert as_blocks.usage.input_tokens == with_system.usage.input_tokens
    assert with_system.content[0].type == "text"
    assert with_system.content[0].text == f"Simulated reply from {UPSTREAM[model]}: hi"


def _tool_uses(message: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(b.name, b.input) for b in message.content if b.type == "tool_use"]


@BOTH
def test_tools_produce_tool_use_blocks(client: anthropic.Anthropic, model: str) -> None:
    message = client.messages.create(model=model, max_tokens=200, tools=[WEATHER, CLOCK],
                                     messages=user("call get_weather and get_time"))
    assert message.stop_reason == "tool_use"
    assert _tool_uses(message) == [("get_weather", WEATHER_INPUT), ("get_time", CLOCK_INPUT)]
    ids = [b.id for b in message.content if b.type == "tool_use"]
    assert len(set(ids)) == 2 and all(ids)


@BOTH
def test_tool_choice_named_and_single(client: anthropic.Anthropic, model: str) -> None:
    named = client.messages.create(model=model, max_tokens=200, tools=[WEATHER, CLOCK],
                                   tool_choice={"type": "tool", "name": "get_time"},
                                   messages=user("use get_weather"))
    assert _tool_uses(named) == [("get_time", CLOCK_INPUT)]
    single = client.messages.create(
        model=model, max_tokens=200, tools=[WEATHER, CLOCK],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        messages=user("call get_weather and get_time"))
    assert _tool_uses(single) == [("get_weather", WEATHER_INPUT)]


@BOTH
def test_tool_result_round_trip(client: anthropic.Anthropic, model: str) -> None:
    first = client.messages.create(model=model, max_tokens=200, tools=[WEATHER],
                                   messages=user("get_weather for Rome"))
    block = next(b for b in first.content if b.type == "tool_use")
    second = client.messages.create(
        model=model, max_tokens=200, tools=[WEATHER],
        messages=[
            *user("get_weather for Rome"),
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": block.id, "content": "cloudy, 18C"}]},
        ])
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text"
    assert second.content[0].text == "Tool results received: cloudy, 18C"


@BOTH
def test_streaming_tool_use(client: anthropic.Anthropic, model: str) -> None:
    partials: list[str] = []
    with client.messages.stream(model=model, max_tokens=200, tools=[WEATHER, CLOCK],
                                messages=user("get_weather and get_time")) as stream:
        for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                partials.append(event.delta.partial_json)
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert _tool_uses(final) == [("get_weather", WEATHER_INPUT), ("get_time", CLOCK_INPUT)]
    assert len(partials) > 2, "tool input should stream as input_json_delta fragments"


@BOTH
def test_stop_sequences_and_max_tokens(client: anthropic.Anthropic, model: str) -> None:
    stopped = client.messages.create(model=model, max_tokens=100, messages=user("hi"),
                                     stop_sequences=["from"])
    assert stopped.content[0].type == "text"
    assert stopped.content[0].text == "Simulated reply "
    cut = client.messages.create(model=model, max_tokens=2, messages=user("hi"))
    assert cut.content[0].type == "text" and cut.content[0].text == "Simulated reply"
    assert cut.stop_reason == "max_tokens"
    assert cut.usage.output_tokens == 2


def test_multi_turn_conversation(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model="gpt", max_tokens=100, messages=[
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": [{"type": "text", "text": "second question"}]},
    ])
    assert message.content[0].type == "text"
    assert message.content[0].text == "Simulated reply from up-gpt: second question"
    # first question (2) + first answer (2) + second question (2)
    assert message.usage.input_tokens == 6


@BOTH
def test_optional_parameters_are_accepted(client: anthropic.Anthropic, model: str) -> None:
    message = client.messages.create(
        model=model, max_tokens=100, messages=user("tuned"), metadata={"user_id": "user-1"},
        extra_body={"temperature": 0.5, "top_p": 0.9, "top_k": 5})
    assert message.content[0].type == "text"
    assert message.content[0].text == f"Simulated reply from {UPSTREAM[model]}: tuned"


@BOTH
def test_unicode_survives(client: anthropic.Anthropic, model: str) -> None:
    text = "naïve café ☕ — 中文 \"q\" \\"
    message = client.messages.create(model=model, max_tokens=100, messages=user(text))
    assert message.content[0].type == "text"
    assert message.content[0].text == f"Simulated reply from {UPSTREAM[model]}: {text}"
    with client.messages.stream(model=model, max_tokens=100, messages=user(text)) as stream:
        assert "".join(stream.text_stream) == f"Simulated reply from {UPSTREAM[model]}: {text}"
