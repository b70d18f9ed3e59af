"""HTML to text plus structure with the standard library's tokenizer.

Block elements (headings, paragraphs, list items, pre, table cells) become blocks of the
extracted text; scripts, styles and navigation chrome are dropped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from pavedroad.rag.document import Block, BlockKind, ParsedDocument, SectionTracker

_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS: dict[str, BlockKind] = {
    "p": "paragraph", "li": "list", "dt": "list", "dd": "list", "pre": "code",
    "blockquote": "paragraph", "td": "table", "th": "table", "caption": "paragraph",
    "figcaption": "paragraph", "div": "paragraph", "section": "paragraph",
    "article": "paragraph", "main": "paragraph", "body": "paragraph", "tr": "table",
}
_SKIP = frozenset({"script", "style", "noscript", "template", "nav", "footer", "head", "svg"})
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "wbr"})
_SPACES = re.compile(r"\s+")


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.length = 0
        self.blocks: list[Block] = []
        self.sections = SectionTracker()
        self.title = ""
        self._in_title = False
        self._skip = 0
        self._pre = 0
        self._buffer: list[str] = []
        self._kind: BlockKind = "paragraph"
        self._heading = 0
        self._stack: list[BlockKind] = []

    # Text is buffered until a block boundary, then written out as one block.
    def _flush(self) -> None:
        raw = "".join(self._buffer)
        self._buffer = []
        text = raw.strip("\n") if self._kind == "code" else _SPACES.sub(" ", raw).strip()
        if not text.strip():
            return
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        if self._heading:
            path = self.sections.heading(self._heading, text)
            self.blocks.append(Block("heading", start, self.length, level=self._heading,
                                     section=path))
        else:
            self.blocks.append(Block(self._kind, start, self.length, section=self.sections.path))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += tag not in _VOID
            return
        if tag == "title":
            self._in_title = True
        elif tag in _HEADINGS:
            self._flush()
            self._heading = _HEADINGS[tag]
        elif tag in _BLOCKS and not self._pre:
            self._flush()
            self._stack.append(self._kind)  # text after a nested block is the outer kind
            self._kind = _BLOCKS[tag]
            self._pre += tag == "pre"
        elif tag == "br":
            self._buffer.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in _HEADINGS:
            self._flush()
            self._heading = 0
        elif tag in _BLOCKS and (not self._pre or tag == "pre"):
            self._flush()
            self._pre = max(0, self._pre - (tag == "pre"))
            self._kind = self._stack.pop() if self._stack else "paragraph"

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self._buffer.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def parse_html(text: str, *, default_title: str) -> ParsedDocument:
    extractor = _Extractor()
    extractor.feed(text)
    extractor.close()
    title = _SPACES.sub(" ", extractor.title).strip()
    if not title:
        headings = [b for b in extractor.blocks if b.kind == "heading"]
        top = min(headings, key=lambda b: b.level) if headings else None
        title = top.section[-1] if top else default_title
    return ParsedDocument("".join(extractor.parts), title, extractor.blocks)
