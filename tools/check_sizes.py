"""Fail when a source module outgrows one concept (STYLE.md: roughly under 600 lines)."""

from __future__ import annotations

import sys
from pathlib import Path

LIMIT = 600


def main() -> int:
    too_big = [
        (path, count)
        for path in sorted(Path("src").rglob("*.py"))
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > LIMIT
    ]
    for path, count in too_big:
        print(f"{path}: {count} lines (limit {LIMIT}); split it by concept")
    return 1 if too_big else 0


if __name__ == "__main__":
    sys.exit(main())
