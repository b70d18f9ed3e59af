"""Builds the PII eval set in this directory (see PROVENANCE.md).

- faker_cases.jsonl: synthetic records from Faker's locale data placed in varied documents;
  gold spans are known by construction. Deterministic for a given Faker version (seeded).
- authored_cases.jsonl: converted from authored.txt, where gold spans are marked inline as
  [[CATEGORY|text]] and cases are separated by a line holding only ---.

Run with a Python that has Faker installed (it is not a pavedroad dependency):
    python evals/pii/build.py evals/pii
"""

from __future__ import annotations

import base64
import datetime
import json
import random
import re
import string
import sys
import uuid
from pathlib import Path

from faker import Faker

SEED = 20261124
LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT"]
ADDRESS_LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL"]
rng = random.Random(SEED)
fakers = {loc: Faker(loc) for loc in LOCALES}
for i, f in enumerate(fakers.values()):
    f.seed_instance(SEED + i)

# Slots in upper case are gold PII; slots in lower case are filler that must not be flagged.
POSITIVE_TEMPLATES = [
    "Hi, my name is {PERSON} and I can't log in. My account email is {EMAIL}.",
    "Dear {PERSON},\n\nThank you for your order. We will ship it to {POSTAL_ADDRESS}.\n\nKind regards,\n{PERSON}",
    "From: {PERSON} <{EMAIL}>\nTo: {EMAIL}\nSubject: refund for order {order}\n\nPlease refund card {CREDIT_CARD}.",
    "Customer called from {PHONE} asking to update the billing IBAN to {IBAN}.",
    "Name: {PERSON}\nDate of birth: {DATE_OF_BIRTH}\nSSN: {US_SSN}\nPhone: {PHONE}\nAddress: {POSTAL_ADDRESS}",
    "Please wire the deposit to IBAN {IBAN} (account holder {PERSON}) before {date}.",
    "Our server at {IP_ADDRESS} keeps timing out since release {version}; the backup node is {IP_ADDRESS}.",
    "Can you summarise this ticket? User {PERSON} ({EMAIL}) reports that payments with card {CREDIT_CARD} fail.",
    "I was born on {DATE_OF_BIRTH} and I'm trying to reset my password. Call me at {PHONE}.",
    "Ship to:\n{PERSON}\n{POSTAL_ADDRESS}\nTel. {PHONE}",
    "Here's my config, why doesn't it work?\nOPENAI_API_KEY={SECRET}\nmodel={version}",
    "export GITHUB_TOKEN={SECRET}\ngit push origin main",
    "Authorization: Bearer {SECRET}",
    "password: {SECRET}",
    "The applicant, {PERSON}, DOB {DATE_OF_BIRTH}, lives at {POSTAL_ADDRESS}.",
    "Mr. {PERSON} asked us to send the contract to {EMAIL} or fax it to {PHONE}.",
    "Thanks for the quick help!\n\nBest,\n{PERSON}\n{PHONE}",
    "Please update my SSN on file to {US_SSN} - it was entered wrong on {date}.",
    "{PERSON} <{EMAIL}> wrote on {date}:\n> can we move the meeting?",
    "Our records show payment from IBAN {IBAN} on {date} for invoice {order}.",
    "Log excerpt: {date} login failed for user id {order} from {IP_ADDRESS} (client {IP_ADDRESS})",
    "Here's the key we use in staging: {SECRET} - is it safe to paste it here?",
    "My card number is {CREDIT_CARD}, expiry {expiry}, please charge it for order {order}.",
    "Contact person: {PERSON}, phone {PHONE}, e-mail {EMAIL}",
    "Write a polite reply to {PERSON}, who complained that the parcel sent to {POSTAL_ADDRESS} never arrived.",
    "The new tenant {PERSON} moves into {POSTAL_ADDRESS} next month; deposit paid from {IBAN}.",
    "Patient: {PERSON}\nD.O.B.: {DATE_OF_BIRTH}\nEmergency contact: {PERSON}, {PHONE}",
    "{sentence} You can reach {PERSON} at {EMAIL}. {sentence}",
    "{sentence} Please send the refund to {IBAN}. {sentence}",
    "{sentence} My phone number is {PHONE}. {sentence}",
    "I spoke with {PERSON} yesterday and she confirmed the delivery to {POSTAL_ADDRESS}.",
    "Translate to French: 'Hello {PERSON}, your appointment on {date} is confirmed.'",
    "Here is the private key for the deploy user:\n{SECRET}\nWhy does ssh reject it?",
    "curl -H 'x-api-key: {SECRET}' https://api.{domain}/v1/items",
    "Customer {PERSON} paid {price} with {CREDIT_CARD}; receipt sent to {EMAIL}.",
    "Birthday: {DATE_OF_BIRTH}. Employee ID {order}. Start date {date}.",
    "SSN {US_SSN}, DOB {DATE_OF_BIRTH}, name {PERSON}",
    "Our office moved to {POSTAL_ADDRESS}. The phone stays {PHONE}.",
    "Blocked requests from {IP_ADDRESS} after {count} failed attempts.",
    "jwt: {SECRET}",
]
NEGATIVE_TEMPLATES = [
    "Order {order} was shipped on {date} and should arrive within {count} days.",
    "Upgrade from version {version} to {version}; see build {uuid}.",
    "The request id is {uuid} and the trace id is {hex32}.",
    "Invoice {invoice} totals {price}, due {date}.",
    "Commit {sha} fixed the regression introduced in {version}.",
    "Tracking number {tracking} - parcel weight {count} kg.",
    "Our meeting is on {date} at {time} in room {count}.",
    "The product EAN is {ean} and the ISBN is {isbn}.",
    "Test card numbers must pass Luhn; {bad_card} does not.",
    "Reference {bad_card} is an internal ledger id, not a card.",
    "Set timeout to {count} ms and retries to {small}; colour {color}.",
    "Between {date} and {date} we processed {big} requests ({price} revenue).",
    "Python {version} was released on {date}; pip {version} followed.",
    "{sentence} {sentence} {sentence}",
    "The checksum is {sha} and the file size is {big} bytes.",
    "Call the function with id={order} and page={small}.",
    "Coordinates: {lat}, {lng}. Elevation {count} m.",
    "Use the API key name 'billing-reader' (the value is in the vault, not here).",
    "The password policy requires {small} characters and one digit.",
    "Meeting notes {date}: Summer Roadmap, Grant Application, Park Avenue office plan.",
    "Ticket {order}: the version string {version} looks like an IP but is not.",
]


