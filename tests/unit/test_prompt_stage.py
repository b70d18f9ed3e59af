"""The prompt stage renders from the in-memory catalog: the app's own prompts only, labels
and versions, the rendered request handed on, and requests without `prompt` untouched."""

from __future__ import annotations

from typing import Any

import pytest

from pavedroad.core.errors import InvalidRequest, PromptNotFound
from pavedroad.core.types import Caller, ChatRequest, ChatResponse, Subject
from pavedroad.prompts.model import content_from
from pavedroad.service.pipeline import ChatResult, Exchange
from pavedroad.service.prompts import PromptCatalog, PromptStage
from pavedroad.store.prompts import PromptRepository, PromptRow, VersionRow


def row(app_id: str, name: str, texts: list[str], labels: dict[str, int]) -> PromptRow:
    versions = []
    for i, text in enumerate(texts, start=1):
        content = content_from({"model": "gpt", "variables": ["who"],
                                "messages": [{"role": "system", "content": text}]})
        versions.append(VersionRow(i, content.as_dict(), content.content_hash, "", "t", 0.0))
    return PromptRow(f"prm_{app_id}_{name}", app_id, "ten_1", name, "", 0.0, 1.0,
                     tuple(versions), labels)


@pytest.fixture
def stage() -> PromptStage:
    catalog = PromptCatalog(PromptRepository(None))  # type: ignore[arg-type]  # never queried
    catalog.remember(row("app_a", "greet", ["v1 {{ who }}", "v2 {{ who }}"], {"production": 1}))
    catalog.remember(row("app_b", "greet", ["other {{ who }}"], {"production": 1}))
    catalog.remember(row("app_b", "solo", ["solo {{ who }}"], {}))
    return PromptStage(catalog)


def exchange(app: str | None, body: dict[str, Any]) -> Exchange:
    caller = Caller(key_id="k", name="k", models=None,
                    app=Subject(app, app) if app else None)
    return Exchange(ChatRequest(model=str(body.get("model", "")), body=body,
                                request_id="req_1", caller=caller), "chat")


async def run(stage: PromptStage, ex: Exchange) -> Exchange:
    async def terminal(seen: Exchange) -> ChatResult:
        return ChatResponse(body={})

    await stage(ex, terminal)
    return ex


async def test_renders_the_label_of_the_callers_own_app(stage: PromptStage) -> None:
    ex = await run(stage, exchange("app_a", {"prompt": {"id": "greet",
                                                        "variables": {"who": "Ada"}}}))
    assert ex.request.model == "gpt"
    assert ex.request.body["messages"] == [{"role": "system", "content": "v1 Ada"}]
    assert (ex.prompt_id, ex.prompt_version) == ("greet", 1)
    assert ex.response_headers["x-pavedroad-prompt"] == "greet@1"
    other = await run(stage, exchange("app_b", {"prompt": {"id": "greet",
                                                           "variables": {"who": "Bo"}}}))
    assert other.request.body["messages"][0]["content"] == "other Bo"


async def test_a_version_number_overrides_the_label(stage: PromptStage) -> None:
    ex = await run(stage, exchange("app_a", {"prompt": {"id": "greet", "version": 2,
                                                        "variables": {"who": "Ada"}}}))
    assert ex.request.body["messages"][0]["content"] == "v2 Ada" and ex.prompt_version == 2


async def test_requests_without_a_prompt_pass_untouched(stage: PromptStage) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    ex = await run(stage, exchange("app_a", body))
    assert ex.request.body is body and ex.prompt_id is None


async def test_other_apps_prompts_and_missing_labels_are_not_found(stage: PromptStage) -> None:
    with pytest.raises(PromptNotFound):
        await run(stage, exchange("app_a", {"prompt": {"id": "solo"}}))
    with pytest.raises(PromptNotFound, match="no label 'production'"):
        await run(stage, exchange("app_b", {"prompt": {"id": "solo",
                                                       "variables": {"who": "x"}}}))


async def test_the_master_key_needs_an_unambiguous_name(stage: PromptStage) -> None:
    with pytest.raises(InvalidRequest, match="several apps"):
        await run(stage, exchange(None, {"prompt": {"id": "greet", "variables": {"who": "x"}}}))
    ex = await run(stage, exchange(None, {"prompt": {"id": "prm_app_b_greet",
                                                     "variables": {"who": "x"}}}))
    assert ex.request.body["messages"][0]["content"] == "other x"


@pytest.mark.parametrize(("prompt", "param"), [
    ({"label": "production"}, "prompt.id"),
    ({"id": "greet", "label": "production", "version": 1}, "prompt.version"),
    ({"id": "greet", "extra": 1}, "prompt.extra"),
    ({"id": "greet", "version": True}, "prompt.version"),
])
async def test_malformed_references_name_the_field(stage: PromptStage, prompt: dict[str, Any],
                                                   param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await run(stage, exchange("app_a", {"prompt": prompt}))
    assert caught.value.param == param
