"""Detectors for credentials: well-known token prefixes, JWTs, PEM private keys, and
high-entropy strings that sit next to a word like key, secret, token or password."""

from __future__ import annotations

import math
import re
from collections import Counter

from pavedroad.guardrails.pii.span import Span

_PREFIXED = re.compile(
    r"(?<![\w-])(?:"
    r"sk-(?:proj-|ant-(?:api\d{2}-)?)?[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic
    r"|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}"  # GitHub
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}"  # AWS access key ids
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}"  # Stripe
    r"|glpat-[0-9A-Za-z_-]{20}"  # GitLab
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"  # SendGrid
    r"|npm_[A-Za-z0-9]{36}"  # npm
    r")(?![\w-])"
)
_JWT = re.compile(r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?![\w-])")
_PEM = re.compile(
    r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----[\s\S]{0,8000}?-----END (?:[A-Z]+ )?PRIVATE KEY-----"
)
# `api_key = "..."`, `password: hunter2…`, `token=…`: the value after a credential word.
_ASSIGNED = re.compile(
    r"(?i)(?=[aspbct])(?:api[_-]?key|apikey|secret|token|passw(?:or)?d|pwd|access[_-]?key|auth|bearer|credential)"
    r"[\w-]{0,20}[\"']?\s*(?:[:=]|(?:\s+\w+){0,4}\s+is\b)?\s*[\"']?([A-Za-z0-9_\-+/=.~!@#$%^&*()?|]{8,200})"
)
_BEARER = re.compile(r"(?i)\bBearer\s+([A-Za-z0-9_\-.~+/]{16,}=*)")


def shannon_entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _looks_random(value: str) -> bool:
    classes = sum((any(c.islower() for c in value), any(c.isupper() for c in value),
                   any(c.isdigit() for c in value), any(not c.isalnum() for c in value)))  # fmt: skip
    if len(value) >= 16:
        return classes >= 2 and shannon_entropy(value) >= 3.0
    return classes >= 3 and shannon_entropy(value) >= 2.5  # short passwords: mixed classes


def secrets(text: str, lowered: str) -> list[Span]:
    found = [Span("SECRET", 0.95, m.start(), m.end(), "prefix") for m in _PREFIXED.finditer(text)]
    if "eyJ" in text:
        found += [Span("SECRET", 0.9, m.start(), m.end(), "jwt") for m in _JWT.finditer(text)]
    if "PRIVATE KEY-----" in text:
        found += [Span("SECRET", 0.99, m.start(), m.end(), "pem") for m in _PEM.finditer(text)]
    if any(w in lowered for w in ("key", "secret", "token", "pass", "pwd", "auth", "bearer", "credential")):
        for pattern in (_ASSIGNED, _BEARER):
            for m in pattern.finditer(text):
                value = m.group(1).rstrip(".,;\"'")
                if _looks_random(value):
                    start = m.start(1)
                    found.append(Span("SECRET", 0.8, start, start + len(value), "keyword"))
    return found
