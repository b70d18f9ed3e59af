"""Cache keys: which request fields change the key, scoping, route fingerprints, and what
the semantic cache compares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pavedroad.cache.key import (
    IGNORED_FIELDS,
    RouteFingerprints,
    Scope,
    exact_key,
    semantic_query,
)
from pavedroad.config.models import DeploymentConfig, ModelConfig
from pavedroad.core.types import Caller, Subject

BASE: dict[str, Any] = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}
SCOPE = Scope("ten_a", "app_a")


def key(body: dict[str, Any], scope: Scope = SCOPE, model: str = "gpt",
        route: bytes = b"r") -> bytes:
    return exact_key(scope, model, route, body)


def caller(tenant: str = "ten_a", app: str = "app_a", team: str = "t") -> Caller:
    return Caller(key_id="key_1", name="k", models=None, team=team,
                  app=Subject(app, "app"), tenant=Subject(tenant, "tenant"))


@pytest.mark.parametrize("extra", [
    {"stream": True}, {"stream": True, "stream_options": {"include_usage": True}},
    {"user": "u-1"}, {"metadata": {"trace": "x"}}, {"store": True},
    {"service_tier": "flex"}, {"safety_identifier": "s"}, {"prompt_cache_key": "p"},
    {"n": 1},
])
def test_fields_that_cannot_change_the_answer_leave_the_key_alone(extra: dict[str, Any]) -> None:
    assert key({**BASE, **extra}) == key(BASE)


@pytest.mark.parametrize("extra", [
    {"temperature": 0.2}, {"top_p": 0.5}, {"max_tokens": 5}, {"seed": 1}, {"n": 2},
    {"stop": ["x"]}, {"tools": [{"type": "function", "function": {"name": "f"}}]},
    {"tool_choice": "none"}, {"response_format": {"type": "json_object"}},
    {"parallel_tool_calls": False}, {"vendor_specific": 1},
    {"messages": [{"role": "user", "content": "hi "}]},
    {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]},
])
def test_fields_that_can_change_the_answer_change_the_key(extra: dict[str, Any]) -> None:
    assert key({**BASE, **extra}) != key(BASE)


PINNED = {"stream", "stream_options", "user", "metadata", "store", "service_tier",
          "safety_identifier", "prompt_cache_key"}
ADR = Path(__file__).resolve().parents[2] / "docs" / "adr" / "0009-response-cache.md"


def test_ignored_fields_are_pinned_and_documented() -> None:
    assert PINNED == IGNORED_FIELDS
    text = ADR.read_text()
    for name in IGNORED_FIELDS:
        assert f"`{name}`" in text, name


def test_key_order_and_number_spelling_do_not_matter() -> None:
    a = {"model": "gpt", "temperature": 0, "messages": [{"content": "hi", "role": "user"}]}
    b = {"messages": [{"role": "user", "content": "hi"}], "temperature": 0.0, "model": "gpt"}
    assert key(a) == key(b)


def test_tenant_app_model_and_route_each_change_the_key() -> None:
    reference = key(BASE)
    assert key(BASE, scope=Scope("ten_b", "app_a")) != reference
    assert key(BASE, scope=Scope("ten_a", "app_b")) != reference
    assert key(BASE, model="other") != reference
    assert key(BASE, route=b"other") != reference
    assert reference.startswith(b"pavedroad:cache:v1:ten_a:app_a:")


def test_the_master_key_gets_a_scope_of_its_own() -> None:
    master = Caller(key_id="master", name="master", models=None, is_admin=True)
    assert Scope.of(master) == Scope("none", "key.master")
    assert Scope.of(caller()) == Scope("ten_a", "app_a")


def _fingerprints(route: Any, upstream: str = "up-1") -> RouteFingerprints:
    deployments = {name: DeploymentConfig(name=name, provider="openai_compatible",
                                          model=upstream, api_base="http://x/v1")
                   for name in ("a", "b")}
    return RouteFingerprints({"m": ModelConfig(name="m", route=route)}, deployments)


def test_a_changed_route_or_deployment_changes_the_fingerprint() -> None:
    def of(fp: RouteFingerprints) -> bytes:
        return fp.of("m", headers={}, caller=caller())

    assert of(_fingerprints("a")) == of(_fingerprints("a"))
    assert of(_fingerprints("a")) != of(_fingerprints("b"))
    assert of(_fingerprints("a")) != of(_fingerprints("a", upstream="up-2"))
    assert of(_fingerprints({"fallback": ["a", "b"]})) != of(_fingerprints("a"))


def test_a_conditional_route_adds_the_branch_the_request_takes() -> None:
    fp = _fingerprints({"conditional": {
        "rules": [{"when": {"header": "x-tier", "equals": "gold"}, "then": "a"},
                  {"when": {"team": "research"}, "then": "b"}],
        "default": "b"}})
    gold = fp.of("m", headers={"x-tier": "gold"}, caller=caller())
    research = fp.of("m", headers={}, caller=caller(team="research"))
    default = fp.of("m", headers={}, caller=caller())
    assert len({gold, research, default}) == 3
    assert fp.of("m", headers={"x-tier": "gold"}, caller=caller(team="other")) == gold


def test_the_semantic_query_compares_only_the_last_user_text() -> None:
    conversation = [{"role": "system", "content": "be brief"},
                    {"role": "user", "content": "  What is   the CAPITAL of France? "}]
    query = semantic_query(SCOPE, "gpt", b"r", {**BASE, "messages": conversation})
    assert query is not None
    assert query.text == "what is the capital of france?"
    assert query.scope == "ten_a/app_a/gpt"
    retyped = [conversation[0], {"role": "user", "content": "Something else entirely"}]
    other = semantic_query(SCOPE, "gpt", b"r", {**BASE, "messages": retyped})
    assert other is not None and other.context == query.context  # same context, other text
    for changed in (
        {"messages": [{"role": "system", "content": "be long"}, conversation[1]]},
        {"messages": conversation, "temperature": 0.5},
        {"messages": conversation, "tools": [{"type": "function", "function": {"name": "f"}}]},
    ):
        changed_query = semantic_query(SCOPE, "gpt", b"r", {**BASE, **changed})
        assert changed_query is not None and changed_query.context != query.context
    assert semantic_query(SCOPE, "gpt", b"other", {**BASE, "messages": conversation}) \
        .context != query.context  # type: ignore[union-attr]


@pytest.mark.parametrize("messages", [
    [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
    [{"role": "user", "content": "   "}],
    [],
])
def test_no_semantic_query_without_a_final_plain_text_user_message(
    messages: list[dict[str, Any]]
) -> None:
    assert semantic_query(SCOPE, "gpt", b"r", {**BASE, "messages": messages}) is None


def test_text_parts_count_as_plain_text() -> None:
    parts = [{"role": "user", "content": [{"type": "text", "text": "Hello"},
                                          {"type": "text", "text": "World"}]}]
    query = semantic_query(SCOPE, "gpt", b"r", {**BASE, "messages": parts})
    assert query is not None and query.text == "hello world"
