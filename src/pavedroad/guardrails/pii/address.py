"""Postal address detection: street number + name + suffix (US/UK), suffix-first European
streets (DE/NL/FR/IT/ES), PO boxes and military addresses, each optionally followed by the
city/region/postcode lines; bare postcodes count only with a context word."""

from __future__ import annotations

import re

from pavedroad.guardrails.pii.span import Span, near
from pavedroad.guardrails.pii.us_address import us_addresses

# USPS street suffixes (Publication 28, appendix C1) plus common UK ones, long and short forms.
_SUFFIXES = str.split(
    "Alley Aly Anex Annex Arcade Arc Avenue Ave Av Bayou Byu Beach Bch Bend Bnd Bluffs? Blfs? "
    "Bottom Btm Boulevard Blvd Branch Br Bridge Brg Brook Brk Brooks Burgs? Bypass Byp Camp Cp "
    "Canyon Cyn Cape Cpe Causeway Cswy Centers? Ctr Circles? Cir Cliffs? Clf Close Club Clb Common "
    "Corners? Cor Course Crse Courts? Ct Coves? Cv Creek Crk Crescent Cres Crest Crossing Xing "
    "Crossroad Curve Dale Dl Dam Dm Divide Dv Drives? Dr Estates? Est Expressway Expy Extensions? "
    "Ext Falls? Fls Ferry Fry Fields? Fld Flats? Flt Fords? Frd Forest Frst Forges? Frg Forks? Frk "
    "Fort Ft Freeway Fwy Gardens? Gdns? Gateway Gtwy Glens? Gln Greens? Grn Groves? Grv Harbors? "
    "Hbr Haven Hvn Heights Hts Highway Hwy Hills? Hl Hollow Holw Inlet Islands? Isle Junctions? "
    "Jct Keys? Ky Knolls? Knl Lakes? Lk Land Landing Lndg Lane Ln Lights? Lgt Loaf Locks? Lodge "
    "Ldg Loop Mall Manors? Mnr Meadows? Mdw Mews Mills? Ml Mission Msn Motorway Mount Mt "
    "Mountains? Mtn Neck Nck Orchard Orch Oval Overpass Park Parkways? Pkwy Pass Passage Path "
    "Pike Pines? Pne Place Pl Plains? Pln Plaza Plz Points? Pt Ports? Prt Prairie Pr Radial Radl "
    "Ramp Ranch Rnch Rapids? Rpd Rest Rst Ridges? Rdg River Riv Road Rd Roads? Route Rte Row Rue "
    "Run Shoals? Shl Shores? Shr Skyway Skwy Springs? Spg Spur Squares? Sq Station Sta Stravenue "
    "Stra Stream Strm Streets? St Summit Smt Terrace Ter Throughway Trwy Trace Trce Track Trak "
    "Trafficway Trfy Trail Trl Trailer Tunnel Tunl Turnpike Tpke Underpass Unions? Un Valleys? Vly "
    "Viaduct Via Views? Vw Villages? Vlg Ville Vl Vista Vis Walks? Wall Way Ways Wells? Wl Wharf "
    "Wood Yard"
)
# Lower-cased, for the ZIP-anchored search, which sees all-caps and lower-case addresses too.
SUFFIX_WORDS = frozenset(
    form.lower() for word in _SUFFIXES for form in (word.removesuffix("s?"), word.rstrip("?"))
)
_SUFFIX = "(?:" + "|".join(sorted(_SUFFIXES, key=len, reverse=True)) + r")\.?"
_UPPER = "A-ZÀ-ÖØ-ÞŁŚŹŻĆŃŠŽČŘ"
_WORD = rf"[{_UPPER}][\w'\u2019.-]*"
_UNIT = r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Flat|Fl|Floor|Room|Rm|Bldg|#)\.?\s*#?[\w-]{1,6})?"
_UK_POSTCODE = r"(?:GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})"
_BREAK = r"(?:\s*[,\n|]\s*|\s{2,})"
# City line(s) then state+ZIP, UK postcode, or a 4-5 digit European postcode + town.
_TAIL = (
    rf"(?:{_BREAK}(?:{_WORD}[ -]?){{1,4}},?\s+[A-Z]{{2}}\.?\s+\d{{5}}(?:-\d{{4}})?"
    rf"|(?:{_BREAK}(?:{_WORD}[ -]?){{1,4}}){{1,2}}{_BREAK}{_UK_POSTCODE}\b"
    rf"|{_BREAK}{_UK_POSTCODE}\b"
    rf"|{_BREAK}(?:[A-Z]{{1,2}}-)?\d{{4,5}}(?:\s?[A-Z]{{2}})?,?\s+(?:{_WORD}[ -]?){{1,4}})?"
)
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|Mär|Mai|Okt|Dez|Juin|Juil|Ao)[a-zé]*\.?\s"
_EU_SUFFIXES = (
    "straße", "strasse", "str.", "weg", "allee", "gasse", "platz", "ring", "damm", "ufer", "chaussee",
    "steig", "pfad", "markt", "straat", "laan", "gracht", "plein", "dreef", "kade", "singel", "hof",
    "park", "dijk", "pad", "baan", "steeg", "boulevard", "wal",
)
_PATTERNS: tuple[tuple[re.Pattern[str], float], ...] = (
    # 221B Baker Street, Apt 4 / 9791 Regina Mountains, Andreaborough, VT 62139
    (re.compile(
        rf"(?:\b(?:Flat|Studio|Apartment|Unit)\s+\w{{1,5}}{_BREAK}(?:\d{{1,5}}[A-Za-z]?\s+)?"
        rf"|\b\d{{1,6}}[A-Za-z]?(?:-\d{{1,4}})?,?\s+)(?:[NSEW]\.?\s+)?(?:{_WORD}[ \t]+){{1,4}}?"
        rf"{_SUFFIX}(?![\w])(?:[ \t]+(?:[NS][EW]?|[EW])\b\.?)?{_UNIT}{_TAIL}"
    ), 0.7),
    # 12 rue de la Paix, 75002 Paris / Via Roma 10 / Calle Mayor 5
    (re.compile(
        r"\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?i:rue|avenue|boulevard|bd|place|chemin|allée|impasse"
        r"|quai|route|cours|square|passage)\s+[^\n,|]{2,40}" + _TAIL
    ), 0.7),
    (re.compile(
        r"\b(?:Via|Viale|Piazza|Piazzale|Corso|Vicolo|Largo|Strada|Contrada|Borgo|Calle|Avenida"
        r"|Plaza|Paseo|Carrer|Rua|Travessa|Ronda|Camino|Carretera)\s+[^\n,|0-9]{2,40}?,?\s+\d{1,4}"
        r"[a-zA-Z]?" + _TAIL
    ), 0.7),
    # Any "Name 12" line followed by a postcode and town: the structure alone is enough.
    (re.compile(
        rf"\b(?=[{_UPPER}])(?!{_MONTH})(?:{_WORD}[ \t]+){{0,3}}{_WORD}[ \t]+\d{{1,4}}[a-zA-Z]?{_BREAK}"
        rf"(?:[A-Z]{{1,2}}-)?\d{{4,5}}(?:\s?[A-Z]{{2}})?(?:,?\s+|{_BREAK})(?:{_WORD}[ -]?){{1,4}}"
    ), 0.7),
    (re.compile(
        r"\b(?:P\.?\s?O\.?\s?Box|Post Office Box|Postfach|PSC\s+\d{1,5},?\s+Box)\s+\d{1,6}" + _TAIL
    ), 0.75),
    (re.compile(
        r"\b(?:(?:Unit|PSC)\s+\d{4},?\s+Box\s+\d{4}|US[A-Z]{1,3}\s+[A-Z][a-z]+)"
        r"(?:\s*[,\n|]\s*)[AFD]PO\s+A[AEP]\s+\d{5}\b"
    ), 0.85),
)
# Hauptstraße 5, 10115 Berlin / Joëllering 9, 1251 IF Hitzum: the suffix is checked in code,
# which is much cheaper than letting the regex try it at every letter.
_EU_STREET = re.compile(
    rf"\b(?:{_WORD}[ -])?([{_UPPER}][\w'\u2019-]+)\s+\d{{1,4}}[a-zA-Z]?(?:[-/]\d{{1,4}})?{_TAIL}"
)
_UK_POSTCODE_ALONE = re.compile(rf"\b{_UK_POSTCODE}\b")
_ZIP = re.compile(r"\b\d{5}(?:-\d{4})?\b|\b\d{4}\s?[A-Z]{2}\b")
_POSTCODE_WORDS = ("zip", "postcode", "post code", "postal code", "plz", "code postal", "cap ")


