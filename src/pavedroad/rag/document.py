"""The shape every parser produces: extracted text plus its structure, with offsets.

Chunking and citations only ever look at this, so a new format is one parser away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BlockKind = Literal["heading", "paragraph", "list", "code", "table"]


@dataclass(frozen=True, slots=True)
class Block:
    """One structural unit: `text[start:end]` of its document."""

    kind: BlockKind
    start: int
    end: int
    level: int = 0  # headings: 1-6
    section: tuple[str, ...] = ()  # the headings above it (a heading includes itself)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    text: str  # Markdown and plain text: the source itself, so offsets point into the file
    title: str
    blocks: list[Block]
    metadata: dict[str, str] = field(default_factory=dict)  # what the format itself says


class SectionTracker:
    """Keeps the heading path while blocks stream by, shared by the parsers."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def heading(self, level: int, title: str) -> tuple[str, ...]:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))
        return self.path

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(title for _, title in self._stack)


def trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) so it neither starts nor ends with whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