def card() -> str:
    kind = rng.choice(["visa16", "visa13", "mastercard", "amex", "discover", "jcb16", "diners", "maestro"])
    digits = fakers["en_US"].credit_card_number(card_type=kind)
    style = rng.random()
    if style < 0.4:
        return digits
    sep = " " if style < 0.75 else "-"
    if len(digits) == 15:
        return sep.join([digits[:4], digits[4:10], digits[10:]])
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


def iban(f: Faker) -> str:
    value = f.iban()
    if rng.random() < 0.5:
        return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value


def dob(f: Faker) -> str:
    d = datetime.date(1935, 1, 1) + datetime.timedelta(days=rng.randrange(365 * 70))
    return rng.choice([d.isoformat(), d.strftime("%d/%m/%Y"), d.strftime("%m/%d/%Y"),
                       d.strftime("%B %d, %Y"), d.strftime("%d %B %Y"), d.strftime("%d.%m.%Y")])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def secret() -> str:
    alnum = string.ascii_letters + string.digits
    pick = lambda n, chars=alnum: "".join(rng.choice(chars) for _ in range(n))  # noqa: E731
    kind = rng.randrange(8)
    if kind == 0:
        return "sk-proj-" + pick(48)
    if kind == 1:
        return "ghp_" + pick(36)
    if kind == 2:
        return "xoxb-" + pick(12, string.digits) + "-" + pick(13, string.digits) + "-" + pick(24)
    if kind == 3:
        return "AKIA" + pick(16, string.ascii_uppercase + string.digits)
    if kind == 4:
        head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = b64(json.dumps({"sub": str(rng.randrange(10**6)), "iat": 1700000000}).encode())
        return f"{head}.{body}.{b64(rng.randbytes(32))}"
    if kind == 5:
        lines = [base64.b64encode(rng.randbytes(48)).decode() for _ in range(4)]
        return "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----"
    if kind == 6:
        return "sk-ant-api03-" + pick(40, alnum + "-_")
    return fakers["en_US"].password(length=14)


