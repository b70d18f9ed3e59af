"""Parsing documents into text plus structure, with offsets that point into the text."""

from __future__ import annotations

import pytest

from pavedroad.core.errors import DocumentUnreadable, UnsupportedDocumentType
from pavedroad.rag.document import ParsedDocument
from pavedroad.rag.parse import media_type_of, parse
from tests.support.pdf import make_pdf

MARKDOWN = """---
title: "The Handbook"
---
# Install

Run the installer.
It takes a minute.

## From source

- clone the repository
- run `make`
  and wait

```bash
# not a heading
make install
```

Setext heading
--------------

Closing words.
"""


def _kinds(doc: ParsedDocument) -> list[tuple[str, str]]:
    return [(b.kind, doc.text[b.start:b.end].split("\n")[0]) for b in doc.blocks]


def test_markdown_structure_and_offsets() -> None:
    doc = parse("guide.md", MARKDOWN.encode())
    assert doc.title == "The Handbook"  # front matter wins over the first heading
    assert doc.text == MARKDOWN  # offsets point into the file itself
    assert _kinds(doc) == [
        ("heading", "# Install"), ("paragraph", "Run the installer."),
        ("heading", "## From source"), ("list", "- clone the repository"),
        ("code", "```bash"), ("heading", "Setext heading"), ("paragraph", "Closing words."),
    ]
    heading, paragraph = doc.blocks[2], doc.blocks[1]
    assert heading.level == 2 and heading.section == ("Install", "From source")
    assert paragraph.section == ("Install",)
    assert doc.blocks[4].section == ("Install", "From source")  # `# not a heading` is code
    assert "and wait" in doc.text[doc.blocks[3].start:doc.blocks[3].end]
    setext = doc.blocks[5]
    assert setext.level == 2 and setext.section == ("Install", "Setext heading")


def test_markdown_title_falls_back_to_top_heading_then_file_name() -> None:
    assert parse("a.md", "intro\n\n## Sub\n\n# Top\n").title == "Top"
    assert parse("notes/b.md", "no headings here").title == "b"


def test_plain_text_paragraphs() -> None:
    text = "First line\nstill first.\n\n\nSecond one.\n"
    doc = parse("t.txt", text)
    assert [doc.text[b.start:b.end] for b in doc.blocks] == ["First line\nstill first.",
                                                             "Second one."]


def test_html_blocks_sections_and_chrome_dropped() -> None:
    html = """<html><head><title>Ops &amp; more</title><style>p{}</style></head>
    <body><nav>Home | About</nav><h1>Keys</h1><p>Keys are <b>hashed</b>
    at rest.</p><ul><li>rotate</li><li>revoke</li></ul><h2>Limits</h2>
    <pre>rpm: 10
tpm: 100</pre><script>alert(1)</script></body></html>"""
    doc = parse("page.html", html)
    assert doc.title == "Ops & more"
    assert "Home" not in doc.text and "alert" not in doc.text
    texts = [(b.kind, doc.text[b.start:b.end]) for b in doc.blocks]
    assert texts == [("heading", "Keys"), ("paragraph", "Keys are hashed at rest."),
                     ("list", "rotate"), ("list", "revoke"), ("heading", "Limits"),
                     ("code", "rpm: 10\ntpm: 100")]
    assert doc.blocks[-1].section == ("Keys", "Limits")


def test_pdf_pages_become_sections() -> None:
    data = make_pdf([["Rotating keys", "Keys rotate every 90 days."], ["Budgets reset monthly."]],
                    title="Ops Manual")
    doc = parse("manual.pdf", data)
    assert doc.title == "Ops Manual"
    assert [b.section for b in doc.blocks] == [("Page 1",), ("Page 2",)]
    last = doc.blocks[-1]
    assert doc.text[last.start:last.end] == "Budgets reset monthly."


def test_unsupported_and_unreadable_documents() -> None:
    with pytest.raises(UnsupportedDocumentType, match=r"report\.docx"):
        parse("report.docx", b"PK...")
    with pytest.raises(UnsupportedDocumentType):
        media_type_of("x.md", "image/png")
    assert media_type_of("x.bin", "markdown") == "text/markdown"
    with pytest.raises(DocumentUnreadable, match="not a readable PDF"):
        parse("broken.pdf", b"%PDF-1.4 garbage")
    with pytest.raises(DocumentUnreadable, match="UTF-8"):
        parse("latin.txt", "café".encode("latin-1"))
