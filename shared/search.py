"""``SearchService``: one query over files, memory and logs (``GET /search``).

Files and logs use the stores' ranked search; memory is searched line by line with the
same word-prefix rule (``shared.text_index``), returning a snippet, its surrounding lines and
the line number. ``limit`` applies to each type; ``summary`` counts all matches found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared import text_index
from shared import validation as v
from shared.context import RequestContext
from shared.errors import BadRequest
from shared.queries import Args, SearchQuery, session_folder

if TYPE_CHECKING:  # the store's base loads the models; the search function's routes need
    from shared.metadata.base import MetadataStore  # only TYPE_SCOPES (a cold start)

TYPES = ("files", "memory", "logs")
TYPE_SCOPES = {"files": "files:read", "memory": "memory:read", "logs": "logs:read"}
SNIPPET_CHARS = 240
CONTEXT_LINES = 1


def scopes_for(args: Args) -> tuple[str, ...]:
    """The API-key scopes a search needs: the read scope of each type it covers (all three
    when ``types`` is absent). Unknown types need nothing here; the search answers 400."""
    wanted = args.getlist("types") or list(TYPES)
    return tuple(dict.fromkeys(TYPE_SCOPES[t] for t in wanted if t in TYPE_SCOPES))


def _snippet(line: str, qwords: list[str]) -> str:
    if len(line) <= SNIPPET_CHARS:
        return line.strip()
    lower = line.lower()
    hit = min((i for i in (lower.find(q) for q in qwords) if i >= 0), default=0)
    start = max(0, hit - SNIPPET_CHARS // 3)
    end = start + SNIPPET_CHARS
    return ("..." if start else "") + line[start:end].strip() + ("..." if end < len(line) else "")


def memory_matches(content: str, qwords: list[str]) -> list[dict[str, Any]]:
    """Every memory line matching all query words, best first."""
    lines = content.splitlines()
    found = []
    for index, line in enumerate(lines):
        score = text_index.rank(qwords, [(line, 1.0)]) if line.strip() else None
        if score is not None:
            lo, hi = max(0, index - CONTEXT_LINES), min(len(lines), index + CONTEXT_LINES + 1)
            found.append((score, index, {
                "snippet": _snippet(line, qwords),
                "context": "\n".join(lines[lo:hi]),
                "line_number": index + 1,
            }))
    found.sort(key=lambda item: (-item[0], item[1]))
    return [match for _, _, match in found]


class SearchService:
    """Combined search for one deployment's metadata store."""

    def __init__(self, meta: MetadataStore) -> None:
        self.meta = meta

    def search(self, ctx: RequestContext, query: SearchQuery) -> dict[str, Any]:
        """The spec's response: results per type and a summary of match counts.

        Files and logs are limited to the query's session; memory is the workspace's one
        shared memory, so it has no session."""
        text, limit = v.check_query(query.text), query.limit
        wanted = list(query.types) or list(TYPES)
        unknown = sorted(set(wanted) - set(TYPES))
        if unknown:
            raise BadRequest(f"types must be among: {', '.join(TYPES)}")
        qwords = text_index.query_words(text)
        if not qwords:
            raise BadRequest("query has no searchable words")
        ws = self.meta.get_or_create_workspace(ctx.user_id)
        results: dict[str, Any] = {}
        summary: dict[str, Any] = {}
        lower_bound = False
        if "files" in wanted:
            files = self.meta.count_search_files(ws.id, text, None, limit,
                                                 session_folder(query.session_id))
            results["files"] = [r.to_search_hit() for r in files.items]
            summary["files_count"] = files.total
            lower_bound = lower_bound or files.total_is_lower_bound
        if "memory" in wanted:
            matches = memory_matches(self.meta.get_memory(ws.id).content, qwords)
            results["memory"] = {"matches": matches[:limit]}
            summary["memory_matches"] = len(matches)
        if "logs" in wanted:
            logs = self.meta.count_search_logs(ws.id, text, limit, query.session_id)
            results["logs"] = [e.to_api() for e in logs.items]
            summary["logs_count"] = logs.total
            lower_bound = lower_bound or logs.total_is_lower_bound
        # A count is exact unless this says otherwise (more candidates than are looked at).
        summary["total_is_lower_bound"] = lower_bound
        return {"query": text, "results": results, "summary": summary, "limit": limit}
