"""SQLite's word indexes (FTS5), partitioned by workspace, and their migration.

``files_search`` holds each live, ready record's words in one column per field of
``ranking.FILE_FIELDS`` (name, tags, description), written by ``index_file`` whenever a
record's searchable fields, folder or state change. ``logs_search`` holds each log entry's
words (``ranking.log_search_text``) in one column; log entries are written with their
transactions (``connection.SqliteBase._insert_log``), so their words are indexed there, in
batches, and every log search first indexes the unfinished batch. Both have a ``scope``
column: the token of the session a record's folder (``/sessions/<id>/``) or an entry
belongs to (``session_token``), so a search limited to a session is one more term, not a
filter on every match. Query words are matched in the other columns only
(``FILE_WORDS``, ``LOG_WORDS``).

Why the rowid of both is ``workspaces.seq << 32 | row``: FTS5 seeks and stops at a rowid
range, so a workspace's matches are counted inside the index (``span``) without reading a
table row per match, which kept search growing with the number of matches (``make bench``:
3.25x from 2,000 to 50,000 files). Within a workspace the order of the index is the order
of ``files.rowid`` (= ``files.number``) and of ``logs.seq``. Only live, ready records are in
``files_search``: a count from it alone is the number of files a search can return.

The words are ``text_index.words`` joined by spaces, so FTS5's ``unicode61`` tokenizer
splits them where ``text_index`` did; the contract suite checks that both backends return
the same hits in the same order.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3

from shared import text_index
from shared.metadata.ranking import FILE_FIELDS, file_fields
from shared.models import FileDraft, FileRecord

WS_BITS = 32
ROW_MASK = (1 << WS_BITS) - 1
FILE_WORDS = "{name tags description}"  # the columns query words are matched in
LOG_WORDS = "{text}"
SESSIONS = "/sessions/"  # a session's folder is SESSIONS + id + "/" (queries.session_folder)
_OLD_TABLES = ("files_fts", "files_words", "logs_fts")


def quoted(word: str) -> str:
    """A word as an FTS5 string (matched whole; add ``*`` for a prefix)."""
    return '"' + word.replace('"', '""') + '"'


def fts_match(qwords: list[str], columns: str) -> str:
    """An FTS5 query: every word as a quoted prefix term, all required, in ``columns``."""
    return f"{columns} : (" + " AND ".join(quoted(w) + "*" for w in qwords) + ")"


def session_token(session_id: str) -> str:
    """The ``scope`` term of a session: one FTS5 token (session ids hold ``-`` and ``_``,
    which the tokenizer splits on)."""
    return "s" + hashlib.sha256(session_id.encode()).hexdigest()[:32]


def session_of_path(path: str) -> str | None:
    """The session whose folder holds ``path``, or None."""
    if not path.startswith(SESSIONS):
        return None
    session, slash, _ = path[len(SESSIONS):].partition("/")
    return session if slash and session else None


def session_of_folder(prefix: str) -> str | None:
    """The session whose folder ``prefix`` is exactly (``/sessions/<id>/``), or None."""
    session = prefix[len(SESSIONS):-1] if prefix.endswith("/") else ""
    return session if prefix.startswith(SESSIONS) and session and "/" not in session else None


def _scope_of(path: str) -> str:
    session = session_of_path(path)
    return session_token(session) if session else ""


def span(ws_key: int) -> tuple[int, int]:
    """The first and last index rowid of a workspace (an FTS5 ``rowid BETWEEN``)."""
    return ws_key << WS_BITS, ((ws_key + 1) << WS_BITS) - 1


def workspace_key(conn: sqlite3.Connection, workspace_id: str) -> int | None:
    """The workspace's ``seq`` (its index partition), or None for an unknown workspace.
    Not its rowid: SQLite may renumber the rowids of a table without an INTEGER PRIMARY KEY
    (``VACUUM``), which would move a workspace onto another's index entries."""
    row = conn.execute("SELECT seq FROM workspaces WHERE id = ?", (workspace_id,)).fetchone()
    return int(row[0]) if row else None


def _file_key(conn: sqlite3.Connection, rowid: int) -> int:
    ws = conn.execute("SELECT w.seq FROM files f JOIN workspaces w ON w.id = f.workspace_id"
                      " WHERE f.rowid = ?", (rowid,)).fetchone()[0]
    return index_key(int(ws), rowid)


def index_file(conn: sqlite3.Connection, rowid: int,
               draft_or_record: FileDraft | FileRecord) -> None:
    """(Re)write a record's words: call whenever its name, tags, description, path or
    state change. A draft is being made ready; a record not live and ready is removed."""
    key = _file_key(conn, rowid)
    conn.execute("DELETE FROM files_search WHERE rowid = ?", (key,))
    if isinstance(draft_or_record, FileRecord) and (
            draft_or_record.is_deleted or draft_or_record.status != "ready"):
        return
    conn.execute(_INSERT_FILE, _file_row(key, file_fields(draft_or_record),
                                         draft_or_record.path))


