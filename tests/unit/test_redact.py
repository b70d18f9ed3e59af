"""Redaction modes: mask, typed placeholders, reversible pseudonymisation (also streamed)."""

from __future__ import annotations

import pytest

from pavedroad.guardrails import redact as redact_module
from pavedroad.guardrails.base import Finding, ScanContext
from pavedroad.guardrails.pii import factory
from pavedroad.guardrails.redact import Pseudonymizer, StreamRestorer, mask, placeholders, redact

TEXT = "Mail jo@example.org or jo@example.org; Ana Lima <ana@example.org> calls +44 20 7946 0958."


def findings(text: str = TEXT) -> list[Finding]:
    return factory({}).scan(text, ScanContext(direction="input"))


def test_mask_keeps_length_or_uses_a_fixed_mask() -> None:
    masked = mask(TEXT, findings())
    assert len(masked) == len(TEXT) and "@" not in masked and "7946" not in masked
    assert mask("id jo@example.org", findings("id jo@example.org"), keep_length=False) == "id ****"


def test_placeholders_are_typed_and_consistent_within_a_request() -> None:
    out = placeholders(TEXT, findings())
    assert out == "Mail <EMAIL_1> or <EMAIL_1>; <PERSON_1> <<EMAIL_2>> calls <PHONE_1>."


def test_pseudonymise_then_restore_round_trips() -> None:
    p = Pseudonymizer()
    upstream = p.pseudonymise(TEXT, findings())
    assert "jo@example.org" not in upstream
    answer = "I'll write to <EMAIL_1> and phone <PHONE_1>; <EMAIL_9> is not ours."
    restored = "I'll write to jo@example.org and phone +44 20 7946 0958; <EMAIL_9> is not ours."
    assert p.restore(answer) == restored


def test_same_value_keeps_its_placeholder_across_messages() -> None:
    p = Pseudonymizer()
    first = p.pseudonymise("jo@example.org", findings("jo@example.org"))
    text = "cc ana@example.org, jo@example.org"
    second = p.pseudonymise(text, findings(text))
    assert first == "<EMAIL_1>" and second == "cc <EMAIL_2>, <EMAIL_1>"


def test_repr_never_shows_values() -> None:
    p = Pseudonymizer()
    p.pseudonymise(TEXT, findings())
    assert "example.org" not in repr(p) and "example.org" not in repr(StreamRestorer(p))


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 11])
def test_stream_restorer_handles_placeholders_split_across_chunks(size: int) -> None:
    p = Pseudonymizer()
    p.pseudonymise(TEXT, findings())
    answer = "Sure <PERSON_1>, mailing <EMAIL_2> now; x < y and <b>bold</b> stay. <EMAIL_1>"
    restorer = StreamRestorer(p)
    chunks = [answer[i : i + size] for i in range(0, len(answer), size)]
    out = "".join(restorer.feed(chunk) for chunk in chunks) + restorer.flush()
    assert out == p.restore(answer)
    assert out.endswith("stay. jo@example.org") and "Ana Lima" in out


def test_stream_restorer_holds_back_only_a_possible_placeholder_prefix() -> None:
    p = Pseudonymizer()
    p.pseudonymise("jo@example.org", findings("jo@example.org"))
    restorer = StreamRestorer(p)
    assert restorer.feed("hello <EMA") == "hello "
    assert restorer.feed("IL_1> and a < b") == "jo@example.org and a < b"
    assert restorer.feed(" <") == " "
    assert restorer.flush() == "<"


def test_redact_dispatches_by_mode() -> None:
    f = findings("jo@example.org")
    assert redact("jo@example.org", f, "mask") == "*" * 14
    assert redact("jo@example.org", f, "placeholder") == "<EMAIL_1>"
    with pytest.raises(ValueError, match="Pseudonymizer"):
        redact("jo@example.org", f, "pseudonymise")
    assert redact("jo@example.org", f, "pseudonymise", pseudonymizer=Pseudonymizer()) == "<EMAIL_1>"


def test_public_names_are_pinned() -> None:
    assert sorted(redact_module.__all__) == [
        "Mode", "Pseudonymizer", "StreamRestorer", "mask", "placeholders", "redact",
    ]  # fmt: skip
