"""Pure helpers of the simulator: token counting, schema examples, fault parsing, replies."""

from __future__ import annotations

import pytest

from pavedroad.sim import Fault, FaultError
from pavedroad.sim.faults import fault_from_header, fault_from_json
from pavedroad.sim.prompt import Finish, JsonMode, Prompt, ToolMode, ToolSpec
from pavedroad.sim.reply import compose
from pavedroad.sim.schema_example import example_for
from pavedroad.sim.state import SimState
from pavedroad.sim.text import count_tokens, cut_at_token, fragments, word_chunks


def test_tokens_are_words_and_punctuation() -> None:
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("") == 1  # never zero
    assert cut_at_token("one two three", 2) == "one two"
    assert cut_at_token("one two", 2) is None


def test_word_chunks_rejoin_exactly() -> None:
    text = "  leading and  double spaces, end "
    chunks = word_chunks(text)
    assert "".join(chunks) == text
    assert len(chunks) == 6


def test_fragments_split_json_in_at_least_two() -> None:
    assert fragments("{}") == ["{", "}"]
    parts = fragments('{"city": "example", "days": 3}')
    assert len(parts) >= 2
    assert "".join(parts) == '{"city": "example", "days": 3}'


def test_schema_example_covers_common_shapes() -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer"},
            "ratio": {"type": "number"},
            "exact": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "where": {"$ref": "#/$defs/Where"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "integer"}]},
            "optional": {"type": "string"},
        },
        "required": ["city", "unit", "days", "ratio", "exact", "tags", "where", "maybe"],
        "$defs": {"Where": {"type": "object", "properties": {"lat": {"type": "number"}}}},
    }
    assert example_for(schema) == {
        "city": "example",
        "unit": "celsius",
        "days": 1,
        "ratio": 1.5,
        "exact": True,
        "tags": ["example"],
        "where": {"lat": 1.5},
        "maybe": 1,
    }


def test_schema_example_without_required_fills_all_properties() -> None:
    assert example_for({"properties": {"a": {"type": "integer"}, "b": {}}}) == {
        "a": 1,
        "b": "example",
    }


def test_fault_header_syntax() -> None:
    fault = fault_from_header("status=429; retry-after=2;malformed_json=true;content=a=b")
    assert fault == Fault(status=429, retry_after=2.0, malformed_json=True, content="a=b")


@pytest.mark.parametrize("header", ["status=abc", "bogus=1", "status", "status=200"])
def test_fault_header_rejects_nonsense(header: str) -> None:
    with pytest.raises(FaultError):
        fault_from_header(header)


def test_fault_json_validates() -> None:
    assert fault_from_json({"latency_ms": 5}).latency_ms == 5
    with pytest.raises(FaultError):
        fault_from_json({"latency_ms": -1})
    with pytest.raises(FaultError):
        fault_from_json(["status"])


def test_rules_match_in_order_and_count_down() -> None:
    state = SimState()
    state.add_rule("a", Fault(status=500), times=1)
    state.add_rule("*", Fault(status=503))
    assert state.take_fault("a") == Fault(status=500)
    assert state.take_fault("a") == Fault(status=503)
    assert state.take_fault("b") == Fault(status=503)
    assert len(state.rules) == 1


def _prompt(**overrides: object) -> Prompt:
    fields: dict[str, object] = {"model": "m", "texts": ["hi"], "last_user_text": "hi"}
    fields.update(overrides)
    return Prompt(**fields)  # type: ignore[arg-type]


def test_stop_sequence_that_comes_first_wins_over_length() -> None:
    reply = compose(_prompt(stop=["reply"], max_tokens=3))
    assert reply.text == "Simulated "
    assert reply.finish is Finish.STOP_SEQUENCE
    assert reply.stop_sequence == "reply"
    reply = compose(_prompt(stop=["hi"], max_tokens=2))
    assert reply.text == "Simulated reply"
    assert reply.finish is Finish.LENGTH


def test_tool_mentions_match_whole_names_only() -> None:
    tools = [ToolSpec(name="get", schema={}), ToolSpec(name="get_weather", schema={})]
    reply = compose(_prompt(last_user_text="use get_weather", tools=tools))
    assert [c.name for c in reply.tool_calls] == ["get_weather"]
    assert reply.finish is Finish.TOOL_CALLS


def test_tool_mode_none_and_json_modes() -> None:
    tools = [ToolSpec(name="t", schema={})]
    assert compose(_prompt(tools=tools, tool_mode=ToolMode.NONE)).tool_calls == []
    reply = compose(_prompt(json_mode=JsonMode.SCHEMA, json_schema={"type": "integer"}))
    assert reply.text == "1"