_INSERT_FILE = ("INSERT INTO files_search (rowid, name, tags, description, scope)"
                " VALUES (?, ?, ?, ?, ?)")


def _file_row(key: int, fields: tuple[str, str, str], path: str) -> tuple[object, ...]:
    """A ``files_search`` row: (rowid, the words of each of ``FILE_FIELDS``, scope)."""
    return key, *(text_index.index_text([text]) for text in fields), _scope_of(path)


def log_row(ws_key: int, seq: int, text: str, session_id: str | None) -> tuple[object, ...]:
    """A ``logs_search`` row: (rowid, text, scope)."""
    return index_key(ws_key, seq), text, session_token(session_id) if session_id else ""


def index_key(ws_key: int, row: int) -> int:
    """A row's rowid in a search index: its workspace's ``seq``, then the row."""
    if not 0 < row <= ROW_MASK:  # past 2^32 rows the row would spill into the workspace
        raise OverflowError(f"row {row} does not fit the search index's rowid layout")
    return ws_key << WS_BITS | row


def unindex_file(conn: sqlite3.Connection, rowid: int) -> None:
    """A deleted (or no longer ready) record is found by no word."""
    conn.execute("DELETE FROM files_search WHERE rowid = ?", (_file_key(conn, rowid),))


def file_score(qwords: list[str], key: str, ws_key: int) -> tuple[str, list[object]]:
    """An SQL expression (and its parameters) scoring the record whose index rowid is the
    column ``key``, equal to ``ranking.rank_record`` for records that match every word."""
    terms: list[str] = []
    params: list[object] = []
    lo, hi = span(ws_key)
    lookup = (f"{key} IN (SELECT rowid FROM files_search WHERE files_search MATCH ?"
              " AND rowid BETWEEN ? AND ?)")
    for word in qwords:
        for column, weight in FILE_FIELDS:
            terms.append(f"CASE WHEN {lookup} THEN {2 * weight}"
                         f" WHEN {lookup} THEN {weight} ELSE 0 END")
            params += [f"{column} : {quoted(word)}", lo, hi, f"{column} : {quoted(word)}*",
                       lo, hi]
    return " + ".join(terms), params


def log_score(qwords: list[str], key: str, ws_key: int) -> tuple[str, list[object]]:
    """An SQL expression scoring the entry whose index rowid is ``key``, as
    ``text_index.rank`` does over ``log_search_text`` (weight 1) for entries that match every
    word."""
    lo, hi = span(ws_key)
    lookup = (f"{key} IN (SELECT rowid FROM logs_search WHERE logs_search MATCH ?"
              " AND rowid BETWEEN ? AND ?)")
    params: list[object] = []
    for word in qwords:
        params += [f"{LOG_WORDS} : {quoted(word)}", lo, hi]
    return " + ".join(f"CASE WHEN {lookup} THEN 2 ELSE 1 END" for _ in qwords), params


# ``logs.ts_max`` of every entry: the running maximum of ``ts`` in commit (seq) order.
TS_MAX_BACKFILL = ("UPDATE logs SET ts_max = m.mx FROM (SELECT seq, MAX(ts) OVER (ORDER BY seq)"
                   " AS mx FROM logs) AS m WHERE m.seq = logs.seq")


def migrate_search(conn: sqlite3.Connection) -> None:
    """Move a database written before the partitioned indexes onto them, in one
    transaction: the files' words are written again from the live, ready records (their old
    tables were ``files_fts``, then ``files_words``), every log entry is queued to be
    indexed again, ``logs.ts_max`` is recomputed, and the old tables are dropped. It runs
    again whenever an older release has run on the file since (its schema brings its tables
    back, and it writes entries without ``ts_max``), and rebuilds from the records, never
    from what the older release indexed."""
    listed = "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?, ?, ?)"
    if not conn.execute(listed, _OLD_TABLES).fetchall():
        return
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        old = {row[0] for row in conn.execute(listed, _OLD_TABLES)}
        if not old:  # another process migrated first
            return
        if old & {"files_fts", "files_words"}:
            rows = conn.execute(
                "SELECT w.seq, f.rowid, f.filename, f.tags, f.description, f.path"
                " FROM files f JOIN workspaces w ON w.id = f.workspace_id"
                " WHERE f.deleted_at IS NULL AND f.status = 'ready'").fetchall()
            conn.execute("DELETE FROM files_search")
            conn.executemany(_INSERT_FILE, [
                _file_row(index_key(seq, rowid), (name, " ".join(json.loads(tags)), text), path)
                for seq, rowid, name, tags, text, path in rows])
        if "logs_fts" in old:  # every entry indexed again by the next search's catch-up
            conn.execute("DELETE FROM logs_search")
            conn.execute("INSERT INTO log_words_state VALUES (1, 0)"
                         " ON CONFLICT (id) DO UPDATE SET indexed_seq = 0")
            conn.execute(TS_MAX_BACKFILL)  # an older release wrote entries without it
        for table in sorted(old):
            conn.execute(f"DROP TABLE {table}")
