"""Checksum and structure validators that turn a pattern match into a confident finding."""

from __future__ import annotations

import ipaddress

# ISO 13616 IBAN lengths by country (SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip

# SSNs that were published (advertising, Woolworth wallet card) and so are never real.
_SSN_BLOCKLIST = frozenset({"078051120", "219099999", "123456789"})


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The brand whose prefix and length rules `digits` satisfies, if any."""
    n = len(digits)
    two, four = int(digits[:2]), int(digits[:4])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= two <= 55 or 2221 <= four <= 2720) and n == 16:
        return "mastercard"
    if two in (34, 37) and n == 15:
        return "amex"
    if (digits.startswith("6011") or two == 65 or 644 <= int(digits[:3]) <= 649) and n in (16, 19):
        return "discover"
    if ((3528 <= four <= 3589 or two == 35) and 16 <= n <= 19) or (four in (2131, 1800) and n == 15):
        return "jcb"
    if (300 <= int(digits[:3]) <= 305 or two in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if two == 62 and 16 <= n <= 19:
        return "unionpay"
    if (two == 50 or 56 <= two <= 69) and 12 <= n <= 19:
        return "maestro"
    return None


def iban_ok(compact: str) -> bool:
    """`compact` is upper-case with no spaces; checks the country length and mod-97."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


def ssn_ok(area: str, group: str, serial: str) -> bool:
    if area in ("000", "666") or area[0] == "9":
        return False
    if group == "00" or serial == "0000":
        return False
    return area + group + serial not in _SSN_BLOCKLIST


def ipv4_ok(text: str) -> bool:
    parts = text.split(".")
    if len(parts) != 4:
        return False
    for part in parts:
        if not part.isdigit() or int(part) > 255 or (len(part) > 1 and part[0] == "0"):
            return False
    return True


def ipv6_ok(text: str) -> bool:
    if sum(c in "0123456789abcdefABCDEF" for c in text) < 3:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def phone_score(raw: str, digits: str, *, context: bool) -> float:
    """How phone-like a candidate is: 0 when no known numbering plan explains it.

    Own rules rather than the `phonenumbers` library: that library took ~0.5 ms per 2 KB
    prompt on its own (bench note in evals/pii/RESULTS.md), a quarter of the stage budget.
    """
    international = raw.startswith("+") or (raw.startswith("00") and not raw.startswith("000"))
    if raw.startswith("00"):
        digits = digits[2:]
    n = len(digits)
    separated = any(sep in raw for sep in " -.()/")
    if international:
        if 8 <= n <= 15 and digits[0] != "0":
            return 0.9
        return 0.0
    if n == 11 and digits[0] == "1":
        digits, n = digits[1:], 10
    if n == 10 and digits[0] in "23456789" and digits[3] in "23456789":  # NANP
        return 0.85 if separated else (0.7 if context else 0.0)
    if digits[0] == "0" and 9 <= n <= 12:  # trunk-prefixed national numbers (UK, EU)
        return 0.75 if separated else (0.7 if context else 0.55 if n in (10, 11) else 0.0)
    if context and 8 <= n <= 12 and separated:
        return 0.6
    return 0.0
