"""Bad input over real HTTP: always a 4xx with a stable code and the caller's error shape.

OpenAI routes answer `{"error": {"message", "type", "code", "param"}}`; the Anthropic
Messages route answers `{"type": "error", "error": {"type", "message", ...}}`. Every
response carries `x-pavedroad-request-id`, errors included.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.integration.conftest import STANDARD
from tests.support.servers import MASTER_KEY, RunningGateway, Sim, start_gateway

LIMIT = 2048
CONFIG = f"server: {{max_body_bytes: {LIMIT}}}\n" + STANDARD

JSON = {"content-type": "application/json"}
AUTH = {"authorization": f"Bearer {MASTER_KEY}"}
HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gw(sim_session: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = start_gateway(CONFIG.replace("{sim}", sim_session.url),
                            tmp_path_factory.mktemp("errors"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def http(gw: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gw.url, timeout=30) as client:
        yield client


def openai_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check the OpenAI error shape and return the inner error object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-pavedroad-request-id"].startswith("req_")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    return dict(error)


def anthropic_error(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["x-pavedroad-request-id"].startswith("req_")
    body = response.json()
    assert body["type"] == "error"
    error = body["error"]
    assert error["type"] == kind
    assert isinstance(error["message"], str) and error["message"]
    return dict(error)


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt", "messages": HELLO, **fields}


# --- the body ---------------------------------------------------------------------------

BAD_BODIES = [
    pytest.param(b'{"model": "gpt", "messages": [', "invalid_json", None, id="malformed-json"),
    pytest.param(b"", "invalid_json", None, id="empty-body"),
    pytest.param(b'[{"model": "gpt"}]', "invalid_json", None, id="array-body"),
    pytest.param(b'"just a string"', "invalid_json", None, id="string-body"),
    pytest.param(b"\xff\xfe not utf8", "invalid_json", None, id="binary-body"),
]


@pytest.mark.parametrize(("raw", "code", "param"), BAD_BODIES)
def test_unreadable_bodies(http: httpx.Client, raw: bytes, code: str, param: str | None) -> None:
    response = http.post("/v1/chat/completions", content=raw, headers={**AUTH, **JSON})
    error = openai_error(response, 400, code)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


BAD_FIELDS = [
    pytest.param({"model": "gpt", "messages": "hi"}, "messages", id="messages-a-string"),
    pytest.param(chat(temperature="hot"), "temperature", id="temperature-a-string"),
    pytest.param(chat(stream="yes"), "stream", id="stream-a-string"),
    pytest.param(chat(max_tokens=1.5), "max_tokens", id="max-tokens-a-float"),
    pytest.param({"model": 7, "messages": HELLO}, "model", id="model-a-number"),
    pytest.param({"messages": HELLO}, "model", id="missing-model"),
    pytest.param({"model": "gpt"}, "messages", id="missing-messages"),
    pytest.param({"model": "gpt", "messages": []}, "messages", id="empty-messages"),
    pytest.param({"model": "gpt", "messages": [{"role": "wizard", "content": "hi"}]},
                 "messages[0].role", id="bad-role"),
    pytest.param({"model": "gpt", "messages": [*HELLO, {"content": "no role"}]},
                 "messages[1].role", id="missing-role"),
    pytest.param({"model": "gpt", "messages": [{"role": "user", "content": 5}]},
                 "messages[0].content", id="content-a-number"),
    pytest.param(chat(n=0), "n", id="n-zero"),
    pytest.param(chat(max_tokens=0), "max_tokens", id="max-tokens-zero"),
    pytest.param(chat(response_format={"type": "yaml"}), "response_format.type",
                 id="bad-response-format"),
    pytest.param(chat(tools="not a list"), "tools", id="tools-a-string"),
]


@pytest.mark.parametrize(("body", "param"), BAD_FIELDS)
def test_invalid_fields_name_the_param(http: httpx.Client, body: dict[str, Any],
                                       param: str) -> None:
    response = http.post("/v1/chat/completions", json=body, headers=AUTH)
    error = openai_error(response, 400, "invalid_request")
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


def test_unknown_model_is_404(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json=chat(model="gpt-99"), headers=AUTH)
    error = openai_error(response, 404, "model_not_found")
    assert error["param"] == "model"
    assert "gpt-99" in error["message"]


def test_body_over_the_limit_is_413(http: httpx.Client) -> None:
    big = chat(messages=[{"role": "user", "content": "x" * (LIMIT + 10)}])
    response = http.post("/v1/chat/completions", json=big, headers=AUTH)
    openai_error(response, 413, "request_too_large")


def test_chunked_body_over_the_limit_is_413(http: httpx.Client) -> None:
    # No Content-Length: the limit must hold while reading the stream too.
    def pieces() -> Iterator[bytes]:
        yield b'{"model": "gpt", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"y" * 512
        yield b'"}]}'

    response = http.post("/v1/chat/completions", content=pieces(), headers={**AUTH, **JSON})
    assert "content-length" not in response.request.headers
    openai_error(response, 413, "request_too_large")


def test_body_just_under_the_limit_is_served(http: httpx.Client) -> None:
    body = chat(messages=[{"role": "user", "content": "z" * (LIMIT - 200)}])
    response = http.post("/v1/chat/completions", json=body, headers=AUTH)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          None])
def test_wrong_content_type_is_415(http: httpx.Client, content_type: str | None) -> None:
    headers = dict(AUTH)
    if content_type:
        headers["content-type"] = content_type
    response = http.post("/v1/chat/completions", content=b'{"model": "gpt"}', headers=headers)
    openai_error(response, 415, "unsupported_media_type")


def test_json_content_type_with_charset_is_accepted(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", content=httpx.Request(
        "POST", "/", json=chat()).content,
        headers={**AUTH, "content-type": "application/json; charset=utf-8"})
    assert response.status_code == 200, response.text


# --- authentication ---------------------------------------------------------------------


def test_missing_api_key_is_401(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json=chat())
    error = openai_error(response, 401, "missing_api_key")
    assert error["type"] == "authentication_error"


@pytest.mark.parametrize("headers", [
    {"authorization": "Bearer sk-wrong"},
    {"x-api-key": "sk-wrong"},
    {"authorization": f"Basic {MASTER_KEY}"},
], ids=["bearer", "x-api-key", "basic-scheme"])
def test_bad_api_key_is_401(http: httpx.Client, headers: dict[str, str]) -> None:
    response = http.post("/v1/chat/completions", json=chat(), headers=headers)
    code = "missing_api_key" if headers.get("authorization", "").startswith("Basic") else \
        "invalid_api_key"
    openai_error(response, 401, code)


def test_master_key_works_as_x_api_key(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json=chat(), headers={"x-api-key": MASTER_KEY})
    assert response.status_code == 200


def test_auth_is_checked_before_the_body(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", content=b"{nope",
                         headers={**JSON, "authorization": "Bearer sk-wrong"})
    openai_error(response, 401, "invalid_api_key")


# --- routing-level errors ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/nope", "/v2/chat/completions", "/", "/admin/nothing"])
def test_unknown_route_is_404(http: httpx.Client, path: str) -> None:
    response = http.get(path, headers=AUTH)
    error = openai_error(response, 404, "not_found")
    assert path in error["message"]


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/chat/completions"), ("PUT", "/v1/embeddings"), ("POST", "/v1/models"),
    ("DELETE", "/healthz"), ("PATCH", "/admin/keys"),
])
def test_wrong_method_is_405(http: httpx.Client, method: str, path: str) -> None:
    response = http.request(method, path, headers=AUTH)
    openai_error(response, 405, "method_not_allowed")


def test_embeddings_errors(http: httpx.Client) -> None:
    openai_error(http.post("/v1/embeddings", json={"model": "embed", "input": []},
                           headers=AUTH), 400, "invalid_request")
    error = openai_error(http.post("/v1/embeddings", json={"model": "embed", "input": [1, "a"]},
                                   headers=AUTH), 400, "invalid_request")
    assert error["param"] == "input"
    error = openai_error(http.post("/v1/embeddings", json={"model": "embed"}, headers=AUTH),
                         400, "invalid_request")
    assert error["param"] == "input"
    error = openai_error(http.post("/v1/embeddings", json={"model": "nope", "input": "a"},
                                   headers=AUTH), 404, "model_not_found")
    openai_error(http.post("/v1/embeddings", json={"model": "embed", "input": "a"}), 401,
                 "missing_api_key")


def test_upstream_rejection_is_a_4xx_not_a_500(http: httpx.Client, sim: Sim) -> None:
    sim.fault("up-gpt", status=400, times=1)
    response = http.post("/v1/chat/completions", json=chat(), headers=AUTH)
    openai_error(response, 400, "upstream_rejected_request")
    assert response.headers["x-pavedroad-route"] == "sim-openai:upstream_rejected_request"


def test_upstream_failure_is_a_502_with_the_route(http: httpx.Client, sim: Sim) -> None:
    sim.fault("up-gpt", status=500, times=2)  # the first try and its one retry
    response = http.post("/v1/chat/completions", json=chat(), headers=AUTH)
    error = openai_error(response, 502, "upstream_error")
    assert error["type"] == "upstream_error"
    assert response.headers["x-pavedroad-route"] == \
        "sim-openai:upstream_error, sim-openai:upstream_error"


def test_request_ids_are_unique(http: httpx.Client) -> None:
    ids = {http.get("/healthz").headers["x-pavedroad-request-id"] for _ in range(5)}
    ids |= {http.post("/v1/chat/completions", json=chat()).headers["x-pavedroad-request-id"]
            for _ in range(5)}
    assert len(ids) == 10


def test_streaming_response_carries_the_request_id(http: httpx.Client) -> None:
    with http.stream("POST", "/v1/chat/completions", json=chat(stream=True),
                     headers=AUTH) as response:
        assert response.status_code == 200
        assert response.headers["x-pavedroad-request-id"].startswith("req_")
        body = b"".join(response.iter_bytes())
    assert body.endswith(b"data: [DONE]\n\n")


# --- the Anthropic route answers in Anthropic's shape -------------------------------------

MESSAGE = {"model": "claude", "max_tokens": 50, "messages": HELLO}


@pytest.mark.parametrize(("body", "kind", "code"), [
    pytest.param(b'{"model": ', "invalid_request_error", "invalid_json", id="malformed"),
    pytest.param(b'{"model": "claude", "messages": []}', "invalid_request_error",
                 "invalid_request", id="missing-max-tokens"),
    pytest.param(b'{"model": "claude", "max_tokens": 5}', "invalid_request_error",
                 "invalid_request", id="missing-messages"),
    pytest.param(b'{"model": "claude", "max_tokens": "lots", "messages": []}',
                 "invalid_request_error", "invalid_request", id="max-tokens-a-string"),
    pytest.param(b'{"model": "claude", "max_tokens": 5, "messages": [{"role": "system", '
                 b'"content": "x"}]}', "invalid_request_error", "invalid_request",
                 id="system-role-in-messages"),
])
def test_messages_bad_input_in_anthropic_shape(http: httpx.Client, body: bytes, kind: str,
                                               code: str) -> None:
    response = http.post("/v1/messages", content=body, headers={**AUTH, **JSON})
    error = anthropic_error(response, 400, kind)
    assert error["code"] == code


def test_messages_auth_and_routing_errors_in_anthropic_shape(http: httpx.Client) -> None:
    anthropic_error(http.post("/v1/messages", json=MESSAGE), 401, "authentication_error")
    anthropic_error(http.post("/v1/messages", json=MESSAGE, headers={"x-api-key": "nope"}),
                    401, "authentication_error")
    error = anthropic_error(http.post("/v1/messages", json={**MESSAGE, "model": "nope"},
                                      headers=AUTH), 404, "not_found_error")
    assert error["code"] == "model_not_found"
    anthropic_error(http.post("/v1/messages", content=b"{}", headers={
        **AUTH, "content-type": "text/plain"}), 415, "invalid_request_error")
    big = {**MESSAGE, "messages": [{"role": "user", "content": "x" * LIMIT}]}
    anthropic_error(http.post("/v1/messages", json=big, headers=AUTH), 413, "request_too_large")
    error = anthropic_error(http.get("/v1/messages", headers=AUTH), 405, "invalid_request_error")
    assert error["code"] == "method_not_allowed"


def test_sdks_raise_their_own_error_classes(gw: RunningGateway) -> None:
    with openai.OpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY, max_retries=0) as sdk:
        with pytest.raises(openai.NotFoundError) as missing:
            sdk.chat.completions.create(model="gpt-99", messages=HELLO)
        assert missing.value.code == "model_not_found"
        with pytest.raises(openai.BadRequestError) as bad:
            sdk.chat.completions.create(model="gpt", messages=HELLO,
                                        temperature="hot")  # type: ignore[arg-type]
        assert bad.value.code == "invalid_request" and bad.value.param == "temperature"
    with openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-wrong", max_retries=0) as sdk:
        with pytest.raises(openai.AuthenticationError) as denied:
            sdk.models.list()
        assert denied.value.code == "invalid_api_key"
    with anthropic.Anthropic(base_url=gw.url, api_key=MASTER_KEY, max_retries=0) as sdk:
        with pytest.raises(anthropic.NotFoundError):
            sdk.messages.create(model="nope", max_tokens=5, messages=HELLO)
        with pytest.raises(anthropic.BadRequestError) as bad_role:
            sdk.messages.create(model="gpt", max_tokens=5,
                                messages=[{"role": "robot", "content": "x"}])  # type: ignore[typeddict-item]
        assert bad_role.value.status_code == 400
    with (
        anthropic.Anthropic(base_url=gw.url, api_key="sk-wrong", max_retries=0) as sdk,
        pytest.raises(anthropic.AuthenticationError),
    ):
        sdk.messages.create(model="gpt", max_tokens=5, messages=HELLO)


def test_upstream_rate_limit_in_both_shapes(gw: RunningGateway, http: httpx.Client,
                                            sim: Sim) -> None:
    sim.fault("up-gpt", status=429, retry_after=0, times=2)
    response = http.post("/v1/chat/completions", json=chat(), headers=AUTH)
    error = openai_error(response, 429, "upstream_rate_limited")
    assert error["type"] == "upstream_error"
    assert response.headers["retry-after"] == "1"
    sim.fault("up-gpt", status=429, retry_after=0, times=2)
    with (
        anthropic.Anthropic(base_url=gw.url, api_key=MASTER_KEY, max_retries=0) as sdk,
        pytest.raises(anthropic.RateLimitError) as limited,
    ):
        sdk.messages.create(model="gpt", max_tokens=5, messages=HELLO)
    assert limited.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert limited.value.response.headers["x-pavedroad-route"] == \
        "sim-openai:upstream_rate_limited, sim-openai:upstream_rate_limited"
    assert http.post("/v1/chat/completions", json=chat(), headers=AUTH).status_code == 200
