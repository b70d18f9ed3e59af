"""The one-to-one folding fast path agrees with the general per-character path."""

from __future__ import annotations

import pytest

from pavedroad.guardrails.topics import fold_with_offsets


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Zürich  und\t\n São Paulo ", "zurich und sao paulo "),  # fast path, runs of spaces
        ("ÉCOLE été", "ecole ete"),
        ("   lead", " lead"),
        ("Straße  ﬁne", "strasse fine"),  # ß and the ligature fold to two letters: slow path
    ],
)
def test_folding_and_offsets(text: str, folded: str) -> None:
    out, offsets = fold_with_offsets(text)
    assert out == folded
    assert len(offsets) == len(out)
    assert offsets == sorted(offsets)
    for char, index in zip(out, offsets, strict=True):
        if char != " ":
            assert char in fold_with_offsets(text[index])[0]  # each letter comes from its source


def test_a_match_maps_back_to_the_original_span() -> None:
    text = "Nous   visitons  Zürich demain"
    out, offsets = fold_with_offsets(text)
    start = out.index("zurich")
    assert text[offsets[start] : offsets[start + 5] + 1] == "Zürich"
