"""Callers on the Anthropic API: their request in, canonical responses and errors out."""

from __future__ import annotations

from typing import Any

import anthropic.types
import pytest

from pavedroad.core.errors import InvalidRequest, UpstreamBadResponse
from pavedroad.formats import (
    anthropic_to_openai_request,
    anthropic_to_openai_response,
    openai_error_to_anthropic,
    openai_to_anthropic_request,
    openai_to_anthropic_response,
)


def request(messages: list[Any], **extra: Any) -> dict[str, Any]:
    return {"model": "claude-alias", "max_tokens": 256, "messages": messages, **extra}


def tool_use(tool_id: str, name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}


def invalid(body: dict[str, Any]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        anthropic_to_openai_request(body)
    return info.value


# --- request ---------------------------------------------------------------------------


def test_simple_request_with_parameters() -> None:
    out = anthropic_to_openai_request(
        request(
            [{"role": "user", "content": "Hi"}],
            system="Be brief.",
            temperature=0.2,
            top_p=0.8,
            top_k=40,
            stop_sequences=["###"],
            metadata={"user_id": "u-1"},
            thinking={"type": "enabled", "budget_tokens": 1024},
        )
    )
    assert out == {
        "model": "claude-alias",
        "max_tokens": 256,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
        "temperature": 0.2,
        "top_p": 0.8,
        "stop": ["###"],
        "user": "u-1",
    }


def test_stream_requests_usage_in_the_canonical_stream() -> None:
    out = anthropic_to_openai_request(request([{"role": "user", "content": "x"}], stream=True))
    assert out["stream"] is True
    assert out["stream_options"] == {"include_usage": True}
    off = anthropic_to_openai_request(request([{"role": "user", "content": "x"}], stream=False))
    assert off["stream"] is False
    assert "stream_options" not in off


def test_system_blocks_and_user_media() -> None:
    out = anthropic_to_openai_request(
        request(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Compare", "cache_control": {"type": "ephemeral"}},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "AAA"},
                        },
                        {"type": "image", "source": {"type": "url", "url": "https://x.test/b.png"}},
                        {
                            "type": "document",
                            "source": {
                                "type": "base64",
                                "media_type": "application/pdf",
                                "data": "JVB",
                            },
                            "title": "r.pdf",
                        },
                    ],
                }
            ],
            system=[{"type": "text", "text": "One."}, {"type": "text", "text": "Two."}],
        )
    )
    assert out["messages"] == [
        {"role": "system", "content": "One.\nTwo."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
                {"type": "image_url", "image_url": {"url": "https://x.test/b.png"}},
                {
                    "type": "file",
                    "file": {"file_data": "data:application/pdf;base64,JVB", "filename": "r.pdf"},
                },
            ],
        },
    ]


def test_multi_turn_tool_conversation_with_parallel_calls() -> None:
    out = anthropic_to_openai_request(
        request(
            [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Weather in Paris and Rome?"}],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "two calls", "signature": "s"},
                        {"type": "text", "text": "Checking."},
                        tool_use("toolu_1", "weather", {"city": "Paris"}),
                        tool_use("toolu_2", "weather", {"city": "Rome"}),
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_2",
                            "content": [
                                {"type": "text", "text": "city not"},
                                {"type": "text", "text": "found"},
                            ],
                            "is_error": True,
                        },
                        {"type": "text", "text": "Summarize."},
                    ],
                },
                {"role": "assistant", "content": [tool_use("toolu_3", "noop", {})]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_3"}]},
            ]
        )
    )
    assert out["messages"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: city not\nfound"},
        {"role": "user", "content": "Summarize."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_3",
                    "type": "function",
                    "function": {"name": "noop", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_3", "content": ""},
    ]


def test_images_inside_tool_results_move_to_a_following_user_message() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "J"}}
    out = anthropic_to_openai_request(
        request(
            [
                {"role": "assistant", "content": [tool_use("t1", "screenshot", {})]},
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t1",
                            "content": [{"type": "text", "text": "done"}, image],
                        }
                    ],
                },
            ]
        )
    )
    assert out["messages"][1:] == [
        {"role": "tool", "tool_call_id": "t1", "content": "done"},
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,J"}}],
        },
    ]


