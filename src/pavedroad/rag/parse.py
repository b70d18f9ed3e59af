"""Turn a document's bytes into `ParsedDocument`s: plain text, Markdown, HTML and PDF.

Markdown is parsed line by line (headings, fences, lists, paragraphs): a full CommonMark
parser would add a dependency for structure we do not use.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from pavedroad.core.errors import DocumentUnreadable, UnsupportedDocumentType
from pavedroad.rag.document import Block, BlockKind, ParsedDocument, SectionTracker, trimmed
from pavedroad.rag.parse_html import parse_html
from pavedroad.rag.parse_pdf import parse_pdf

MEDIA_TYPES = {
    ".txt": "text/plain", ".text": "text/plain", ".md": "text/markdown",
    ".markdown": "text/markdown", ".html": "text/html", ".htm": "text/html",
    ".pdf": "application/pdf",
}
_ALIASES = {"text": "text/plain", "markdown": "text/markdown", "html": "text/html",
            "pdf": "application/pdf", "text/x-markdown": "text/markdown"}

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\S")
_RULE = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_TABLE = re.compile(r"^[ \t]*\|")
_FRONT_TITLE = re.compile(r"^title:[ \t]*[\"']?(.*?)[\"']?[ \t]*$", re.MULTILINE)


def media_type_of(name: str, declared: str | None = None) -> str:
    """The media type to parse `name` as; raises `UnsupportedDocumentType`."""
    if declared:
        kind = declared.partition(";")[0].strip().lower()
        kind = _ALIASES.get(kind, kind)
        if kind in MEDIA_TYPES.values():
            return kind
        if kind not in ("application/octet-stream", ""):
            raise UnsupportedDocumentType(
                f"{name}: media type {declared!r} is not supported; use text/plain, "
                "text/markdown, text/html or application/pdf")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in MEDIA_TYPES:
        return MEDIA_TYPES[suffix]
    raise UnsupportedDocumentType(
        f"{name}: cannot ingest {suffix or 'files without an extension'}; supported: "
        ".txt, .md, .html, .pdf (or name the media_type)")


def decode(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentUnreadable(f"{name}: not UTF-8 text (byte {exc.start}); re-save it as "
                                 "UTF-8") from None


def parse(name: str, data: bytes | str, *, media_type: str | None = None) -> ParsedDocument:
    """Parse one document; `name` gives the default title and, without `media_type`, the
    format (by extension)."""
    kind = media_type_of(name, media_type)
    stem = PurePosixPath(name).stem or name
    if kind == "application/pdf":
        if isinstance(data, str):
            raise DocumentUnreadable(f"{name}: a PDF must be sent as bytes (upload the file)")
        return parse_pdf(name, data, default_title=stem)
    text = decode(name, data) if isinstance(data, bytes) else data
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if kind == "text/html":
        return parse_html(text, default_title=stem)
    if kind == "text/markdown":
        return parse_markdown(text, default_title=stem)
    return parse_text(text, default_title=stem)


def parse_text(text: str, *, default_title: str) -> ParsedDocument:
    """Plain text: paragraphs separated by blank lines."""
    blocks = [Block("paragraph", s, e) for s, e in _paragraphs(text, 0, len(text))]
    return ParsedDocument(text, default_title, blocks)


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for match in re.finditer(r"(?:[^\n]|\n(?![ \t]*\n))+", text[start:end]):
        s, e = trimmed(text, start + match.start(), start + match.end())
        if e > s:
            out.append((s, e))
    return out


class _MarkdownBlocks:
    """Accumulates one block of lines at a time and flushes it with its section."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.blocks: list[Block] = []
        self.sections = SectionTracker()
        self.kind: BlockKind | None = None
        self.start = 0
        self.end = 0

    def open(self, kind: BlockKind, start: int, end: int) -> None:
        if self.kind != kind:
            self.flush()
            self.kind, self.start = kind, start
        self.end = end

    def flush(self) -> None:
        if self.kind is not None:
            s, e = trimmed(self.text, self.start, self.end)
            if e > s:
                self.blocks.append(Block(self.kind, s, e, section=self.sections.path))
        self.kind = None

    def heading(self, level: int, title: str, start: int, end: int) -> None:
        self.flush()
        path = self.sections.heading(level, title)
        s, e = trimmed(self.text, start, end)
        self.blocks.append(Block("heading", s, e, level=level, section=path))


def _lines(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def _front_matter(text: str) -> tuple[int, str | None]:
    """Skip a YAML front matter block; returns where the body starts and its title."""
    if not text.startswith("---\n"):
        return 0, None
    close = text.find("\n---", 4)
    if close < 0:
        return 0, None
    found = _FRONT_TITLE.search(text, 4, close)
    body = text.find("\n", close + 4)
    return (len(text) if body < 0 else body + 1), (found.group(1) if found else None)


def parse_markdown(text: str, *, default_title: str) -> ParsedDocument:
    body, front_title = _front_matter(text)
    out = _MarkdownBlocks(text)
    spans = [(s, e) for s, e in _lines(text) if s >= body]
    fence: str | None = None
    i = 0
    while i < len(spans):
        s, e = spans[i]
        line = text[s:e]
        if fence is not None:
            out.open("code", out.start, e)
            if line.strip().startswith(fence):
                out.flush()
                fence = None
            i += 1
            continue
        opened = _FENCE.match(line)
        if opened:
            out.flush()
            fence = opened.group(1)[0] * 3
            out.open("code", s, e)
        elif atx := _ATX.match(line):
            out.heading(len(atx.group(1)), (atx.group(2) or "").strip(), s, e)
        elif (out.kind is None and line.strip() and i + 1 < len(spans)
              and _SETEXT.match(text[spans[i + 1][0]:spans[i + 1][1]])):
            underline = text[spans[i + 1][0]:spans[i + 1][1]].strip()
            out.heading(1 if underline[0] == "=" else 2, line.strip(), s, spans[i + 1][1])
            i += 1
        elif _RULE.match(line):
            out.flush()
        elif not line.strip():
            if out.kind != "list" or not _list_continues(text, spans, i):
                out.flush()
        elif _ITEM.match(line) or (out.kind == "list" and line[:1] in (" ", "\t")):
            out.open("list", s, e)
        elif _TABLE.match(line):
            out.open("table", s, e)
        elif line.startswith(("    ", "\t")) and out.kind is None:
            out.open("code", s, e)
        else:
            out.open("paragraph", s, e)
        i += 1
    out.flush()
    title = front_title or _first_heading(out.blocks, text) or default_title
    return ParsedDocument(text, title, out.blocks)


def _list_continues(text: str, spans: list[tuple[int, int]], i: int) -> bool:
    """A blank line inside a list: does the list go on after it (a loose list)?"""
    for s, e in spans[i + 1:]:
        line = text[s:e]
        if line.strip():
            return bool(_ITEM.match(line)) or line[:1] in (" ", "\t")
    return False


def _first_heading(blocks: list[Block], text: str) -> str | None:
    headings = [b for b in blocks if b.kind == "heading" and b.section]
    if not headings:
        return None
    top = min(headings, key=lambda b: b.level)
    return top.section[-1] or None
