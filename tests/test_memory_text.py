"""Fitting memory text under the cap: boundaries, scripts, emoji and every overflow mode."""

from __future__ import annotations

import pytest
import regex

from shared.errors import Conflict
from shared.memory.truncation import (
    DROP_NOTICE,
    TRUNCATION_NOTICE,
    Fit,
    drop_leading,
    find_cut,
    fit,
    grapheme_floor,
    keep_head,
)

FAMILY = "👨‍👩‍👧‍👦"  # one grapheme, seven code points
FLAG = "🇯🇵"
ACCENT = "e\u0301"  # e + combining acute


def graphemes(text: str) -> list[str]:
    return regex.findall(r"\X", text)


def assert_whole_graphemes(kept: str, original: str) -> None:
    """Every grapheme of the kept head is a grapheme of the original (none was split)."""
    original_clusters = graphemes(original)
    kept_clusters = graphemes(kept)
    assert kept_clusters == original_clusters[: len(kept_clusters)]


@pytest.mark.parametrize("text", [
    "# A\n\npara one. " + "x" * 200 + "\n\n# B\n\n" + "y" * 300,
    "# 标题\n\n这是第一段。" + "中" * 200 + "\n\n# 第二节\n\n" + "文" * 300,
    "# 🎉 Party\n\n" + FAMILY * 40 + "\n\n# Next\n\n" + FLAG * 100,
])
def test_cut_prefers_heading(text):
    limit = len(text) - 100
    result = keep_head(text, limit)
    assert result.truncated
    assert len(result.text) <= limit
    body = result.text.removesuffix(TRUNCATION_NOTICE)
    assert result.text.endswith(TRUNCATION_NOTICE)
    # The cut fell right before the second heading: the first section is whole.
    second = text.index("\n\n#", 1)
    assert body == text[:second].rstrip()
    assert result.removed_chars == len(text) - len(body)


def test_cut_prefers_paragraph_then_line_then_sentence():
    para = "alpha " * 30 + "\n\n" + "beta " * 30 + "\n\n" + "gamma " * 30
    assert find_cut(para, len(para) - 10) == para.rindex("\n\n")
    lines = "line one is here\n" * 20
    cut = find_cut(lines, 100)
    assert lines[cut] == "\n" and cut <= 100
    sentences = "First sentence here. Second one follows! Third? " * 5
    cut = find_cut(sentences, 120)
    assert sentences[cut - 1] in ".!?" and cut <= 120
    chinese = "这是一个句子。" * 30
    cut = find_cut(chinese, 100)
    assert chinese[cut - 1] == "。" and cut <= 100


@pytest.mark.parametrize("unit", ["a", "中", FAMILY, FLAG, ACCENT, "👍🏽"])
@pytest.mark.parametrize("limit", [150, 151, 152, 153, 157, 199, 200, 201])
def test_fallback_never_splits_a_character(unit, limit):
    text = unit * 300  # no heading, paragraph, line or sentence boundary at all
    result = keep_head(text, limit)
    assert len(result.text) <= limit
    body = result.text.removesuffix(TRUNCATION_NOTICE)
    assert_whole_graphemes(body, text)
    assert result.removed_chars == len(text) - len(body)


def test_grapheme_floor_steps_back_over_clusters():
    text = "ab" + FAMILY + "cd"
    for pos in range(3, 2 + len(FAMILY)):
        assert grapheme_floor(text, pos) == 2
    assert grapheme_floor(text, 2 + len(FAMILY)) == 2 + len(FAMILY)


@pytest.mark.parametrize("overflow", ["truncate", "reject", "drop_oldest"])
def test_fitting_text_is_untouched(overflow):
    result = fit("# Old\n", "new text", True, 100, overflow)
    assert result.text == "# Old\nnew text" and not result.truncated and result.removed_chars == 0


def test_exact_limit_is_not_truncated():
    assert fit("", "x" * 100, False, 100, "truncate").truncated is False


def test_reject_reports_remaining_budget_and_changes_nothing():
    with pytest.raises(Conflict) as info:
        fit("a" * 90, "b" * 20, True, 100, "reject")
    assert info.value.extra["remaining"] == 10
    assert info.value.extra["length_needed"] == 20
    with pytest.raises(Conflict) as info:
        fit("a" * 90, "b" * 120, False, 100, "reject")
    assert info.value.extra["remaining"] == 100


def test_truncate_on_append_keeps_the_head():
    old = "# Notes\n\n" + "old. " * 30
    result = fit(old, "\n\n## New\n\n" + "new. " * 40, True, 250, "truncate")
    assert result.truncated and len(result.text) <= 250
    assert result.text.startswith("# Notes")


@pytest.mark.parametrize("filler", ["x", "中", "🙂"])
def test_drop_oldest_removes_whole_leading_sections(filler):
    sections = [f"# S{i}\n\n" + filler * 50 + "\n\n" for i in range(6)]
    old = "".join(sections)
    new = "# New\n\n" + filler * 50 + "\n"
    limit = len(old) // 2
    result = fit(old, new, True, limit, "drop_oldest")
    assert result.truncated and len(result.text) <= limit
    assert result.text.startswith(DROP_NOTICE)
    body = result.text.removeprefix(DROP_NOTICE)
    assert body.endswith(new), "the new text must survive whole"
    assert body.startswith("# S"), "a whole section is kept, not a fragment"
    assert (old + new).endswith(body)
    assert result.removed_chars == len(old + new) - len(body)


