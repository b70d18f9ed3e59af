"""What an audit record says: built from a request's exchange or from an admin action.

Content follows the logging level the policy decided (`full`, `redacted`, `metadata`);
a request no policy stage saw gets the configured default (`audit.level`).
Guardrail findings keep category, score and guardrail name: never the text they matched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pavedroad.core.ids import new_id
from pavedroad.policy.decision import LogLevel
from pavedroad.service.pipeline import Exchange

AuditLevel = LogLevel
DAY = 86400.0
Redactor = Callable[[str], str]


@dataclass(slots=True, frozen=True)
class AuditPolicy:
    """How one request is audited: its logging level, retention and why."""

    level: AuditLevel = "metadata"
    retention_days: float | None = None  # None: the configured default
    explanation: str | None = None
    decision: Mapping[str, Any] | None = None


class AdminAudit(Protocol):
    """Where admin use cases report a change: who, what, on what, before and after."""

    async def admin_action(self, *, actor: str, action: str, target: str,
                           before: Any, after: Any, tenant_id: str | None = None) -> None: ...


def policy_of(exchange: Exchange, default: AuditPolicy) -> AuditPolicy:
    """What the policy decided for this request (its logging level, retention and
    explanation); `default` when no policy stage ran."""
    decision = exchange.policy
    if decision is None:
        return default
    return AuditPolicy(level=decision.logging, retention_days=float(decision.retention_days),
                       explanation="; ".join(decision.explanation) or None,
                       decision=decision.as_dict())


def findings_of(exchange: Exchange) -> list[dict[str, Any]]:
    """Guardrail findings: guardrail, category, score, action, never the matched text."""
    return [{"guardrail": f.guardrail, "category": f.category, "score": f.score,
             "action": f.action, "direction": f.direction, "source": f.source}
            for f in exchange.findings]


def prompt_text(body: Mapping[str, Any]) -> list[dict[str, str]]:
    messages = body.get("messages")
    out = []
    for message in messages if isinstance(messages, list) else ():
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content
                              if isinstance(p, dict) and isinstance(p.get("text"), str))
        out.append({"role": str(message.get("role")), "content": str(content or "")})
    return out


def content_of(exchange: Exchange, level: AuditLevel,
               redactor: Redactor | None) -> dict[str, Any] | None:
    if level == "metadata" or (level == "redacted" and redactor is None):
        return None
    messages = prompt_text(exchange.request.body)
    answer = "".join(exchange.answer) if exchange.answer is not None else None
    if level == "redacted" and redactor is not None:
        messages = [{**m, "content": redactor(m["content"])} for m in messages]
        answer = redactor(answer) if answer is not None else None
    return {"messages": messages, "answer": answer}


def retain_until(at: float, days: float | None) -> float | None:
    return None if days is None else at + days * DAY


def request_record(exchange: Exchange, policy: AuditPolicy, *,
                   redactor: Redactor | None = None, now: float | None = None,
                   outcome: str | None = None) -> dict[str, Any]:
    request = exchange.request
    caller = request.caller
    at = exchange.started_at
    dep = exchange.deployment
    usage = exchange.usage
    level = policy.level
    content = content_of(exchange, level, redactor)
    if level == "redacted" and content is None:
        level = "metadata"  # no redactor installed: nothing stored rather than clear text
    return {
        "id": request.request_id, "kind": "request", "at": at,
        "ended_at": time.time() if now is None else now,
        "retain_until": retain_until(at, policy.retention_days),
        "tenant_id": caller.tenant.id if caller.tenant else None,
        "team_id": caller.team_subject.id if caller.team_subject else None,
        "app_id": caller.app.id if caller.app else None,
        "key_id": caller.key_id, "end_user": exchange.end_user,
        "model": request.model, "deployment": dep.name if dep is not None else None,
        "route": exchange.trace.header(), "endpoint": exchange.endpoint,
        "stream": request.stream, "cache_hit": exchange.cache_hit,
        "outcome": outcome or exchange.outcome,
        "usage": None if usage is None else {
            "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "cached_tokens": usage.cached_tokens},
        "cost_usd": exchange.cost,
        "findings": findings_of(exchange),
        "policy": None if policy.explanation is None and policy.decision is None else {
            "decision": policy.decision, "explanation": policy.explanation},
        "level": level, "content": content,
        "prompt": None if exchange.prompt_id is None else {
            "id": exchange.prompt_id, "version": exchange.prompt_version},
    }


def admin_record(*, actor: str, action: str, target: str, before: Any, after: Any,
                 tenant_id: str | None = None, retention_days: float | None = None,
                 now: float | None = None) -> dict[str, Any]:
    at = time.time() if now is None else now
    return {"id": new_id("aud"), "kind": "admin", "at": at,
            "retain_until": retain_until(at, retention_days), "tenant_id": tenant_id,
            "app_id": None, "actor": actor, "action": action, "target": target,
            "before": before, "after": after}
