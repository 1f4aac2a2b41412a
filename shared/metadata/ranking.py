"""What search matches on, the same on every backend: the words of a record and of a log
entry (``search_text``, ``log_search_text``), and how hits are ranked (``rank_record``,
``newest_first``). SQLite indexes these words with FTS5, Firestore as token arrays.
"""

from __future__ import annotations

from shared import text_index
from shared.models import FileDraft, FileRecord, LogEntry


def _flatten(value: object) -> list[str]:
    if isinstance(value, dict):
        return [part for item in value.values() for part in _flatten(item)]
    if isinstance(value, list | tuple):
        return [part for item in value for part in _flatten(item)]
    if value is None or isinstance(value, bool):
        return []
    return [str(value)]


def log_search_text(entry: LogEntry) -> str:
    """The words a log entry is found by: details, ids, agent, task and operation."""
    parts = [entry.operation_type, entry.resource_type, entry.resource_id or "",
             entry.agent_id or "", entry.task_id or "", *_flatten(entry.details)]
    return text_index.index_text(parts)


def newest_first(entry: LogEntry) -> tuple[int, ...]:
    """A sort key that puts later entries first (ties of rank)."""
    return tuple(-ord(c) for c in entry.timestamp + entry.id)


def rank_record(qwords: list[str], record: FileRecord) -> float | None:
    """A record's score for the query words (None: no match); the name weighs most."""
    return text_index.rank(
        qwords,
        [(record.filename, 3.0), (" ".join(record.tags), 2.0), (record.description, 1.0)],
    )


def search_text(draft_or_record: FileDraft | FileRecord) -> str:
    """The words a record is indexed under."""
    return text_index.index_text(
        [draft_or_record.filename, draft_or_record.description, *draft_or_record.tags]
    )
