"""The token estimator and cost-attribution parsing (tags header, end user)."""

from __future__ import annotations

import pytest

from pavedroad.core.errors import InvalidRequest
from pavedroad.metering.tags import MAX_TAGS, TAGS_HEADER, end_user, merge_tags, parse_tags
from pavedroad.metering.tokens import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    REPLY_PRIMING,
    answer_chars,
    chunk_chars,
    estimate_prompt_tokens,
    tokens_for_chars,
)


def test_tokens_for_chars_rounds_up_at_four_characters_a_token() -> None:
    assert [tokens_for_chars(n) for n in (0, 1, 4, 5, 8, 9)] == [0, 1, 1, 2, 2, 3]


def test_prompt_estimate_counts_messages_parts_tool_calls_and_tools() -> None:
    body = {"messages": [
        {"role": "system", "content": "a" * 40},
        {"role": "user", "content": [{"type": "text", "text": "b" * 8},
                                     {"type": "image_url", "image_url": {"url": "x"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "get", "arguments": "{}"}}]},
    ]}
    expected = REPLY_PRIMING + 3 * MESSAGE_OVERHEAD + 10 + 2 + IMAGE_TOKENS + 2
    assert estimate_prompt_tokens(body) == expected
    tools = [{"type": "function", "function": {"name": "get", "parameters": {}}}]
    assert estimate_prompt_tokens({**body, "tools": tools}) > expected


def test_prompt_estimate_tolerates_odd_shapes() -> None:
    assert estimate_prompt_tokens({}) == REPLY_PRIMING
    assert estimate_prompt_tokens({"messages": ["x", {"content": 5}]}) == \
        REPLY_PRIMING + MESSAGE_OVERHEAD


def test_answer_and_chunk_characters() -> None:
    body = {"choices": [
        {"message": {"content": "hello", "tool_calls": [
            {"function": {"name": "f", "arguments": "{\"a\":1}"}}]}},
        {"message": {"content": "hey"}},
    ]}
    assert answer_chars(body) == 5 + 1 + 7 + 3
    assert chunk_chars({"choices": [{"delta": {"content": "abc"}}]}) == 3
    assert chunk_chars({"choices": [{"delta": {"tool_calls": [
        {"index": 0, "function": {"arguments": "{\"x\""}}]}}]}) == 4
    assert chunk_chars({"choices": [], "usage": {"prompt_tokens": 1}}) == 0


def test_tags_header_parses_and_merges_over_defaults() -> None:
    assert parse_tags("feature=search, env=prod,,") == {"feature": "search", "env": "prod"}
    assert merge_tags({"env": "dev", "team": "x"}, "env=prod,feature=a/b:c@d") == {
        "env": "prod", "team": "x", "feature": "a/b:c@d"}
    assert merge_tags({"env": "dev"}, None) == {"env": "dev"}
    assert merge_tags({"env": "dev"}, "") == {"env": "dev"}


@pytest.mark.parametrize("header", [
    "feature",  # no value
    "=x",  # no key
    "feature=",  # empty value
    "fea ture=x",
    "feature=a b",
    "feature=a;b",
    "-k=v",
    "k=" + "v" * 129,
    "k" * 65 + "=v",
    ",".join(f"k{i}=v" for i in range(MAX_TAGS + 1)),
    "k=v," * 300,  # too long a header
])
def test_bad_tags_headers_are_refused_naming_the_header(header: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_tags(header)
    assert info.value.param == TAGS_HEADER
    assert TAGS_HEADER in info.value.message


def test_too_many_tags_after_merging_are_refused() -> None:
    defaults = {f"d{i}": "v" for i in range(MAX_TAGS)}
    with pytest.raises(InvalidRequest):
        merge_tags(defaults, "extra=1")
    assert len(merge_tags(defaults, "d0=override")) == MAX_TAGS


def test_end_user_prefers_the_header_and_checks_the_value() -> None:
    assert end_user(None, "alice") == "alice"
    assert end_user("bob", "alice") == "bob"
    assert end_user(None, None) is None
    assert end_user("", "") is None
    with pytest.raises(InvalidRequest):
        end_user(None, 42)
    with pytest.raises(InvalidRequest) as info:
        end_user("x" * 300, None)
    assert info.value.param == "x-pavedroad-user"
