"""The embedded metadata backend: SQLite (WAL, FTS5), one module per role.

``store`` composes ``files``, ``logs``, ``memory`` and ``docs`` over ``connection``;
``schema`` holds the tables and row mapping.
"""

from shared.metadata.sqlite.store import SqliteMetadataStore

__all__ = ["SqliteMetadataStore"]
