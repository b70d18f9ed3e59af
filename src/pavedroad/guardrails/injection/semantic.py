"""The opt-in "deep" pass of the injection detector: nearest neighbours in MiniLM embedding space.

N-gram features learn an author's wording; sentence embeddings carry meaning ("disregard what you
were told" and "ignore previous instructions" land close together), which is what should transfer
to attacks phrased by someone else (docs/adr/0022-deep-injection-pass.md). It costs milliseconds
per window, so it runs only when the guardrail's `deep` parameter asks for it.

The score of one window is the mean cosine similarity of its k nearest training attack windows
minus that of its k nearest benign windows (leave-one-author-out cross-validation preferred this
to a logistic model over the same embeddings). Long texts are cut into overlapping word windows
(the model reads at most 256 tokens) and the text's score is the best window's, so one planted
paragraph in a long document scores like the paragraph alone. The reference windows are built
by evals/injection/train_deep.py and shipped int8-quantised; `offset` is the margin chosen on
cross-validation and maps to probability 0.5, the guardrail's threshold. Without the
`embeddings` extra (or the reference file) `shipped()` is None and the detector runs without
this pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pavedroad.rag import embedding_local

WEIGHTS_PATH = Path(__file__).with_name("semantic.npz")
WINDOW_WORDS = 96  # ~130 MiniLM tokens for English prose: well inside the 256-token limit
STRIDE_WORDS = 64  # windows overlap by a third, so a short instruction is never cut in two
MAX_WINDOWS = 64  # ~6,000 words; beyond that the tail is scored in wider, truncated windows
SCALE = 50.0  # margins span about -0.3..0.3: 0.02 above the offset reads as ~0.73

F32 = npt.NDArray[np.float32]


def windows(text: str) -> list[str]:
    """Overlapping word windows covering `text`; a short text is its own single window."""
    words = text.split()
    if len(words) <= WINDOW_WORDS:
        return [text]
    stride = max(STRIDE_WORDS, math.ceil((len(words) - WINDOW_WORDS) / (MAX_WINDOWS - 1)))
    starts = list(range(0, len(words) - WINDOW_WORDS + 1, stride))
    if starts[-1] + WINDOW_WORDS < len(words):
        starts.append(len(words) - WINDOW_WORDS)
    return [" ".join(words[s:s + WINDOW_WORDS]) for s in starts]


@dataclass(frozen=True, slots=True)
class SemanticModel:
    """Reference windows (unit embeddings) of training attacks and benign texts."""

    attacks: F32  # (n_attacks, dimensions)
    benign: F32  # (n_benign, dimensions)
    k: int
    offset: float  # margin at the chosen operating point
    scale: float = SCALE  # margin units per logit unit

    def margins(self, embeddings: F32) -> npt.NDArray[np.float64]:
        """Per window: mean similarity to the k nearest attacks minus to the k nearest benign."""
        near_attacks = _top_k_mean(embeddings @ self.attacks.T, self.k)
        return near_attacks - _top_k_mean(embeddings @ self.benign.T, self.k)

    def probability(self, margin: float) -> float:
        value = (margin - self.offset) * self.scale
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, value))))

    def save(self, path: Path) -> None:
        limit = float(max(np.abs(self.attacks).max(), np.abs(self.benign).max()))
        q = 127.0 / limit
        np.savez_compressed(
            path, attacks=np.round(self.attacks * q).astype(np.int8),
            benign=np.round(self.benign * q).astype(np.int8),
            meta=np.array([self.k, self.offset, self.scale, q], dtype=np.float64),
        )


def _top_k_mean(similarities: F32, k: int) -> npt.NDArray[np.float64]:
    k = min(k, similarities.shape[1])
    top = np.partition(similarities, similarities.shape[1] - k, axis=1)[:, -k:]
    out: npt.NDArray[np.float64] = top.astype(np.float64).mean(axis=1)
    return out


def load(path: Path) -> SemanticModel:
    with np.load(path) as data:
        meta = data["meta"]
        q = np.float32(meta[3])
        return SemanticModel(attacks=data["attacks"].astype(np.float32) / q,
                             benign=data["benign"].astype(np.float32) / q,
                             k=int(meta[0]), offset=float(meta[1]), scale=float(meta[2]))


class SemanticScorer:
    """Embeds a text's windows and returns the best window's calibrated score."""

    def __init__(self, model: SemanticModel, embedder: embedding_local.MiniLMEmbedder) -> None:
        self.model = model
        self.embedder = embedder

    def score(self, text: str, *, extra_views: Sequence[str] = ()) -> float:
        """0..1, 0.5 at the operating point. `extra_views` (decoded base64/hex/rot13 payloads)
        are scored too: an embedding of base64 text says nothing about what it hides."""
        parts = windows(text)
        for view in extra_views:
            parts += windows(view)
        vectors = self.embedder.embed_sync(parts)
        return self.model.probability(float(np.max(self.model.margins(vectors))))


@cache
def shipped() -> SemanticScorer | None:
    """The packaged deep pass, or None when the embeddings extra or the weights are missing."""
    if not WEIGHTS_PATH.exists() or not embedding_local.available():
        return None
    try:
        embedder = embedding_local.MiniLMEmbedder()
    except (ImportError, OSError):  # a broken install degrades to the fast pass, never errors
        return None
    return SemanticScorer(load(WEIGHTS_PATH), embedder)
