"""The output guardrail stage: scan the answer, apply the policy's actions.

Complete answers are scanned whole. Streams pass through a sliding window per choice:
text is released as soon as no detector could still need it — everything except the last
`window` characters, and never the middle of a finding — so the caller waits for no more
than the longest match a detector must see whole. `block` ends the stream with a
`guardrail_blocked` error event (before any of the offending text is released).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from pavedroad.core.errors import GuardrailBlocked
from pavedroad.core.types import ChatChunk, ChatResponse
from pavedroad.guardrails.runner import GuardrailRunner, RedactSpan, redact
from pavedroad.policy.decision import GuardrailRule
from pavedroad.service.pipeline import (
    ChatResult,
    ChatStream,
    Exchange,
    Next,
    StreamFailure,
    StreamItem,
)


class OutputGuardrails:
    def __init__(self, runner: GuardrailRunner, *, window: int = 64) -> None:
        self._runner = runner
        self._window = window

    async def __call__(self, exchange: Exchange, call_next: Next) -> ChatResult:
        decision = exchange.policy
        rules = decision.rules("output") if decision is not None else ()
        result = await call_next(exchange)
        if not rules:
            return result
        if isinstance(result, ChatStream):
            window = max([self._window, *(int(r.params.get("window", 0) or 0) for r in rules)])
            scanner = _StreamScanner(self._runner, rules, exchange, window)
            return ChatStream(result.exchange, scanner.run(result.items))
        return self._scan_response(result, rules, exchange)

    def _scan_response(self, response: ChatResponse, rules: Sequence[GuardrailRule],
                       exchange: Exchange) -> ChatResponse:
        choices = response.body.get("choices")
        if not isinstance(choices, list):
            return response
        changed = False
        out: list[Any] = []
        for original in choices:
            choice = original
            message = choice.get("message") if isinstance(choice, dict) else None
            text = message.get("content") if isinstance(message, dict) else None
            if isinstance(text, str) and isinstance(message, dict):
                found = self._runner.scan(text, rules, direction="output", source="model",
                                          into=exchange.findings)
                if found.spans:
                    choice = {**choice, "message": {**message,
                                                    "content": redact(text, found.spans)}}
                    changed = True
            out.append(choice)
        if not changed:
            return response
        return ChatResponse({**response.body, "choices": out}, response.usage)


class _StreamScanner:
    def __init__(self, runner: GuardrailRunner, rules: Sequence[GuardrailRule],
                 exchange: Exchange, window: int) -> None:
        self._runner = runner
        self._rules = rules
        self._exchange = exchange
        self._window = window
        self._held: dict[int, str] = {}
        self._last: ChatChunk | None = None

    async def run(self, items: AsyncGenerator[StreamItem, None],
                  ) -> AsyncGenerator[StreamItem, None]:
        async with contextlib.aclosing(items):
            try:
                async for item in items:
                    if isinstance(item, StreamFailure):
                        tail = self._flush_all()
                        if tail is not None:
                            yield tail
                        yield item
                        return
                    out = self._chunk(item)
                    if out is not None:
                        yield out
                tail = self._flush_all()
                if tail is not None:
                    yield tail
            except GuardrailBlocked as exc:
                self._exchange.outcome = exc.code
                yield StreamFailure(exc)

    def _chunk(self, chunk: ChatChunk) -> ChatChunk | None:
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices:
            return chunk
        self._last = chunk
        keep = False
        new_choices = []
        for original in choices:
            choice = original
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(delta, dict):
                new_choices.append(choice)
                keep = True
                continue
            index = int(choice.get("index") or 0)
            text = delta.get("content")
            final = choice.get("finish_reason") is not None
            if isinstance(text, str) or final:
                self._held[index] = self._held.get(index, "") + (text or "")
                released = self._release(index, final=final)
                delta = {**delta, "content": released}
                if released or final or set(delta) - {"content"}:
                    keep = True
                choice = {**choice, "delta": delta}
            else:
                keep = True
            new_choices.append(choice)
        return {**chunk, "choices": new_choices} if keep else None

    def _release(self, index: int, *, final: bool) -> str:
        held = self._held[index]
        try:
            found = self._runner.scan(held, self._rules, direction="output", source="model")
        except GuardrailBlocked:
            self._record(held, [])  # the blocking finding goes on the record
            raise
        cut = len(held) if final else max(0, len(held) - self._window)
        for span in found.spans:  # never release half a finding
            if span.start < cut < span.end:
                cut = span.start
        released = [s for s in found.spans if s.end <= cut]
        self._record(held[:cut], released)
        self._held[index] = held[cut:]
        return redact(held[:cut], released)

    def _record(self, text: str, spans: list[RedactSpan]) -> None:
        """Findings count once: when their text is released (a rescan sees them again)."""
        if text:
            with contextlib.suppress(GuardrailBlocked):
                self._runner.scan(text, self._rules, direction="output", source="model",
                                  into=self._exchange.findings)

    def _flush_all(self) -> ChatChunk | None:
        pending = {i: t for i, t in self._held.items() if t}
        if not pending or self._last is None:
            return None
        choices = []
        for index in pending:
            released = self._release(index, final=True)
            choices.append({"index": index, "delta": {"content": released},
                            "finish_reason": None})
        return {**{k: v for k, v in self._last.items() if k != "usage"}, "choices": choices}
