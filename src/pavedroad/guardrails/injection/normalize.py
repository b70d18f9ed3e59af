"""Undo the cheap disguises attackers put on instructions before the patterns look at them.

Every view is lower-case, NFKC-folded, free of zero-width and bidi controls, with common
Cyrillic/Greek look-alikes mapped to Latin and whitespace collapsed. Extra views are added only
when the text shows a reason for them (digits inside words, letter-by-letter spacing, long
base64/hex runs, a mention of rot13), so ordinary prompts pay for one pass.
"""

# ruff: noqa: RUF001  (look-alike and curly-quote characters are what this code is about)

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections import Counter

_INVISIBLE = dict.fromkeys(
    [
        0x00AD, 0x034F, 0x061C, 0x180E, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF,
        *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2066, 0x206A),
    ]
)

# Look-alikes that NFKC leaves alone: Cyrillic and Greek letters that render as Latin ones.
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
        "ԁ": "d", "ɡ": "g", "ӏ": "l", "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k",
        "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ɴ": "n", "ʀ": "r",
    }
)

_ROT13 = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZABCDEFGHIJKLM",
)
_INVISIBLE_RE = re.compile("[" + "".join(chr(code) for code in _INVISIBLE) + "]")
_CONFUSABLE_RE = re.compile("[" + "".join(chr(code) for code in _CONFUSABLES) + "]")

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_WORD = re.compile(r"\b[a-z]*[013457@$][a-z]+[a-z013457@$]*\b")
_SPACED = re.compile(r"(?:\b[a-z]\b[ .\-_*]{1,3}){4,}[a-z]\b")
_SPACED_WORD_GAP = re.compile(r"\s{2,}|[.\-_*]{2,}")
_SPACED_LETTER_GAP = re.compile(r"[ .\-_*]")
_WHITESPACE = re.compile(r"[ \t\r\f\v]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}){8,}\b")
_ROT13_HINT = re.compile(r"rot-?13|caesar|cipher", re.IGNORECASE)
# A quoted phrase introduced as an example or as someone's words is talked about, not addressed
# to the model: "attacks such as 'ignore previous instructions'", "the villain says: '...'".
_MENTION_CUE = re.compile(
    r"(?:such as|like|e\.g\.,?|for example|the (?:phrase|words?|string|text|sentence|line)|called|"
    r"known as|\b[a-z]+ (?:says?|said|wrote|writes)|what does|meaning of)\s*:?\s*$"
)
_QUOTE_OPEN = re.compile(r"[\"“‘«']")
_QUOTE_CLOSE = {"\"": "\"", "“": "”", "‘": "’", "«": "»", "'": "'"}

MAX_SCAN_CHARS = 64_000  # longer inputs are scanned head and tail: injections sit at the edges


def fold(text: str) -> str:
    """The base view: what the text says once invisible and look-alike characters are gone."""
    if not text.isascii():
        if _INVISIBLE_RE.search(text):
            text = text.translate(_INVISIBLE)
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
        text = text.lower()
        if _CONFUSABLE_RE.search(text):
            text = text.translate(_CONFUSABLES)
        return _WHITESPACE.sub(" ", text)
    return _WHITESPACE.sub(" ", text.lower())


def views(text: str) -> tuple[list[str], list[str]]:
    """The folded text and its de-obfuscated variants, then any payloads decoded from it."""
    if len(text) > MAX_SCAN_CHARS:
        half = MAX_SCAN_CHARS // 2
        text = text[:half] + "\n" + text[-half:]
    base = drop_mentions(fold(text))
    out = [base]
    # Cheap token checks decide which of the costlier regex passes are worth running.
    tokens = text.split()
    if any(ch in base for ch in "013457@$") and _LEET_WORD.search(base):
        out.append(_LEET_WORD.sub(lambda m: m.group(0).translate(_LEET), base))
    if sum(len(token) == 1 for token in tokens) >= 5:
        spaced = _despaced(text)
        if spaced:
            out.append(spaced)
    long_tokens = any(len(token) >= 16 for token in tokens)
    return out, _decoded_payloads(text, long_tokens=long_tokens)


def _despaced(text: str) -> str:
    """Letter-by-letter spaced runs ("i g n o r e   a l l"), joined back into words."""
    lowered = text.lower()
    runs = []
    for match in _SPACED.finditer(lowered):
        words = _SPACED_WORD_GAP.split(match.group(0))
        runs.append(" ".join(_SPACED_LETTER_GAP.sub("", word) for word in words))
    return " ".join(runs)


def has_flooding(text: str) -> bool:
    """Mostly one short token repeated: padding used to push instructions out of view."""
    tokens = text.split()
    if len(tokens) < 40:
        return False
    token, count = Counter(tokens).most_common(1)[0]
    return len(token) <= 6 and count >= 25 and count / len(tokens) >= 0.3


def drop_mentions(text: str) -> str:
    """Blank out quoted phrases that are mentioned (an example, someone's words), not used."""
    if "'" not in text and '"' not in text and "“" not in text and "‘" not in text and "«" not in text:
        return text
    parts: list[str] = []
    pos = 0
    for match in _QUOTE_OPEN.finditer(text):
        start = match.start()
        if start < pos or not _MENTION_CUE.search(text[max(pos, start - 40) : start]):
            continue
        end = text.find(_QUOTE_CLOSE[match.group(0)], start + 1, start + 202)
        if end == -1:
            continue
        parts.append(text[pos:start])
        parts.append('"…"')
        pos = end + 1
    parts.append(text[pos:])
    return "".join(parts)


def _decoded_payloads(text: str, *, long_tokens: bool) -> list[str]:
    found: list[str] = []
    if _ROT13_HINT.search(text):
        found.append(fold(text.translate(_ROT13)))
    if not long_tokens:
        return found
    for match in _BASE64.finditer(text):
        chunk = match.group(0)
        if chunk.isalpha() and (chunk.islower() or chunk.isupper()):
            continue  # a long plain word, not an encoding
        decoded = _try_base64(chunk)
        if decoded:
            found.append(fold(decoded))
    for match in _HEX.finditer(text):
        try:
            decoded = binascii.unhexlify(match.group(0)).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            continue
        if _mostly_text(decoded):
            found.append(fold(decoded))
    return found


def _try_base64(chunk: str) -> str | None:
    padded = chunk + "=" * (-len(chunk) % 4)
    try:
        decoded = base64.b64decode(padded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded if _mostly_text(decoded) else None


def _mostly_text(value: str) -> bool:
    if len(value) < 8:
        return False
    printable = sum(ch.isalpha() or ch == " " for ch in value)
    return printable / len(value) > 0.8 and " " in value
