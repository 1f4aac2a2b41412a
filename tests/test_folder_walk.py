"""``walk_folder``, the one folder-listing algorithm, over an in-memory sorted path list.

Both backends hand it the same three reads (ordered path ranges, records by id, folder
totals), so its answer and its cost can be checked here for many layouts at once: pages
always add up to exactly the folder's children in order, and a page reads few paths even
when each sub-folder holds thousands of files.
"""

from __future__ import annotations

import bisect
import random

import pytest

from shared.folderpaths import folder_end
from shared.metadata.folders import walk_folder
from tests.metadata_helpers import draft


class Listing:
    """Live paths in memory, read the way the backends read them, with a read counter."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = sorted(paths)
        self.rows_read = 0

    def read(self, lo: str, inclusive: bool, hi: str, n: int) -> list[tuple[str, str]]:
        start = (bisect.bisect_left if inclusive else bisect.bisect_right)(self.paths, lo)
        rows = [p for p in self.paths[start:start + n] if p < hi]
        self.rows_read += len(rows)
        return [(p, f"id:{p}") for p in rows]

    def records(self, ids: list[str]) -> list:
        return [draft(i.removeprefix("id:")) for i in ids]

    def totals(self, folders: list[str]) -> list[tuple[int, int]]:
        return [(bisect.bisect_left(self.paths, folder_end(f))
                 - bisect.bisect_left(self.paths, f), 0) for f in folders]

    def pages(self, prefix: str, limit: int) -> list[list[str]]:
        out, after = [], None
        while True:
            page = walk_folder(prefix, after, limit, self.read, self.records, self.totals)
            out.append(sorted([f.path for f in page.folders] + [r.path for r in page.files]))
            if page.next_after is None:
                return out
            after = page.next_after

    def expected(self, prefix: str) -> list[str]:
        children = []
        for path in self.paths:
            if not path.startswith(prefix):
                continue
            cut = path.find("/", len(prefix))
            child = path if cut == -1 else path[: cut + 1]
            if not children or children[-1] != child:
                children.append(child)
        return children


def random_layout(rng: random.Random) -> list[str]:
    names = ["a", "b", "b.txt", "b-c", "é", "中", "z", "m0", "m1", "a b"]
    paths = set()
    for _ in range(rng.randint(0, 120)):
        depth = rng.randint(1, 4)
        paths.add("/" + "/".join(rng.choice(names) for _ in range(depth)) + ".f")
        if rng.random() < 0.2:
            paths.add("/" + "/".join(rng.choice(names) for _ in range(depth)))
    return list(paths)  # a file may share its name with a folder: both are children


@pytest.mark.parametrize("seed", range(40))
def test_pages_add_up_to_the_children_in_order(seed):
    rng = random.Random(seed)
    listing = Listing(random_layout(rng))
    for prefix in ("/", "/a/", "/b/", "/中/", "/nothing/"):
        for limit in (1, 2, 3, 7, 100):
            pages = listing.pages(prefix, limit)
            assert [c for page in pages for c in page] == listing.expected(prefix)
            assert all(len(page) <= limit for page in pages)
            assert all(pages[:-1]), "only the last page may be empty"


def test_a_page_reads_few_paths_when_sub_folders_are_big():
    big = [f"/root/d{d:03d}/f{i:05d}" for d in range(150) for i in range(2000)]
    listing = Listing(big + [f"/root/file{i:03d}" for i in range(50)])
    page = walk_folder("/root/", None, 100, listing.read, listing.records, listing.totals)
    assert len(page.folders) == 100 and page.folders[0].file_count == 2000
    assert listing.rows_read < 10 * 100  # not the 200,000 paths the folders hold


def test_a_page_of_many_small_folders_takes_few_reads():
    listing = Listing([f"/d{d:04d}/x" for d in range(1000)])
    calls = []
    original = listing.read

    def counted(*args):
        calls.append(args)
        return original(*args)

    page = walk_folder("/", None, 200, counted, listing.records, listing.totals)
    assert len(page.folders) == 200 and page.next_after == ("d0199", True)
    assert len(calls) <= 6  # chunks grow while each row is a new child