def test_drop_oldest_when_new_text_alone_is_too_long():
    result = drop_leading("# Only\n\n" + "z" * 500, 200)
    assert result.truncated and len(result.text) <= 200
    assert result.text.startswith("# Only")


def test_tiny_limits_still_fit():
    result = keep_head("word " * 100, 20)
    assert len(result.text) <= 20 and result.truncated


# -- exact contracts (each pins one rule, so that loosening it fails) -------------------------

NOTICE = len(TRUNCATION_NOTICE)


@pytest.mark.parametrize("func", [keep_head, drop_leading])
def test_text_at_the_limit_comes_back_unchanged(func):
    assert func("x" * 50, 50) == Fit("x" * 50, False, 0)
    assert func("x" * 49, 50) == Fit("x" * 49, False, 0)


@pytest.mark.parametrize("overflow", ["truncate", "reject", "drop_oldest"])
def test_fit_at_the_limit_in_every_mode(overflow):
    assert fit("ab", "c", True, 3, overflow) == Fit("abc", False, 0)
    assert fit("zzzz", "abc", False, 3, overflow) == Fit("abc", False, 0)


def test_reject_names_the_limit_and_never_a_negative_budget():
    with pytest.raises(Conflict, match=r"^content would exceed max_length$") as info:
        fit("a" * 120, "b", True, 100, "reject")  # already over (a lowered cap)
    assert info.value.extra == {"max_length": 100, "remaining": 0, "length_needed": 1}


def test_the_notice_appears_only_where_it_leaves_room():
    text = "y" * 1000  # no boundary at all: cuts fall on graphemes
    assert keep_head(text, 2 * NOTICE) == Fit("y" * (2 * NOTICE), True, 1000 - 2 * NOTICE)
    assert keep_head(text, 2 * NOTICE + 1) == Fit(
        "y" * (NOTICE + 1) + TRUNCATION_NOTICE, True, 1000 - (NOTICE + 1))


def test_cut_candidates_must_keep_half_the_budget():
    at_half = "a" * 50 + "\n" + "b" * 100
    assert find_cut(at_half, 101) == 50  # a line break at exactly half of 101 counts
    below_half = "a" * 40 + "\n" + "b" * 100
    assert find_cut(below_half, 101) == 101  # too little kept: fall back to graphemes
    assert find_cut("a\nbbbb", 3) == 1  # tiny budgets: one character is half enough
    assert find_cut("。aaaa", 2) == 1  # a sentence ending on the very first character
    assert find_cut("abc", 3) == 3 and find_cut("ab", 3) == 2
    assert find_cut("abc\ndef", 7) == 7  # it fits: no cut at the line break


def test_grapheme_floor_never_splits_the_first_cluster_nor_looks_past_pos():
    assert grapheme_floor(ACCENT + "x", 1) == 0
    assert grapheme_floor(ACCENT + "\u0301x", 2) == 0
    assert grapheme_floor("a" * 10 + "\n" + "b" * 10, 5) == 5  # a newline after pos
    long_line = "c" * 300 + "\n" + "d" * 400 + "\n" + "e" * 50
    assert grapheme_floor(long_line, 600) == 600
    assert grapheme_floor(long_line, len(long_line)) == len(long_line)


def test_drop_oldest_keeps_sections_that_fit_exactly():
    tail = "# C\n\n" + "c" * 40
    text = "# A\n\n" + "a" * 40 + "\n\n# B\n\n" + "b" * 40 + "\n\n" + tail
    limit = len(DROP_NOTICE) + len(tail)
    assert drop_leading(text, limit) == Fit(DROP_NOTICE + tail, True, len(text) - len(tail))


def test_drop_oldest_on_paragraphs_keeps_their_exact_text():
    for rest in ("  indented, and kept as written.", "Xylophones, kept as written."):
        text = "first paragraph " * 6 + "\n\n\n" + rest
        result = drop_leading(text, len(DROP_NOTICE) + len(rest) + 1)
        assert result == Fit(DROP_NOTICE + rest, True, len(text) - len(rest))


def test_drop_oldest_keeps_the_head_of_the_last_section_when_none_fits():
    text = "# A\n\n" + "a" * 50 + "\n# B\n\n" + "b" * 300
    result = drop_leading(text, 100)
    last = text[text.index("# B"):]
    head = keep_head(last, 100)
    assert result == Fit(head.text, True, len(text) - (len(last) - head.removed_chars))
    assert result.text.startswith("# B") and len(result.text) <= 100
    for second in ("  Xtwo ", "Xtwo "):
        paragraphs = "one " * 10 + "\n\n" + second * 60
        tail = paragraphs[paragraphs.index(second):]
        assert drop_leading(paragraphs, 100).text == keep_head(tail, 100).text
    # A last section that fits the cap, but not beside the notice, is kept whole, as is.
    trailing = "# A\n\n" + "a" * 80 + "\n# B\n\n" + "b" * 40 + "\n" * 20
    last = trailing[trailing.index("# B"):]
    assert drop_leading(trailing, 100) == Fit(last, True, len(trailing) - len(last))
