"""Route handlers for the provider-facing API (OpenAI, Azure OpenAI, Anthropic)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pavedroad.sim.anthropic_request import parse_messages
from pavedroad.sim.anthropic_response import message_body, message_frames
from pavedroad.sim.embeddings import embeddings_body, parse_embeddings
from pavedroad.sim.errors import Dialect, Reject
from pavedroad.sim.models import anthropic_models, openai_models
from pavedroad.sim.openai_request import parse_chat
from pavedroad.sim.openai_response import completion_body, completion_frames
from pavedroad.sim.pipeline import admit, engage, json_reply, speaks, stream_reply
from pavedroad.sim.reply import compose

__all__ = ["chat_completions", "embeddings", "list_models", "messages"]


@speaks(Dialect.OPENAI)
async def chat_completions(request: Request) -> Response:
    state, header_fault = admit(request)
    chat = parse_chat(await request.body(), deployment=_azure_deployment(request))
    fault = await engage(state, chat.prompt.model, header_fault)
    reply = compose(chat.prompt, content=fault.content)
    if chat.stream:
        frames = completion_frames(chat, reply, state, cached=fault.cached_tokens,
                                   omit_usage=fault.omit_usage)
        return stream_reply(frames, fault)
    body = completion_body(chat, reply, state, cached=fault.cached_tokens,
                           omit_usage=fault.omit_usage)
    return json_reply(body, fault)


@speaks(Dialect.ANTHROPIC)
async def messages(request: Request) -> Response:
    state, header_fault = admit(request)
    chat = parse_messages(await request.body())
    fault = await engage(state, chat.prompt.model, header_fault)
    reply = compose(chat.prompt, content=fault.content)
    cache = {"cached": fault.cached_tokens, "written": fault.cache_write_tokens}
    if chat.stream:
        return stream_reply(message_frames(chat, reply, state, **cache), fault)
    return json_reply(message_body(chat, reply, state, **cache), fault)


@speaks(Dialect.OPENAI)
async def embeddings(request: Request) -> Response:
    state, header_fault = admit(request)
    req = parse_embeddings(await request.body(), deployment=_azure_deployment(request))
    fault = await engage(state, req.model or "", header_fault)
    return json_reply(embeddings_body(req), fault)


async def list_models(request: Request) -> Response:
    """One path, two formats: the `anthropic-version` header says which SDK is asking."""
    anthropic = "anthropic-version" in request.headers
    return await (_anthropic_models if anthropic else _openai_models)(request)


@speaks(Dialect.OPENAI)
async def _openai_models(request: Request) -> Response:
    admit(request)
    return JSONResponse(openai_models())


@speaks(Dialect.ANTHROPIC)
async def _anthropic_models(request: Request) -> Response:
    admit(request)
    return JSONResponse(anthropic_models())


def _azure_deployment(request: Request) -> str | None:
    """Azure routes name the model in the path and insist on an api-version."""
    deployment = request.path_params.get("deployment")
    if deployment is None:
        return None
    if not request.query_params.get("api-version"):
        raise Reject(400, "Missing required query parameter 'api-version'.")
    return str(deployment)
