"""Search pages read from the word indexes alone: work that does not grow with the matches.

A search returns the top ``limit`` matches by score (``ranking.rank_record`` for files,
``text_index.rank`` over ``log_search_text`` for log entries) and the number of matches.
Scoring every match in SQL (``words.file_score``) costs about a microsecond per match: at
50,000 files a word in 5% of the descriptions is 2,500 matches, and the query grew 3.25x
from 2,000 files (``make bench``). Here:

- the total is counted by FTS5 inside the workspace's rowid range (``words.span``), which
  reads the index's posting lists and no table row;
- the page is built by score level. A file whose fields hit no query word in its name or
  tags is scored by its description alone, and there its score is the description's weight
  times (words + words hit whole), so every such file falls in one of a few levels, each an
  FTS5 query ("these words whole, those only as a prefix, none in name or tags"), read in
  rowid (= number) order and stopped at ``limit``. The files with a name or tag hit (names
  and tags are short: few, as a rule) are scored in SQL, so a search is never slower than
  ranking every match. A log entry has one field, so its levels are the whole story;
  within a level entries are newest first, read backwards through the index until no older
  entry can still be newer than the page's last (``logs.ts_max``).

A search limited to a session adds its ``scope`` term to each query. Each level query reads
the posting lists of its words, so with few matches ranking them all in SQL is cheaper:
``use_levels`` says which way a search goes, from the count. Searches with more than
``FAST_MAX_WORDS`` words (2^words levels) or a filter the index does not hold (a file
type, a folder other than a session's) are ranked in SQL by the caller.
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3

from shared.metadata.ranking import FILE_FIELDS
from shared.metadata.sqlite.words import (
    FILE_WORDS,
    LOG_WORDS,
    ROW_MASK,
    file_score,
    fts_match,
    quoted,
    span,
)

FAST_MAX_WORDS = 3
# Below this many matches, scoring each in SQL (about 1 us a match) costs less than the
# level queries (each reads its words' posting lists); measured at 50,000 files.
LEVELS_FROM_MATCHES = 400
_DESCRIPTION_WEIGHT = dict(FILE_FIELDS)["description"]


def scoped(match: str, scope: str | None) -> str:
    """``match`` limited to the rows of one session (``words.session_token``), if given."""
    return f'scope : "{scope}" AND ({match})' if scope else match


def count(conn: sqlite3.Connection, table: str, qwords: list[str], ws_key: int,
          scope: str | None = None) -> int:
    """How many of the workspace's rows in ``table`` (of the session ``scope``, if given)
    match every word."""
    lo, hi = span(ws_key)
    words = fts_match(qwords, FILE_WORDS if table == "files_search" else LOG_WORDS)
    return int(conn.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?"
                            " AND rowid BETWEEN ? AND ?", (scoped(words, scope), lo, hi)
                            ).fetchone()[0])


def use_levels(qwords: list[str], matches: int) -> bool:
    """Whether ``file_page``/``log_page`` serve a search with this many matches."""
    return len(qwords) <= FAST_MAX_WORDS and matches >= LEVELS_FROM_MATCHES


def levels(qwords: list[str], column: str) -> list[list[str]]:
    """The FTS5 queries for each way of hitting every word in ``column`` (each whole, or
    only as a prefix), grouped by the number of whole hits, most first: every hit of a
    group scores above every hit of the next (2^words queries in all)."""
    groups: list[list[str]] = [[] for _ in range(len(qwords) + 1)]
    for whole in itertools.product((True, False), repeat=len(qwords)):
        parts = [f"{column} : {quoted(w)}" if hit else
                 f"({column} : {quoted(w)}* NOT {column} : {quoted(w)})"
                 for w, hit in zip(qwords, whole, strict=True)]
        groups[len(qwords) - sum(whole)].append(" AND ".join(parts))
    return groups


def _first(conn: sqlite3.Connection, match: str, ws_key: int, limit: int) -> list[int]:
    """The ``files.rowid`` of the first ``limit`` files (by number) matching ``match``."""
    lo, hi = span(ws_key)
    return [row[0] & ROW_MASK for row in conn.execute(
        "SELECT rowid FROM files_search WHERE files_search MATCH ? AND rowid BETWEEN ? AND ?"
        " ORDER BY rowid LIMIT ?", (match, lo, hi, limit))]


def file_page(conn: sqlite3.Connection, qwords: list[str], ws_key: int, limit: int,
              scope: str | None = None) -> list[int]:
    """The ``files.rowid`` of the top ``limit`` matches (in the session ``scope``, if
    given), best first (ties by number)."""
    lo, hi = span(ws_key)
    in_name_or_tags = "{name tags} : (" + " OR ".join(quoted(w) + "*" for w in qwords) + ")"
    score, params = file_score(qwords, "k", ws_key)
    # (-score, rowid): the index's rowid order within a workspace is the files' number order
    best = [(-row[1], row[0] & ROW_MASK) for row in conn.execute(
        f"SELECT k, {score} AS s FROM (SELECT rowid AS k FROM files_search WHERE files_search"
        " MATCH ? AND rowid BETWEEN ? AND ?) ORDER BY s DESC, k LIMIT ?",
        [*params, scoped(f"{fts_match(qwords, FILE_WORDS)} AND {in_name_or_tags}", scope), lo,
         hi, limit])]
    found = 0  # hits by description alone: once a group brings the page's worth, the
    for missed, group in enumerate(levels(qwords, "description")):  # rest rank lower
        score_here = -float(_DESCRIPTION_WEIGHT * (2 * len(qwords) - missed))
        for match in group:
            rows = _first(conn, scoped(f"({match}) NOT {in_name_or_tags}", scope), ws_key,
                          limit)
            best += [(score_here, rowid) for rowid in rows]
            found += len(rows)
        if found >= limit:
            break
    return [rowid for _, rowid in heapq.nsmallest(limit, best)]


def log_page(conn: sqlite3.Connection, qwords: list[str], ws_key: int, limit: int,
             scope: str | None = None) -> list[int]:
    """The ``logs.seq`` of the top ``limit`` matches (in the session ``scope``, if given),
    best first (ties newest first)."""
    ranked: list[tuple[int, str, str, int]] = []  # (-missed whole hits, ts, id, seq)
    for missed, group in enumerate(levels(qwords, "text")):
        for match in group:
            ranked += [(-missed, ts, entry_id, seq)
                       for ts, entry_id, seq in _newest(conn, scoped(match, scope), ws_key,
                                                        limit)]
        if len(ranked) >= limit:  # the next groups score lower
            break
    ranked.sort(reverse=True)
    return [seq for _, _, _, seq in ranked[:limit]]


def _newest(conn: sqlite3.Connection, match: str, ws_key: int,
            limit: int) -> list[tuple[str, str, int]]:
    """The ``limit`` newest entries (by ts, then id) matching ``match``: read backwards in
    commit order, stopping once every older entry's ts is below the page's last."""
    lo, hi = span(ws_key)
    best: list[tuple[str, str, int]] = []
    if limit < 1:
        return best
    chunk = limit + 16
    while True:
        keys = [row[0] for row in conn.execute(
            "SELECT rowid FROM logs_search WHERE logs_search MATCH ? AND rowid BETWEEN ? AND ?"
            " ORDER BY rowid DESC LIMIT ?", (match, lo, hi, chunk))]
        if not keys:
            return best
        seqs = [key & ROW_MASK for key in keys]
        marks = ",".join("?" * len(seqs))
        rows = {row[0]: row for row in conn.execute(
            f"SELECT seq, ts, id, ts_max FROM logs WHERE seq IN ({marks})", seqs)}
        for seq in seqs:
            _, ts, entry_id, ts_max = rows[seq]
            best = heapq.nlargest(limit, [*best, (ts, entry_id, seq)])
            # '' is an entry an older release wrote: no bound from it (see words.migrate_search)
            if len(best) == limit and ts_max and ts_max < best[-1][0]:
                return best
        if len(keys) < chunk:
            return best
        hi = keys[-1] - 1
