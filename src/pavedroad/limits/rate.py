"""Rate limits of the caller: requests/min, tokens/min and concurrent requests per key, app,
team and tenant, admitted together against one `CounterStore`.

Tokens per minute are charged twice: the prompt's estimate when the request is admitted
(so a burst of large prompts is stopped up front) and the difference to the actual
prompt + completion tokens when it ends (`settlement`), which may leave a bucket in debt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pavedroad.core.errors import RateLimited
from pavedroad.core.types import Caller, Limits, Usage
from pavedroad.limits.counter import Admission, Claim, CounterStore, Level

MINUTE = 60.0
_KINDS = {"rpm": "requests per minute", "tpm": "tokens per minute",
          "concurrent": "concurrent requests"}


@dataclass(slots=True, frozen=True)
class LimitedSubject:
    """Something with limits a request counts against: a key, app, team, tenant, deployment."""

    scope: str
    id: str
    name: str
    limits: Limits


def caller_subjects(caller: Caller) -> list[LimitedSubject]:
    """The caller's key, app, team and tenant that have any limit, narrowest first."""
    out: list[LimitedSubject] = []
    if not caller.key_limits.empty:
        out.append(LimitedSubject("key", caller.key_id, caller.name, caller.key_limits))
    for scope, subject in (("app", caller.app), ("team", caller.team_subject),
                           ("tenant", caller.tenant)):
        if subject is not None and not subject.limits.empty:
            out.append(LimitedSubject(scope, subject.id, subject.name, subject.limits))
    return out


@dataclass(slots=True, frozen=True)
class RatePlan:
    """What one request claims: one `Claim` per limit, with who and what it limits."""

    claims: tuple[Claim, ...]
    owners: tuple[tuple[LimitedSubject, str], ...]  # (subject, kind) per claim
    tokens: int  # the prompt estimate charged to every tokens-per-minute claim

    def settlement(self, usage: Usage | None, *, served: bool) -> list[Claim]:
        """What to give back when the request ends: every concurrency slot, and per
        tokens-per-minute bucket the estimate minus the actual tokens (negative: charge
        more). No usage: keep the estimate if an upstream answered, else refund it."""
        out: list[Claim] = []
        for claim, (_, kind) in zip(self.claims, self.owners, strict=True):
            if kind == "concurrent":
                out.append(claim)
            elif kind == "tpm":
                if usage is not None:
                    delta = self.tokens - usage.total_tokens
                elif served:
                    delta = 0
                else:
                    delta = self.tokens
                if delta:
                    out.append(Claim(claim.key, claim.limit, delta, claim.window))
        return out


def plan_for(subjects: Sequence[LimitedSubject], *, tokens: int) -> RatePlan | None:
    """The claims of a request estimated at `tokens` prompt tokens; None when unlimited."""
    claims: list[Claim] = []
    owners: list[tuple[LimitedSubject, str]] = []
    for subject in subjects:
        limits = subject.limits
        prefix = f"rl:{subject.scope}:{subject.id}"
        if limits.rpm is not None:
            claims.append(Claim(f"{prefix}:rpm", limits.rpm, 1, MINUTE))
            owners.append((subject, "rpm"))
        if limits.tpm is not None:
            claims.append(Claim(f"{prefix}:tpm", limits.tpm, max(1, tokens), MINUTE))
            owners.append((subject, "tpm"))
        if limits.concurrent is not None:
            claims.append(Claim(f"{prefix}:concurrent", limits.concurrent, 1, None))
            owners.append((subject, "concurrent"))
    if not claims:
        return None
    return RatePlan(tuple(claims), tuple(owners), max(1, tokens))


async def admit(store: CounterStore, plan: RatePlan, *, holder: str) -> dict[str, str]:
    """Admit the request against every claim of `plan` or raise `RateLimited`; the
    `x-ratelimit-*` headers of the tightest limits."""
    admission = await store.take(plan.claims, holder=holder)
    headers = rate_headers(plan, admission)
    if admission.refused is not None:
        subject, kind = plan.owners[admission.refused]
        claim = plan.claims[admission.refused]
        wait = admission.retry_after
        raise RateLimited(
            f"rate limit reached: {subject.scope} {subject.name!r} allows {claim.limit} "
            f"{_KINDS[kind]}; retry in {_seconds(wait)}",
            retry_after=wait, limit_headers=headers, scope=subject.scope, limit=kind)
    return headers


def rate_headers(plan: RatePlan, admission: Admission) -> dict[str, str]:
    """OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` for the limit of each
    kind with the least left (ties: the smallest limit)."""
    headers: dict[str, str] = {}
    for kind, suffix in (("rpm", "requests"), ("tpm", "tokens")):
        levels = [level for level, (_, owner_kind) in zip(admission.levels, plan.owners,
                                                           strict=True) if owner_kind == kind]
        if not levels:
            continue
        tightest = min(levels, key=_tightness)
        headers[f"x-ratelimit-limit-{suffix}"] = str(tightest.limit)
        headers[f"x-ratelimit-remaining-{suffix}"] = str(tightest.remaining)
        headers[f"x-ratelimit-reset-{suffix}"] = duration(tightest.reset)
    return headers


def _tightness(level: Level) -> tuple[int, int]:
    return level.remaining, level.limit


def duration(seconds: float) -> str:
    """A duration as OpenAI writes it in `x-ratelimit-reset-*`: `20ms`, `1.5s`, `6m0s`."""
    millis = math.ceil(max(0.0, seconds) * 1000 - 1e-6)
    if millis < 1000:
        return f"{millis}ms"
    minutes, rest = divmod(millis, 60_000)
    text = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{minutes}m{text}" if minutes else text


def _seconds(wait: float) -> str:
    return f"{max(1, math.ceil(wait))}s"
