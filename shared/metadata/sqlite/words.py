"""SQLite's word indexes (FTS5) and search ranked inside SQLite.

``files_words`` holds each record's words in one column per field of
``ranking.FILE_FIELDS`` (name, tags, description), written by ``index_file`` whenever a
record's searchable fields change and removed by ``unindex_file``. ``logs_fts`` holds each
log entry's words (``ranking.log_search_text``) in one column; log entries are written with
their transactions (``connection.SqliteBase._insert_log``), so their words are indexed
there, in batches, and every log search first indexes the unfinished batch.

Why the score is computed in SQL: ranking by reading every matching record into Python grew
with the number of matches (17.8x from 2,000 to 50,000 files in ``make bench``) and had to
stop at ``SEARCH_CANDIDATE_CAP``, so totals became lower bounds. Here SQLite counts every
match exactly and scores it by the same rule as ``ranking.rank_record`` (twice a field's
weight for a whole-word hit, the weight for a prefix hit): one FTS5 lookup per query word,
field and kind of hit, tested against each candidate's rowid. Only the page that is
returned is read as records.

The words are ``text_index.words`` joined by spaces, so FTS5's ``unicode61`` tokenizer
splits them where ``text_index`` did; the contract suite checks that both backends return
the same hits in the same order.
"""

from __future__ import annotations

import json
import sqlite3

from shared import text_index
from shared.metadata.ranking import FILE_FIELDS, file_fields
from shared.models import FileDraft, FileRecord


def _quoted(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def fts_match(qwords: list[str]) -> str:
    """An FTS5 query: every word as a quoted prefix term, all required (in any column)."""
    return " AND ".join(_quoted(w) + "*" for w in qwords)


def index_file(conn: sqlite3.Connection, rowid: int,
               draft_or_record: FileDraft | FileRecord) -> None:
    """(Re)write a record's words: call whenever its name, tags or description change."""
    conn.execute("DELETE FROM files_words WHERE rowid = ?", (rowid,))
    conn.execute("INSERT INTO files_words (rowid, name, tags, description) VALUES (?, ?, ?, ?)",
                 (rowid, *(text_index.index_text([text])
                           for text in file_fields(draft_or_record))))


def unindex_file(conn: sqlite3.Connection, rowid: int) -> None:
    """A deleted record is found by no word."""
    conn.execute("DELETE FROM files_words WHERE rowid = ?", (rowid,))


def file_score(qwords: list[str], rowid: str) -> tuple[str, list[str]]:
    """An SQL expression (and its parameters) scoring the record whose rowid is the column
    ``rowid``, equal to ``ranking.rank_record`` for records that match every word."""
    terms: list[str] = []
    params: list[str] = []
    lookup = f"{rowid} IN (SELECT rowid FROM files_words WHERE files_words MATCH ?)"
    for word in qwords:
        for column, weight in FILE_FIELDS:
            terms.append(f"CASE WHEN {lookup} THEN {2 * weight}"
                         f" WHEN {lookup} THEN {weight} ELSE 0 END")
            params += [f"{column} : {_quoted(word)}", f"{column} : {_quoted(word)}*"]
    return " + ".join(terms), params


def log_score(qwords: list[str], seq: str) -> tuple[str, list[str]]:
    """An SQL expression scoring the entry whose seq is ``seq``, as ``text_index.rank`` does
    over ``log_search_text`` (weight 1) for entries that match every word."""
    lookup = f"{seq} IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)"
    return (" + ".join(f"CASE WHEN {lookup} THEN 2 ELSE 1 END" for _ in qwords),
            [_quoted(word) for word in qwords])


def migrate_files_words(conn: sqlite3.Connection) -> None:
    """Move a file written before ``files_words`` off its one-column ``files_fts``: index
    every live record by field, then drop the old table (once, in one transaction)."""
    old = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'files_fts'"
    if conn.execute(old).fetchone() is None:
        return
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        if conn.execute(old).fetchone() is None:  # another process migrated first
            return
        rows = conn.execute("SELECT rowid, filename, tags, description FROM files"
                            " WHERE deleted_at IS NULL").fetchall()
        conn.execute("DELETE FROM files_words")
        conn.executemany(
            "INSERT INTO files_words (rowid, name, tags, description) VALUES (?, ?, ?, ?)",
            [(row[0], *(text_index.index_text([text]) for text in
                        (row[1], " ".join(json.loads(row[2])), row[3]))) for row in rows])
        conn.execute("DROP TABLE files_fts")
