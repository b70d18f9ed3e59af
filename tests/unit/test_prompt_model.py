"""The prompt registry's pure parts: template syntax, variable checks, hashing, diffs,
the rendered request body and rollback over label history."""

from __future__ import annotations

from typing import Any

import pytest

from pavedroad.core.errors import InvalidRequest, PromptInvalid, PromptVariablesInvalid
from pavedroad.prompts.diff import diff
from pavedroad.prompts.model import content_from, render_messages
from pavedroad.prompts.template import TemplateError, parse
from pavedroad.service.prompts import LoadedVersion, rendered_body
from pavedroad.service.prompts_admin import label_stack
from pavedroad.store.prompts import LabelMove

BASE: dict[str, Any] = {
    "model": "gpt",
    "variables": [{"name": "customer", "type": "string"},
                  {"name": "tickets", "type": "integer", "required": False, "default": 1},
                  {"name": "vip", "type": "boolean", "required": False, "default": False}],
    "messages": [{"role": "system", "content": "You help {{customer}}."},
                 {"role": "user", "content": "Open tickets: {{ tickets }}, vip={{vip}}"}],
    "parameters": {"temperature": 0.2, "max_tokens": 50},
}


def render(definition: dict[str, Any], variables: Any) -> list[dict[str, str]]:
    content = content_from(definition)
    return render_messages(content, content.templates(), variables)


def test_placeholders_render_typed_values_and_keep_other_text() -> None:
    out = render(BASE, {"customer": "Ada", "tickets": 3, "vip": True})
    assert out == [{"role": "system", "content": "You help Ada."},
                   {"role": "user", "content": "Open tickets: 3, vip=true"}]


def test_defaults_fill_optional_variables() -> None:
    assert render(BASE, {"customer": "Bo"})[1]["content"] == "Open tickets: 1, vip=false"


def test_template_never_evaluates_expressions() -> None:
    with pytest.raises(TemplateError, match="malformed placeholder"):
        parse("{{ __import__('os').system('id') }}")
    with pytest.raises(TemplateError):
        parse("{{ a.b }}")
    # A value that looks like a template is inserted as text, not expanded again.
    assert parse("{{ x }}").render({"x": "{{ y }}"}) == "{{ y }}"


def test_escaped_braces_are_literal() -> None:
    assert parse(r"JSON looks like \{{ x }}").render({}) == "JSON looks like {{ x }}"


def test_lists_and_objects_render_as_compact_json() -> None:
    template = parse("{{ items }}|{{ meta }}")
    assert template.render({"items": [1, "a"], "meta": {"b": 2, "a": 1}}) == \
        '[1,"a"]|{"a":1,"b":2}'


@pytest.mark.parametrize(("variables", "param", "fragment"), [
    ({}, "prompt.variables.customer", "'customer' (string) is required"),
    ({"customer": 5}, "prompt.variables.customer", "must be of type string, got int"),
    ({"customer": "A", "tickets": "3"}, "prompt.variables.tickets", "of type integer"),
    ({"customer": "A", "tickets": True}, "prompt.variables.tickets", "of type integer"),
    ({"customer": "A", "color": "red"}, "prompt.variables.color", "unknown variable 'color'"),
    ("customer=A", "prompt.variables", "must be an object"),
])
def test_bad_variables_name_the_variable(variables: Any, param: str, fragment: str) -> None:
    with pytest.raises(PromptVariablesInvalid) as caught:
        render(BASE, variables)
    assert caught.value.param == param
    assert fragment in caught.value.message
    assert caught.value.code == "prompt_variables_invalid" and caught.value.http_status == 400


@pytest.mark.parametrize(("change", "param"), [
    ({"messages": [{"role": "user", "content": "{{ nope }}"}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "{{ 1x }}"}]}, "messages[0].content"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
    ({"messages": []}, "messages"),
    ({"variables": [{"name": "customer", "type": "date"}]}, "variables[0].type"),
    ({"variables": [{"name": "customer", "type": "integer", "default": "x"}]},
     "variables[0].default"),
    ({"parameters": {"temprature": 1}}, "parameters.temprature"),
    ({"parameters": {"max_tokens": True}}, "parameters.max_tokens"),
    ({"response_schema": "object"}, "response_schema"),
    ({"colour": "blue"}, "colour"),
    # JSON lists and YAML's non-string keys were a TypeError (a 500), not a located error.
    ({"variables": [{"name": "customer", "type": ["string"]}]}, "variables[0].type"),
    ({"variables": {"customer": {"type": {"of": "string"}}}}, "variables[0].type"),
    ({"variables": [{"name": "customer", 7: "x"}]}, "variables[0]"),
    ({1: "x"}, "1"),
])
def test_malformed_prompts_are_refused_with_the_field(change: dict[str, Any], param: str) -> None:
    with pytest.raises(PromptInvalid) as caught:
        content_from({**BASE, **change})
    assert caught.value.param == param