def value(slot: str, f: Faker, addr: Faker) -> str:
    us = fakers["en_US"]
    return {
        "PERSON": lambda: f"{f.first_name()} {f.last_name()}",
        "EMAIL": f.email,
        "PHONE": f.phone_number,
        "CREDIT_CARD": card,
        "IBAN": lambda: iban(f),
        "US_SSN": us.ssn,
        "IP_ADDRESS": lambda: rng.choice([us.ipv4, us.ipv4_private, us.ipv6])(),
        "POSTAL_ADDRESS": lambda: addr.address().replace("\n", rng.choice([", ", "\n"])),
        "DATE_OF_BIRTH": lambda: dob(f),
        "SECRET": secret,
        "order": lambda: str(rng.randrange(10**5, 10**10)),
        "invoice": lambda: f"INV-{rng.randrange(10**6):06d}",
        "date": lambda: (datetime.date(2020, 1, 1) + datetime.timedelta(days=rng.randrange(2200))).strftime(
            rng.choice(["%Y-%m-%d", "%d/%m/%Y", "%B %d, %Y"])),
        "time": lambda: f"{rng.randrange(24):02d}:{rng.randrange(60):02d}",
        "version": lambda: ".".join(str(rng.randrange(0, 20)) for _ in range(rng.choice([2, 3, 4]))),
        "uuid": lambda: str(uuid.UUID(int=rng.getrandbits(128))),
        "hex32": lambda: "%032x" % rng.getrandbits(128),
        "sha": lambda: "%040x" % rng.getrandbits(160),
        "price": lambda: f"${rng.randrange(1, 5000)}.{rng.randrange(100):02d}",
        "count": lambda: str(rng.randrange(2, 999)),
        "small": lambda: str(rng.randrange(1, 12)),
        "big": lambda: f"{rng.randrange(10**6, 10**9):,}",
        "tracking": lambda: "1Z" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
        "ean": us.ean13,
        "isbn": us.isbn13,
        "bad_card": bad_card,
        "color": us.hex_color,
        "lat": lambda: str(us.latitude()),
        "lng": lambda: str(us.longitude()),
        "domain": us.domain_name,
        "expiry": lambda: f"{rng.randrange(1, 13):02d}/{rng.randrange(26, 32)}",
        "sentence": lambda: f.sentence(nb_words=10),
    }[slot]()


def bad_card() -> str:
    while True:
        digits = "4" + "".join(rng.choice(string.digits) for _ in range(15))
        total = sum(int(d) if i % 2 else sum(divmod(int(d) * 2, 10)) for i, d in enumerate(digits))
        if total % 10:
            return digits


def render(template: str, f: Faker, addr: Faker) -> tuple[str, list[dict[str, object]]]:
    out, spans, cursor = [], [], 0
    length = 0
    for m in re.finditer(r"\{(\w+)\}", template):
        literal = template[cursor : m.start()]
        out.append(literal)
        length += len(literal)
        text = str(value(m.group(1), f, addr))
        if m.group(1).isupper():
            spans.append({"start": length, "end": length + len(text), "category": m.group(1)})
        out.append(text)
        length += len(text)
        cursor = m.end()
    out.append(template[cursor:])
    return "".join(out), spans


def authored(source: Path, target: Path) -> None:
    blocks = source.read_text(encoding="utf-8").split("\n---\n")
    with target.open("w", encoding="utf-8") as out:
        for index, block in enumerate(blocks):
            text, spans, cursor = "", [], 0
            for m in re.finditer(r"\[\[([A-Z_]+)\|(.*?)\]\]", block, re.S):
                text += block[cursor : m.start()]
                spans.append({"start": len(text), "end": len(text) + len(m.group(2)), "category": m.group(1)})
                text += m.group(2)
                cursor = m.end()
            text += block[cursor:]
            case = {"id": f"authored-{index:03d}", "source": "authored",
                    "kind": "positive" if spans else "negative", "text": text, "spans": spans}
            out.write(json.dumps(case, ensure_ascii=False) + "\n")


def main(directory: str) -> None:
    root = Path(directory)
    authored(root / "authored.txt", root / "authored_cases.jsonl")
    path = root / "faker_cases.jsonl"
    cases = []
    for n in range(900):
        loc = LOCALES[n % len(LOCALES)]
        addr = fakers[ADDRESS_LOCALES[n % len(ADDRESS_LOCALES)]]
        if n % 4 == 3:
            template = NEGATIVE_TEMPLATES[(n // 4) % len(NEGATIVE_TEMPLATES)]
            kind = "negative"
        else:
            template = POSITIVE_TEMPLATES[n % len(POSITIVE_TEMPLATES)]
            kind = "positive"
        text, spans = render(template, fakers[loc], addr)
        cases.append({"id": f"faker-{n:04d}", "source": f"faker:{loc}", "kind": kind, "text": text,
                      "spans": spans})
    with open(path, "w", encoding="utf-8") as out:
        for case in cases:
            out.write(json.dumps(case, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
