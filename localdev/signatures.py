"""The project's test signature database as a versioned ClamAV container: ``write_test_db``.

ClamAV's CDN is unreachable here, and a plain ``.ndb`` carries no version, so clamd's
``VERSION`` would name no database and a rescan after a signature update would have nothing
to compare. An unsigned CVD container (``.cud``: a 512-byte ``ClamAV-VDB:`` header, then a
gzipped tar of a ``.info`` index and the signature files) does carry one, and clamd loads it
without ClamAV's signing key. Named ``daily.cud``, its version is what ``VERSION`` reports
(``ClamAV 1.4.6/7/...``), and a new version is picked up by ``RELOAD``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import time
from pathlib import Path

TEST_DB_NAME = "daily.cud"
FUNCTIONALITY_LEVEL = 90  # older than any engine that reads .cud files


def ndb_line(name: str, pattern: bytes) -> str:
    """A body signature matching ``pattern`` anywhere (``Name:0:*:hex``)."""
    return f"{name}:0:*:{pattern.hex()}"


def write_test_db(db_dir: Path, base: Path, version: int, extra: list[str]) -> Path:
    """Write ``daily.cud`` version ``version`` with ``base``'s signatures and ``extra``."""
    ndb = base.read_bytes().rstrip(b"\n") + b"\n"
    ndb += "".join(f"{line}\n" for line in extra).encode()
    stamp = int(time.time())
    sigs = sum(1 for line in ndb.splitlines() if line.strip())
    when = time.strftime("%d %b %Y %H-%M +0000", time.gmtime(stamp))
    header = f"ClamAV-VDB:{when}:{version}:{sigs}:{FUNCTIONALITY_LEVEL}:X:X:workspace:{stamp}"
    info = f"{header}\nworkspace.ndb:{len(ndb)}:{hashlib.sha256(ndb).hexdigest()}\n".encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("daily.info", info), ("workspace.ndb", ndb)):
            member = tarfile.TarInfo(name)
            member.size, member.mtime = len(data), stamp
            tar.addfile(member, io.BytesIO(data))
    target = db_dir / TEST_DB_NAME
    partial = target.with_suffix(".part")
    partial.write_bytes(header.encode().ljust(512, b" ") + gzip.compress(archive.getvalue()))
    partial.replace(target)  # clamd never reads half a database
    return target
