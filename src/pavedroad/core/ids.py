"""Prefixed, time-sortable identifiers (`req_…`, `key_…`)."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 36)
        digits.append(_ALPHABET[rem])
    return "".join(reversed(digits))


def new_id(prefix: str) -> str:
    """A sortable id: millisecond timestamp then 64 random bits, both base36."""
    stamp = _base36(time.time_ns() // 1_000_000, 9)
    rand = _base36(int.from_bytes(os.urandom(8), "big"), 13)
    return f"{prefix}_{stamp}{rand}"
