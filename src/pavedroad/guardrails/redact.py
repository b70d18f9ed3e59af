"""Redaction of guardrail findings: mask, typed placeholders, and reversible pseudonymisation.

Pseudonymisation keeps the originals only inside one request's `Pseudonymizer`: the
placeholders go upstream, `restore` (or a `StreamRestorer` for streamed answers) puts the
originals back in what the caller receives. Nothing here logs or persists a value, and the
objects' reprs never show one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

from pavedroad.guardrails.base import Finding

__all__ = ["Mode", "Pseudonymizer", "StreamRestorer", "mask", "placeholders", "redact"]

Mode = Literal["mask", "placeholder", "pseudonymise"]

_PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*)_(\d+)>")
_MAX_PLACEHOLDER = 40  # longest "<CATEGORY_n>" we emit or recognise


def _spans(findings: Iterable[Finding], length: int) -> list[Finding]:
    """Findings with spans, in order, dropping any that overlap an earlier one."""
    kept: list[Finding] = []
    end = 0
    for f in sorted((f for f in findings if f.start is not None and f.end is not None),
                    key=lambda f: (f.start or 0, -(f.end or 0))):  # fmt: skip
        assert f.start is not None and f.end is not None
        if f.start >= end and f.end <= length:
            kept.append(f)
            end = f.end
    return kept


def _replace(text: str, findings: Sequence[Finding], replacement: dict[int, str]) -> str:
    parts: list[str] = []
    cursor = 0
    for index, f in enumerate(findings):
        assert f.start is not None and f.end is not None
        parts.append(text[cursor : f.start])
        parts.append(replacement[index])
        cursor = f.end
    parts.append(text[cursor:])
    return "".join(parts)


def mask(text: str, findings: Iterable[Finding], *, char: str = "*", keep_length: bool = True,
         fixed: str = "****") -> str:  # fmt: skip
    """Replace each span with `char` repeated to its length, or with `fixed`."""
    spans = _spans(findings, len(text))
    return _replace(text, spans, {
        i: char * ((f.end or 0) - (f.start or 0)) if keep_length else fixed for i, f in enumerate(spans)
    })  # fmt: skip


class Pseudonymizer:
    """One request's value <-> placeholder map: the same value gets the same placeholder."""

    __slots__ = ("_by_value", "_counts", "_originals")

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._originals: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"Pseudonymizer({len(self._originals)} values)"

    def placeholder(self, category: str, value: str) -> str:
        key = (category, value)
        existing = self._by_value.get(key)
        if existing is not None:
            return existing
        number = self._counts.get(category, 0) + 1
        self._counts[category] = number
        token = f"<{category}_{number}>"
        self._by_value[key] = token
        self._originals[token] = value
        return token

    def pseudonymise(self, text: str, findings: Iterable[Finding]) -> str:
        spans = _spans(findings, len(text))
        return _replace(text, spans, {
            i: self.placeholder(f.category, text[f.start : f.end]) for i, f in enumerate(spans)
        })  # fmt: skip

    def restore(self, text: str) -> str:
        """Put the originals back; placeholders this request never issued are left alone."""
        if "<" not in text:
            return text
        return _PLACEHOLDER.sub(lambda m: self._originals.get(m.group(), m.group()), text)

    def clear(self) -> None:
        self._by_value.clear()
        self._originals.clear()
        self._counts.clear()


def placeholders(text: str, findings: Iterable[Finding]) -> str:
    """Typed placeholders (`<EMAIL_1>`), numbered consistently within this one call."""
    return Pseudonymizer().pseudonymise(text, findings)


class StreamRestorer:
    """Restores placeholders across streamed chunks, holding back only a possible
    placeholder prefix (at most `_MAX_PLACEHOLDER` characters) at the end of each chunk."""

    __slots__ = ("_pending", "_pseudonymizer")

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer
        self._pending = ""

    def feed(self, chunk: str) -> str:
        text = self._pending + chunk
        cut = text.rfind("<")
        if cut != -1 and ">" not in text[cut:] and len(text) - cut < _MAX_PLACEHOLDER \
                and _could_be_placeholder(text[cut:]):  # fmt: skip
            self._pending = text[cut:]
            text = text[:cut]
        else:
            self._pending = ""
        return self._pseudonymizer.restore(text)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return self._pseudonymizer.restore(rest)


_PREFIX = re.compile(r"<[A-Z_]*\d*")


def _could_be_placeholder(tail: str) -> bool:
    return _PREFIX.fullmatch(tail) is not None


def redact(text: str, findings: Iterable[Finding], mode: Mode, *,
           pseudonymizer: Pseudonymizer | None = None) -> str:  # fmt: skip
    """One entry point for the stage: `pseudonymise` needs the request's pseudonymizer."""
    if mode == "mask":
        return mask(text, findings)
    if mode == "placeholder":
        return placeholders(text, findings)
    if pseudonymizer is None:
        raise ValueError("pseudonymise needs the request's Pseudonymizer")
    return pseudonymizer.pseudonymise(text, findings)
