"""Person names written the way records, forms and author lists write them, which the
title-case gazetteer and cue phrases in `person.py` miss: ALL CAPS ("DAN SLADE"), surname
first ("GONZALEZ, PHILIP S", "Russell, Herman"), and romanised Chinese names whose given
part is in no US-census list ("Lixia Zhang", via `pinyin_name`).

Each shape needs two independent signals (first-name list + surname list, or pinyin
syllables + a Chinese surname), because each shape alone is common in ordinary text.
"""

from __future__ import annotations

import re

from pavedroad.guardrails.pii.gazetteer import FIRST_NAMES, SURNAMES
from pavedroad.guardrails.pii.span import Span

# Patterns start with a character class or a literal rather than \b, so the regex engine
# can skip ahead to candidates instead of trying every position; word starts are checked in
# code (`_starts_word`).
_CAPS_RUN = re.compile(r"[A-Z][A-Z][A-Z'-]*(?:[ \t]+(?:[A-Z]\.?|[A-Z][A-Z'-]+)){1,2}\b\.?")
_SURNAME_FIRST = re.compile(r",[ \t]+([A-Z][A-Za-z'-]+)(?:[ \t]+([A-Z])\b\.?)?")
# Places whose names are also census first names or surnames: "Paris, France" and
# "Savannah, Georgia" have the surname-first shape.
_PLACES = frozenset(
    str.split(
        "France Georgia Jordan Israel Chad China India Kenya Asia Africa America Europe Florence "
        "Sydney Austin Dallas Houston Orlando Paris Victoria Virginia Carolina Dakota Nevada Montana "
        "Indiana Madison Washington Columbia Phoenix Denver Aurora Charlotte Savannah Helena Lima "
        "Roma Berlin London Vienna Sofia Santiago Florida Alabama Tennessee Kansas Arizona Maine "
        "Vermont Germany Italy Spain Britain England Wales Scotland Ireland Canada Mexico Brazil Cuba "
        "Peru Chile Japan Korea Norway Sweden Denmark Holland Belgium Austria Hungary Poland Greece "
        "Turkey Egypt Jamaica Texas Oregon Utah Ohio Idaho Iowa York Boston Cleveland Memphis "
        "Nashville Raleigh Troy Springfield Richmond Lincoln Jackson"
    )
)
_LIST_GOES_ON = re.compile(r"(?:,|[ \t]+(?:and|or|&))[ \t]+[A-Z]")
_PARTICLES = frozenset(("MC", "DE", "DI", "DA", "VAN", "VON", "Mc", "De", "Di", "Da", "Van", "Von"))
# Common Chinese surnames in pinyin, minus those that are everyday English words
# (He, Long, Song, Fang, Bai, Han, Ye, Pan, Fan, Ma, Tang, Ding).
_CN_SURNAMES = str.split(
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Zhu Hu Guo Lin Gao Luo Zheng Liang "
    "Xie Feng Deng Cao Peng Zeng Xiao Tian Dong Yuan Cai Jiang Yu Du Cheng Wei Su Lu Ren Shen "
    "Yao Jin Fu Zhong Tan Dai Xi Tu Qian Kong Cui Mao Qiu Qin Gu Hou Shao Meng Duan Lei Yin Xue "
    "Hao Jia Wen Shi Xiong Ouyang Niu Zou Xia Lyu Qi Yan Jiao"
)
CN_SURNAMES = frozenset(_CN_SURNAMES)
_GIVEN_BEFORE = re.compile(r"[A-Z][a-z]{3,11}$|[A-Z][a-z]{1,5}-[A-Za-z][a-z]{1,5}$")
_SYLLABLE = (
    r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    r"(?:iang|iong|uang|ang|eng|ing|ong|uai|uan|ian|iao|ai|ei|ao|ou|an|en|in|un|ia|ie|iu|ua|uo"
    r"|ue|ui|er|a|e|i|o|u|v)"
)
_PINYIN_GIVEN = re.compile(rf"(?:{_SYLLABLE}){{2}}|{_SYLLABLE}-{_SYLLABLE}")


def _first(word: str, ambiguous: frozenset[str]) -> bool:
    title = word.title()
    return title in FIRST_NAMES and title not in ambiguous


def _starts_word(text: str, index: int) -> bool:
    return index == 0 or not (text[index - 1].isalnum() or text[index - 1] in "'-_")


def _word_before(text: str, end: int) -> int:
    """Start of the letters (and ' or -) that end at `end`."""
    start = end
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] in "'-"):
        start -= 1
    return start


def record_names(text: str, ambiguous: frozenset[str]) -> list[Span]:
    found: list[Span] = []
    for m in _CAPS_RUN.finditer(text):
        words = [w.rstrip(".") for w in m.group().split()]
        middle_ok = all(len(w) == 1 or w.title() in FIRST_NAMES or w.title() in SURNAMES for w in words[1:-1])
        if (len(words[-1]) > 1 and _first(words[0], ambiguous) and words[-1].title() in SURNAMES
                and middle_ok and _starts_word(text, m.start())):  # fmt: skip
            found.append(Span("PERSON", 0.7, m.start(), m.start() + len(m.group().rstrip(".")), "caps"))
    for m in _SURNAME_FIRST.finditer(text):
        start = _word_before(text, m.start())
        surname, given = text[start : m.start()], m.group(1)
        if not surname[:1].isupper():
            continue
        particle = _word_before(text, start - 1) if start > 1 and text[start - 1] == " " else start
        if text[particle : start - 1] in _PARTICLES:
            start = particle
        # a trailing middle initial ("SUN, JUN L") is the records shape on its own
        known = surname.title() in SURNAMES or surname.split("-")[-1].title() in SURNAMES
        sure = (_first(given, ambiguous) and known) or (bool(m.group(2)) and given.title() in FIRST_NAMES)
        sure = sure and not ({given.title(), surname.title()} & _PLACES)
        # "French, German, Spanish" is a list, not a surname-first name
        listed = not m.group(2) and _LIST_GOES_ON.match(text, m.end())
        if surname.isupper() == given.isupper() and sure and not listed:
            found.append(Span("PERSON", 0.7, start, m.end(), "surname-first"))
    return found


def pinyin_name(text: str, surname_start: int, surname_end: int) -> list[Span]:
    """`surname_start` is a capitalised word in CN_SURNAMES (the caller's word scan finds it,
    which costs a set look-up instead of a second pass over the text)."""
    if surname_start < 2 or text[surname_start - 1] not in " \t":
        return []
    given = _GIVEN_BEFORE.search(text, max(0, surname_start - 13), surname_start - 1)
    if given and _starts_word(text, given.start()) and _PINYIN_GIVEN.fullmatch(given.group().lower()):
        return [Span("PERSON", 0.7, given.start(), surname_end, "pinyin")]
    return []
