"""Choosing the retrieval embedder, and the `retrieval` request field, fail with clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from pavedroad.config.loader import ConfigError, load_settings
from pavedroad.config.models import Settings
from pavedroad.core.errors import InvalidRequest
from pavedroad.core.types import EmbeddingRequest, EmbeddingResponse
from pavedroad.plugins.registry import load_registry
from pavedroad.rag import embedding_local, embedding_onnx
from pavedroad.rag.chat_context import parse_spec, question_of
from pavedroad.rag.embedding_gateway import GatewayEmbedder
from pavedroad.service.gateway import build_deployments
from pavedroad.service.retrieval_assembly import (
    LazyBgeEmbedder,
    LazyLocalEmbedder,
    LazyReranker,
    choose_embedder,
    choose_reranker,
    extra_embedders,
)

MODELS: list[dict[str, Any]] = [{"name": "chat", "route": "d"},
                                {"name": "embed", "kind": "embedding", "route": "d"}]


class _NoTransport:
    """The grounded provider never uses its transport."""


class _Runner:
    async def run(self, request: EmbeddingRequest) -> tuple[EmbeddingResponse, None]:
        raise AssertionError("not called")


def _settings(**retrieval: Any) -> Settings:
    return load_settings(None, env={}, overrides={
        ("deployments",): [{"name": "d", "provider": "openai_compatible", "model": "m",
                            "api_base": "http://127.0.0.1:1/v1"}],
        ("models",): MODELS, ("retrieval",): retrieval})


def test_hashing_and_named_models() -> None:
    assert choose_embedder(_settings(embedder="hashing"), _Runner()) is None
    chosen = choose_embedder(_settings(embedder="embed", embedding_dimensions=16), _Runner())
    assert isinstance(chosen, GatewayEmbedder)
    assert chosen.name == "gateway:embed" and chosen.dimensions == 16


def test_a_chat_model_or_missing_width_is_a_located_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        choose_embedder(_settings(embedder="chat"), _Runner())
    text = str(caught.value)
    assert "retrieval.embedder" in text and "embedding models: embed" in text
    assert "retrieval.embedding_dimensions" in text


@pytest.mark.skipif(not (embedding_onnx.available() and embedding_local.available()),
                    reason="needs both pavedroad[onnx] and pavedroad[embeddings]")
def test_auto_prefers_bge_and_keeps_minilm_for_older_collections() -> None:
    chosen = choose_embedder(_settings(), None)
    assert isinstance(chosen, LazyBgeEmbedder)
    assert list(extra_embedders(chosen)) == ["minilm-l6-v2"]
    for name in ("local", "minilm-l6-v2"):
        local = choose_embedder(_settings(embedder=name), None)
        assert isinstance(local, LazyLocalEmbedder)
        assert list(extra_embedders(local)) == ["bge-small-en-v1.5"]
    assert isinstance(choose_embedder(_settings(embedder="bge-small-en-v1.5"), None),
                      LazyBgeEmbedder)
    assert sorted(extra_embedders(None)) == ["bge-small-en-v1.5", "minilm-l6-v2"]


@pytest.mark.skipif(not embedding_onnx.available(), reason="pavedroad[onnx] not installed")
def test_the_reranker_setting() -> None:
    assert isinstance(choose_reranker(_settings()), LazyReranker)
    assert isinstance(choose_reranker(_settings(reranker="ms-marco-minilm-l12")), LazyReranker)
    assert choose_reranker(_settings(reranker="none")) is None
    with pytest.raises(ConfigError) as caught:
        choose_reranker(_settings(reranker="none", rerank=True))
    assert "retrieval.rerank" in str(caught.value)
    with pytest.raises(ConfigError):
        _settings(reranker="bge")  # not a reranker
    with pytest.raises(ConfigError):
        _settings(rerank_candidates=0)


@pytest.mark.parametrize(("value", "param"), [
    ("handbook", "retrieval"),
    ({"collections": []}, "retrieval.collections"),
    ({"collections": ["a"], "k": 0}, "retrieval.k"),
    ({"collections": ["a"], "k": True}, "retrieval.k"),
    ({"collections": ["a"], "mode": "fuzzy"}, "retrieval.mode"),
    ({"collections": ["a"], "filters": ["x"]}, "retrieval.filters"),
    ({"collections": ["a"], "top": 3}, "retrieval"),
])
def test_bad_retrieval_fields_name_the_field(value: Any, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_spec(value)
    assert caught.value.param == param


def test_spec_defaults_and_question() -> None:
    spec = parse_spec({"collections": "handbook"})
    assert spec.collections == ("handbook",) and spec.k == 5 and spec.mode == "hybrid"
    body = {"messages": [{"role": "user", "content": "first"},
                         {"role": "assistant", "content": "ok"},
                         {"role": "user", "content": [{"type": "text", "text": "second"}]}]}
    assert question_of(body) == "second"


@pytest.mark.parametrize(("params", "words"), [
    ({"k": 0}, "`k` must be an integer"),
    ({"mode": "fuzzy"}, "`mode` must be one of"),
    ({"max_sentences": 0}, "`max_sentences`"),
    ({"min_coverage": 2}, "`min_coverage`"),
    ({"min_coverage": True}, "`min_coverage`"),  # YAML `yes` is not a share
    ({"temperature": 0}, "unknown for the grounded provider: temperature"),
])
def test_grounded_params_are_located_config_problems(params: dict[str, Any], words: str) -> None:
    settings = load_settings(None, env={}, overrides={
        ("deployments",): [{"name": "g", "provider": "grounded", "model": "handbook",
                            "params": params}],
        ("models",): [{"name": "pavedroad/grounded", "route": "g"}]})
    with pytest.raises(ConfigError) as caught:
        build_deployments(settings, load_registry(include_entry_points=False), _NoTransport())
    assert "deployments[0]" in str(caught.value) and words in str(caught.value)
