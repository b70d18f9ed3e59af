"""The gateway answers through both wire formats with the real SDKs."""

from __future__ import annotations

import anthropic
import openai

from tests.support.servers import MASTER_KEY, RunningGateway


def test_openai_sdk_reaches_openai_deployment(standard_gateway: RunningGateway) -> None:
    client = openai.OpenAI(base_url=f"{standard_gateway.url}/v1", api_key=MASTER_KEY,
                           max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt", messages=[{"role": "user", "content": "ping"}])
    completion = raw.parse()
    assert completion.choices[0].message.content == "Simulated reply from up-gpt: ping"
    assert raw.headers["x-pavedroad-route"] == "sim-openai:ok"
    assert raw.headers["x-pavedroad-request-id"].startswith("req_")


def test_anthropic_sdk_reaches_openai_deployment(standard_gateway: RunningGateway) -> None:
    client = anthropic.Anthropic(base_url=standard_gateway.url, api_key=MASTER_KEY,
                                 max_retries=0)
    message = client.messages.create(model="gpt", max_tokens=50,
                                      messages=[{"role": "user", "content": "ping"}])
    assert message.content[0].type == "text"
    assert message.content[0].text == "Simulated reply from up-gpt: ping"
    assert message.stop_reason == "end_turn"
