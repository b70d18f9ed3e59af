"""`pavedroad ingest` and `pavedroad collections …` as a user runs them: real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pavedroad.rag import rerank_onnx

PAVEDROAD = [sys.executable, "-m", "pavedroad"]


def run(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PAVEDROAD, *args, "--config", str(config)], capture_output=True,
                          text=True, env={**os.environ}, timeout=120, check=False)


def test_ingest_search_and_manage_collections(tmp_path: Path) -> None:
    config = tmp_path / "pavedroad.yaml"
    config.write_text(f'store: {{url: "sqlite:///{tmp_path}/db.sqlite"}}\n')
    docs = tmp_path / "handbook"
    (docs / "ops").mkdir(parents=True)
    (docs / "ops" / "keys.md").write_text("# Keys\n\n## Revoking\n\nRevoke a key with "
                                          "`pavedroad keys revoke`.\n")
    (docs / "budgets.txt").write_text("Budgets block requests once the amount is spent.\n")
    (docs / "logo.svg").write_text("<svg/>")

    first = run("ingest", str(docs), "--collection", "handbook", config=config)
    assert first.returncode == 0, first.stderr
    assert "handbook: 2 added, 0 updated, 0 unchanged, 0 deleted" in first.stdout
    assert "ingesting" in first.stdout  # the progress bar's label
    assert "skipped handbook/logo.svg: unsupported type" in first.stdout

    (docs / "budgets.txt").unlink()
    second = run("ingest", str(docs), "--collection", "handbook", "--json", config=config)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert (report["unchanged"], report["deleted"]) == (1, 1)

    found = run("collections", "search", "handbook", "how to revoke a key", "-k", "1",
                config=config)
    assert found.returncode == 0, found.stderr
    assert "handbook/ops/keys.md > Keys > Revoking" in found.stdout

    as_json = run("collections", "search", "handbook", "revoke", "--mode", "bm25",
                  "--filter", "source=handbook/ops/", "--json", config=config)
    hits = json.loads(as_json.stdout)
    assert hits and all(h["citation"]["source"].startswith("handbook/ops/") for h in hits)

    if rerank_onnx.available():  # retrieval.reranker is auto: the cross-encoder
        reranked = run("collections", "search", "handbook", "how to revoke a key", "--rerank",
                       "--json", config=config)
        assert reranked.returncode == 0, reranked.stderr
        assert json.loads(reranked.stdout)[0]["citation"]["source"] == "handbook/ops/keys.md"
    no_reranker = tmp_path / "no-reranker.yaml"
    no_reranker.write_text(config.read_text() + "retrieval: {reranker: none}\n")
    refused = run("collections", "search", "handbook", "revoke", "--rerank", config=no_reranker)
    assert refused.returncode == 1 and "[reranker_unavailable]" in refused.stderr

    created = run("collections", "create", "empty", "--chunk-tokens", "128", config=config)
    assert created.returncode == 0 and "created col_" in created.stdout
    listed = run("collections", "list", "--json", config=config)
    assert sorted(c["name"] for c in json.loads(listed.stdout)) == ["empty", "handbook"]

    deleted = run("collections", "delete", "handbook", config=config)
    assert deleted.returncode == 0 and "deleted col_" in deleted.stdout
    missing = run("collections", "search", "handbook", "revoke", config=config)
    assert missing.returncode == 1
    assert "[collection_not_found]" in missing.stderr and "Traceback" not in missing.stderr
    bad = run("collections", "create", "bad name", config=config)
    assert bad.returncode == 1 and "collection name 'bad name'" in bad.stderr
