"""Deterministic embeddings and the model list."""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import AsyncIterator

import httpx
import pytest

from pavedroad.sim import create_app
from pavedroad.sim.models import MODEL_IDS


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
        yield c


async def test_embeddings_are_deterministic_unit_vectors(client: httpx.AsyncClient) -> None:
    payload = {"model": "emb", "input": ["alpha beta", "gamma", "alpha beta"]}
    body = (await client.post("/v1/embeddings", json=payload)).json()
    assert body["object"] == "list"
    assert body["model"] == "emb"
    vectors = [d["embedding"] for d in body["data"]]
    assert [d["index"] for d in body["data"]] == [0, 1, 2]
    assert all(len(v) == 16 for v in vectors)
    assert all(math.isclose(math.fsum(x * x for x in v), 1.0, rel_tol=1e-5) for v in vectors)
    assert vectors[0] == vectors[2]
    assert vectors[0] != vectors[1]
    assert body["usage"] == {"prompt_tokens": 5, "total_tokens": 5}
    again = (await client.post("/embeddings", json={"model": "x", "input": "gamma"})).json()
    assert again["data"][0]["embedding"] == vectors[1]


async def test_dimensions_tokens_and_base64(client: httpx.AsyncClient) -> None:
    payload = {"model": "e", "input": [[1, 2, 3], [4]], "dimensions": 8}
    body = (await client.post("/v1/embeddings", json=payload)).json()
    assert [len(d["embedding"]) for d in body["data"]] == [8, 8]
    assert body["usage"]["prompt_tokens"] == 4
    encoded = {**payload, "encoding_format": "base64"}
    b64 = (await client.post("/v1/embeddings", json=encoded)).json()["data"][0]["embedding"]
    decoded = list(struct.unpack("<8f", base64.b64decode(b64)))
    assert decoded == body["data"][0]["embedding"]


@pytest.mark.parametrize(
    "payload",
    [
        {"model": "e", "input": []},
        {"model": "e", "input": ""},
        {"model": "e", "input": [1, "a"]},
        {"model": "e"},
        {"input": "x"},
        {"model": "e", "input": "x", "dimensions": 0},
    ],
)
async def test_bad_embedding_requests(client: httpx.AsyncClient, payload: dict[str, object]) -> None:
    r = await client.post("/v1/embeddings", json=payload)
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


async def test_embedding_faults_apply(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/embeddings", json={"model": "e", "input": "x"}, headers={"x-sim-fault": "status=429"}
    )
    assert r.status_code == 429


async def test_models_in_both_formats(client: httpx.AsyncClient) -> None:
    openai = (await client.get("/v1/models")).json()
    assert openai["object"] == "list"
    assert [m["id"] for m in openai["data"]] == list(MODEL_IDS)
    assert all(m["object"] == "model" for m in openai["data"])
    anthropic = (await client.get("/v1/models", headers={"anthropic-version": "2023-06-01"})).json()
    assert [m["id"] for m in anthropic["data"]] == list(MODEL_IDS)
    assert anthropic["has_more"] is False
    assert all(m["type"] == "model" for m in anthropic["data"])
