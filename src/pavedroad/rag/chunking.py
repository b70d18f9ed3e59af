"""Structure-aware chunking: chunks never cross a heading, prefer block boundaries, fit a
token budget and overlap their neighbours within a section.

A chunk is always one contiguous slice of the extracted text, so its offsets are exact
citations. Tokens are approximated by words and punctuation marks (close to BPE counts
for English prose, and free).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pavedroad.rag.document import Block, ParsedDocument

_TOKEN = re.compile(r"\w+|[^\w\s]")
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+|\n+")
DEFAULT_TOKENS = 256
DEFAULT_OVERLAP = 32


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


@dataclass(frozen=True, slots=True)
class ChunkDraft:
    text: str
    start: int
    end: int
    section: tuple[str, ...]
    tokens: int


@dataclass(frozen=True, slots=True)
class _Piece:
    start: int
    end: int
    tokens: int
    block: int  # index of the block it came from
    kind: str


def _split_words(text: str, start: int, end: int, budget: int) -> list[tuple[int, int]]:
    """A span longer than the budget, cut between tokens."""
    spans: list[tuple[int, int]] = []
    tokens = list(_TOKEN.finditer(text, start, end))
    for i in range(0, len(tokens), budget):
        group = tokens[i:i + budget]
        spans.append((group[0].start(), group[-1].end()))
    return spans


def _pieces(doc: ParsedDocument, index: int, block: Block, budget: int) -> list[_Piece]:
    """A block as pieces of at most `budget` tokens: whole when it fits, else sentences
    (lines for code and lists), else runs of words."""
    text = doc.text
    whole = count_tokens(text[block.start:block.end])
    if whole <= budget:
        return [_Piece(block.start, block.end, whole, index, block.kind)]
    spans: list[tuple[int, int]] = []
    pos = block.start
    splitter = re.compile(r"\n+") if block.kind in ("code", "list", "table") else _SENTENCE_END
    for match in splitter.finditer(text, block.start, block.end):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, block.end))
    out: list[_Piece] = []
    for s, e in spans:
        if e <= s:
            continue
        n = count_tokens(text[s:e])
        parts = [(s, e)] if n <= budget else _split_words(text, s, e, budget)
        for ps, pe in parts:
            out.append(_Piece(ps, pe, count_tokens(text[ps:pe]), index, block.kind))
    return [p for p in out if p.tokens > 0]


def _groups(doc: ParsedDocument) -> list[list[tuple[int, Block]]]:
    """Blocks grouped by section: a heading starts a new group, unless the group before
    holds only headings (a title right above its first sub-heading stays with it)."""
    groups: list[list[tuple[int, Block]]] = []
    for i, block in enumerate(doc.blocks):
        only_headings = bool(groups) and all(b.kind == "heading" for _, b in groups[-1])
        starts = block.kind == "heading" or not groups or groups[-1][-1][1].section != block.section
        if starts and not (only_headings and block.kind == "heading"):
            groups.append([])
        groups[-1].append((i, block))
    return groups


def chunk_document(doc: ParsedDocument, *, tokens: int = DEFAULT_TOKENS,
                   overlap: int = DEFAULT_OVERLAP) -> list[ChunkDraft]:
    """Cut `doc` into chunks of at most `tokens` tokens (a chunk that starts with a long
    overlap may carry it beyond), repeating up to `overlap` tokens of the previous chunk of
    the same section."""
    if tokens < 8:
        raise ValueError("the chunk budget must be at least 8 tokens")
    overlap = max(0, min(overlap, tokens // 2))
    chunks: list[ChunkDraft] = []
    for group in _groups(doc):
        pieces = [p for i, block in group for p in _pieces(doc, i, block, tokens)]
        section = group[-1][1].section if group else ()
        chunks.extend(_pack(doc, pieces, section, tokens, overlap))
    return chunks


def _pack(doc: ParsedDocument, pieces: list[_Piece], section: tuple[str, ...], budget: int,
          overlap: int) -> list[ChunkDraft]:
    out: list[ChunkDraft] = []
    current: list[_Piece] = []
    fresh = 0  # pieces in `current` that no earlier chunk holds
    size = 0
    block_tokens: dict[int, int] = {}
    for piece in pieces:
        block_tokens[piece.block] = block_tokens.get(piece.block, 0) + piece.tokens

    def emit() -> None:
        first, last = current[0], current[-1]
        out.append(ChunkDraft(doc.text[first.start:last.end], first.start, last.end,
                              section, size))

    for piece in pieces:
        block_break = bool(current) and piece.block != current[-1].block
        full = size + piece.tokens > budget
        # Break early at a block boundary rather than in the middle of the next block.
        half_full = (block_break and size >= budget // 2
                     and block_tokens[piece.block] > budget - size)
        if current and fresh and (full or half_full):
            emit()
            kept: list[_Piece] = []
            carried = 0
            for old in reversed(current):
                if carried + old.tokens > overlap or old.kind == "heading":
                    break
                kept.insert(0, old)
                carried += old.tokens
            current, size, fresh = kept, carried, 0
        current.append(piece)
        size += piece.tokens
        fresh += 1
    if current and fresh:
        emit()
    return out
