"""The input guardrail stage: scan what goes upstream, apply the policy's actions.

User and system messages are direct input; `role: tool` messages (tool results) are
indirect input scanned with source "tool" (retrieved documents will use "retrieved").
Redaction rewrites the canonical body before anything else sees it (cache, upstream).
With pseudonymisation the placeholders go upstream and this stage restores the originals
in the answer on its way back to the caller — complete answers and streams alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator
from typing import Any

from pavedroad.core.types import ChatResponse
from pavedroad.guardrails.base import Source
from pavedroad.guardrails.redact import Pseudonymizer, StreamRestorer
from pavedroad.guardrails.runner import GuardrailRunner, message_texts, redact
from pavedroad.service.pipeline import (
    ChatResult,
    ChatStream,
    Exchange,
    Next,
    StreamFailure,
    StreamItem,
)

_SOURCES: dict[str, Source] = {"user": "user", "system": "system", "developer": "system",
                               "tool": "tool", "function": "tool"}


class InputGuardrails:
    def __init__(self, runner: GuardrailRunner) -> None:
        self._runner = runner

    async def __call__(self, exchange: Exchange, call_next: Next) -> ChatResult:
        decision = exchange.policy
        rules = decision.rules("input") if decision is not None else ()
        if not rules:
            return await call_next(exchange)
        pseudonyms = Pseudonymizer()
        started = time.perf_counter()
        if self._runner.slow(rules):  # never hold every other request up for one scan
            changed = await asyncio.to_thread(self._scan_messages, exchange, rules, pseudonyms)
        else:
            changed = self._scan_messages(exchange, rules, pseudonyms)
        if exchange.spans is not None:  # a traced request: the scan becomes a span
            exchange.spans.append(("guardrails input", started, time.perf_counter(), {
                "pavedroad.guardrails": ",".join(rule.name for rule in rules),
                "pavedroad.findings": sum(f.direction == "input" for f in exchange.findings)}))
        if not changed:
            return await call_next(exchange)  # nothing pseudonymised: nothing to restore
        result = await call_next(exchange)
        if isinstance(result, ChatStream):
            return ChatStream(result.exchange, _restore_stream(result.items, pseudonyms))
        return _restore_response(result, pseudonyms)

    def _scan_messages(self, exchange: Exchange, rules: Any, pseudonyms: Pseudonymizer,
                       ) -> bool:
        """Scan and rewrite the messages; True when anything was pseudonymised."""
        body = exchange.request.body
        messages = body.get("messages")
        if not isinstance(messages, list):
            return False
        rewritten: list[Any] | None = None
        pseudonymised = False
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                continue
            source = _SOURCES.get(str(message.get("role")))
            if source is None:  # assistant turns are the model's own words
                continue
            new_message: dict[str, Any] | None = None
            for where, text in message_texts(message):
                found = self._runner.scan(text, rules, direction="input", source=source,
                                          into=exchange.findings)
                if not found.spans:
                    continue
                new_text = redact(text, found.spans, pseudonyms)
                pseudonymised = pseudonymised or any(
                    span.mode == "pseudonymise" for span in found.spans)
                new_message = new_message or {**message}
                if where == "content":
                    new_message["content"] = new_text
                else:
                    parts = list(new_message["content"])
                    parts[int(where)] = {**parts[int(where)], "text": new_text}
                    new_message["content"] = parts
            if new_message is not None:
                rewritten = rewritten or list(messages)
                rewritten[i] = new_message
        if rewritten is not None:
            exchange.request.body = {**body, "messages": rewritten}
        return pseudonymised


def _restore_response(response: ChatResponse, pseudonyms: Pseudonymizer) -> ChatResponse:
    body = response.body
    choices = body.get("choices")
    if not isinstance(choices, list):
        return response
    restored = []
    for original in choices:
        choice = original
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            choice = {**choice, "message": {**message,
                                            "content": pseudonyms.restore(message["content"])}}
        restored.append(choice)
    return ChatResponse({**body, "choices": restored}, response.usage)  # raw bytes are stale


async def _restore_stream(items: AsyncGenerator[StreamItem, None], pseudonyms: Pseudonymizer,
                          ) -> AsyncGenerator[StreamItem, None]:
    restorers: dict[int, StreamRestorer] = {}
    async with contextlib.aclosing(items):
        async for item in items:
            if isinstance(item, StreamFailure):
                yield item
                continue
            choices = item.get("choices")
            if not isinstance(choices, list) or not choices:
                yield item
                continue
            new_choices = []
            for original in choices:
                choice = original
                delta = choice.get("delta") if isinstance(choice, dict) else None
                if not isinstance(delta, dict):
                    new_choices.append(choice)
                    continue
                restorer = restorers.setdefault(int(choice.get("index") or 0),
                                                StreamRestorer(pseudonyms))
                text = restorer.feed(delta["content"]) if isinstance(
                    delta.get("content"), str) else None
                if choice.get("finish_reason") is not None:
                    text = (text or "") + restorer.flush()
                if text is not None:
                    choice = {**choice, "delta": {**delta, "content": text}}
                new_choices.append(choice)
            yield {**item, "choices": new_choices}