def test_tools_and_tool_choice_inverse_mapping() -> None:
    tools = [
        {
            "name": "weather",
            "description": "Get weather",
            "input_schema": {"type": "object", "properties": {}},
        },
        {"type": "custom", "name": "t2", "input_schema": {"type": "object"}},
    ]
    out = anthropic_to_openai_request(request([{"role": "user", "content": "x"}], tools=tools))
    assert out["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Get weather",
                "parameters": {"type": "object", "properties": {}},
            },
        },
        {"type": "function", "function": {"name": "t2", "parameters": {"type": "object"}}},
    ]
    cases: list[tuple[dict[str, Any], Any, bool | None]] = [
        ({"type": "auto"}, "auto", None),
        ({"type": "any"}, "required", None),
        ({"type": "none"}, "none", None),
        (
            {"type": "tool", "name": "weather"},
            {"type": "function", "function": {"name": "weather"}},
            None,
        ),
        ({"type": "auto", "disable_parallel_tool_use": True}, "auto", False),
        ({"type": "any", "disable_parallel_tool_use": False}, "required", None),
    ]
    for choice, expected, parallel in cases:
        got = anthropic_to_openai_request(
            request([{"role": "user", "content": "x"}], tools=tools, tool_choice=choice)
        )
        assert got["tool_choice"] == expected, choice
        assert got.get("parallel_tool_calls") == parallel, choice


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens", "required"),
        (request([]), "messages", "at least one"),
        ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, "model", "required"),
        (
            request([{"role": "user", "content": "x"}], max_tokens="10"),
            "max_tokens",
            "positive integer",
        ),
        (
            request([{"role": "user", "content": "x"}, {"role": "system", "content": "y"}]),
            "messages[1].role",
            'must be "user" or "assistant"',
        ),
        (request([{"role": "user", "content": 5}]), "messages[0].content", "array"),
        (request([{"role": "user", "content": []}]), "messages[0].content", "at least one"),
        (
            request(
                [
                    {
                        "role": "user",
                        "content": [{"type": "tool_use", "id": "a", "name": "b", "input": {}}],
                    }
                ]
            ),
            "messages[0].content[0].type",
            "tool_use",
        ),
        (
            request(
                [
                    {"role": "assistant", "content": [tool_use("a", "b", {})]},
                    {"role": "user", "content": [{"type": "tool_result"}]},
                ]
            ),
            "messages[1].content[0].tool_use_id",
            "string",
        ),
        (
            request(
                [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}],
                    }
                ]
            ),
            "messages[0].content[0].source.type",
            "base64",
        ),
        (
            request(
                [
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "a", "name": "b", "input": []}],
                    }
                ]
            ),
            "messages[0].content[0].input",
            "object",
        ),
        (
            request(
                [{"role": "user", "content": "x"}],
                tools=[{"type": "web_search_20250305", "name": "web_search"}],
            ),
            "tools[0].type",
            "built-in",
        ),
        (
            request([{"role": "user", "content": "x"}], tools=[{"name": "f"}]),
            "tools[0].input_schema",
            "object",
        ),
        (
            request([{"role": "user", "content": "x"}], tool_choice={"type": "maybe"}),
            "tool_choice.type",
            "maybe",
        ),
        (
            request([{"role": "user", "content": "x"}], stop_sequences="END"),
            "stop_sequences",
            "array",
        ),
        (
            request([{"role": "user", "content": "x"}], system=[{"type": "image"}]),
            "system[0].type",
            "text",
        ),
    ],
)
def test_invalid_inbound_requests_name_the_param(
    body: dict[str, Any], param: str, fragment: str
) -> None:
    error = invalid(body)
    assert error.param == param
    assert error.message.startswith(param)
    assert fragment in error.message


# --- response ----------------------------------------------------------------------------


def completion(
    message: dict[str, Any], finish: str | None = "stop", **extra: Any
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-7",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-x",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        **extra,
    }


