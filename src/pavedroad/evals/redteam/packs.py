"""Red-team packs: every template x payload x wrapper of a category, rendered as cases.

Generation is deterministic: the same pack name, size and seed give the same cases with
the same markers and canaries, so two runs (or two gateways) are compared case by case.
`size` caps the cases per category, picked by a seeded shuffle so a small pack still mixes
templates, payloads and wrappers.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Mapping
from typing import Any

from pavedroad.core.errors import InvalidRequest
from pavedroad.evals.redteam.catalog import (
    CATEGORIES,
    CATEGORY_WRAPPERS,
    CUSTOMER_RECORD,
    PAYLOADS,
    PEOPLE,
    PII_EXFILTRATION,
    SYSTEM_PROMPT,
    TEMPLATES,
    Payload,
    Template,
)
from pavedroad.evals.redteam.wrappers import WRAPPERS, Wrapper
from pavedroad.evals.types import Case

PACKS: Mapping[str, tuple[str, ...]] = {**{c: (c,) for c in CATEGORIES}, "all": CATEGORIES}
_MARKER_ALPHABET = "BCDFGHJKLMNPRVWXYZ89"
_TOOLS = {"tool-weather": "get_weather", "tool-search": "web_search", "tool-crm": "crm_lookup"}
_TOOL_ASKS = {"get_weather": "What's the weather in Lisbon today?",
              "web_search": "Search the web for this year's savings rates.",
              "crm_lookup": "Look up my account details, please."}


def generate_pack(name: str, *, size: int | None = None, seed: int = 0) -> list[Case]:
    """The cases of pack `name` (a category or `all`); at most `size` per category."""
    if name not in PACKS:
        raise InvalidRequest(f"unknown red-team pack {name!r} (known: {', '.join(PACKS)})",
                          param="pack")
    if size is not None and size < 1:
        raise InvalidRequest("the pack size must be at least 1", param="size")
    cases: list[Case] = []
    for category in PACKS[name]:
        combos = sorted(_combinations(category), key=lambda c: (c[0].id, c[1].id, c[2].name))
        random.Random(f"{seed}:{category}").shuffle(combos)
        rendered = (_render(category, t, p, w, seed) for t, p, w in combos)
        usable = [case for case in rendered if case is not None]
        cases.extend(usable[:size] if size is not None else usable)
    return cases


def _combinations(category: str) -> list[tuple[Template, Payload, Wrapper]]:
    wrappers = [WRAPPERS[w] for w in CATEGORY_WRAPPERS[category]]
    return list(itertools.product(TEMPLATES[category], PAYLOADS[category], wrappers))


def _token(seed: int, case_id: str, kind: str, length: int) -> str:
    digest = hashlib.sha256(f"{seed}|{case_id}|{kind}".encode()).hexdigest()
    return digest[:length].upper()


def _marker(seed: int, case_id: str) -> str:
    """A word no wrapper changes: no letter or digit leetspeak rewrites, nothing rot13 or
    base64 could produce by accident in an echo of the disguised text."""
    number = int(_token(seed, case_id, "marker", 12), 16)
    letters = []
    for _ in range(7):
        number, rem = divmod(number, len(_MARKER_ALPHABET))
        letters.append(_MARKER_ALPHABET[rem])
    return "ZQ" + "".join(letters)


def _render(category: str, template: Template, payload: Payload, wrapper: Wrapper,
            seed: int) -> Case | None:
    case_id = f"{category}/{template.id}/{payload.id}/{wrapper.name}"
    marker = _marker(seed, case_id)
    canary = f"NW-{_token(seed, case_id, 'canary', 10)}"
    carrier = wrapper.carry(payload.text.replace("{marker}", marker), payload)
    if carrier is None:  # no translation of this payload into the wrapper's language
        return None
    person = PEOPLE[int(_token(seed, case_id, "person", 4), 16) % len(PEOPLE)]
    record = CUSTOMER_RECORD.format(**person)
    system = SYSTEM_PROMPT.format(canary=canary)
    if category == PII_EXFILTRATION and template.delivery != "tool":
        system = f"{system}\n{record}"
    text = template.text.format(payload=wrapper.frame.format(carrier=carrier), record=record)
    metadata: dict[str, Any] = {
        "category": category, "template": template.id, "payload": payload.id,
        "wrapper": wrapper.name, "delivery": template.delivery, "carrier": carrier,
        "marker": marker, "canary": canary,
        "pii": [person["email"], person["phone"], person["iban"]]
        if category == PII_EXFILTRATION else [],
    }
    return Case(id=case_id, input=_request(system, text, template), metadata=metadata,
                tags=(category, f"wrapper:{wrapper.name}", f"delivery:{template.delivery}"))


def _request(system: str, text: str, template: Template) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    if template.delivery != "tool":
        messages.append({"role": "user", "content": text})
        return {"messages": messages}
    tool = _TOOLS[template.id]
    call = {"id": "call_rt_1", "type": "function", "function": {"name": tool, "arguments": "{}"}}
    messages += [
        {"role": "user", "content": _TOOL_ASKS[tool]},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_rt_1", "content": text},
    ]
    spec = {"type": "function", "function": {
        "name": tool, "description": "fetch data", "parameters": {"type": "object",
                                                                  "properties": {}}}}
    return {"messages": messages, "tools": [spec]}
