"""Person-name detection without a model: cue phrases ("my name is", "Dear", honorifics,
signature closings, `Name <email>`) and a first-name/surname gazetteer for bare names."""

from __future__ import annotations

import re

from pavedroad.guardrails.pii.gazetteer import FIRST_NAMES, SURNAMES
from pavedroad.guardrails.pii.record_name import CN_SURNAMES, pinyin_name, record_names
from pavedroad.guardrails.pii.span import Span

_U = "A-ZÀ-ÖØ-ÞŁŚŹŻĆŃŠŽČŘ"
_L = "a-zß-öø-ÿłśźżćńšžčřě"
_TOKEN = rf"[{_U}][{_L}'\u2019]+(?:[{_U}][{_L}]+)?(?:-[{_U}][{_L}]+)?"
_PARTICLE = r"(?:(?:van|von|de|du|da|di|del|della|der|den|la|le|ten|ter|bin|al|zu)[ \t]+)"
_NAME = rf"{_TOKEN}(?:[ \t]+(?:[{_U}]\.[ \t]+)?{_PARTICLE}{{0,2}}{_TOKEN}){{0,2}}"
_HONORIFIC = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Herr|Frau|Mme|Mlle|Sra?|Sig(?:ra)?)\.?"

# Cue phrases, matched on the lower-cased text in one pass; the name is matched after them
# on the original text. strong: any capitalised name; role: two or more capitalised words;
# weak: the first word must be a known first name.
_STRONG_CUES = (
    "my name is", "my name's", "name:", "name :", "dear", "signed", "cardholder", "attn", "attn.",
    "patient:", "employee:", "customer:", "contact person", "contact person:",
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "herr", "frau", "mme", "mlle",
    "mr.", "mrs.", "ms.", "mx.", "dr.", "prof.", "mme.", "mlle.", "je m'appelle", "ich heiße",
    "ich bin", "me llamo", "mi chiamo", "mijn naam is", "name on account", "name on card",
)
_ROLE_CUES = (
    "customer", "client", "applicant", "tenant", "landlord", "holder", "patient", "user", "employee",
    "guest", "passenger", "student", "candidate", "recipient", "sender", "contact", "beneficiary",
    "spoke with", "spoke to", "talked to", "reply to", "reach", "colleague", "manager", "attention", "name",
    "ship to", "deliver to", "bill to", "sold to", "insured", "driver", "owner", "signatory",
)
_WEAK_CUES = (
    "i am", "i'm", "this is", "hi", "hello", "hey", "from:", "to:", "cc:", "ask", "called", "named",
    "with", "and", "by", "for", "per",
)
_CLOSINGS = (
    "regards", "sincerely", "cheers", "thanks", "thank you", "best", "yours truly", "yours", "warmly",
    "cordially", "respectfully", "best wishes", "all the best", "mit freundlichen grüßen",
    "cordialement", "saludos",
)
_CUE_KIND = {
    **dict.fromkeys(_WEAK_CUES, "weak"), **dict.fromkeys(_ROLE_CUES, "role"),
    **dict.fromkeys(_STRONG_CUES, "strong"),
}  # fmt: skip
_CUE_SCORE = {"strong": 0.85, "weak": 0.75, "role": 0.7}


def _alternation(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_CUE = re.compile(
    rf"\b(?:({_alternation(tuple(_CUE_KIND))})[:,]?[ \t]*\n?[ \t]*(?:{_HONORIFIC.lower()}\s+)?"
    rf"|({_alternation(_CLOSINGS)}),?[ \t]*\n\s*)"
)
_NAME_AT = re.compile(_NAME)
_BEFORE_EMAIL = re.compile(rf"({_NAME})\s*[<(\[]\s*[\w.%+-]+@")
_CAPITALISED = re.compile(rf"\b[{_U}][{_L}]+\b")
_BARE = re.compile(rf"{_TOKEN}[ \t]+(?:[{_U}]\.[ \t]+)?{_PARTICLE}{{0,2}}{_TOKEN}(?:[ \t]+{_TOKEN})?")

# Capitalised words that follow a first name in prose without being a surname.
_NOT_SURNAME = frozenset(str.split(
    "The And Or But If Then When Street Avenue Road Lane Drive Monday Tuesday Wednesday Thursday "
    "Friday Saturday Sunday January February March April May June July August September October "
    "November December Inc Ltd Llc Corp Company University College Bank Hospital School Center "
    "Centre Group Team Department Project Hall Park City County State Airport Station"
))
# Census first names that are also everyday capitalised words: need a known surname too.
_AMBIGUOUS_FIRST = frozenset(str.split(
    "An Art Bill Can Case Major Will May June April August Page Sale Son Sun Ok Dean Chance "
    "Grant Hope Joy Faith Rich Price Young Long Hunter Summer Autumn Rose Lane Mark Jack Ray "
    "Sky Star Ivy Pearl Ruby Crystal China Ebony Le Ma Min Guy Gay My In On So No"
))
_STOP_AFTER_CUE = frozenset(("Team", "All", "There", "Everyone", "Sir", "Madam", "Customer", "Support"))


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop trailing tokens that are not name-like ("Dear John Smith The")."""
    words = text[start:end].split()
    while len(words) > 1 and words[-1] in _NOT_SURNAME:
        words.pop()
    return start, start + len(" ".join(words))


def persons(text: str, lowered: str) -> list[Span]:
    found: list[Span] = []
    for cue in _CUE.finditer(lowered):
        m = _NAME_AT.match(text, cue.end())
        if m is None:
            continue
        tokens = m.group().split()
        if tokens[0] in _STOP_AFTER_CUE or tokens[0] in _NOT_SURNAME:
            continue
        kind = "strong" if cue.group(2) else _CUE_KIND[cue.group(1)]  # group 2: a closing
        if kind == "weak" and (tokens[0] not in FIRST_NAMES or tokens[0] in _AMBIGUOUS_FIRST):
            continue
        if kind == "role" and (len(tokens) < 2 or tokens[1] in _NOT_SURNAME):
            continue
        found.append(Span("PERSON", _CUE_SCORE[kind], *_trim(text, m.start(), m.end()), "cue"))
    if "@" in text:
        for m in _BEFORE_EMAIL.finditer(text):
            found.append(Span("PERSON", 0.8, m.start(1), m.end(1), "email"))
    for m in _CAPITALISED.finditer(text):
        if m.group() in FIRST_NAMES:
            found.extend(_bare_name(text, m.start()))
        if m.group() in CN_SURNAMES:
            found.extend(pinyin_name(text, m.start(), m.end()))
    found.extend(record_names(text, _AMBIGUOUS_FIRST))
    return found


def _bare_name(text: str, pos: int) -> list[Span]:
    m = _BARE.match(text, pos)
    if m is None:
        return []
    tokens = m.group().split()
    first, end = tokens[0], m.end()
    if len(tokens) == 3 and tokens[2] not in SURNAMES and tokens[1] in SURNAMES:
        end = m.start() + len(m.group()[: m.group().rindex(tokens[2])].rstrip())
        tokens = tokens[:2]
    if tokens[-1] in SURNAMES or tokens[1] in SURNAMES:
        return [Span("PERSON", 0.8, *_trim(text, m.start(), end), "gazetteer")]
    if first not in _AMBIGUOUS_FIRST and tokens[1] not in _NOT_SURNAME:
        return [Span("PERSON", 0.6, *_trim(text, m.start(), end), "gazetteer")]
    return []
