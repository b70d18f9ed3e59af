"""PDF to text with pypdf: one section per page, paragraphs split on blank lines.

PDFs carry no reliable heading structure, so the page number is the section a citation
names ("Page 3"); pypdf's errors become `DocumentUnreadable` here, at the boundary.
"""

from __future__ import annotations

import io
import re

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from pavedroad.core.errors import DocumentUnreadable
from pavedroad.rag.document import Block, ParsedDocument, trimmed

_PARAGRAPH = re.compile(r"(?:[^\n]|\n(?![ \t]*\n))+")


def parse_pdf(name: str, data: bytes, *, default_title: str) -> ParsedDocument:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentUnreadable(f"{name}: the PDF is encrypted; decrypt it first")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        meta_title = str(info.title) if info is not None and info.title else ""
    except DocumentUnreadable:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentUnreadable(f"{name}: not a readable PDF ({exc})") from exc
    parts: list[str] = []
    blocks: list[Block] = []
    length = 0
    for number, raw in enumerate(pages, start=1):
        page = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
        if not page:
            continue
        if parts:
            parts.append("\n\n")
            length += 2
        section = (f"Page {number}",)
        for match in _PARAGRAPH.finditer(page):
            s, e = trimmed(page, match.start(), match.end())
            if e > s:
                blocks.append(Block("paragraph", length + s, length + e, section=section))
        parts.append(page)
        length += len(page)
    text = "".join(parts)
    if not text.strip():
        raise DocumentUnreadable(f"{name}: the PDF has no extractable text (a scan needs OCR "
                                 "first)")
    return ParsedDocument(text, meta_title.strip() or default_title, blocks,
                          metadata={"pages": str(len(pages))})
