"""``SqliteKeys``: the API-key role on SQLite.

``api_keys`` holds one row per live key (a revoke deletes it); ``api_key_buckets`` one row
per rate-limited key. Every change runs in a ``BEGIN IMMEDIATE`` transaction, SQLite's write
lock across processes, so a bucket read-modify-write by two server processes serializes and
no token is spent twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from shared.errors import Conflict
from shared.metadata.keys import MAX_KEYS_PER_WORKSPACE
from shared.metadata.sqlite.connection import SqliteBase
from shared.models import ApiKey, Bucket, LogEntry

_COLUMNS = ("id, workspace_id, user_id, name, secret_hash, scopes, agent_id, created_at,"
            " expires_at, last_used_at")


def _key(row: sqlite3.Row) -> ApiKey:
    return ApiKey(row["id"], row["workspace_id"], row["user_id"], row["name"],
                  row["secret_hash"], tuple(json.loads(row["scopes"])), row["agent_id"],
                  row["created_at"], row["expires_at"], row["last_used_at"])


class SqliteKeys(SqliteBase):
    """API keys and their buckets."""

    def create_key(self, key: ApiKey, entry: LogEntry) -> bool:
        with self._write() as conn:
            held = conn.execute("SELECT COUNT(*) FROM api_keys WHERE workspace_id = ?",
                                (key.workspace_id,)).fetchone()[0]
            if held >= MAX_KEYS_PER_WORKSPACE:
                raise Conflict(f"a workspace holds at most {MAX_KEYS_PER_WORKSPACE} API keys;"
                               " revoke one first")
            cur = conn.execute(
                f"INSERT OR IGNORE INTO api_keys ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (key.id, key.workspace_id, key.user_id, key.name, key.secret_hash,
                 json.dumps(list(key.scopes)), key.agent_id, key.created_at, key.expires_at,
                 key.last_used_at))
            if cur.rowcount == 0:
                return False
            self._insert_log(conn, key.workspace_id, entry)
        return True

    def get_key(self, key_id: str) -> ApiKey | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key_id,))
        return _key(rows[0]) if rows else None

    def list_keys(self, workspace_id: str) -> list[ApiKey]:
        rows = self._read(f"SELECT {_COLUMNS} FROM api_keys WHERE workspace_id = ?"
                          " ORDER BY created_at, id", (workspace_id,))
        return [_key(r) for r in rows]

    def revoke_key(self, workspace_id: str, key_id: str, entry: LogEntry) -> ApiKey | None:
        with self._write() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?"
                               " AND workspace_id = ?", (key_id, workspace_id)).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM api_keys WHERE id = ?", (key_id,))
            conn.execute("DELETE FROM api_key_buckets WHERE key_id = ?", (key_id,))
            self._insert_log(conn, workspace_id, entry)
        return _key(row)

    def touch_key(self, key_id: str, used_at: str, stale_before: str) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE api_keys SET last_used_at = ? WHERE id = ?"
                " AND (last_used_at IS NULL OR last_used_at < ?)",
                (used_at, key_id, stale_before))
            return cur.rowcount > 0

    def take_token(self, key_id: str, take: Callable[[Bucket | None], Bucket | None]) -> bool:
        with self._write() as conn:
            row = conn.execute("SELECT tokens, at FROM api_key_buckets WHERE key_id = ?",
                               (key_id,)).fetchone()
            taken = take(Bucket(row["tokens"], row["at"]) if row else None)
            if taken is None:
                return False
            conn.execute(
                "INSERT INTO api_key_buckets VALUES (?, ?, ?) ON CONFLICT (key_id) DO UPDATE"
                " SET tokens = excluded.tokens, at = excluded.at",
                (key_id, taken.tokens, taken.at))
        return True
