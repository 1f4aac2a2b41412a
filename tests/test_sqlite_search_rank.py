"""SQLite ranks search in SQL (``shared.metadata.sqlite.words``); these tests hold it to the
Python rule every backend shares (``ranking.rank_record``, ``text_index.rank``) over a
seeded random corpus: the same hits, in the same order, with the exact total. They also
check that the word index follows edits, moves, deletes and restores, and that a database
written with the old one-column ``files_fts`` is migrated.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from shared import text_index
from shared.folderpaths import FolderMove, new_move_id
from shared.metadata.ranking import log_search_text, newest_first, rank_record
from shared.metadata.sqlite import SqliteMetadataStore, connection, ranked
from shared.metadata.sqlite.schema import DB_NAME
from shared.metadata.sqlite.words import ROW_MASK, session_of_folder, session_of_path
from shared.models import FileEdit, FileQuery, LogQuery
from shared.queries import session_folder
from tests.metadata_helpers import entry, put

WORDS = ("report", "reports", "rep", "budget", "budgetary", "plan", "plans", "alpha",
         "alphabet", "café", "cafe", "naïve", "数据", "数", "报告", "x1", "x10", "zeta")
KINDS = ("document", "image", "audio")
EVERY_FILE = FileQuery(limit=10_000)  # the whole corpus in one page
QUERIES = ("rep", "report", "budget", "plan rep", "alpha plan", "café", "cafe", "数据",
           "数", "x1", "reports budgetary", "nothing", "ZETA", "na")


def _text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[SqliteMetadataStore, str, list]:
    rng = random.Random(20261204)
    store = SqliteMetadataStore(tmp_path)
    ws = store.get_or_create_workspace("ranker").id
    other = store.get_or_create_workspace("someone-else").id
    records = []
    for i in range(160):
        name = f"{rng.choice(WORDS)}-{i}.txt".replace(" ", "")
        folder = rng.choice(("/a/", "/b/", "/a/deep/", "/sessions/s1/", "/sessions/s1/deep/",
                             "/sessions/s1-b/", "/sessions/s2/"))
        tags = tuple(sorted({rng.choice(WORDS) for _ in range(rng.randint(0, 3))}))
        records.append(put(store, ws, folder + name, rng.choice(KINDS), tags=tags,
                           description=_text(rng, 0, 6)))
        put(store, other, f"/o/{name}", description=_text(rng, 1, 4))  # never seen by ws
    return store, ws, records


def _python_rule(store: SqliteMetadataStore, ws: str, query: str, file_type: str | None,
                 prefix: str | None) -> list[tuple[float, int, str]]:
    qwords = text_index.query_words(query)
    live = store.list_files(ws, EVERY_FILE).items
    scored = [(rank_record(qwords, r), r.number, r.id) for r in live
              if r.status == "ready" and (not file_type or r.file_type == file_type)
              and (not prefix or r.path.startswith(prefix))]
    return sorted(((s, n, i) for s, n, i in scored if s is not None),
                  key=lambda hit: (-hit[0], hit[1]))


def _check(store: SqliteMetadataStore, ws: str, query: str, file_type: str | None = None,
           prefix: str | None = None, limit: int = 7) -> None:
    want = _python_rule(store, ws, query, file_type, prefix)
    got = store.count_search_files(ws, query, file_type, limit, prefix)
    assert got.total == len(want), query
    assert got.total_is_lower_bound is False
    assert [r.id for r in got.items] == [i for _, _, i in want[:limit]], query


FOLDERS = ("/a/", "/sessions/s1/", "/sessions/s2/", "/sessions/")


@pytest.mark.parametrize("query", QUERIES)
def test_sql_ranking_equals_the_shared_rule(corpus, query: str) -> None:
    store, ws, _ = corpus
    assert len(store.list_files(ws, EVERY_FILE).items) == 160
    _check(store, ws, query)
    _check(store, ws, query, limit=200)
    _check(store, ws, query, file_type="image")
    for folder in FOLDERS:
        _check(store, ws, query, prefix=folder)


def test_some_query_has_ties_and_prefix_hits(corpus) -> None:
    """The corpus exercises what the ranking decides: equal scores, prefix-only hits."""
    store, ws, _ = corpus
    scores = [s for s, _, _ in _python_rule(store, ws, "rep", None, None)]
    assert len(set(scores)) > 2 and len(scores) > len(set(scores))


def test_the_index_follows_edits_moves_deletes_and_restores(corpus) -> None:
    store, ws, records = corpus
    first, second, third = records[:3]
    store.edit_file(ws, first.id, FileEdit(description="quixotic", tags=("zeppelin",)),
                    entry("update", first.id))
    assert [r.id for r in store.search_files(ws, "quixotic", None, 5)] == [first.id]
    assert [r.id for r in store.search_files(ws, "zeppelin", None, 5)] == [first.id]
    store.move_file(ws, second.id, "/moved/wombat.txt", "wombat.txt", None,
                    lambda before, after: entry("update", second.id))
    assert [r.id for r in store.search_files(ws, "wombat", None, 5)] == [second.id]
    store.delete_file(ws, third.id, entry("delete", third.id), 3600)
    name_word = text_index.words(third.filename)[0]
    assert third.id not in [r.id for r in store.search_files(ws, name_word, None, 500)]
    store.restore_file(ws, third.id, None, entry("restore", third.id))
    assert third.id in [r.id for r in store.search_files(ws, name_word, None, 500)]
    into = records[4]  # into a session's folder, then out of it: its scope follows
    store.move_file(ws, into.id, "/sessions/s9/kiwi.txt", "kiwi.txt", None,
                    lambda before, after: entry("update", into.id))
    assert [r.id for r in store.search_files(ws, "kiwi", None, 5, "/sessions/s9/")] == [into.id]
    store.move_file(ws, into.id, "/kiwi.txt", "kiwi.txt", None,
                    lambda before, after: entry("update", into.id))
    assert store.search_files(ws, "kiwi", None, 5, "/sessions/s9/") == []
    fourth = records[3]  # a rescan finds malware: the file is no longer searchable
    before = store.count_search_files(ws, text_index.words(fourth.filename)[0], None, 500)
    assert store.record_rescan(ws, fourth, {"verdict": "infected", "db_version": 2},
                               entry("scan", fourth.id)) is not None
    after = store.count_search_files(ws, text_index.words(fourth.filename)[0], None, 500)
    assert fourth.id in [r.id for r in before.items]
    assert fourth.id not in [r.id for r in after.items] and after.total == before.total - 1
    for query in QUERIES:
        _check(store, ws, query)


@pytest.fixture
def levels_always(monkeypatch) -> None:
    """Serve every search the levels can by them (at any number of matches)."""
    monkeypatch.setattr(ranked, "LEVELS_FROM_MATCHES", 0)


@pytest.mark.parametrize("query", QUERIES)
def test_level_ranking_equals_the_shared_rule(corpus, levels_always, query: str) -> None:
    store, ws, _ = corpus
    _check(store, ws, query)
    _check(store, ws, query, limit=200)
    _check(store, ws, query, file_type="image")
    for folder in FOLDERS:
        _check(store, ws, query, prefix=folder)


def test_many_matches_are_served_by_score_level(corpus, levels_always, monkeypatch) -> None:
    """Without a filter the index lacks, no match is scored in SQL (the cost that grew with
    the matches, ``sqlite.ranked``) but those with a name or tag hit."""
    store, ws, _ = corpus

    def refuse(*_args: object) -> None:
        raise AssertionError("ranked in SQL")

    monkeypatch.setattr(store, "_files_ranked_in_sql", refuse)
    for query in QUERIES:
        if len(text_index.query_words(query)) <= ranked.FAST_MAX_WORDS:
            _check(store, ws, query)
            _check(store, ws, query, limit=200)
            _check(store, ws, query, prefix="/sessions/s1/")  # a session's folder
    with pytest.raises(AssertionError, match="ranked in SQL"):
        store.count_search_files(ws, "rep", "image", 5)
    with pytest.raises(AssertionError, match="ranked in SQL"):
        store.count_search_files(ws, "rep", None, 5, "/a/")  # a folder the index lacks
    with pytest.raises(AssertionError, match="ranked in SQL"):
        store.count_search_files(ws, "rep plan alpha budget", None, 5)


@pytest.mark.parametrize("by_level", [True, False])
def test_log_ranking_equals_the_shared_rule(tmp_path: Path, monkeypatch, by_level) -> None:
    if by_level:
        monkeypatch.setattr(ranked, "LEVELS_FROM_MATCHES", 0)
    rng = random.Random(7)
    store = SqliteMetadataStore(tmp_path)
    in_sql_calls: list[object] = []
    in_sql = store._logs_ranked_in_sql
    monkeypatch.setattr(store, "_logs_ranked_in_sql",
                        lambda *args: in_sql_calls.append(args) or in_sql(*args))
    ws = store.get_or_create_workspace("logger").id
    for i in range(150):  # timestamps out of commit order, some equal: as racing writers
        store.append_log(ws, entry("read", f"file_{i:04d}", agent=rng.choice(("a1", "a2")),
                                   details={"note": _text(rng, 1, 5)},
                                   ts=f"2026-06-01T00:{i // 3 + rng.randint(0, 9):02d}:00Z",
                                   session=rng.choice((None, "s1"))))
    everything = store.list_logs(ws, LogQuery(limit=1000)).items
    assert len(everything) == 150
    for query in ("rep", "report plan", "数", "a1 budget", "file_0042", "nothing", "read",
                  "rep plan alpha budget"):
        qwords = text_index.query_words(query)
        for session in (None, "s1"):
            pool = [e for e in everything if session is None or e.session_id == session]
            scored = [(text_index.rank(qwords, [(log_search_text(e), 1.0)]), e) for e in pool]
            want = sorted(((s, e) for s, e in scored if s is not None),
                          key=lambda pair: (-pair[0], newest_first(pair[1])))
            got = store.count_search_logs(ws, query, 9, session)
            assert got.total == len(want) and not got.total_is_lower_bound, query
            assert [e.id for e in got.items] == [e.id for _, e in want[:9]], query
    # By level, only more than FAST_MAX_WORDS words needs the SQL ranking (a session is a
    # term of the index); with the default threshold, these few matches are all in SQL.
    assert len(in_sql_calls) == (2 if by_level else 16)


def _old_layout(tmp_path: Path, files_table: str) -> None:
    """Rewrite a database as an older release left it: the files' words in ``files_table``
    under ``files.rowid``, the log words in ``logs_fts`` under ``logs.seq``, no ``ts_max``."""
    conn = sqlite3.connect(tmp_path / DB_NAME)
    columns = "text" if files_table == "files_fts" else "name, tags, description"
    conn.executescript(
        f"CREATE VIRTUAL TABLE {files_table} USING fts5({columns});"
        "CREATE VIRTUAL TABLE logs_fts USING fts5(text);"
        f"INSERT INTO logs_fts (rowid, text) SELECT rowid & {ROW_MASK}, text FROM logs_search;"
        "DROP TABLE files_search; DROP TABLE logs_search; ALTER TABLE logs DROP COLUMN ts_max;")
    conn.close()


@pytest.mark.parametrize("files_table", ["files_fts", "files_words"])
def test_a_database_with_an_old_word_index_is_migrated(tmp_path: Path, files_table) -> None:
    store = SqliteMetadataStore(tmp_path)
    ws = store.get_or_create_workspace("old").id
    other = store.get_or_create_workspace("other").id
    kept = put(store, ws, "/quarterly.txt", tags=("finance",), description="numbers")
    put(store, other, "/quarterly.txt", description="not ws's")
    gone = put(store, ws, "/quarterly-old.txt")
    store.delete_file(ws, gone.id, entry("delete", gone.id), 3600)
    times = ["2099-01-01T00:00:03Z", "2099-01-01T00:00:01Z", "2099-01-01T00:00:02Z"]
    for i, ts in enumerate(times):  # committed out of ts order, as racing writers do
        store.append_log(ws, replace(entry("read", f"file_{i}", details={"word": "olden"}),
                                     timestamp=ts))
    store._log_words_current()
    _old_layout(tmp_path, files_table)
    reopened = SqliteMetadataStore(tmp_path)
    assert [r.id for r in reopened.search_files(ws, "quarterly", None, 5)] == [kept.id]
    hits = reopened.count_search_files(ws, "finance numbers", None, 5)
    assert [r.id for r in hits.items] == [kept.id] and hits.total == 1
    logs = reopened.count_search_logs(ws, "olden", 2)
    assert [e.timestamp for e in logs.items] == sorted(times, reverse=True)[:2]
    assert logs.total == 3
    assert [row[0] for row in reopened._read("SELECT ts_max FROM logs ORDER BY seq")][-3:] == [
        times[0]] * 3  # the running latest ts, backfilled
    tables = {row[0] for row in sqlite3.connect(tmp_path / DB_NAME).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not {"files_fts", "files_words", "logs_fts"} & tables
    assert {"files_search", "logs_search"} <= tables


def test_log_words_are_indexed_in_batches_and_every_search_sees_every_entry(tmp_path) -> None:
    """Entries' words go into FTS5 in batches of ``LOG_WORDS_BATCH`` (one segment per batch,
    not per write); a search first indexes the unfinished batch, so it misses none."""
    store = SqliteMetadataStore(tmp_path)
    ws = store.get_or_create_workspace("batches").id
    batch = connection.LOG_WORDS_BATCH
    for i in range(batch + 6):
        store.append_log(ws, entry("read", f"file_{i:04d}", details={"word": f"w{i}"}))
    indexed = store._read("SELECT COUNT(*) FROM logs_search")[0][0]
    assert indexed == batch  # the 6 entries after the batch wait for the next one
    last = f"w{batch + 5}"
    assert [e.details["word"] for e in store.search_logs(ws, last, 5)] == [last]
    assert store._read("SELECT COUNT(*) FROM logs_search")[0][0] == batch + 6
    store.append_log(ws, entry("read", "file_x", details={"word": "fresh"}))
    page = store.list_logs(ws, LogQuery(text="fresh"))  # /logs?q= catches up too
    assert [e.details["word"] for e in page.items] == ["fresh"]
    assert store.count_search_logs(ws, "w", 500).total == batch + 6


def test_a_database_whose_log_words_were_written_one_by_one_is_migrated(tmp_path) -> None:
    store = SqliteMetadataStore(tmp_path)
    ws = store.get_or_create_workspace("old-logs").id
    for i in range(3):
        store.append_log(ws, entry("read", f"file_{i}", details={"word": f"old{i}"}))
    store._log_words_current()
    conn = sqlite3.connect(tmp_path / DB_NAME)  # as the release before batches left it
    conn.executescript("DROP TABLE log_words_state;")
    conn.close()
    reopened = SqliteMetadataStore(tmp_path)
    assert reopened._read("SELECT indexed_seq FROM log_words_state")[0][0] == 3
    reopened.append_log(ws, entry("read", "file_new", details={"word": "new"}))
    assert [e.details["word"] for e in reopened.search_logs(ws, "old1", 5)] == ["old1"]
    assert [e.details["word"] for e in reopened.search_logs(ws, "new", 5)] == ["new"]
    assert reopened._read("SELECT COUNT(*) FROM logs_search")[0][0] == 4  # none twice


def test_a_path_is_in_a_session_exactly_when_it_is_under_the_sessions_folder() -> None:
    """The ``scope`` term and ``queries.session_folder`` agree on every path and session."""
    sessions = ("s1", "s1-b", "s_2", "x")
    paths = ("/sessions/s1/a.txt", "/sessions/s1/deep/a.txt", "/sessions/s1-b/a.txt",
             "/sessions/s1", "/sessions//a.txt", "/sessions/a.txt", "/sessionsx/s1/a.txt",
             "/a/sessions/s1/b.txt", "/sessions/s_2/x/y/z.txt", "/sessions/x/")
    for path in paths:
        for session in sessions:
            folder = session_folder(session)
            assert folder is not None and session_of_folder(folder) == session
            assert path.startswith(folder) == (session_of_path(path) == session), (path, session)
    for prefix in ("/a/", "/sessions/", "/sessions/s1/deep/", "/sessions/s1", "/"):
        assert session_of_folder(prefix) is None, prefix


def _move(ws: str, source: str, target: str) -> FolderMove:
    now = "2026-12-05T00:00:00Z"
    return FolderMove(new_move_id(), ws, source, target, "claiming", now, now)


def test_moves_carry_a_file_into_and_out_of_its_sessions_search(tmp_path, levels_always) -> None:
    """A file's index entry names its session's folder: a move that keeps the name, and a
    folder move, take it into or out of that session's searches (served by the index)."""
    store = SqliteMetadataStore(tmp_path)
    ws = store.get_or_create_workspace("mover").id
    moved, kept = (put(store, ws, f"/sessions/s9/{n}.txt", description="zebra") for n in "ab")
    folder = put(store, ws, "/inbox/c.txt", description="zebra")

    def in_session(session: str) -> tuple[list[str], int]:
        hits = store.count_search_files(ws, "zebra", None, 10, f"/sessions/{session}/")
        return sorted(r.id for r in hits.items), hits.total

    assert in_session("s9") == (sorted([moved.id, kept.id]), 2)
    store.move_file(ws, moved.id, "/elsewhere/a.txt", "a.txt", None,
                    lambda before, after: entry("update", moved.id))
    assert in_session("s9") == ([kept.id], 1)
    store.start_folder_move(_move(ws, "/sessions/s9/", "/archive/"),
                            lambda before, after: entry("update", before.id), 10.0)
    assert in_session("s9") == ([], 0)
    store.start_folder_move(_move(ws, "/inbox/", "/sessions/s7/"),
                            lambda before, after: entry("update", before.id), 10.0)
    assert in_session("s7") == ([folder.id], 1)