def addresses(text: str, lowered: str) -> list[Span]:
    found: list[Span] = []
    for pattern, score in _PATTERNS:
        for m in pattern.finditer(text):
            with_tail = "\n" in m.group() or "," in m.group() or "|" in m.group()
            found.append(Span("POSTAL_ADDRESS", min(0.95, score + (0.15 if with_tail else 0)),
                              m.start(), m.end()))  # fmt: skip
    for m in _EU_STREET.finditer(text):
        if m.group(1).lower().endswith(_EU_SUFFIXES):
            with_tail = "\n" in m.group() or "," in m.group() or "|" in m.group()
            found.append(Span("POSTAL_ADDRESS", 0.85 if with_tail else 0.7, m.start(), m.end()))
    found.extend(us_addresses(text, SUFFIX_WORDS))
    for m in _UK_POSTCODE_ALONE.finditer(text):
        found.append(Span("POSTAL_ADDRESS", 0.55, m.start(), m.end(), "postcode"))
    if any(word in lowered for word in _POSTCODE_WORDS):
        for m in _ZIP.finditer(text):
            if near(lowered, m.start(), _POSTCODE_WORDS, window=25):
                found.append(Span("POSTAL_ADDRESS", 0.6, m.start(), m.end(), "postcode"))
    return found
