"""``text_index.words``: lower-cased runs of letters and digits, each CJK character a word
of its own (CJK text has no spaces), at the edges of every CJK range and just outside."""

from __future__ import annotations

import unicodedata

import pytest

from shared.text_index import words

# (first, last) of each range that splits per character.
RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF),
          (0xF900, 0xFAFF))


def _nearest_letter(start: int, step: int) -> str:
    """The first letter or digit from ``start`` on (by ``step``) that NFKC leaves as is."""
    code = start
    while not (chr(code).isalnum() and unicodedata.normalize("NFKC", chr(code)) == chr(code)):
        code += step
    return chr(code)


@pytest.mark.parametrize("low,high", RANGES)
def test_characters_at_both_edges_of_a_range_are_words_of_their_own(low, high) -> None:
    for char in (_nearest_letter(low, 1), _nearest_letter(high, -1)):
        assert low <= ord(char) <= high
        assert words(f"ab{char}{char}cd") == ["ab", char, char, "cd"]


@pytest.mark.parametrize("low,high", RANGES)
def test_letters_just_outside_a_range_stay_in_their_word(low, high) -> None:
    for char in (_nearest_letter(low - 1, -1), _nearest_letter(high + 1, 1)):
        inside = any(lo <= ord(char) <= hi for lo, hi in RANGES)
        assert words(f"ab{char}cd") == (["ab", char, "cd"] if inside
                                        else [f"ab{char}cd".lower()])


def test_words_split_mixed_text() -> None:
    assert words("Quarterly 数据报告 v2_final café \uff26\uff55\uff4c\uff4c") == [  # fullwidth
        "quarterly", "数", "据", "报", "告", "v2", "final", "café", "full"]
    assert words("カナ한국어x") == ["カ", "ナ", "한", "국", "어", "x"]
