"""`GatewayEmbedder` over a fake embeddings runner: normalised vectors in input order, and a
malformed upstream answer is `upstream_bad_response`, never a numpy error."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from pavedroad.core.errors import UpstreamBadResponse
from pavedroad.core.types import EmbeddingRequest, EmbeddingResponse
from pavedroad.rag.embedding_gateway import GatewayEmbedder


class FakeRunner:
    def __init__(self, data: list[Any]) -> None:
        self.data = data
        self.calls = 0

    async def run(self, request: EmbeddingRequest) -> tuple[EmbeddingResponse, Any]:
        self.calls += 1
        return EmbeddingResponse({"data": self.data}), None


def _b64(*values: float) -> str:
    return base64.b64encode(np.asarray(values, dtype=np.float32).tobytes()).decode()


async def test_vectors_follow_the_index_are_normalised_and_cached() -> None:
    runner = FakeRunner([{"index": 1, "embedding": _b64(0.0, 2.0)},
                         {"index": 0, "embedding": [3.0, 4.0]}])
    embedder = GatewayEmbedder(runner, "embed", 2)
    vectors = await embedder.embed(["a", "b"])
    assert np.allclose(vectors, [[0.6, 0.8], [0.0, 1.0]])
    again = await embedder.embed(["b", "a"])
    assert np.allclose(again, [[0.0, 1.0], [0.6, 0.8]]) and runner.calls == 1


@pytest.mark.parametrize("data", [
    [{"embedding": "AAA="}],  # base64 of 2 bytes: not a float32
    [{"embedding": "not base64!"}],
    [{"embedding": {"x": 1.0}}],
    [{"embedding": [1.0, None]}],
    [{"embedding": ["one", "two"]}],
    [{"index": 0, "embedding": [1.0, 0.0]}, {"index": 0, "embedding": [0.0, 1.0]}],
    [{"index": 5, "embedding": [1.0, 0.0]}],
])
async def test_a_malformed_answer_is_an_upstream_error(data: list[Any]) -> None:
    count = len(data)
    embedder = GatewayEmbedder(FakeRunner(data), "embed", 2)
    with pytest.raises(UpstreamBadResponse) as caught:
        await embedder.embed([f"text {i}" for i in range(count)])
    assert caught.value.code == "upstream_bad_response"
