"""Translation both ways: the OpenAI SDK against the Anthropic deployment (`claude`) and
the Anthropic SDK against the OpenAI deployment (`gpt`).

The simulator only echoes the last user message, so what crossed the translation is
proven through what it does react to: tool definitions and choices, stop sequences,
token limits and the prompt tokens it counts (system prompts included).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.integration.conftest import STANDARD
from tests.support.servers import MASTER_KEY, RunningGateway, Sim, start_gateway

OPENAI_TOOLS = [
    {"type": "function", "function": {
        "name": "lookup_order", "description": "Find an order",
        "parameters": {"type": "object",
                       "properties": {"order_id": {"type": "string"},
                                      "items": {"type": "array", "items": {"type": "integer"}},
                                      "status": {"enum": ["open", "closed"]}},
                       "required": ["order_id", "items", "status"]}}},
    {"type": "function", "function": {
        "name": "refund", "parameters": {"type": "object",
                                         "properties": {"amount": {"type": "number"}}}}},
]
ANTHROPIC_TOOLS = [
    {"name": t["function"]["name"], "input_schema": t["function"]["parameters"]}
    for t in OPENAI_TOOLS
]
ORDER_ARGS = {"order_id": "example", "items": [1], "status": "open"}
REFUND_ARGS = {"amount": 1.5}


@pytest.fixture(scope="module")
def gw(sim_session: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = start_gateway(STANDARD.replace("{sim}", sim_session.url),
                            tmp_path_factory.mktemp("cross-format"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def oai(gw: RunningGateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def ant(gw: RunningGateway) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gw.url, api_key=MASTER_KEY, max_retries=0) as sdk:
        yield sdk


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


# --- OpenAI SDK -> Anthropic deployment -------------------------------------------------


def test_openai_sdk_text_from_anthropic_deployment(oai: openai.OpenAI) -> None:
    raw = oai.chat.completions.with_raw_response.create(model="claude", messages=user("ping"))
    completion = raw.parse()
    assert raw.headers["x-pavedroad-route"] == "sim-anthropic:ok"
    assert completion.object == "chat.completion"
    assert completion.model == "claude"
    assert completion.choices[0].message.content == "Simulated reply from up-claude: ping"
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == 1
    assert usage.completion_tokens == 8
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_system_prompt_crosses_to_anthropic(oai: openai.OpenAI) -> None:
    # Anthropic takes system text outside the turns; the simulator counts it as prompt.
    plain = oai.chat.completions.create(model="claude", messages=user("ping"))
    system = oai.chat.completions.create(model="claude", messages=[
        {"role": "system", "content": "Answer like a pirate would."},
        *user("ping"),
    ])
    developer_late = oai.chat.completions.create(model="claude", messages=[
        *user("ping"), {"role": "developer", "content": "Answer like a pirate would."},
    ])
    assert plain.usage is not None and system.usage is not None
    assert system.usage.prompt_tokens - plain.usage.prompt_tokens == 6
    assert developer_late.usage is not None
    assert developer_late.usage.prompt_tokens == system.usage.prompt_tokens
    assert system.choices[0].message.content == "Simulated reply from up-claude: ping"


def test_openai_tools_against_anthropic_deployment(oai: openai.OpenAI) -> None:
    both = oai.chat.completions.create(model="claude", tools=OPENAI_TOOLS,
                                       messages=user("lookup_order then refund"))
    choice = both.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [(c.type, c.function.name) for c in calls] == [("function", "lookup_order"),
                                                           ("function", "refund")]
    assert [json.loads(c.function.arguments) for c in calls] == [ORDER_ARGS, REFUND_ARGS]
    assert all(c.id.startswith("toolu_") for c in calls)

    single = oai.chat.completions.create(model="claude", tools=OPENAI_TOOLS,
                                         parallel_tool_calls=False,
                                         messages=user("lookup_order then refund"))
    assert [c.function.name for c in single.choices[0].message.tool_calls or []] == \
        ["lookup_order"]
    named = oai.chat.completions.create(
        model="claude", tools=OPENAI_TOOLS, messages=user("lookup_order"),
        tool_choice={"type": "function", "function": {"name": "refund"}})
    assert [c.function.name for c in named.choices[0].message.tool_calls or []] == ["refund"]
    none = oai.chat.completions.create(model="claude", tools=OPENAI_TOOLS, tool_choice="none",
                                       messages=user("lookup_order"))
    assert none.choices[0].message.tool_calls is None
    assert none.choices[0].message.content == "Simulated reply from up-claude: lookup_order"


def test_openai_tool_round_trip_against_anthropic(oai: openai.OpenAI) -> None:
    first = oai.chat.completions.create(model="claude", tools=OPENAI_TOOLS,
                                        messages=user("lookup_order 7"))
    call = (first.choices[0].message.tool_calls or [])[0]
    second = oai.chat.completions.create(model="claude", tools=OPENAI_TOOLS, messages=[
        *user("lookup_order 7"),
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call.id, "type": "function",
             "function": {"name": call.function.name, "arguments": call.function.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": "order 7 shipped"},
    ])
    assert second.choices[0].message.content == "Tool results received: order 7 shipped"
    assert second.choices[0].finish_reason == "stop"


def test_openai_stream_from_anthropic_deployment(oai: openai.OpenAI) -> None:
    reference = oai.chat.completions.create(model="claude", messages=user("stream me"))
    chunks = list(oai.chat.completions.create(model="claude", messages=user("stream me"),
                                              stream=True,
                                              stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Simulated reply from up-claude: stream me"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 3
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert all(f is None for f in finishes[:-1])
    usage = chunks[-1].usage
    assert chunks[-1].choices == []
    assert usage is not None and reference.usage is not None
    assert usage.prompt_tokens == reference.usage.prompt_tokens > 0
    assert usage.completion_tokens == reference.usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_openai_stream_tool_calls_from_anthropic_deployment(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(model="claude", tools=OPENAI_TOOLS, stream=True,
                                         messages=user("lookup_order and refund"))
    ids: dict[int, str] = {}
    names: dict[int, str] = {}
    args: dict[int, str] = {}
    finish = None
    for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or []:
                if call.id:
                    ids[call.index] = call.id
                if call.function and call.function.name:
                    names[call.index] = call.function.name
                if call.function and call.function.arguments:
                    args[call.index] = args.get(call.index, "") + call.function.arguments
    assert finish == "tool_calls"
    assert names == {0: "lookup_order", 1: "refund"}
    assert all(i.startswith("toolu_") for i in ids.values()) and len(ids) == 2
    assert json.loads(args[0]) == ORDER_ARGS
    assert json.loads(args[1]) == REFUND_ARGS


async def test_async_openai_sdk_against_anthropic(gw: RunningGateway) -> None:
    async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY,
                                  max_retries=0) as sdk:
        completion = await sdk.chat.completions.create(model="claude", messages=user("aping"))
        stream = await sdk.chat.completions.create(model="claude", messages=user("aping"),
                                                   stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert completion.choices[0].message.content == "Simulated reply from up-claude: aping"
    assert text == "Simulated reply from up-claude: aping"


def test_stop_and_max_tokens_cross_to_anthropic(oai: openai.OpenAI) -> None:
    stopped = oai.chat.completions.create(model="claude", messages=user("hi"), stop="reply")
    assert stopped.choices[0].message.content == "Simulated "
    assert stopped.choices[0].finish_reason == "stop"
    cut = oai.chat.completions.create(model="claude", messages=user("hi"), max_tokens=4)
    assert cut.choices[0].message.content == "Simulated reply from up"
    assert cut.choices[0].finish_reason == "length"


def test_n_above_one_is_refused_for_anthropic(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model="claude", messages=user("hi"), n=2)
    assert caught.value.status_code == 400
    assert caught.value.code == "invalid_request"
    assert caught.value.param == "n"


# --- Anthropic SDK -> OpenAI deployment -------------------------------------------------


def test_anthropic_sdk_usage_from_openai_deployment(ant: anthropic.Anthropic,
                                                    oai: openai.OpenAI) -> None:
    message = ant.messages.create(model="gpt", max_tokens=100, messages=user("count me"),
                                  system="Be brief.")
    reference = oai.chat.completions.create(
        model="gpt", messages=[{"role": "system", "content": "Be brief."}, *user("count me")])
    assert reference.usage is not None
    assert message.usage.input_tokens == reference.usage.prompt_tokens == 5
    assert message.usage.output_tokens == reference.usage.completion_tokens


def test_anthropic_stream_with_tools_from_openai_deployment(ant: anthropic.Anthropic) -> None:
    partial: dict[int, str] = {}
    starts: list[tuple[int, str]] = []
    with ant.messages.stream(model="gpt", max_tokens=200, tools=ANTHROPIC_TOOLS,
                             messages=user("lookup_order and refund")) as stream:
        for event in stream:
            if event.type == "content_block_start":
                starts.append((event.index, event.content_block.type))
            elif event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                partial[event.index] = partial.get(event.index, "") + event.delta.partial_json
        final = stream.get_final_message()
    assert starts == [(0, "tool_use"), (1, "tool_use")]
    assert json.loads(partial[0]) == ORDER_ARGS
    assert json.loads(partial[1]) == REFUND_ARGS
    assert final.stop_reason == "tool_use"
    uses = [b for b in final.content if b.type == "tool_use"]
    assert [(b.name, b.input) for b in uses] == [("lookup_order", ORDER_ARGS),
                                                  ("refund", REFUND_ARGS)]
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


async def test_async_anthropic_stream_from_openai_deployment(gw: RunningGateway) -> None:
    async with (
        anthropic.AsyncAnthropic(base_url=gw.url, api_key=MASTER_KEY, max_retries=0) as sdk,
        sdk.messages.stream(model="gpt", max_tokens=200, tools=ANTHROPIC_TOOLS,
                            tool_choice={"type": "tool", "name": "refund"},
                            messages=user("lookup_order")) as stream,
    ):
        final = await stream.get_final_message()
    assert [(b.name, b.input) for b in final.content if b.type == "tool_use"] == \
        [("refund", REFUND_ARGS)]


def test_anthropic_tool_round_trip_through_openai_deployment(ant: anthropic.Anthropic) -> None:
    first = ant.messages.create(model="gpt", max_tokens=200, tools=ANTHROPIC_TOOLS,
                                messages=user("refund please"))
    block = next(b for b in first.content if b.type == "tool_use")
    assert block.name == "refund"
    second = ant.messages.create(model="gpt", max_tokens=200, tools=ANTHROPIC_TOOLS, messages=[
        *user("refund please"),
        {"role": "assistant", "content": [
            {"type": "text", "text": "Refunding."},
            {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": block.id, "content": [
                {"type": "text", "text": "refund issued"}]}]},
    ])
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text"
    assert second.content[0].text == "Tool results received: refund issued"
