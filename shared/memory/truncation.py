"""Fitting Markdown into the memory cap: ``fit`` and its three overflow modes.

Lengths are counted in characters (code points), as the spec's "100,000 characters" means.
Cuts never split a user-perceived character (an emoji with modifiers, a letter with a
combining accent): they fall on a Markdown heading, a paragraph break, a line break or a
sentence end, in that order, and only then on a grapheme boundary. The result, notice
included, never exceeds ``max_length``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from shared.errors import Conflict

OVERFLOW_MODES = ("truncate", "reject", "drop_oldest")
TRUNCATION_NOTICE = "\n\n> [Memory truncated: content exceeded the maximum length.]"
DROP_NOTICE = "> [Earlier memory removed to fit the maximum length.]\n\n"

_HEADING = re.compile(r"^#{1,6}[ \t]", re.MULTILINE)
_SENTENCE_END = re.compile(r"[.!?\u2026](?=\s|$)|[\u3002\uff01\uff1f]")


@functools.cache
def _grapheme() -> re.Pattern[str]:
    """Grapheme clusters (``regex``'s ``\\X``), compiled on the first cut: ``regex`` costs
    tens of milliseconds to import, and the memory function's cold start needs none of it."""
    import regex

    return regex.compile(r"\X", regex.DOTALL)


@dataclass(frozen=True)
class Fit:
    """The text to store and what fitting it cost."""

    text: str
    truncated: bool
    removed_chars: int


def grapheme_floor(text: str, pos: int) -> int:
    """The largest grapheme-cluster boundary at or before ``pos``."""
    if pos >= len(text):
        return len(text)
    start = max(0, text.rfind("\n", 0, max(pos - 256, 0)) + 1)
    boundary = start
    for match in _grapheme().finditer(text, start):
        if match.end() > pos:
            break
        boundary = match.end()
    return boundary


def _last(positions: list[int], low: int, high: int) -> int | None:
    best = None
    for pos in positions:
        if low <= pos <= high:
            best = pos
    return best


def find_cut(text: str, budget: int) -> int:
    """Where to cut ``text`` to keep at most ``budget`` characters of its head.

    Preference: before a heading, at a paragraph break, at a line break, after a sentence;
    each only if it keeps at least half the budget; else the nearest grapheme boundary.
    """
    if len(text) <= budget:
        return len(text)
    low = budget // 2
    headings = [m.start() for m in _HEADING.finditer(text, 0, budget + 1)]
    paragraphs = [m.start() for m in re.finditer(r"\n[ \t]*\n", text[: budget + 1])]
    lines = [m.start() for m in re.finditer(r"\r?\n", text[: budget + 1])]
    sentences = [m.end() for m in _SENTENCE_END.finditer(text, 0, budget)]
    for candidates in (headings, paragraphs, lines, sentences):
        cut = _last(candidates, max(low, 1), budget)
        if cut is not None:
            return cut
    return grapheme_floor(text, budget)


def keep_head(text: str, max_length: int) -> Fit:
    """The head of ``text`` plus a truncation notice, within ``max_length``."""
    if len(text) <= max_length:
        return Fit(text, False, 0)
    notice = TRUNCATION_NOTICE if max_length > 2 * len(TRUNCATION_NOTICE) else ""
    cut = find_cut(text, max_length - len(notice))
    kept = text[:cut].rstrip()
    return Fit(kept + notice, True, len(text) - len(kept))


def _section_starts(text: str) -> list[int]:
    headings = [m.start() for m in _HEADING.finditer(text)]
    if headings:
        return [start for start in headings if start > 0]
    return [m.end() for m in re.finditer(r"\n[ \t]*\n", text)]


def drop_leading(text: str, max_length: int) -> Fit:
    """Remove whole leading sections (then paragraphs) until ``text`` fits.

    When even the last section is too long, its head is kept as in ``keep_head``.
    """
    if len(text) <= max_length:
        return Fit(text, False, 0)
    budget = max_length - len(DROP_NOTICE)
    for start in _section_starts(text):
        if len(text) - start <= budget:
            rest = text[start:].lstrip("\n")
            return Fit(DROP_NOTICE + rest, True, len(text) - len(rest))
    starts = _section_starts(text)
    tail = text[starts[-1]:].lstrip("\n") if starts else text
    head = keep_head(tail, max_length)
    return Fit(head.text, True, len(text) - (len(tail) - head.removed_chars))


def fit(current: str, content: str, append: bool, max_length: int, overflow: str) -> Fit:
    """The memory after writing (or appending) ``content`` under ``overflow`` mode.

    ``reject`` raises ``Conflict`` with the remaining budget and changes nothing.
    """
    candidate = current + content if append else content
    if len(candidate) <= max_length:
        return Fit(candidate, False, 0)
    if overflow == "reject":
        remaining = max(0, max_length - len(current)) if append else max_length
        raise Conflict("content would exceed max_length", max_length=max_length,
                       remaining=remaining, length_needed=len(content))
    if overflow == "drop_oldest":
        return drop_leading(candidate, max_length)
    return keep_head(candidate, max_length)
