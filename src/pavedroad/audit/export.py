"""Export audit records to JSONL with a manifest, and check such an export offline.

Each line is a stored record: its header (seq, hashes, …) and its content, so anyone can
recompute every hash without the database. The manifest pins the file's SHA-256, the
count, the first and last sequence numbers and the chain head at export time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from pavedroad.audit.chain import canonical, record_hash, sha256
from pavedroad.core.errors import InvalidRequest
from pavedroad.store.audit import AuditRepository

MANIFEST = "manifest.json"


@dataclass(slots=True, frozen=True)
class Exported:
    jsonl: Path
    manifest: dict[str, Any]


def _stamp(at: float | None) -> str:
    if at is None:
        return "start"
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_time(text: str | None, param: str) -> float | None:
    """Unix seconds, or an ISO date/time (UTC unless it says otherwise)."""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"`{param}` must be a date, a date-time or Unix seconds, got "
                             f"{text!r}", param=param) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


async def export(repository: AuditRepository, out: Path, *, since: float | None,
                 until: float | None) -> Exported:
    """Records with `since <= at < until` (either open), in chain order."""
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    head = await repository.head()
    path = out / f"audit-{_stamp(since)}-{_stamp(until) if until else 'now'}.jsonl"
    digest = hashlib.sha256()
    count, first, last = 0, None, None
    handle = await asyncio.to_thread(path.open, "wb")
    try:
        async for row in repository.chain(last=int(head["seq"])):
            at = float(row["at"])
            if (since is not None and at < since) or (until is not None and at >= until):
                continue
            line = canonical(row) + b"\n"
            handle.write(line)  # buffered: the disk is touched once per 8 KiB or so
            digest.update(line)
            count += 1
            first = row["seq"] if first is None else first
            last = row["seq"]
    finally:
        await asyncio.to_thread(handle.close)
    manifest = {
        "file": path.name, "sha256": digest.hexdigest(), "count": count,
        "first_seq": first, "last_seq": last, "from": since, "to": until,
        "chain_head": {"seq": head["seq"], "hash": head["hash"]},
        "checkpoint": {"base_seq": head["base_seq"], "base_hash": head["base_hash"]},
        "keyed": repository.key is not None,  # hashes are HMACs with `audit.hmac_key`
        "exported_at": time.time(),
    }
    await asyncio.to_thread((out / MANIFEST).write_bytes,
                            orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return Exported(path, manifest)


def check_export(directory: Path, *, key: bytes | None = None) -> list[str]:
    """Problems with an export (empty: it is intact): the file's hash and count match the
    manifest, every record's hashes recompute (with `key` for a keyed chain), consecutive
    records link."""
    manifest = orjson.loads((directory / MANIFEST).read_bytes())
    data = (directory / manifest["file"]).read_bytes()
    problems = []
    if manifest.get("keyed") and key is None:
        problems.append("the chain is keyed: its hashes can only be checked with "
                        "audit.hmac_key (set it in the config passed with --config)")
        return problems
    if sha256(data) != manifest["sha256"]:
        problems.append("the JSONL file's sha256 differs from the manifest")
    lines = data.splitlines()
    if len(lines) != manifest["count"]:
        problems.append(f"the manifest counts {manifest['count']} records, the file has "
                        f"{len(lines)}")
    previous: dict[str, Any] | None = None
    for line in lines:
        row = orjson.loads(line)
        where = f"record {row.get('seq')}"
        content = row.get("content")
        if content is not None and sha256(content.encode()) != row["content_sha256"]:
            problems.append(f"{where}: its content does not match its content_sha256")
        if record_hash(row, key) != row["hash"]:
            problems.append(f"{where}: its hash does not match its fields")
        if previous is not None and row["seq"] == previous["seq"] + 1 \
                and row["prev_hash"] != previous["hash"]:
            problems.append(f"{where}: does not link to record {previous['seq']}")
        previous = row
    return problems
