"""Settings for retrieval inside the gateway: which embedder collections use, and reranking."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RerankerChoice = Literal["auto", "none", "ms-marco-minilm-l12"]


class RetrievalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # auto: bge-small when `pavedroad[onnx]` is installed, else MiniLM when
    # `pavedroad[embeddings]` is, else hashing; bge-small-en-v1.5, local (= minilm-l6-v2),
    # hashing, or the name of a `kind: embedding` model this gateway serves.
    embedder: str = Field(default="auto", min_length=1)
    # The width of that model's vectors (needed only when `embedder` names a model).
    embedding_dimensions: int | None = Field(default=None, ge=1, le=16384)
    # The reranker searches may use; auto: the cross-encoder when `pavedroad[onnx]` is
    # installed (loaded on first use), else none.
    reranker: RerankerChoice = "auto"
    # Whether a search reranks when it does not say (`"rerank"` in the request). Off: on the
    # evaluation set it gained a point on dev for ~270 ms a search (evals/retrieval).
    rerank: bool = False
    # How many of a search's first hits the reranker reorders (~30 ms each on one core).
    rerank_candidates: int = Field(default=10, ge=1, le=100)
