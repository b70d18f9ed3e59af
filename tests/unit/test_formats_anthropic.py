"""Canonical <-> Anthropic translation when an Anthropic deployment serves a request."""

from __future__ import annotations

import json
from typing import Any

import anthropic.types
import openai.types.chat
import pytest

from pavedroad.core.errors import InvalidRequest, UpstreamBadResponse
from pavedroad.formats import anthropic_to_openai_response, openai_to_anthropic_request

MODEL = "claude-sonnet-4-5"


def translate(body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return openai_to_anthropic_request(body, model=MODEL, **kwargs)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def invalid(body: dict[str, Any]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        translate(body)
    return info.value


# --- request: messages ------------------------------------------------------------


def test_minimal_request_uses_upstream_model_and_default_max_tokens() -> None:
    out = translate({"model": "alias", "messages": [user("hi")]}, default_max_tokens=123)
    assert out == {
        "model": MODEL,
        "max_tokens": 123,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }


def test_system_and_developer_messages_join_into_top_level_system() -> None:
    out = translate(
        {
            "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "developer", "content": [{"type": "text", "text": "Use metric."}]},
                user("hi"),
                {"role": "system", "content": "Late rule."},
            ]
        }
    )
    assert out["system"] == "Be terse.\n\nUse metric.\n\nLate rule."
    assert [m["role"] for m in out["messages"]] == ["user"]


def test_user_parts_text_and_images() -> None:
    out = translate(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
                        {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}},
                    ],
                }
            ]
        }
    )
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}},
    ]


def test_pdf_file_part_becomes_document() -> None:
    part = {
        "type": "file",
        "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
    }
    out = translate({"messages": [{"role": "user", "content": [part]}]})
    assert out["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
            "title": "a.pdf",
        }
    ]


def test_multi_turn_tool_conversation_with_parallel_calls() -> None:
    out = translate(
        {
            "messages": [
                {"role": "system", "content": "sys"},
                user("Weather in Paris and Rome?"),
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        call("call_1", "weather", '{"city": "Paris"}'),
                        call("call_2", "weather", '{"city":"Rome"}'),
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                {
                    "role": "tool",
                    "tool_call_id": "call_2",
                    "content": [{"type": "text", "text": "24C"}],
                },
                user("And tomorrow?"),
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [call("call_3", "forecast", "")],
                },
                {"role": "tool", "tool_call_id": "call_3", "content": ""},
            ]
        }
    )
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "weather", "input": {"city": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "24C"},
                {"type": "text", "text": "And tomorrow?"},
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "call_3", "name": "forecast", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_3"}]},
    ]


def test_consecutive_same_role_messages_merge_and_empty_ones_vanish() -> None:
    out = translate(
        {
            "messages": [
                user("a"),
                user(""),
                user("b"),
                {"role": "assistant", "content": "c"},
                {"role": "assistant", "content": [{"type": "text", "text": "d"}]},
            ]
        }
    )
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}],
        },
    ]


def test_tool_results_sort_before_text_in_a_merged_user_turn() -> None:
    out = translate(
        {
            "messages": [
                {"role": "assistant", "content": None, "tool_calls": [call("c1", "f", "{}")]},
                user("note"),
                {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            ]
        }
    )
    assert [b["type"] for b in out["messages"][1]["content"]] == ["tool_result", "text"]


# --- request: parameters ----------------------------------------------------------


def test_parameters_map_and_unsupported_fields_are_dropped() -> None:
    out = translate(
        {
            "messages": [user("hi")],
            "max_tokens": 50,
            "temperature": 0.3,
            "top_p": 0.9,
            "stop": "END",
            "stream": True,
            "stream_options": {"include_usage": True},
            "user": "u-42",
            "seed": 7,
            "logprobs": True,
            "presence_penalty": 0.5,
            "frequency_penalty": 0.5,
            "metadata": {"k": "v"},
            "n": 1,
        }
    )
    assert out == {
        "model": MODEL,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "temperature": 0.3,
        "top_p": 0.9,
        "stop_sequences": ["END"],
        "stream": True,
        "metadata": {"user_id": "u-42"},
    }


def test_max_completion_tokens_wins_and_stop_list_kept() -> None:
    out = translate(
        {
            "messages": [user("hi")],
            "max_tokens": 10,
            "max_completion_tokens": 20,
            "stop": ["a", "b"],
        }
    )
    assert out["max_tokens"] == 20
    assert out["stop_sequences"] == ["a", "b"]


def test_temperature_is_clamped_to_anthropic_range() -> None:
    assert translate({"messages": [user("x")], "temperature": 1.7})["temperature"] == 1.0


def test_tools_and_tool_choice_variants() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Get weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                "strict": True,
            },
        },
        {"type": "function", "function": {"name": "noargs"}},
    ]
    base = {"messages": [user("x")], "tools": tools}
    out = translate(base)
    assert out["tools"] == [
        {
            "name": "weather",
            "description": "Get weather",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        {"name": "noargs", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in out
    cases: list[tuple[Any, Any, dict[str, Any]]] = [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        (
            {"type": "function", "function": {"name": "weather"}},
            None,
            {"type": "tool", "name": "weather"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
    ]
    for choice, parallel, expected in cases:
        body: dict[str, Any] = dict(base, tool_choice=choice)
        if parallel is not None:
            body["parallel_tool_calls"] = parallel
        assert translate(body)["tool_choice"] == expected, (choice, parallel)
    assert "tool_choice" not in translate(dict(base, parallel_tool_calls=True))


def test_tool_choice_without_tools_is_dropped() -> None:
    out = translate({"messages": [user("x")], "tool_choice": "required"})
    assert "tool_choice" not in out
    assert "tools" not in out


def test_response_format_json_object_appends_instruction_to_system() -> None:
    out = translate(
        {
            "messages": [{"role": "system", "content": "S"}, user("x")],
            "response_format": {"type": "json_object"},
        }
    )
    first, instruction = out["system"].split("\n\n", 1)
    assert first == "S"
    assert "only a single valid JSON object" in instruction


def test_response_format_json_schema_serializes_schema() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    out = translate(
        {
            "messages": [user("x")],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "s", "schema": schema},
            },
        }
    )
    assert "JSON object" in out["system"]
    assert out["system"].endswith(json.dumps(schema, separators=(",", ":")))
    assert "system" not in translate({"messages": [user("x")], "response_format": {"type": "text"}})


# --- request: errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({}, "messages", "required"),
        ({"messages": []}, "messages", "at least one"),
        ({"messages": "hi"}, "messages", "array"),
        ({"messages": [{"role": "system", "content": "s"}]}, "messages", "user or assistant"),
        ({"messages": [user("x")], "n": 2}, "n", "must be 1"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "robot"),
        ({"messages": [user("x"), "oops"]}, "messages[1]", "object"),
        ({"messages": [{"role": "user"}]}, "messages[0].content", "required"),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "messages[0].content[0].type",
            "audio",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}],
                    }
                ]
            },
            "messages[0].content[0].image_url.url",
            "http(s)",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AA"}}
                        ],
                    }
                ]
            },
            "messages[0].content[0].image_url.url",
            "image/bmp",
        ),
        (
            {
                "messages": [
                    user("x"),
                    {"role": "assistant", "tool_calls": [call("c", "f", "{not json")]},
                ]
            },
            "messages[1].tool_calls[0].function.arguments",
            "JSON object",
        ),
        (
            {"messages": [{"role": "assistant", "tool_calls": [call("c", "f", "[1, 2]")]}]},
            "messages[0].tool_calls[0].function.arguments",
            "JSON object",
        ),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id", "string"),
        ({"messages": [user("x")], "max_tokens": 0}, "max_tokens", "positive integer"),
        ({"messages": [user("x")], "stop": [1]}, "stop[0]", "string"),
        ({"messages": [user("x")], "tools": [{"type": "web_search"}]}, "tools[0].type", "function"),
        (
            {
                "messages": [user("x")],
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": "always",
            },
            "tool_choice",
            "always",
        ),
        (
            {"messages": [user("x")], "response_format": {"type": "xml"}},
            "response_format.type",
            "xml",
        ),
    ],
)
def test_invalid_requests_name_the_param(body: dict[str, Any], param: str, fragment: str) -> None:
    error = invalid(body)
    assert error.param == param
    assert error.message.startswith(param)
    assert fragment in error.message


