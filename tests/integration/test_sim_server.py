"""The simulator as a real HTTP server, driven by the official OpenAI and Anthropic SDKs.

`serve()` runs in a subprocess on a free port, so these tests see exactly what a gateway
deployment would: real sockets, real SSE framing, and real connection drops.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

pytestmark = pytest.mark.timeout(30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    def control(self, method: str, path: str, body: Any = None) -> Any:
        r = httpx.request(method, self.url + path, json=body, timeout=5)
        r.raise_for_status()
        return r.json()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = _free_port()
    log = tmp_path_factory.mktemp("sim") / "server.log"
    code = f"from pavedroad.sim import serve; serve(port={port})"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=sink, stderr=subprocess.STDOUT)
    srv = Server(port, log)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                srv.control("GET", "/sim/stats")
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sim server did not start:\n{log.read_text()}") from None
                time.sleep(0.05)
        yield srv
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def sim(server: Server) -> Server:
    server.control("POST", "/sim/reset")
    return server


@pytest.fixture
def oai(sim: Server) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=f"{sim.url}/v1", api_key="x", max_retries=0, timeout=10)
    with client:
        yield client


@pytest.fixture
def claude(sim: Server) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(base_url=sim.url, api_key="x", max_retries=0, timeout=10)
    with client:
        yield client


# Any: the SDKs want their TypedDicts, and these literals are exactly that on the wire.
USER: Any = [{"role": "user", "content": "Hello sim"}]
REPLY = "Simulated reply from sim-chat: Hello sim"


def test_openai_sdk_chat_and_credentials(oai: openai.OpenAI, sim: Server) -> None:
    completion = oai.chat.completions.create(model="sim-chat", messages=USER)
    assert completion.choices[0].message.content == REPLY
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 9
    stats = sim.control("GET", "/sim/stats")
    assert stats["last_headers"]["authorization"] == "Bearer x"
    assert stats["by_model"] == {"sim-chat": 1}


def test_openai_sdk_stream_with_usage(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="sim-chat", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == REPLY
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 9


def test_openai_sdk_tool_call(oai: openai.OpenAI) -> None:
    tool: Any = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    completion = oai.chat.completions.create(model="sim-chat", messages=USER, tools=[tool])
    calls = completion.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].type == "function"
    assert calls[0].function.name == "lookup"
    assert json.loads(calls[0].function.arguments) == {"q": "example"}


def test_openai_sdk_sees_rate_limit(oai: openai.OpenAI, sim: Server) -> None:
    sim.control("POST", "/sim/faults", {"model": "sim-chat", "fault": {"status": 429, "retry_after": 3}})
    with pytest.raises(openai.RateLimitError) as caught:
        oai.chat.completions.create(model="sim-chat", messages=USER)
    assert caught.value.response.headers["retry-after"] == "3"


def test_anthropic_sdk_message_and_stream(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(model="sim-claude", max_tokens=64, messages=USER)
    assert message.content[0].type == "text"
    assert message.content[0].text == "Simulated reply from sim-claude: Hello sim"
    assert message.stop_reason == "end_turn"
    with claude.messages.stream(model="sim-claude", max_tokens=3, messages=USER) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed == "Simulated reply from"
    assert final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == 3


def test_anthropic_sdk_streamed_tool_use(claude: anthropic.Anthropic) -> None:
    tool: Any = {
        "name": "weather",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    }
    messages: Any = [{"role": "user", "content": "what's the weather?"}]
    with claude.messages.stream(model="sim-claude", max_tokens=64, messages=messages, tools=[tool]) as s:
        final = s.get_final_message()
    assert final.stop_reason == "tool_use"
    block = final.content[0]
    assert block.type == "tool_use"
    assert block.name == "weather"
    assert block.input == {"city": "example", "days": 1}


def test_anthropic_sdk_sees_overloaded(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.APIStatusError) as caught:
        claude.messages.create(
            model="sim-claude",
            max_tokens=16,
            messages=USER,
            extra_headers={"x-sim-fault": "status=529"},
        )
    assert caught.value.status_code == 529
    body: Any = caught.value.body
    assert body["error"]["type"] == "overloaded_error"


def test_reset_fault_breaks_the_connection(oai: openai.OpenAI, sim: Server) -> None:
    stream = oai.chat.completions.create(
        model="sim-chat",
        messages=USER,
        stream=True,
        extra_headers={"x-sim-fault": "reset_after_chunks=2"},
    )
    received: list[Any] = []
    with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError)):
        received.extend(stream)
    assert len(received) == 2
    # The same drop, seen without the SDK: the chunked body never completes.
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream(
            "POST",
            f"{sim.url}/v1/chat/completions",
            json={"model": "m", "messages": USER, "stream": True},
            headers={"x-sim-fault": "reset_after_chunks=1"},
        ) as response,
    ):
        for _ in response.iter_bytes():
            pass
    # Deliberate resets are not logged as server errors.
    assert "Exception in ASGI application" not in sim.log.read_text()


def test_truncate_fault_ends_stream_without_done(oai: openai.OpenAI, sim: Server) -> None:
    body = {"model": "m", "messages": USER, "stream": True}
    with httpx.stream(
        "POST",
        f"{sim.url}/v1/chat/completions",
        json=body,
        headers={"x-sim-fault": "truncate_after_chunks=3"},
    ) as response:
        text = response.read().decode()
    assert response.status_code == 200
    assert text.count("data: ") == 3
    assert "[DONE]" not in text
    # The SDK ends quietly; only the missing finish_reason betrays the cut.
    sim.control("POST", "/sim/faults", {"fault": {"truncate_after_chunks": 3}, "times": 1})
    chunks = list(oai.chat.completions.create(model="m", messages=USER, stream=True))
    assert len(chunks) == 3
    assert all(c.choices[0].finish_reason is None for c in chunks)


def test_first_token_delay_comes_after_headers(sim: Server) -> None:
    body = {"model": "m", "messages": USER, "stream": True}
    started = time.perf_counter()
    with httpx.stream(
        "POST",
        f"{sim.url}/v1/chat/completions",
        json=body,
        headers={"x-sim-fault": "first_token_ms=400"},
    ) as response:
        headers_at = time.perf_counter() - started
        first = next(response.iter_raw())
        first_at = time.perf_counter() - started
    assert response.headers["content-type"].startswith("text/event-stream")
    assert first.startswith(b"data: ")
    assert headers_at < 0.3
    assert first_at >= 0.39
