"""Detectors for structured identifiers: a pattern proposes, a validator confirms.

Each detector takes the text and its lower-cased copy and returns candidate spans; a cheap
pre-check (an '@', a digit, a colon) skips the regex entirely on text that cannot match.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pavedroad.guardrails.pii import validators
from pavedroad.guardrails.pii.span import Span, near

Detector = Callable[[str, str], list[Span]]

# E-mail: Unicode letters on both sides (internationalised mail, RFC 6531) and the rarer atext
# characters ("/", "=") in the local part.
# characters ("/", "=") in the local part. Matched outwards from each "@" (see `emails`):
# a regex that starts at the local part would try every word character of the text.
_LOCAL_EXTRA = frozenset("._%+/=-")
_DOMAIN = re.compile(r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,24}(?![\w-])")
# The look-behinds sit after the first digit so these patterns start with \d, which lets the
# engine jump between digits instead of trying every position (same matches).
_CARD = re.compile(r"\d(?<![\d.-].)(?:[ -]?\d){11,18}(?![\d-])")
# Registry samples and bank statements also write "NO 93 8601 1117 947", "ES72 2013-0692-...",
# "NO07.8380.08.06006" and lower-case BBAN letters; the mod-97 check keeps this loose shape safe.
# Starts with a letter class (the word start is a look-behind after it) so the engine can
# skip to capitals instead of trying every position.
_IBAN = re.compile(r"[A-Z](?<!\w.)[A-Z] ?\d{2}(?:[ .-]?[A-Za-z0-9]){11,30}\b")
_SSN = re.compile(r"(\d(?<![\d-].)\d\d)([- ]?)(\d{2})\2(\d{4})(?![\d-])")
_IPV4 = re.compile(r"\d(?<![\w.].)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])"
)
_PHONE = re.compile(
    r"(?<![\w+.-])(?:\+|\b00)?\(?\d[\d ().\-/]{5,22}\d(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?![\w-]|\.\d)"
)
_EXTENSION = re.compile(r"\s?(?:x|ext\.?)\s?\d{1,5}$")
_DATE_SHAPE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_DATE = re.compile(
    r"\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)?\d{2}"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?,?\s+\d{4}"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4})\b"
)

_PHONE_WORDS = ("phone", "tel.", "tel:", "tel ", "call", "mobile", "cell", "fax", "whatsapp",
                "contact", "reach", "sms", "text me", "hotline", "telefon", "tél", "handy")  # fmt: skip
_SSN_WORDS = ("ssn", "social security", "social sec", "ss#", "ss #", "taxpayer", " tin ", "tin:", "tin#")
_VERSION_WORDS = ("version", "release", "build", "v.", "python", "pip", "upgrade", "firmware")
_IP_WORDS = ("ip", "host", "server", "address", "addr", "from", "client", "node", "ping", "dns",
             "gateway", "subnet", "connect", "route", "proxy", "firewall", "blocked", "10.", "192.")
_CARD_WORDS = ("card", "maestro", "debit", "credit", "pay", "paid", "charge", "visa", "mastercard")
_DOB_WORDS = ("born", "birth", "dob", "d.o.b", "b-day", "birthday", "geboren", "née le", "né le",
              "age:", "bday", "geb.")  # fmt: skip


def _local_char(char: str) -> bool:
    return char.isalnum() or char in _LOCAL_EXTRA


def emails(text: str, lowered: str) -> list[Span]:
    if "@" not in text:
        return []
    found, at = [], text.find("@")
    while at != -1:
        start = at
        while start > 0 and at - start <= 64 and _local_char(text[start - 1]):
            start -= 1
        domain = _DOMAIN.match(text, at + 1)
        if domain and 0 < at - start <= 64 and text[start].isalnum():
            found.append(Span("EMAIL", 0.95, start, domain.end()))
        at = text.find("@", domain.end() if domain else at + 1)
    return found


def credit_cards(text: str, lowered: str) -> list[Span]:
    found = []
    for m in _CARD.finditer(text):
        raw = m.group()
        digits = raw.replace(" ", "").replace("-", "")
        if not 12 <= len(digits) <= 19 or not validators.luhn_ok(digits):
            continue
        brand = validators.card_brand(digits)
        if brand is None:
            # An unknown prefix still counts right after the word "card".
            if near(lowered, m.start(), ("card",), window=15):
                found.append(Span("CREDIT_CARD", 0.6, m.start(), m.end(), "unknown brand"))
            continue
        separators = {c for c in raw if not c.isdigit()}
        score = 0.95 if len(separators) <= 1 else 0.6  # mixed separators look like prose
        if brand == "maestro" and len(digits) < 16 and not near(lowered, m.start(), _CARD_WORDS):
            continue  # short Maestro numbers collide with EANs and ledger ids
        found.append(Span("CREDIT_CARD", score, m.start(), m.end(), brand))
    return found


def ibans(text: str, lowered: str) -> list[Span]:
    found = []
    for m in _IBAN.finditer(text):
        raw = m.group()
        expected = validators.IBAN_LENGTHS.get(raw[:2])
        if expected is None:
            continue
        # The pattern is greedy across separators; cut at the country's length.
        count, end = 0, 0
        for index, char in enumerate(raw):
            if char.isalnum():
                count += 1
                if count == expected:
                    end = index + 1
                    break
        if not end or not validators.iban_ok("".join(c for c in raw[:end] if c.isalnum()).upper()):
            continue
        found.append(Span("IBAN", 0.95, m.start(), m.start() + end))
    return found


def ssns(text: str, lowered: str) -> list[Span]:
    found = []
    for m in _SSN.finditer(text):
        area, sep, group, serial = m.groups()
        if not validators.ssn_ok(area, group, serial):
            continue
        context = near(lowered, m.start(), _SSN_WORDS, window=30)
        if sep == "-":
            score = 0.9 if context else 0.75
        elif context:
            score = 0.8
        else:
            continue  # a bare nine-digit number is only an SSN when something says so
        found.append(Span("US_SSN", score, m.start(), m.end()))
    return found


def ip_addresses(text: str, lowered: str) -> list[Span]:
    found = []
    if "." in text:
        for m in _IPV4.finditer(text):
            if not validators.ipv4_ok(m.group()) or near(lowered, m.start(), _VERSION_WORDS, window=20):
                continue
            # 1.12.3.4 is as often a version as an address: small octets need an IP cue.
            small = all(len(part) <= 2 and int(part) < 20 for part in m.group().split("."))
            score = 0.45 if small and not near(lowered, m.start(), _IP_WORDS) else 0.9
            found.append(Span("IP_ADDRESS", score, m.start(), m.end(), "v4"))
    if text.count(":") >= 2:
        for m in _IPV6.finditer(text):
            if m.group().count(":") >= 2 and validators.ipv6_ok(m.group()):
                found.append(Span("IP_ADDRESS", 0.9, m.start(), m.end(), "v6"))
    return found


def phones(text: str, lowered: str) -> list[Span]:
    found = []
    for m in _PHONE.finditer(text):
        raw = m.group().rstrip(" .-")
        digits = "".join(c for c in _EXTENSION.sub("", raw) if c.isdigit())
        if len(digits) < 7 or _DATE_SHAPE.fullmatch(raw):
            continue
        context = near(lowered, m.start(), _PHONE_WORDS, window=25)
        score = validators.phone_score(raw, digits, context=context)
        if score:
            found.append(Span("PHONE", score, m.start(), m.start() + len(raw)))
    return found


def dates_of_birth(text: str, lowered: str) -> list[Span]:
    found = []
    for m in _DATE.finditer(text):
        if near(lowered, m.start(), _DOB_WORDS, window=30):
            found.append(Span("DATE_OF_BIRTH", 0.85, m.start(), m.end()))
    return found


DETECTORS: dict[str, Detector] = {
    "EMAIL": emails,
    "CREDIT_CARD": credit_cards,
    "IBAN": ibans,
    "US_SSN": ssns,
    "IP_ADDRESS": ip_addresses,
    "PHONE": phones,
    "DATE_OF_BIRTH": dates_of_birth,
}
