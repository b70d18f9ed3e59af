"""The bundled ONNX models load offline and behave like the models they claim to be."""

from __future__ import annotations

import numpy as np
import pytest

from pavedroad.localmodels import onnx_bert

pytestmark = pytest.mark.skipif(not onnx_bert.available(), reason="pavedroad[onnx] not installed")


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"bge-small-en-v1\.5"):
        onnx_bert.model_dir("gpt-5")


def test_bge_small_puts_the_matching_passage_closest() -> None:
    model = onnx_bert.OnnxBert("bge-small-en-v1.5")
    query = "Represent this sentence for searching relevant passages: how many people live in Berlin?"
    docs = ["Berlin has about 3.7 million registered inhabitants.",
            "The Metropolitan Museum of Art is in New York City.",
            "Paris is the capital of France."]
    states = model.run([query, *docs])
    assert states[0].shape[1] == 384 and states[1].shape[0] > states[0].shape[0] // 2
    cls = np.stack([s[0] / np.linalg.norm(s[0]) for s in states])
    sims = cls[1:] @ cls[0]
    assert int(np.argmax(sims)) == 0 and sims[0] - sims[1:].max() > 0.1


def test_reranker_scores_the_relevant_pair_far_above_the_others() -> None:
    model = onnx_bert.OnnxBert("ms-marco-minilm-l12", max_tokens=256)
    query = "How many people live in Berlin?"
    scores = [float(s[0]) for s in model.run([
        (query, "Paris is the capital of France."),
        (query, "Berlin has about 3.7 million registered inhabitants."),
        (query, "New York is famous for its museums.")])]
    assert scores.index(max(scores)) == 1 and scores[1] - max(scores[0], scores[2]) > 5


def test_batches_preserve_input_order_whatever_the_lengths() -> None:
    model = onnx_bert.OnnxBert("bge-small-en-v1.5")
    texts = [("word " * n).strip() for n in (40, 3, 17, 3, 90)] * 5
    together = model.run(texts)
    alone = [model.run([t])[0] for t in texts[:5]]
    for a, b in zip(together[:5], alone, strict=True):
        assert a.shape == b.shape and np.allclose(a, b, atol=1e-4)
