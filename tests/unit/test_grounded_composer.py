"""The grounded composer quotes verbatim, cites the right passage, and admits ignorance."""

from __future__ import annotations

import re

from pavedroad.rag.grounded import compose, select, sentences
from pavedroad.rag.types import Citation, Hit

KEYS = """## Rotating keys

Virtual keys are stored hashed and scoped to models. To rotate a key, create a new key for
the same app and revoke the old one; revocation takes effect within half a second.

- Revoked keys answer 401 with the code `revoked_api_key`.
"""

BUDGETS = """Budgets are set in USD per key, app, team or tenant. The worst case is reserved
before the provider is called and settled afterwards, so concurrent requests cannot overspend.
"""

CACHE = """The response cache answers exact repeats without calling the provider. Streams are
replayed as streams, and the cache is never shared across tenants.
"""


def _hit(n: int, text: str, source: str, section: str) -> Hit:
    return Hit(f"chk_{n}", text, 1.0 / n, Citation("handbook", f"doc_{n}", source, source,
                                                   section, 0, len(text)))


HITS = [_hit(1, BUDGETS, "docs/budgets.md", "Budgets"),
        _hit(2, KEYS, "docs/keys.md", "Keys > Rotating keys"),
        _hit(3, CACHE, "README.md", "Response cache")]


def _flat(text: str) -> str:
    """Verbatim up to line wrapping: quotes collapse the passage's whitespace."""
    return " ".join(text.split())


def _quoted(answer_text: str) -> list[tuple[str, int]]:
    body = answer_text.split("\n\nSources:", maxsplit=1)[0]
    return [(m.group(1), int(m.group(2)))
            for m in re.finditer(r"^(.*) \[(\d+)\]$", body, flags=re.MULTILINE)]


def test_every_sentence_is_verbatim_and_cites_its_passage() -> None:
    answer = compose("How do I rotate a key, and when does revocation take effect?", HITS,
                     collection="handbook")
    assert answer.found
    quoted = _quoted(answer.text)
    assert quoted, answer.text
    for sentence, number in quoted:
        source = answer.sources[number - 1]
        assert sentence in _flat(source.text)  # verbatim, from the passage its marker names
    # The keys document is the only one that answers; its file and section are listed.
    assert [s.citation.source for s in answer.sources] == ["docs/keys.md"]
    assert "[1] docs/keys.md \u2014 Keys > Rotating keys" in answer.text
    assert any("revocation takes effect" in s for s, _ in quoted)


def test_two_passages_are_numbered_in_retrieval_order() -> None:
    answer = compose("Are budgets reserved before the provider is called, and are cache "
                     "streams replayed as streams?", HITS, collection="handbook")
    assert [s.citation.source for s in answer.sources] == ["docs/budgets.md", "README.md"]
    numbers = {n for _, n in _quoted(answer.text)}
    assert numbers == {1, 2}
    for sentence, number in _quoted(answer.text):
        assert sentence in _flat(answer.sources[number - 1].text)


def test_nothing_relevant_is_said_plainly() -> None:
    answer = compose("What is the capital of Australia?", HITS, collection="handbook")
    assert not answer.found
    assert answer.text == 'I found nothing in handbook about "What is the capital of Australia?".'
    assert answer.sources == ()


def test_no_hits_is_nothing_found() -> None:
    assert not compose("rotate keys", [], collection="handbook").found


def test_sentences_skip_markers_code_and_fragments() -> None:
    text = "# Title\n\n```\nrm -rf / is not a sentence here.\n```\n- A list item that is long.\nOk.\n"
    found = [s.text for s in sentences(text)]
    assert found == ["A list item that is long."]
    assert text[sentences(text)[0].position:].startswith("A list item")


def test_wrapped_lines_form_one_sentence() -> None:
    found = sentences(KEYS)
    texts = [s.text for s in found]
    assert ("To rotate a key, create a new key for the same app and revoke the old one; "
            "revocation takes effect within half a second.") in texts
    assert "Revoked keys answer 401 with the code `revoked_api_key`." in texts
    assert all(KEYS[s.position:].startswith(s.text.split()[0]) for s in found)


def test_selection_stops_at_the_sentence_limit() -> None:
    chosen = select("keys budgets cache streams tenants revoked", HITS, max_sentences=2)
    assert len(chosen) == 2
