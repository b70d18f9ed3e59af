"""Hashed word and character n-gram features of normalised text, computed with numpy.

Every n-gram is hashed with one polynomial prefix hash (mod 2**64) so that all hashes of a text
come out of a few vectorised array operations instead of a Python loop per n-gram: that is what
keeps the learned detector in the "fast" latency class. Features are bucketed into `DIM` slots
by multiplicative hashing. Each feature keeps the byte offset it starts at, so a scorer can sum
contributions per window of text (an injection is local; a long benign document around it
should not dilute it).

The training script (evals/injection/train.py) and the shipped scorer use this one module, so
the features seen at training time are exactly those seen in production.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pavedroad.guardrails.injection import normalize

BITS = 17
DIM = 1 << BITS
CHAR_NGRAMS = (3, 4, 5)
MAX_FEATURE_BYTES = 16_384  # head and tail beyond this: injections sit at the edges

_MASK64 = (1 << 64) - 1
_P = 0x100000001B3  # odd, so it has an inverse mod 2**64
_P_INV = pow(_P, -1, 1 << 64)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing spreads the buckets
_SHIFT = np.uint64(64 - BITS)
_WORD_SALT = np.uint64(0x5151_0001)
_BIGRAM_SALT = np.uint64(0x5151_0002)
_BIGRAM_MUL = np.uint64(0x2545F4914F6CDD1D)
INDIRECT_SALT = np.uint64(0xA5A5_A5A5_0000_0001)

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


def _powers(n: int, base: int) -> U64:
    out = np.empty(n, dtype=np.uint64)
    value = 1
    for i in range(n):  # once, at import: 16k multiplications
        out[i] = value
        value = (value * base) & _MASK64
    return out


_POW = _powers(MAX_FEATURE_BYTES + 1, _P)
_POW_INV = _powers(MAX_FEATURE_BYTES + 1, _P_INV)
# Bytes that belong to a word: ASCII letters and digits, the apostrophe, and every byte of a
# multi-byte UTF-8 character (non-Latin scripts are words too).
_WORD_BYTE = np.zeros(256, dtype=bool)
for _code in (*range(ord("a"), ord("z") + 1), *range(ord("0"), ord("9") + 1), ord("'"), *range(128, 256)):
    _WORD_BYTE[_code] = True


@dataclass(frozen=True, slots=True)
class Features:
    """Raw 64-bit n-gram hashes and the byte offset each one starts at."""

    hashes: U64
    offsets: I64


def extract(text: str) -> Features:
    """Hashes of word unigrams, word bigrams and character 3-5-grams of the normalised text."""
    plain, decoded = normalize.views(text)
    return extract_views(plain, decoded)


def extract_views(plain: list[str], decoded: list[str]) -> Features:
    """The same, from views the caller already has (the rules computed them)."""
    data = "\n".join((*plain, *decoded)).encode("utf-8")
    if len(data) > MAX_FEATURE_BYTES:
        half = MAX_FEATURE_BYTES // 2
        data = data[:half] + data[-half:]
    size = len(data)
    if size == 0:
        return Features(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64))
    raw = np.frombuffer(data, dtype=np.uint8)
    prefix = np.zeros(size + 1, dtype=np.uint64)
    np.cumsum((raw.astype(np.uint64) + np.uint64(1)) * _POW[:size], out=prefix[1:])

    hashes: list[U64] = []
    offsets: list[I64] = []
    for n in CHAR_NGRAMS:
        if size < n:
            continue
        starts = np.arange(size - n + 1, dtype=np.int64)
        grams = (prefix[starts + n] - prefix[starts]) * _POW_INV[starts] + np.uint64(n)
        hashes.append(grams)
        offsets.append(starts)

    in_word = _WORD_BYTE[raw]
    edges = np.diff(np.concatenate(([False], in_word, [False])).astype(np.int8))
    w_start = np.flatnonzero(edges == 1).astype(np.int64)
    w_end = np.flatnonzero(edges == -1).astype(np.int64)
    if len(w_start):
        words = (prefix[w_end] - prefix[w_start]) * _POW_INV[w_start] + _WORD_SALT
        hashes.append(words)
        offsets.append(w_start)
        if len(words) > 1:
            hashes.append(words[:-1] * _BIGRAM_MUL + words[1:] + _BIGRAM_SALT)
            offsets.append(w_start[:-1])
    return Features(np.concatenate(hashes), np.concatenate(offsets))


def buckets(hashes: U64, *, salt: np.uint64 | None = None) -> I64:
    """Weight-vector slots of the hashes; a salt gives a second, independent feature space."""
    mixed = hashes if salt is None else hashes ^ salt
    return ((mixed * _MIX) >> _SHIFT).astype(np.int64)