# --- response ----------------------------------------------------------------------


def anthropic_message(
    content: list[dict[str, Any]], stop_reason: str = "end_turn"
) -> dict[str, Any]:
    return {
        "id": "msg_01abc",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def test_response_text_only() -> None:
    body = anthropic_message(
        [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Hello "},
            {"type": "text", "text": "world"},
        ]
    )
    out = anthropic_to_openai_response(body, model="my-alias", created=1700000000)
    assert out == {
        "id": "msg_01abc",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "my-alias",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello world"},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }
    openai.types.chat.ChatCompletion.model_validate(out)


def test_response_tool_calls_only_has_null_content() -> None:
    body = anthropic_message(
        [
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "weather",
                "input": {"city": "Paris", "n": 1},
            },
            {"type": "tool_use", "id": "toolu_2", "name": "time", "input": {}},
        ],
        stop_reason="tool_use",
    )
    out = anthropic_to_openai_response(body, model="m")
    choice = out["choices"][0]
    assert isinstance(out["created"], int)
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "toolu_1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city":"Paris","n":1}'},
            },
            {"id": "toolu_2", "type": "function", "function": {"name": "time", "arguments": "{}"}},
        ],
    }
    openai.types.chat.ChatCompletion.model_validate(out)


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("something_new", "stop"),
    ],
)
def test_response_stop_reason_map(stop_reason: str, finish: str) -> None:
    body = anthropic_message([{"type": "text", "text": "x"}], stop_reason=stop_reason)
    assert anthropic_to_openai_response(body, model="m")["choices"][0]["finish_reason"] == finish


def test_response_usage_counts_cache_tokens_as_prompt() -> None:
    body = anthropic_message([])
    body["usage"] = {
        "input_tokens": 7,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 20,
        "output_tokens": 3,
    }
    out = anthropic_to_openai_response(body, model="m")
    assert out["usage"] == {
        "prompt_tokens": 127,
        "completion_tokens": 3,
        "total_tokens": 130,
        "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 20},
    }
    assert out["choices"][0]["message"]["content"] == ""


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"type": "message"},
        {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
        {"content": ["text"]},
        {"content": [{"type": "text"}]},
        {"content": [{"type": "tool_use", "id": "t", "name": "f", "input": "x"}]},
    ],
)
def test_response_malformed_upstream_raises_bad_response(body: Any) -> None:
    with pytest.raises(UpstreamBadResponse):
        anthropic_to_openai_response(body, model="m")


def test_translated_request_is_a_valid_anthropic_message_shape() -> None:
    """The SDK's response model accepts our content blocks, a cheap schema cross-check."""
    out = translate(
        {
            "messages": [
                user("x"),
                {"role": "assistant", "content": "y", "tool_calls": [call("c", "f", '{"a":1}')]},
            ]
        }
    )
    message = anthropic.types.Message.model_validate(
        {
            "id": "msg_x",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": out["messages"][1]["content"],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
    )
    assert [block.type for block in message.content] == ["text", "tool_use"]