def test_an_older_release_running_again_loses_no_log_word(tmp_path, levels_always) -> None:
    """An older release brings its tables back and writes entries without ``ts_max``; the
    next open indexes every entry again from the log itself and recomputes ``ts_max``."""
    store = SqliteMetadataStore(tmp_path)
    ws = store.get_or_create_workspace("rollback").id
    for i in range(5):
        store.append_log(ws, entry("read", f"file_{i}", details={"word": "durable"}))
    assert store.count_search_logs(ws, "durable", 10).total == 5
    conn = sqlite3.connect(tmp_path / DB_NAME)  # the older release: its tables, its writes
    conn.executescript(
        "CREATE VIRTUAL TABLE logs_fts USING fts5(text);"
        "CREATE VIRTUAL TABLE files_words USING fts5(name, tags, description);"
        "UPDATE logs SET ts_max = '' WHERE seq = (SELECT MAX(seq) FROM logs);"
        "INSERT INTO workspaces (id, user_id, created_at, updated_at)"  # no seq
        " VALUES ('ws_older', 'older-user', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');")
    conn.close()
    reopened = SqliteMetadataStore(tmp_path)
    assert reopened.count_search_logs(ws, "durable", 10).total == 5
    maxima = [row[0] for row in reopened._read("SELECT ts_max FROM logs ORDER BY seq")]
    assert "" not in maxima and maxima == sorted(maxima)
    keys = [row[0] for row in reopened._read("SELECT seq FROM workspaces")]
    assert None not in keys and len(set(keys)) == len(keys) == 2
    put(reopened, "ws_older", "/x.txt", description="fresh")
    assert reopened.count_search_files("ws_older", "fresh", None, 5).total == 1
    assert reopened.count_search_files(ws, "fresh", None, 5).total == 0
