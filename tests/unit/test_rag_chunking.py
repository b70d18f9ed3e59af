"""Chunking follows structure, keeps the budget, overlaps within a section, cites exactly."""

from __future__ import annotations

import itertools

import pytest

from pavedroad.rag.chunking import chunk_document, count_tokens
from pavedroad.rag.parse import parse


def _sentences(prefix: str, n: int) -> str:
    return " ".join(f"{prefix} sentence number {i} says something." for i in range(n))


DOC = f"""# Guide

Intro paragraph.

## Alpha

{_sentences("alpha", 40)}

{_sentences("beta", 3)}

## Gamma

```
{chr(10).join(f"line {i} = value" for i in range(60))}
```
"""


def test_chunks_are_exact_slices_within_budget_and_sections() -> None:
    doc = parse("guide.md", DOC)
    chunks = chunk_document(doc, tokens=64, overlap=16)
    assert len(chunks) > 5
    for chunk in chunks:
        assert doc.text[chunk.start:chunk.end] == chunk.text
        # The budget holds, give or take the carried overlap.
        assert chunk.tokens <= 64 + 16
        assert count_tokens(chunk.text) == chunk.tokens
    sections = [c.section for c in chunks]
    assert sections[0] == ("Guide",)
    assert ("Guide", "Alpha") in sections and ("Guide", "Gamma") in sections
    # No chunk crosses a heading: Gamma's code never shares a chunk with Alpha's text.
    assert not any("alpha" in c.text and "line 0" in c.text for c in chunks)
    assert all(c.text.count("## ") <= 1 for c in chunks)


def test_neighbouring_chunks_of_a_section_overlap() -> None:
    doc = parse("guide.md", DOC)
    alpha = [c for c in chunk_document(doc, tokens=64, overlap=16) if c.section[-1] == "Alpha"]
    assert len(alpha) >= 3
    for before, after in itertools.pairwise(alpha):
        assert after.start < before.end  # the next one starts inside the previous one
    no_overlap = [c for c in chunk_document(doc, tokens=64, overlap=0)
                  if c.section[-1] == "Alpha"]
    for before, after in itertools.pairwise(no_overlap):
        assert after.start >= before.end


def test_small_blocks_stay_whole_and_title_joins_first_section() -> None:
    doc = parse("a.md", "# Title\n\n## First\n\nshort text\n\n## Second\n\nmore text\n")
    chunks = chunk_document(doc, tokens=256)
    assert [c.text for c in chunks] == ["# Title\n\n## First\n\nshort text",
                                       "## Second\n\nmore text"]
    assert chunks[0].section == ("Title", "First")


def test_a_single_huge_word_run_is_cut_between_tokens() -> None:
    doc = parse("w.txt", " ".join(f"w{i}" for i in range(1000)))
    chunks = chunk_document(doc, tokens=100, overlap=0)
    assert len(chunks) == 10
    assert all(c.tokens == 100 for c in chunks)


def test_budget_must_be_sensible() -> None:
    with pytest.raises(ValueError, match="at least 8"):
        chunk_document(parse("a.txt", "x"), tokens=2)
