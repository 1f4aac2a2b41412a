"""Search latency at 10,000 files and 10,000 log entries, against a plain full scan.

Seeds one workspace through the real SQLite store primitives, then times ranked search
(FTS5 candidates + shared ranking) and the baseline: reading every row and matching each
in Python, the way the original module searched its JSON index. Both run in this process
on the same data, so the ratio is what matters.

    .venv/bin/python -m bench.search_latency [--files 10000 --logs 10000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time

from shared import text_index
from shared.metadata.base import log_search_text, new_log_id
from shared.metadata.sqlite import SqliteMetadataStore
from shared.models import BlobFacts, FileDraft, FileQuery, Finalization, LogEntry, LogQuery
from shared.timeutil import utcnow

WORDS = [
    "storyboard",
    "frame",
    "scene",
    "budget",
    "report",
    "draft",
    "render",
    "audio",
    "voice",
    "script",
    "camera",
    "light",
    "actor",
    "edit",
    "color",
    "grade",
    "sound",
    "music",
    "title",
    "credit",
    "teaser",
    "trailer",
    "poster",
]
QUERIES = [
    "storyboard",
    "frame sce",
    "budget",
    "tea",
    "render light",
    "zzz",
    "poster actor",
    "agent_7",
    "voice",
    "music title",
]


def seed(store: SqliteMetadataStore, files: int, logs: int) -> str:
    ws = store.get_or_create_workspace("bench-user").id
    rng = random.Random(7)
    for index in range(files):
        words = rng.sample(WORDS, 4)
        draft = FileDraft(
            filename=f"{words[0]}_{index}.png",
            path=f"/f/{index}.png",
            session_id=None,
            description=" ".join(words[1:]),
            tags=(words[2],),
            created_by=None,
            metadata={},
        )
        reservation = store.reserve_file(ws, draft, overwrite=False)
        facts = BlobFacts(10, "0" * 64, "image/png", "image")
        entry = LogEntry(
            new_log_id(),
            utcnow(),
            "create",
            "file",
            reservation.file_id,
            {"filename": draft.filename, "description": draft.description},
            f"agent_{index % 10}",
            None,
        )
        done = Finalization(draft, reservation, f"{ws}/k{index}", "local://x", facts)
        store.finalize_file(ws, done, entry, 0)
    for index in range(max(0, logs - files)):
        store.append_log(
            ws,
            LogEntry(
                new_log_id(),
                utcnow(),
                "read",
                "file",
                f"file_{index:06d}",
                {"note": " ".join(rng.sample(WORDS, 3))},
                f"agent_{index % 10}",
                f"task_{index % 50}",
            ),
        )
    return ws


def full_scan_files(store: SqliteMetadataStore, ws: str, query: str) -> int:
    qwords = text_index.query_words(query)
    page, hits, cursor = None, 0, None
    while True:
        page = store.list_files(ws, FileQuery(limit=1000, cursor=cursor))
        hits += sum(1 for r in page.items
                    if text_index.matches(qwords, [r.filename, r.description, *r.tags]))
        cursor = page.next_cursor
        if not cursor:
            return hits


def full_scan_logs(store: SqliteMetadataStore, ws: str, query: str) -> int:
    qwords = text_index.query_words(query)
    hits, cursor = 0, None
    while True:
        page = store.list_logs(ws, LogQuery(limit=1000, cursor=cursor))
        hits += sum(1 for e in page.items if text_index.matches(qwords, [log_search_text(e)]))
        cursor = page.next_cursor
        if not cursor:
            return hits


def timed(fn, repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--logs", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        store = SqliteMetadataStore(tmp)
        start = time.perf_counter()
        ws = seed(store, args.files, args.logs)
        print(
            f"seeded {store.count_files(ws, FileQuery())} files and {store.count_logs(ws)} "
            f"log entries in {time.perf_counter() - start:.1f} s"
        )
        rows = []
        for query in QUERIES:
            indexed_f = timed(lambda q=query: store.search_files(ws, q, None, 10))
            scan_f = timed(lambda q=query: full_scan_files(store, ws, q), repeats=3)
            indexed_l = timed(lambda q=query: store.search_logs(ws, q, 10))
            scan_l = timed(lambda q=query: full_scan_logs(store, ws, q), repeats=3)
            rows.append((query, indexed_f, scan_f, indexed_l, scan_l))
            print(
                f"{query!r:16} files {indexed_f * 1000:7.2f} ms vs scan {scan_f * 1000:7.1f} ms"
                f" ({indexed_f / scan_f:5.3f}x) | logs {indexed_l * 1000:7.2f} ms vs scan "
                f"{scan_l * 1000:7.1f} ms ({indexed_l / scan_l:5.3f}x)"
            )
        med = lambda i: statistics.median(r[i] for r in rows)  # noqa: E731
        print(
            f"median: files {med(1) * 1000:.2f} ms vs full scan {med(2) * 1000:.1f} ms "
            f"= {med(1) / med(2):.3f}x; logs {med(3) * 1000:.2f} ms vs full scan "
            f"{med(4) * 1000:.1f} ms = {med(3) / med(4):.3f}x"
        )


if __name__ == "__main__":
    main()
