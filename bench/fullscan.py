"""Full scans: what each benchmark query costs without an index, on the same database.

Each scan reads every row of the workspace from the server's own SQLite file (read-only,
while the server runs) and applies the query's rule in Python: the filters, the search
rule of ``shared.text_index`` and its ranking. This is the baseline a query's median is
compared with at the largest size ("at least 20x faster than a full scan"); it is also
roughly what the original module did for every request.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from bench.workload import QuerySpec
from shared import text_index


def _files(conn: sqlite3.Connection, ws: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM files WHERE workspace_id = ? AND deleted_at IS NULL"
                        " AND status = 'ready'", (ws,)).fetchall()
    return [{**dict(r), "tags": json.loads(r["tags"])} for r in rows]


def _logs(conn: sqlite3.Connection, ws: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM logs WHERE workspace_id = ?", (ws,)).fetchall()
    return [{**dict(r), "details": json.loads(r["details"])} for r in rows]


def _flatten(value: object) -> list[str]:
    if isinstance(value, dict):
        return [p for item in value.values() for p in _flatten(item)]
    if isinstance(value, list):
        return [p for item in value for p in _flatten(item)]
    return [] if value is None or isinstance(value, bool) else [str(value)]


def _log_words(row: dict[str, Any]) -> list[str]:
    return [row["operation_type"], row["resource_type"], row["resource_id"] or "",
            row["agent_id"] or "", row["task_id"] or "", *_flatten(row["details"])]


def _search_files(conn: sqlite3.Connection, ws: str, words: list[str]) -> int:
    ranked = []
    for row in _files(conn, ws):
        score = text_index.rank(words, [(row["filename"], 3.0), (" ".join(row["tags"]), 2.0),
                                        (row["description"], 1.0)])
        if score is not None:
            ranked.append((-score, row["number"]))
    ranked.sort()
    return len(ranked)


def _search_logs(conn: sqlite3.Connection, ws: str, words: list[str]) -> int:
    hits = [r for r in _logs(conn, ws)
            if text_index.rank(words, [(text_index.index_text(_log_words(r)), 1.0)]) is not None]
    hits.sort(key=lambda r: (r["ts"], r["id"]), reverse=True)
    return len(hits)


def scan(conn: sqlite3.Connection, ws: str, spec: QuerySpec) -> int:
    """Answer ``spec`` by reading every row; returns the number of matches."""
    params = dict(spec.params)
    if spec.path == "/files":
        rows = [r for r in _files(conn, ws)
                if ("file_type" not in params or r["file_type"] == params["file_type"])
                and ("tags" not in params or params["tags"] in r["tags"])]
        rows.sort(key=lambda r: r["number"])
        return len(rows)
    if spec.path == "/files/search":
        return _search_files(conn, ws, text_index.query_words(params["query"]))
    if spec.path == "/logs":
        words = text_index.query_words(params.get("q", ""))
        rows = [r for r in _logs(conn, ws)
                if all(r[k] == v for k, v in params.items() if k != "q")
                and (not words or text_index.matches(words, _log_words(r)))]
        rows.sort(key=lambda r: (r["ts"], r["id"]), reverse=True)
        return len(rows)
    words = text_index.query_words(params["query"])  # combined: files, memory, logs
    memory = conn.execute("SELECT content FROM memory WHERE workspace_id = ?", (ws,)).fetchone()
    lines = (memory[0] if memory else "").splitlines()
    found = sum(1 for line in lines if text_index.matches(words, [line]))
    return _search_files(conn, ws, words) + _search_logs(conn, ws, words) + found


def workspace_id(conn: sqlite3.Connection, user: str) -> str:
    """The workspace id of ``user``."""
    return conn.execute("SELECT id FROM workspaces WHERE user_id = ?", (user,)).fetchone()[0]
