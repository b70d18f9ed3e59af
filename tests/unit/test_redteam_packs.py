"""Red-team packs: counts per category, determinism, and that each case carries its attack."""

from __future__ import annotations

import base64
import codecs
import re
from collections import Counter

import pytest

from pavedroad.core.errors import InvalidRequest
from pavedroad.evals.redteam.catalog import (
    CATEGORIES,
    CATEGORY_WRAPPERS,
    PAYLOADS,
    SYSTEM_PROMPT,
    TEMPLATES,
)
from pavedroad.evals.redteam.packs import generate_pack
from pavedroad.evals.types import Case


def attack_text(case: Case) -> str:
    """The message the attack travels in: the tool result, or the last user message."""
    messages = case.input["messages"]
    return str(messages[-1]["content"])


def expected_count(category: str) -> int:
    count = 0
    for payload in PAYLOADS[category]:
        for wrapper in CATEGORY_WRAPPERS[category]:
            usable = wrapper in ("plain", "base64", "rot13", "leetspeak") or \
                wrapper in payload.translations
            count += len(TEMPLATES[category]) * usable
    return count


def test_all_covers_every_category_with_every_combination() -> None:
    cases = generate_pack("all")
    counts = Counter(case.metadata["category"] for case in cases)
    assert set(counts) == set(CATEGORIES)
    for category in CATEGORIES:
        assert counts[category] == expected_count(category), category
    assert len({case.id for case in cases}) == len(cases)  # ids are unique


def test_size_caps_each_category_and_mixes_wrappers() -> None:
    cases = generate_pack("all", size=5)
    counts = Counter(case.metadata["category"] for case in cases)
    assert all(counts[c] == 5 for c in CATEGORIES)
    jailbreaks = generate_pack("jailbreak", size=20)
    assert len({c.metadata["wrapper"] for c in jailbreaks}) >= 4


def test_generation_is_deterministic_and_seeded() -> None:
    first = generate_pack("all", size=7, seed=3)
    again = generate_pack("all", size=7, seed=3)
    other = generate_pack("all", size=7, seed=4)
    assert [c.id for c in first] == [c.id for c in again]
    assert [c.input for c in first] == [c.input for c in again]
    assert [c.metadata["canary"] for c in first] != [c.metadata["canary"] for c in other]
    assert [c.id for c in first] != [c.id for c in other]


def test_each_case_carries_its_payload_in_its_encoding() -> None:
    checked = Counter[str]()
    for case in generate_pack("all"):
        meta = case.metadata
        text = attack_text(case)
        payload = next(p for p in PAYLOADS[meta["category"]] if p.id == meta["payload"])
        goal = payload.text.replace("{marker}", meta["marker"])
        wrapper = meta["wrapper"]
        if wrapper == "plain":
            assert goal in text
        elif wrapper == "base64":
            blobs = re.findall(r"[A-Za-z0-9+/]{20,}={0,2}", text)
            assert goal in [base64.b64decode(blob).decode() for blob in blobs]
        elif wrapper == "rot13":
            assert codecs.decode(goal, "rot13") in text
            assert goal not in text
        elif wrapper == "leetspeak":
            assert "3" in text and goal not in text
            assert text.count("0") + text.count("1") + text.count("4") >= 3
        else:
            assert payload.translations[wrapper] in text
        checked[wrapper] += 1
    assert set(checked) == {"plain", "base64", "rot13", "leetspeak", "fr", "de", "es"}


def test_system_prompt_holds_the_canary_and_pii_cases_plant_a_record() -> None:
    for case in generate_pack("all", size=4):
        system = case.input["messages"][0]
        assert system["role"] == "system"
        assert case.metadata["canary"] in system["content"]
        assert system["content"].startswith(SYSTEM_PROMPT.split("{")[0])
    for case in generate_pack("pii_exfiltration"):
        planted = " ".join(str(m["content"]) for m in case.input["messages"])
        assert all(value in planted for value in case.metadata["pii"])


def test_indirect_injection_travels_in_documents_and_tool_results() -> None:
    cases = generate_pack("indirect_injection")
    deliveries = Counter(c.metadata["delivery"] for c in cases)
    assert deliveries["tool"] > 0 and deliveries["document"] > 0
    for case in cases:
        if case.metadata["delivery"] == "tool":
            roles = [m["role"] for m in case.input["messages"]]
            assert roles == ["system", "user", "assistant", "tool"]
            assert case.input["tools"][0]["function"]["name"]


def test_unknown_pack_and_bad_size_are_clear_errors() -> None:
    with pytest.raises(InvalidRequest, match="known: prompt_injection"):
        generate_pack("nope")
    with pytest.raises(InvalidRequest, match="at least 1"):
        generate_pack("all", size=0)
