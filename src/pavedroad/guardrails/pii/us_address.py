"""US addresses found from their end: a ZIP code (after a state, or after a street-suffix
word) anchors the match, and the house number is searched for backwards.

The suffix-first patterns in `address.py` need a known suffix in title case and a comma or
line break before the city; real US addresses in forms and records are often all caps, all
lower case, suffix-less ("33 W Monroe, Chicago, IL 60603") or on one line with no commas.
Anchoring on the ZIP is cheap (a digit scan) and keeps those without loosening the others.
"""

from __future__ import annotations

import re

from pavedroad.guardrails.pii.span import Span

_CODES = str.split(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI"
)
_NAMES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|"
    "Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|"
    "Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|"
    "New Mexico|New York|North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|"
    "Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|"
    "West Virginia|Wisconsin|Wyoming|District of Columbia|Puerto Rico"
)
# Starts with \d, not a look-behind, so the engine can jump from digit to digit.
_ZIP = re.compile(r"\d(?<![\d-].)\d{4}(?:-\d{4}|\d{4})?(?![\d-])")
_CODE_SET = frozenset(_CODES)
_NAMES_BY_LAST_WORD: dict[str, list[str]] = {}
for _name in _NAMES.lower().split("|"):
    _NAMES_BY_LAST_WORD.setdefault(_name.split()[-1], []).append(_name)
_HOUSE = re.compile(r"(?<![\w./-])\d{1,6}[A-Za-z]?(?:-\d{1,4})?[ \t,]+(?=[A-Za-z#]|\d{1,4}[A-Za-z]|1/2)")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'.-]*")
# Lower-case words that do not occur inside an address but do between a number and one.
_BREAK = re.compile(
    r"[:;!?()\[\]{}<>=|]|\n[ \t]*\n|\b(?:to|at|from|is|are|was|were|for|with|my|our|your|please|and|or|but"
    r"|the|on|in|since|by|via|near)\b"
)
_WINDOW = 90


def us_addresses(text: str, suffixes: frozenset[str]) -> list[Span]:
    found: list[Span] = []
    for zip_match in _ZIP.finditer(text):
        left_start = max(0, zip_match.start() - _WINDOW)
        left = text[left_start : zip_match.start()]
        state = _state_start(left)
        # a lower-case code ("fl", "in", "or") is only trusted after a street suffix
        strict = state is None or not left[state : state + 2].isupper()
        start = _house_start(left[: len(left) if state is None else state], suffixes, strict=strict)
        if start is not None:
            found.append(Span("POSTAL_ADDRESS", 0.8, left_start + start, zip_match.end(), "zip"))
    return found


def _state_start(left: str) -> int | None:
    """Where a state code or name ends `left` (before the ZIP), found by string tests: a
    regex anchored at the end would still be tried at every position of the window."""
    stripped = left.rstrip(" \t")
    if len(stripped) == len(left):
        return None
    stripped = stripped.rstrip(",").rstrip(".")
    start = stripped.rfind(" ") + 1
    word = stripped[start:]
    if word.upper() in _CODE_SET and len(word) == 2:
        return start
    tail = stripped.lower()
    for name in _NAMES_BY_LAST_WORD.get(word.lower(), ()):
        if tail.endswith(name) and (len(tail) == len(name) or not tail[-len(name) - 1].isalnum()):
            return len(tail) - len(name)
    return None


def _house_start(street: str, suffixes: frozenset[str], *, strict: bool) -> int | None:
    """The earliest house number whose stretch up to the state reads as a street and city.

    A stretch that names a street suffix wins; without one (suffix-less streets such as
    "W Monroe") an upper-case state code is required (`strict` False). Without a state the
    street and town must be on one line: tables of numbers otherwise pass.
    """
    fallback = None
    for house in _HOUSE.finditer(street):
        stretch = street[house.end() :]
        if _BREAK.search(stretch) or (strict and "\n" in stretch):
            continue
        words = _TOKEN.findall(stretch)
        if not 2 <= len(words) <= 12:
            continue
        if any(w.rstrip(".").lower() in suffixes for w in words):
            return house.start()
        if fallback is None and not strict:
            fallback = house.start()
    return fallback
