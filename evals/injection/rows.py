"""The labelled row shared by the injection training scripts, and the JSONL reader."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pavedroad.guardrails.injection.detector import INDIRECT_SOURCES

# Author groups for leave-one-source-out cross-validation: no group is ever scored by a model
# that saw its author's rows. The first five are ours (`instructions-written`: benign requests about
# the shape of the answer, written by a different engineer); the rest come from external.py.
GROUPS = ("authored", "bipia", "xstest", "train-written", "instructions-written", "neuralchemy-hackaprompt",
          "neuralchemy-v1", "neuralchemy-harmbench", "yanismiraoui")


@dataclass(frozen=True, slots=True)
class Row:
    text: str
    label: int
    category: str
    source: str
    origin: str
    risky_benign: bool

    @property
    def group(self) -> str:
        head = self.origin.split("/")[0]
        return next((g for g in GROUPS if head.startswith(g)), head)

    @property
    def indirect(self) -> bool:
        return self.source in INDIRECT_SOURCES


def read(path: Path, *, evaluation: bool = False) -> list[Row]:
    """Training rows of a JSONL file; `evaluation=True` returns only the held-out ones
    (`holdout: true`, the late holdout, or `external: true`, a held-out dataset)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        if bool(raw.get("holdout") or raw.get("external")) != evaluation:
            continue
        out.append(Row(raw["text"], int(raw["label"]), raw["category"], raw.get("source", "user"),
                       raw.get("origin", path.stem), bool(raw.get("risky_benign", False))))
    return out
