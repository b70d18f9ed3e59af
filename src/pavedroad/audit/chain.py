"""The hash chain: canonical JSON, record hashes, and verification of a stored chain.

A record's hash covers its header (sequence number, previous hash, id, kind, time,
tenant, app, retention) and the SHA-256 of its content, so pruning can drop the content
of an expired record and keep the chain checkable (docs/adr/0012).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

GENESIS = "0" * 64  # the prev_hash of the first record ever written
HEADER = ("seq", "prev_hash", "id", "kind", "at", "tenant_id", "app_id", "retain_until",
          "content_sha256")


def canonical(data: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same bytes for the same value, everywhere."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _digest(data: bytes, key: bytes | None) -> str:
    """SHA-256, or HMAC-SHA-256 when the chain is keyed (`audit.hmac_key`): without the key,
    someone who can write the database cannot recompute a consistent chain after an edit."""
    if key is None:
        return sha256(data)
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def record_hash(header: Mapping[str, Any], key: bytes | None = None) -> str:
    return _digest(canonical({name: header[name] for name in HEADER}), key)


def checkpoint_hash(base_seq: int, base_hash: str, key: bytes | None = None) -> str:
    """What a pruned prefix leaves behind: the seq and hash of its last record, hashed."""
    return _digest(canonical({"base_seq": base_seq, "base_hash": base_hash}), key)


@dataclass(slots=True)
class Verdict:
    ok: bool
    checked: int  # records walked
    pruned: int  # records whose content retention removed (their hashes still checked)
    base_seq: int  # the checkpoint the walk started from
    head_seq: int
    head_hash: str
    bad_seq: int | None = None
    bad_id: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "pruned": self.pruned,
                "base_seq": self.base_seq, "head_seq": self.head_seq,
                "head_hash": self.head_hash, "first_bad": None if self.ok else {
                    "seq": self.bad_seq, "id": self.bad_id, "reason": self.reason}}


def _problem(row: Mapping[str, Any], expected_seq: int, prev: str, now: float,
             key: bytes | None) -> str | None:
    """Why this stored row is not the next link of the chain, or None."""
    seq = int(row["seq"])
    if seq != expected_seq:
        return (f"expected record {expected_seq} next, found {seq}: records before it were "
                "deleted or moved")
    if row["prev_hash"] != prev:
        return "its prev_hash is not the previous record's hash (a record was deleted, " \
               "inserted or reordered before it)"
    content = row["content"]
    if content is not None and sha256(content.encode()) != row["content_sha256"]:
        return "its content was edited (content_sha256 does not match)"
    if content is None and (row["retain_until"] is None or row["retain_until"] > now):
        return "its content was deleted before its retention ended"
    if record_hash(row, key) != row["hash"]:
        return ("its hash does not match its fields (the record was edited, or hashed with "
                "another audit.hmac_key)")
    if content is not None:
        body = orjson.loads(content)
        for name in ("id", "kind", "at", "tenant_id", "app_id", "retain_until"):
            if body.get(name) != row[name]:
                return f"its `{name}` column differs from its content (the row was edited)"
    return None


async def verify(rows: AsyncIterable[Mapping[str, Any]], *, base_seq: int, base_hash: str,
                 checkpoint: str, head_seq: int, head_hash: str, now: float,
                 key: bytes | None = None) -> Verdict:
    """Walk rows in seq order from the checkpoint; stop at the first bad one."""
    verdict = Verdict(True, 0, 0, base_seq, head_seq, head_hash)

    def bad(seq: int | None, ident: str | None, reason: str) -> Verdict:
        verdict.ok, verdict.bad_seq, verdict.bad_id, verdict.reason = False, seq, ident, reason
        return verdict

    if checkpoint_hash(base_seq, base_hash, key) != checkpoint:
        return bad(base_seq, None, "the pruning checkpoint was edited (or the chain is "
                                   "checked with another audit.hmac_key)")
    expected, prev = base_seq + 1, base_hash
    async for row in rows:
        reason = _problem(row, expected, prev, now, key)
        if reason is not None:
            return bad(int(row["seq"]), str(row["id"]), reason)
        verdict.checked += 1
        verdict.pruned += row["content"] is None
        expected, prev = int(row["seq"]) + 1, str(row["hash"])
    if expected - 1 != head_seq or prev != head_hash:
        if expected - 1 < head_seq:
            return bad(expected, None, f"records {expected}..{head_seq} are missing (the "
                                       "end of the chain was deleted)")
        return bad(expected - 1, None, "the chain goes past its recorded head (records "
                                       "were appended outside the writer)")
    return verdict
