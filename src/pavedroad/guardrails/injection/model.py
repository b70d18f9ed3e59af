"""The learned half of the injection detector: a logistic model over hashed n-gram features.

The score is the best window's, not the whole text's: features are summed per 256-byte chunk,
a window is two adjacent chunks, and each window's sum is divided by the square root of its
feature count. One injected paragraph in a long benign document therefore scores like the
paragraph alone. Indirect input (retrieved documents, tool results) is scored in a second,
salted feature space: "encode your response in base64" is an attack inside a document and a
normal request from a user, and sharing weights taught the direct side the indirect lesson.

The weights are trained offline by evals/injection/train.py and shipped as `model.npz`
(float16, 2**17 slots). `offset` moves the logit so that the operating point chosen on
cross-validation lands at probability 0.5, the guardrail's default threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pavedroad.guardrails.injection import features

CHUNK_BYTES = 256
WEIGHTS_PATH = Path(__file__).with_name("model.npz")

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Encoded:
    """A text's feature slots, ready to score under any weights (training reuses these)."""

    slots: features.I64  # plain feature space
    indirect_slots: features.I64  # salted copy; used only for indirect sources
    chunks: features.I64  # chunk index of each feature


def encode(text: str) -> Encoded:
    return _encoded(features.extract(text))


def encode_views(plain: list[str], decoded: list[str]) -> Encoded:
    return _encoded(features.extract_views(plain, decoded))


def _encoded(found: features.Features) -> Encoded:
    return Encoded(
        slots=features.buckets(found.hashes),
        indirect_slots=features.buckets(found.hashes, salt=features.INDIRECT_SALT),
        chunks=found.offsets // CHUNK_BYTES,
    )


def window_sums(contrib: F64, chunks: features.I64) -> tuple[F64, F64]:
    """Per-window sums of contributions and the per-window normaliser 1/sqrt(count)."""
    if len(chunks) == 0:
        return np.zeros(1), np.ones(1)
    totals = np.bincount(chunks, weights=contrib).astype(np.float64)
    counts = np.bincount(chunks).astype(np.float64)
    if len(totals) > 1:
        totals = totals[:-1] + totals[1:]
        counts = counts[:-1] + counts[1:]
    return totals, 1.0 / np.sqrt(np.maximum(counts, 1.0))


@dataclass(frozen=True, slots=True)
class LinearModel:
    weights: npt.NDArray[np.float32]
    bias: float
    indirect_bias: float
    offset: float  # logit at the chosen operating point

    def logit(self, encoded: Encoded, *, indirect: bool) -> float:
        slots = encoded.indirect_slots if indirect else encoded.slots
        contrib = self.weights[slots].astype(np.float64)
        totals, norm = window_sums(contrib, encoded.chunks)
        bias = self.bias + (self.indirect_bias if indirect else 0.0)
        return bias + float(np.max(totals * norm))

    def score(self, text: str, *, indirect: bool = False) -> float:
        """Probability-like 0..1 score; 0.5 is the calibrated operating point."""
        return self.score_encoded(encode(text), indirect=indirect)

    def score_encoded(self, encoded: Encoded, *, indirect: bool) -> float:
        value = self.logit(encoded, indirect=indirect) - self.offset
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, value))))

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path, weights=self.weights.astype(np.float16),
            meta=np.array([self.bias, self.indirect_bias, self.offset], dtype=np.float64),
        )


def load(path: Path) -> LinearModel:
    with np.load(path) as data:
        meta = data["meta"]
        return LinearModel(
            weights=data["weights"].astype(np.float32), bias=float(meta[0]),
            indirect_bias=float(meta[1]), offset=float(meta[2]),
        )


@cache
def shipped() -> LinearModel | None:
    """The packaged model, or None when the weights file is missing (rules only)."""
    return load(WEIGHTS_PATH) if WEIGHTS_PATH.exists() else None