def test_completion_with_text_and_tools_becomes_anthropic_message() -> None:
    body = completion(
        {
            "role": "assistant",
            "content": "Calling.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"a": 1}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "g", "arguments": "{broken"},
                },
            ],
        },
        "tool_calls",
        usage={
            "prompt_tokens": 100,
            "completion_tokens": 9,
            "total_tokens": 109,
            "prompt_tokens_details": {"cached_tokens": 64},
        },
    )
    out = openai_to_anthropic_response(body, model="claude-alias")
    assert out == {
        "id": "msg_chatcmpl-7",
        "type": "message",
        "role": "assistant",
        "model": "claude-alias",
        "content": [
            {"type": "text", "text": "Calling."},
            {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
            {"type": "tool_use", "id": "call_2", "name": "g", "input": {}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 36,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 64,
            "output_tokens": 9,
        },
    }
    anthropic.types.Message.model_validate(out)


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_completion_finish_reason_map(finish: str | None, stop_reason: str) -> None:
    body = completion({"role": "assistant", "content": "x"}, finish)
    assert openai_to_anthropic_response(body, model="m")["stop_reason"] == stop_reason


def test_completion_id_keeps_existing_msg_prefix_and_missing_usage_is_zero() -> None:
    body = completion({"role": "assistant", "content": None})
    body["id"] = "msg_abc"
    out = openai_to_anthropic_response(body, model="m")
    assert out["id"] == "msg_abc"
    assert out["content"] == []
    assert out["usage"] == {
        "input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 0,
    }


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"choices": []},
        {"choices": [{"index": 0}]},
        completion({"tool_calls": [{"function": {}}]}),
    ],
)
def test_malformed_completion_raises_bad_response(body: Any) -> None:
    with pytest.raises(UpstreamBadResponse):
        openai_to_anthropic_response(body, model="m")


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (529, "overloaded_error"),
    ],
)
def test_openai_error_to_anthropic(status: int, error_type: str) -> None:
    body = {
        "error": {"message": "Nope", "type": "whatever", "code": "model_not_found", "param": None}
    }
    assert openai_error_to_anthropic(body, status) == {
        "type": "error",
        "error": {"type": error_type, "message": "Nope", "code": "model_not_found"},
    }


def test_openai_error_to_anthropic_tolerates_odd_bodies() -> None:
    assert openai_error_to_anthropic({"detail": "x"}, 500) == {
        "type": "error",
        "error": {"type": "api_error", "message": "HTTP 500"},
    }


# --- round trips --------------------------------------------------------------------------

CANONICAL_CONVERSATION: dict[str, Any] = {
    "model": "claude-alias",
    "max_tokens": 300,
    "messages": [
        {"role": "system", "content": "Be helpful."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
        {"role": "tool", "tool_call_id": "c2", "content": "24C"},
        {"role": "assistant", "content": "Paris 18C, Rome 24C."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "And this?"},
                {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklG"}},
            ],
        },
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Current weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "weather"}},
    "parallel_tool_calls": False,
    "stop": ["END"],
    "temperature": 0.5,
    "top_p": 0.9,
    "user": "u-9",
}


def test_request_round_trip_openai_anthropic_openai_preserves_semantics() -> None:
    upstream = openai_to_anthropic_request(CANONICAL_CONVERSATION, model="claude-alias")
    back = anthropic_to_openai_request(upstream)
    assert back == CANONICAL_CONVERSATION


def test_request_round_trip_anthropic_openai_anthropic_is_identity() -> None:
    upstream = openai_to_anthropic_request(CANONICAL_CONVERSATION, model="claude-alias")
    again = openai_to_anthropic_request(anthropic_to_openai_request(upstream), model="claude-alias")
    assert again == upstream


def test_response_round_trip_preserves_content_usage_and_stop() -> None:
    anthropic_body = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {"type": "text", "text": "Let me look."},
            tool_use("toolu_9", "search", {"q": "paved road"}),
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "cache_read_input_tokens": 30,
            "cache_creation_input_tokens": 0,
            "output_tokens": 8,
        },
    }
    canonical = anthropic_to_openai_response(anthropic_body, model="alias")
    back = openai_to_anthropic_response(canonical, model="claude-x")
    assert back == anthropic_body
