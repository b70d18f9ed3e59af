"""Write the held-out external evaluation set: the S-Labs test split, deduplicated.

    python evals/injection/build_eval.py [--corpus DIR]

S-Labs/prompt-injection-dataset (MIT) is never trained on (external.py). Its test split is
written to sources/slabs_test.jsonl with `external: true`, so train.py and train_deep.py skip it
and evaluate.py scores it as the `external` split. Rows that duplicate (exactly, or Jaccard >= 0.8
on character 5-grams) a training row, a late-holdout row or an earlier test row are dropped, so a
hit on this set is never a memorised training row. The category of an attack is a keyword guess
(external._category_of: S-Labs has no categories); `risky_benign` marks benign rows that use
words attacks use (external.RISKY_WORDS).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import external
from rows import read
from train import HERE, load_pool

OUT = HERE / "sources" / "slabs_test.jsonl"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path)
    args = parser.parse_args(argv)
    pool, _ = load_pool(args.corpus)
    holdout = read(HERE / "sources" / "holdout_late.jsonl", evaluation=True)
    rows = external.slabs(external.corpus_dir(args.corpus), "test")
    kept, dropped = external.drop_duplicates(rows, [r.text for r in (*pool, *holdout)])
    with OUT.open("w", encoding="utf-8") as out:
        for r in kept:
            record = {"text": r.text, "label": r.label, "category": r.category, "source": r.source,
                      "origin": r.origin, "external": True}
            if r.risky_benign:
                record["risky_benign"] = True
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    counts = Counter((r.label, r.category, r.risky_benign) for r in kept)
    print(f"kept {len(kept)} of {len(rows)} (dropped {dropped} duplicates): {sorted(counts.items())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
