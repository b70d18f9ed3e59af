"""A standard gateway in front of the simulator, for the SDK and routing tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.servers import RunningGateway, Sim

STANDARD = """
store: {url: "{db}"}
deployments:
  - name: sim-openai
    provider: openai_compatible
    model: up-gpt
    api_base: {sim}/v1
    api_key: sk-upstream-openai
  - name: sim-anthropic
    provider: anthropic
    model: up-claude
    api_base: {sim}
    api_key: sk-upstream-anthropic
  - name: sim-embed
    provider: openai_compatible
    model: up-embed
    api_base: {sim}/v1
models:
  - name: gpt
    route: sim-openai
  - name: claude
    route: sim-anthropic
  - name: embed
    kind: embedding
    route: sim-embed
"""


@pytest.fixture
def standard_gateway(
    sim: Sim, gateway_factory: Callable[..., RunningGateway]
) -> RunningGateway:
    return gateway_factory(STANDARD.replace("{sim}", sim.url))
