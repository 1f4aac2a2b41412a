"""Search tokens and ranking shared by every metadata backend.

SQLite indexes ``index_text`` with FTS5; Firestore stores ``index_tokens`` on each record and
queries them with ``array_contains_any``. Both feed candidates through ``rank``, so the two
backends return the same results in the same order (the contract suite checks this).

Matching rule: a record matches when every query word is a prefix of some word of its
filename, description or tags. Words are lower-cased runs of letters and digits; each CJK
character is a word of its own, since CJK text has no spaces to split on.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
# Kana, CJK extension A, CJK unified ideographs, Hangul syllables, CJK compatibility
# ideographs. Ranges, not a regex: compiling that character class cost 3 ms of every
# function's cold start.
_CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF),
               (0xF900, 0xFAFF))
MAX_QUERY_WORDS = 8
PREFIX_MIN = 1
PREFIX_MAX = 12


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def words(text: str) -> list[str]:
    """Lower-cased words of ``text``; CJK characters split one per word."""
    text = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    for match in _WORD_RE.finditer(text):
        chunk = match.group(0)
        if not chunk.isascii() and any(map(_is_cjk, chunk)):
            buf = ""
            for char in chunk:
                if _is_cjk(char):
                    if buf:
                        out.append(buf)
                        buf = ""
                    out.append(char)
                else:
                    buf += char
            if buf:
                out.append(buf)
        else:
            out.append(chunk)
    return out


def query_words(query: str) -> list[str]:
    """The distinct words of a query, at most ``MAX_QUERY_WORDS``, longest first kept."""
    seen: list[str] = []
    for word in words(query):
        if word not in seen:
            seen.append(word)
    return seen[:MAX_QUERY_WORDS]


def index_text(fields: Iterable[str]) -> str:
    """Space-joined words: what SQLite's FTS5 column holds."""
    return " ".join(word for field in fields for word in words(field))


def index_tokens(fields: Iterable[str]) -> list[str]:
    """Every word and each of its prefixes (up to ``PREFIX_MAX`` chars), for Firestore."""
    tokens: set[str] = set()
    for word in words(" ".join(fields)):
        for end in range(PREFIX_MIN, min(len(word), PREFIX_MAX) + 1):
            tokens.add(word[:end])
        tokens.add(word)
    return sorted(tokens)


def matches(qwords: list[str], fields: Iterable[str]) -> bool:
    """True when every query word prefixes some word of the fields."""
    have = words(" ".join(fields))
    return all(any(w.startswith(q) for w in have) for q in qwords)


def rank(qwords: list[str], weighted_fields: Iterable[tuple[str, float]]) -> float | None:
    """``score`` for records that ``matches``, None for the rest, splitting words once."""
    fields = [(words(text), weight) for text, weight in weighted_fields]
    total = 0.0
    for q in qwords:
        hit = False
        for have, weight in fields:
            if q in have:
                total += 2.0 * weight
                hit = True
            elif any(w.startswith(q) for w in have):
                total += 1.0 * weight
                hit = True
        if not hit:
            return None
    return total
