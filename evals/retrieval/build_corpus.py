"""Rebuild `corpus/` from the PostgreSQL 15 HTML documentation (Debian `postgresql-doc-15`).

The evaluation ships Markdown, not HTML, so that the gold spans in `questions.jsonl` are
checked against text we control rather than against whichever HTML extractor the gateway
uses today. Run: `python evals/retrieval/build_corpus.py [--html DIR]`; the output is
deterministic for a given documentation version.
"""

from __future__ import annotations

import argparse
import re
from html.parser import HTMLParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_HTML = Path("/usr/share/doc/postgresql-doc-15/html")

# The pages of the subset, chosen to cover administration, SQL, indexing, replication,
# security and tooling with overlapping vocabulary (so lexical matching alone is not enough).
PAGES: tuple[str, ...] = (
    # indexes
    "indexes-intro", "indexes-types", "indexes-multicolumn", "indexes-ordering",
    "indexes-bitmap-scans", "indexes-examine", "brin-intro", "gin-tips", "bloom",
    # maintenance and storage
    "runtime-config-autovacuum", "sql-cluster", "sql-truncate", "logfile-maintenance",
    "disk-usage", "storage-file-layout", "manage-ag-tablespaces", "limits",
    # WAL, backup, recovery
    "wal-intro", "wal-async-commit", "wal-reliability", "backup-file", "app-pgverifybackup",
    "pgarchivecleanup", "app-pgchecksums",
    # replication
    "logical-replication-publication", "logical-replication-conflicts",
    "logical-replication-restrictions", "warm-standby-failover",
    "different-replication-solutions", "view-pg-replication-slots",
    # authentication and roles
    "auth-password", "auth-username-maps", "auth-ldap", "auth-radius", "ssh-tunnels",
    "encryption-options", "predefined-roles", "role-membership", "role-attributes",
    "sql-alterdefaultprivileges",
    # configuration
    "runtime-config-file-locations", "runtime-config-error-handling", "runtime-config-locks",
    "sql-altersystem", "view-pg-settings",
    # SQL
    "sql-createtableas", "sql-creatematerializedview", "sql-refreshmaterializedview", "sql-lock",
    "sql-set-transaction", "sql-prepare", "sql-notify", "sql-savepoint", "ddl-generated-columns",
    "sql-createdomain", "mvcc-serialization-failure-handling",
    # data types and extensions
    "datatype-enum", "datatype-binary", "datatype-net-types", "citext", "uuid-ossp",
    "fuzzystrmatch", "unaccent", "textsearch-indexes",
    # performance
    "jit-decision", "how-parallel-query-works", "when-can-parallel-query-be-used",
    "explicit-joins", "auto-explain", "pgprewarm", "pgbuffercache",
    # tools
    "app-pg-isready", "app-createdb", "app-reindexdb", "server-shutdown", "libpq-envars",
)

_BLOCK = {"p", "dt", "dd", "li", "tr", "div", "table", "ul", "ol", "dl", "blockquote", "td", "th"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5}
_SKIP_CLASSES = {"navheader", "navfooter", "toc"}
_SKIP_TAGS = {"head", "script", "style"}


class _PageText(HTMLParser):
    """Collects headings, paragraphs, list items, table rows and code blocks in reading order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []  # (kind, text): kind is "h<level>", "p" or "pre"
        self._buf: list[str] = []
        self._skip_depth = 0  # >0 while inside a navigation/table-of-contents div
        self._div_stack: list[bool] = []
        self._pre = 0
        self._heading: str | None = None
        self._cells: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
            return
        if tag == "div":
            classes = set((dict(attrs).get("class") or "").split())
            skip = bool(classes & _SKIP_CLASSES)
            self._div_stack.append(skip)
            if skip:
                self._skip_depth += 1
        if self._skip_depth:
            return
        if tag in _HEADINGS:
            self._flush()
            self._heading = tag
        elif tag == "pre":
            self._flush()
            self._pre += 1
        elif tag == "tr":
            self._flush()
            self._cells = []
        elif tag in ("td", "th") and self._cells is not None:
            self._buf = []
        elif tag == "br":
            self._buf.append(" ")
        elif tag in _BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth -= 1
            return
        if tag == "div" and self._div_stack and self._div_stack.pop():
            self._skip_depth -= 1
            return
        if self._skip_depth:
            return
        if tag in _HEADINGS and self._heading == tag:
            text = _squash("".join(self._buf))
            self._buf = []
            if text:
                self.blocks.append((f"h{_HEADINGS[tag]}", text))
            self._heading = None
        elif tag == "pre":
            code = "".join(self._buf).strip("\n")
            self._buf = []
            self._pre -= 1
            if code.strip():
                self.blocks.append(("pre", code))
        elif tag in ("td", "th") and self._cells is not None:
            self._cells.append(_squash("".join(self._buf)))
            self._buf = []
        elif tag == "tr" and self._cells is not None:
            row = " | ".join(c for c in self._cells if c)
            if row:
                self.blocks.append(("p", row))
            self._cells = None
        elif tag in _BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self._buf.append(data)

    def _flush(self) -> None:
        if self._cells is not None or self._heading is not None or self._pre:
            return
        text = _squash("".join(self._buf))
        self._buf = []
        if text:
            self.blocks.append(("p", text))


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def page_markdown(html: str) -> str:
    """One page as Markdown: headings keep their relative depth, every paragraph is one line."""
    parser = _PageText()
    parser.feed(html)
    parser.close()
    levels = [int(kind[1:]) for kind, _ in parser.blocks if kind.startswith("h")]
    top = min(levels) if levels else 1
    out: list[str] = []
    for kind, text in parser.blocks:
        if kind == "pre":
            out.append(f"```\n{text}\n```")
        elif kind.startswith("h"):
            out.append("#" * (int(kind[1:]) - top + 1) + " " + text)
        else:
            out.append(text)
    return "\n\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--html", type=Path, default=DEFAULT_HTML)
    ap.add_argument("--out", type=Path, default=HERE / "corpus")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in PAGES:
        html = (args.html / f"{name}.html").read_text(encoding="utf-8")
        (args.out / f"{name}.md").write_text(page_markdown(html), encoding="utf-8")
    print(f"wrote {len(PAGES)} pages to {args.out}")


if __name__ == "__main__":
    main()
