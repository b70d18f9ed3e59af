"""Config loading: every problem found, located by path and line; precedence rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from pavedroad.config import ConfigError, load_settings
from pavedroad.config.routes import ConditionalNode, FallbackNode, WeightedNode

GOOD = """
deployments:
  - name: a
    provider: openai_compatible
    model: m
    api_base: http://127.0.0.1:1/v1
  - name: b
    provider: openai_compatible
    model: m
    api_base: http://127.0.0.1:2/v1
models:
  - name: fast
    route: {fallback: [a, {weighted: [{target: b, weight: 2}, {target: a}]}]}
  - name: cond
    route:
      conditional:
        rules:
          - when: {header: x-tier, equals: premium}
            then: b
        default: a
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(text=text, env={})
    return [str(p) for p in info.value.problems]


def test_good_config_builds_typed_route_tree() -> None:
    settings = load_settings(text=GOOD, env={})
    fast = settings.models[0].route
    assert isinstance(fast, FallbackNode)
    assert fast.fallback[0] == "a"
    assert isinstance(fast.fallback[1], WeightedNode)
    assert fast.fallback[1].weighted[0].weight == 2
    assert isinstance(settings.models[1].route, ConditionalNode)


def test_every_problem_is_reported_with_its_line() -> None:
    text = """
deployments:
  - name: a
    provider: openai
    model: m
    timeouts: {connect: -1}
    colour: blue
models:
  - name: x
    route: {nope: 1}
"""
    found = problems(text)
    assert len(found) == 3
    assert found[0].startswith("line 6: deployments[0].timeouts.connect: ")
    assert found[1] == ("line 7: deployments[0].colour: unknown key (check the spelling; "
                        "see docs/configuration.md)")
    assert found[2].startswith("line 10: models[0].route: a route is a deployment name")


def test_union_tags_do_not_leak_into_paths() -> None:
    text = GOOD.replace("weight: 2", "weight: 0")
    (problem,) = problems(text)
    assert "models[0].route.fallback[1].weighted[0].weight" in problem
    assert "fallback.fallback" not in problem


def test_dangling_and_duplicate_references_are_located() -> None:
    text = GOOD.replace("then: b", "then: nowhere").replace("name: b", "name: a")
    found = problems(text)
    assert any("deployments[1].name: deployment 'a' is defined twice" in p for p in found)
    assert any("models[1].route: routes to unknown deployment 'nowhere'" in p for p in found)


def test_bad_yaml_names_the_line() -> None:
    (problem,) = problems("deployments:\n  - name: [unclosed\n")
    assert problem.startswith("line ")
    assert "not valid YAML" in problem


def test_top_level_must_be_a_mapping() -> None:
    assert problems("- a\n- b\n") == ["line 1: <root>: the top level must be a mapping"]


def test_precedence_flag_over_env_over_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("server: {port: 1111, host: 0.0.0.0}\n")
    assert load_settings(path, env={}).server.port == 1111
    from_env = load_settings(path, env={"PAVEDROAD_PORT": "2222"})
    assert from_env.server.port == 2222
    assert from_env.server.host == "0.0.0.0"
    flagged = load_settings(path, env={"PAVEDROAD_PORT": "2222"},
                            overrides={("server", "port"): 3333})
    assert flagged.server.port == 3333


def test_env_problem_says_where_the_value_came_from() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(text="", env={"PAVEDROAD_PORT": "eighty"})
    (problem,) = info.value.problems
    assert problem.path == "server.port"
    assert problem.source == "env PAVEDROAD_PORT"


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "absent.yaml", env={})
    assert "cannot read file" in info.value.problems[0].message


def test_condition_needs_a_subject() -> None:
    text = GOOD.replace("{header: x-tier, equals: premium}", "{equals: premium}")
    (problem,) = problems(text)
    assert "a condition needs `header`, `team` or `key_name`" in problem


def test_api_key_is_never_in_repr() -> None:
    text = GOOD.replace("model: m\n    api_base: http://127.0.0.1:1/v1",
                        "model: m\n    api_base: http://127.0.0.1:1/v1\n    api_key: sk-topsecret")
    settings = load_settings(text=text, env={})
    assert "sk-topsecret" not in repr(settings)
    assert "sk-topsecret" not in settings.model_dump_json()
