"""Virtual API key material: generation and hashing.

Keys are 190+ bits of randomness, so one SHA-256 pass is enough to store them safely
(a slow KDF protects guessable passwords, not random tokens) and keeps auth at ~1 µs.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "sk-pr-"


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_key() -> tuple[str, str, str]:
    """(plaintext shown once, hash to store, short prefix to display)."""
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    return plaintext, hash_key(plaintext), plaintext[: len(KEY_PREFIX) + 4]
