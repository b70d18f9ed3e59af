"""Each provider kind against the simulator's wire formats, through the real gateway."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import openai

from tests.support.servers import MASTER_KEY, RunningGateway, Sim


def test_azure_openai_deployment_uses_its_url_shape_and_api_key_header(
    sim: Sim, gateway_factory: Callable[..., RunningGateway], tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("azure: az-secret-123\n")
    gw = gateway_factory(f"""
store: {{url: "{{db}}"}}
secrets_file: {secrets}
deployments:
  - name: azure-east
    provider: azure_openai
    model: my-gpt4o-deployment
    api_base: {sim.url}
    api_version: "2024-10-21"
    api_key: secret:azure
models:
  - name: gpt
    route: azure-east
  - name: embed
    kind: embedding
    route: azure-east
""")
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY, max_retries=0)
    completion = client.chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "hello azure"}])
    # Azure takes the model from the URL: the simulator echoes the deployment name.
    assert completion.choices[0].message.content == \
        "Simulated reply from my-gpt4o-deployment: hello azure"
    stats = sim.stats()
    assert stats["last_headers"]["api-key"] == "az-secret-123"
    assert "authorization" not in stats["last_headers"]
    assert any("/openai/deployments/my-gpt4o-deployment/chat/completions" in path
               for path in stats["by_path"])
    vectors = client.embeddings.create(model="embed", input=["a", "b"])
    assert len(vectors.data) == 2


def test_deployment_params_and_headers_reach_the_upstream(
    sim: Sim, gateway_factory: Callable[..., RunningGateway]
) -> None:
    gw = gateway_factory(f"""
store: {{url: "{{db}}"}}
deployments:
  - name: tuned
    provider: openai_compatible
    model: up
    api_base: {sim.url}/v1
    headers: {{x-team-tag: platform}}
    params: {{max_tokens: 3}}
models:
  - name: m
    route: tuned
""")
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY, max_retries=0)
    capped = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "one two three four five six"}])
    assert capped.choices[0].finish_reason == "length"
    assert capped.usage is not None and capped.usage.completion_tokens == 3
    assert sim.stats()["last_headers"]["x-team-tag"] == "platform"
    # The caller's own value wins over the deployment default.
    free = client.chat.completions.create(
        model="m", max_tokens=50, messages=[{"role": "user", "content": "one two three"}])
    assert free.choices[0].finish_reason == "stop"
