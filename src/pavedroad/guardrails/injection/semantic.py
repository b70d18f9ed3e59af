"""The opt-in "deep" pass of the injection detector: a small head over bge-small sentence embeddings.

N-gram features learn an author's wording; sentence embeddings carry meaning ("disregard what you
were told" and "ignore previous instructions" land close together), which is what transfers to
attacks phrased by someone else (ADR 0022, 0024). Each word window of the text is run through
the bundled int8 ONNX bge-small-en-v1.5 (`localmodels.onnx_bert`, the `onnx` extra); its
L2-normalised CLS vector goes through a head trained by evals/injection/train_bge.py (logistic
regression or a one-hidden-layer MLP, chosen by leave-one-author-group-out cross-validation) and
the text scores its best window, so one planted paragraph in a long document scores like the
paragraph alone. Indirect input (retrieved documents, tool results) adds its own learned bias.
`offset` is the logit chosen on cross-validation and maps to probability 0.5, the guardrail's
threshold. Without the extra or the weights `shipped()` is None and the detector runs the fast
pass instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pavedroad.localmodels import onnx_bert

WEIGHTS_PATH = Path(__file__).with_name("semantic.npz")
ENCODER = "bge-small-en-v1.5"
WINDOW_WORDS = 128  # ~170 tokens of English prose: a 2 KB prompt is three windows
STRIDE_WORDS = 96  # windows overlap by a quarter, so a short instruction is never cut in two
MAX_WINDOWS = 32  # ~3,000 words; beyond that windows widen (and the encoder truncates them)
MAX_TOKENS = 256

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


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


def embed(encoder: onnx_bert.OnnxBert, texts: Sequence[str]) -> F32:
    """Unit-length CLS vectors, one row per text: the features the head was trained on."""
    if not texts:
        return np.zeros((0, 384), np.float32)
    cls = np.stack([states[0] for states in encoder.run(list(texts))]).astype(np.float32)
    norms = np.maximum(np.linalg.norm(cls, axis=1, keepdims=True), 1e-12).astype(np.float32)
    out: F32 = cls / norms
    return out


@dataclass(frozen=True, slots=True)
class Head:
    """logit = w2 · relu(x W1 + b1) + b2 (+ indirect_bias); with no hidden layer, w2 · x + b2."""

    w2: F32  # (hidden,) or (dimensions,) without a hidden layer
    b2: float
    indirect_bias: float
    offset: float  # logit at the chosen operating point
    with_ngram: bool = False  # cross-validation's choice: deep mode also consults the n-gram model
    w1: F32 | None = None  # (dimensions, hidden)
    b1: F32 | None = None  # (hidden,)

    def logits(self, x: F32, *, indirect: bool = False) -> F64:
        hidden: F32 = x if self.w1 is None or self.b1 is None else np.maximum(x @ self.w1 + self.b1, 0)
        out: F64 = (hidden @ self.w2).astype(np.float64) + self.b2
        return out + (self.indirect_bias if indirect else 0.0)

    def probability(self, logit: float) -> float:
        value = logit - self.offset
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, value))))

    def save(self, path: Path) -> None:
        arrays = {"w2": self.w2.astype(np.float32),
                  "meta": np.array([self.b2, self.indirect_bias, self.offset, float(self.with_ngram)],
                                   dtype=np.float64)}
        if self.w1 is not None and self.b1 is not None:
            arrays |= {"w1": self.w1.astype(np.float32), "b1": self.b1.astype(np.float32)}
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def load(path: Path) -> Head:
    with np.load(path) as data:
        meta = data["meta"]
        hidden = "w1" in data.files
        return Head(w2=data["w2"], b2=float(meta[0]), indirect_bias=float(meta[1]), offset=float(meta[2]),
                    with_ngram=bool(meta[3]), w1=data["w1"] if hidden else None,
                    b1=data["b1"] if hidden else None)


class SemanticScorer:
    """Embeds a text's windows and returns the best window's calibrated score."""

    def __init__(self, head: Head, encoder: onnx_bert.OnnxBert) -> None:
        self.head = head
        self.encoder = encoder

    def score(self, text: str, *, indirect: bool = False, extra_views: Sequence[str] = ()) -> float:
        """0..1, 0.5 at the operating point. `extra_views` (decoded base64/hex/rot13 payloads)
        are scored too: an embedding of base64 text says nothing about what it hides."""
        parts = windows(text)
        for view in extra_views:
            parts += windows(view)
        logits = self.head.logits(embed(self.encoder, parts), indirect=indirect)
        return self.head.probability(float(np.max(logits)))


@cache
def shipped() -> SemanticScorer | None:
    """The packaged deep pass, or None when the onnx extra or the weights are missing."""
    if not WEIGHTS_PATH.exists() or not onnx_bert.available():
        return None
    try:
        encoder = onnx_bert.OnnxBert(ENCODER, max_tokens=MAX_TOKENS)
    except (ImportError, OSError, RuntimeError):  # a broken install degrades to the fast pass, never errors
        return None
    return SemanticScorer(load(WEIGHTS_PATH), encoder)
