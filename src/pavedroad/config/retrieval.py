"""Settings for retrieval inside the gateway: which embedder collections use."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RetrievalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # auto: the local model when `pavedroad[embeddings]` is installed, else hashing;
    # local, hashing, or the name of a `kind: embedding` model this gateway serves.
    embedder: str = Field(default="auto", min_length=1)
    # The width of that model's vectors (needed only when `embedder` names a model).
    embedding_dimensions: int | None = Field(default=None, ge=1, le=16384)
