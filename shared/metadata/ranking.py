"""What search matches on, the same on every backend: the fields of a record
(``FILE_FIELDS``, ``file_fields``) and the words of a log entry (``log_search_text``), and how
hits are ranked (``rank_record``, ``newest_first``). SQLite indexes these words with FTS5
and scores them in SQL by the same rule (``shared.metadata.sqlite.words``); Firestore stores
token arrays and ranks its candidates with these functions.
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


# The fields a file is found by, with the weight of a hit in each: the name weighs most.
# ``rank_record`` scores with them here; SQLite computes the same score in SQL from one FTS5
# column per field (``shared.metadata.sqlite.words``).
FILE_FIELDS: tuple[tuple[str, int], ...] = (("name", 3), ("tags", 2), ("description", 1))


def file_fields(draft_or_record: FileDraft | FileRecord) -> tuple[str, str, str]:
    """The text of each of ``FILE_FIELDS``, in that order."""
    return (draft_or_record.filename, " ".join(draft_or_record.tags),
            draft_or_record.description)


def rank_record(qwords: list[str], record: FileRecord) -> float | None:
    """A record's score for the query words (None: no match); the name weighs most.

    Per query word and field: twice the field's weight for a whole-word hit, the weight for
    a prefix hit; a word that hits no field rules the record out."""
    return text_index.rank(
        qwords, [(text, float(weight)) for text, (_, weight)
                 in zip(file_fields(record), FILE_FIELDS, strict=True)])