def test_content_hash_ignores_layout_but_not_meaning() -> None:
    a = content_from(BASE)
    reordered = {"parameters": {"max_tokens": 50, "temperature": 0.2},
                 "messages": BASE["messages"], "model": "gpt",
                 "variables": {"vip": {"type": "boolean", "required": False, "default": False},
                               "tickets": {"type": "integer", "required": False, "default": 1},
                               "customer": "string"}}
    assert content_from(reordered).content_hash == a.content_hash
    changed = {**BASE, "parameters": {"temperature": 0.3, "max_tokens": 50}}
    assert content_from(changed).content_hash != a.content_hash
    assert len(a.content_hash) == 64


def test_template_shorthand_is_one_user_message() -> None:
    content = content_from({"template": "Hi {{ n }}", "variables": ["n"]})
    assert content.messages == (("user", "Hi {{ n }}"),)
    assert content.variables[0].required


def test_diff_shows_template_lines_and_parameter_changes() -> None:
    old = content_from(BASE)
    new = content_from({**BASE, "model": "claude",
                        "messages": [BASE["messages"][0],
                                     {"role": "user", "content": "Tickets: {{ tickets }}"}],
                        "parameters": {"temperature": 0.7, "seed": 4}})
    result = diff(old, new, old_label="p@1", new_label="p@2")
    assert "-Open tickets: {{ tickets }}, vip={{vip}}" in result["template"]
    assert "+Tickets: {{ tickets }}" in result["template"]
    assert result["template"].startswith("--- p@1\n+++ p@2")
    assert result["parameters"] == {"max_tokens": {"from": 50, "to": None},
                                    "seed": {"from": None, "to": 4},
                                    "temperature": {"from": 0.2, "to": 0.7}}
    assert result["model"] == {"from": "gpt", "to": "claude"}
    assert result["identical"] is False
    assert diff(old, old)["template"] == "" and diff(old, old)["identical"] is True


def _version(definition: dict[str, Any]) -> LoadedVersion:
    content = content_from(definition)
    return LoadedVersion(1, content, content.templates())


def test_rendered_body_puts_prompt_first_and_lets_the_caller_override() -> None:
    chosen = _version({**BASE, "response_schema": {"type": "object"}})
    body = {"prompt": {"id": "support.reply"}, "temperature": 0.9,
            "messages": [{"role": "user", "content": "and one more thing"}]}
    out = rendered_body(body, "support.reply", chosen, {"customer": "Ada"})
    assert "prompt" not in out
    assert [m["content"] for m in out["messages"]] == [
        "You help Ada.", "Open tickets: 1, vip=false", "and one more thing"]
    assert out["model"] == "gpt"
    assert out["temperature"] == 0.9 and out["max_tokens"] == 50
    assert out["response_format"]["json_schema"]["name"] == "support_reply"


def test_rendered_body_needs_a_model_from_somewhere() -> None:
    chosen = _version({k: v for k, v in BASE.items() if k != "model"})
    with pytest.raises(InvalidRequest, match="`model` is required") as caught:
        rendered_body({"prompt": {}}, "p", chosen, {"customer": "A"})
    assert caught.value.param == "model"
    assert rendered_body({"model": "claude"}, "p", chosen, {"customer": "A"})["model"] == "claude"


def _move(to: int, action: str = "move") -> LabelMove:
    return LabelMove("production", None, to, action, "t", 0.0)


def test_rollback_walks_back_through_history_not_to_and_fro() -> None:
    moves = [_move(1), _move(2), _move(3)]
    assert label_stack(moves) == [1, 2, 3]
    moves.append(_move(2, "rollback"))
    assert label_stack(moves) == [1, 2]
    moves.append(_move(1, "rollback"))
    assert label_stack(moves) == [1]
    moves.append(_move(4))
    assert label_stack(moves) == [1, 4]
