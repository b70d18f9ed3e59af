"""Deterministic stand-ins for tokenisation: count, cut and split text.

A "token" here is a word or a single punctuation mark. It is not any real tokenizer,
only stable, cheap and easy to predict in tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "count_tokens",
    "count_tokens_in",
    "cut_at_token",
    "fragments",
    "preview",
    "word_chunks",
]

_TOKEN = re.compile(r"\w+|[^\w\s]")
# A word plus its trailing whitespace, or leading whitespace alone: pieces rejoin exactly.
_WORD_CHUNK = re.compile(r"\S+\s*|\s+")

PREVIEW_CHARS = 200


def count_tokens(text: str) -> int:
    """Never 0, because providers never bill a request as zero tokens."""
    return max(1, len(_TOKEN.findall(text)))


def count_tokens_in(texts: Iterable[str]) -> int:
    return max(1, sum(len(_TOKEN.findall(t)) for t in texts))


def cut_at_token(text: str, limit: int) -> str | None:
    """The text up to the end of its `limit`-th token, or None if it already fits."""
    for i, match in enumerate(_TOKEN.finditer(text), start=1):
        if i == limit:
            end = match.end()
            return None if not _TOKEN.search(text, end) else text[:end]
    return None


def word_chunks(text: str) -> list[str]:
    """Word-sized stream deltas whose concatenation is exactly `text`."""
    return _WORD_CHUNK.findall(text)


def fragments(text: str, *, size: int = 16) -> list[str]:
    """Split JSON text into at least two pieces (when possible) like real arg streams."""
    if len(text) < 2:
        return [text]
    step = max(1, min(size, len(text) // 2))
    return [text[i : i + step] for i in range(0, len(text), step)]


def preview(text: str) -> str:
    return text[:PREVIEW_CHARS]
