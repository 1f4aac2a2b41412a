"""Oversize media inputs are refused with a 413 while memory stays bounded.

Two sides, each printing peak RSS growth against the size of what was sent:

1. HTTP, a real server process (``LocalServer``, production config, 8 MiB file cap,
   16 MiB body cap): a 256 MiB data-URI body with ``Content-Length`` (refused before it is
   read), the same body chunked (read only up to the body cap), and a 14 MiB body whose
   data URI decodes past the file cap (refused by the streaming decoder).
2. Downloads, in this process: production's config cannot open loopback, so the fetch side
   runs here with ``NetPolicy.for_tests`` against a loopback origin. A 512 MiB body without
   ``Content-Length`` is refused at the 8 MiB cap; then, with a 512 MiB cap, 64 MiB and
   256 MiB downloads succeed with the same flat memory (streaming, not buffering).

Targets (issue 6): every oversize case answers 413, and no case grows RSS by more than
64 MiB (the baseline column is the input size a buffering implementation would hold). A body
within the body cap is read as it arrives too (``bench.media_body_rss`` measures that side).

    .venv/bin/python -m bench.media_oversize
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

from bench.upload_memory import RssSampler, StreamBody
from localdev.origin import Origin, Route
from localdev.process import LocalServer
from shared.auth import mint_dev_token
from shared.config import Settings
from shared.errors import PayloadTooLarge
from shared.media import ExecutionContext, MediaService
from shared.media.fetch import Fetcher, FetchLimits
from shared.media.netpolicy import NetPolicy
from shared.scanning.disabled import DisabledScanner

SECRET = "bench-secret-0123456789-abcdefghijklmnop"
MiB = 1024 * 1024
TARGET_MIB = 64


def data_uri_body(decoded_mib: int) -> tuple[Iterator[bytes], int]:
    """A JSON media request whose data URI decodes to ``decoded_mib`` MiB, streamed."""
    head = b'{"graph_exec_id": "bench", "return_format": "for_local_processing", ' \
           b'"file": "data:application/octet-stream;base64,'
    tail = b'"}'
    block = b"QUJD" * (MiB // 4)  # 1 MiB of base64 text (0.75 MiB decoded)
    blocks = decoded_mib * 4 // 3 + 1

    def gen() -> Iterator[bytes]:
        yield head
        for _ in range(blocks):
            yield block
        yield tail

    return gen(), len(head) + blocks * len(block) + len(tail)


def measure(pid: int, action: Callable[[], int]) -> tuple[int, float]:
    """Run ``action`` (returns a status) while sampling ``pid``'s RSS; (status, growth MiB)."""
    sampler = RssSampler(pid)
    start = sampler.rss()
    sampler.peak = start
    sampler.start()
    try:
        status = action()
    finally:
        sampler.running = False
        sampler.join()
    return status, (sampler.peak - start) / MiB


def post(url: str, token: str, gen: Iterator[bytes], length: int | None) -> int:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body: object = StreamBody(gen, length) if length is not None else gen
    try:
        return requests.post(url, data=body, headers=headers, timeout=300).status_code
    except requests.ConnectionError:
        return -1  # the server answered and closed while we were still sending


def http_side(work: Path) -> list[tuple[str, int, float, float]]:
    env = {"AUTH_MODE": "dev", "AUTH_DEV_SECRET": SECRET, "CLAMAV_SERVICE_ENABLED": "false",
           "WORKSPACE_STORAGE_DIR": str(work / "storage"), "MEDIA_EXEC_ROOT": str(work / "exec"),
           "MAX_FILE_SIZE_MB": "8", "MEDIA_MAX_BODY_MB": "16", "LOG_LEVEL": "ERROR"}
    server = LocalServer(work / "server", env).start()
    rows = []
    try:
        url = server.url + "/api/assistant/workspace/media"
        token = mint_dev_token(SECRET, "bench")
        gen, length = data_uri_body(1)
        assert post(url, token, gen, length) == 200  # warm up
        assert server.proc is not None
        for label, mib, declared in (("256 MiB body, Content-Length", 256, True),
                                     ("256 MiB body, chunked", 256, False),
                                     ("14 MiB body, decodes past 8 MiB", 10, True)):
            gen, length = data_uri_body(mib)
            status, growth = measure(server.proc.pid, lambda g=gen, n=length, d=declared:
                                     post(url, token, g, n if d else None))
            rows.append((f"HTTP  {label}", status, growth, length / MiB))
    finally:
        server.stop()
    return rows


def fetch_side(work: Path) -> list[tuple[str, int, float, float]]:
    logging.getLogger("shared.scanning.disabled").setLevel(logging.ERROR)
    logging.getLogger("shared.media.service").setLevel(logging.WARNING)
    origin = Origin().start()
    origin.routes["/huge"] = Route(stream_bytes=512 * MiB, send_length=False)
    origin.routes["/64"] = Route(stream_bytes=64 * MiB)
    origin.routes["/256"] = Route(stream_bytes=256 * MiB)
    rows = []
    try:
        for cap_mib, path, label in ((8, "/huge", "512 MiB, no Content-Length, 8 MiB cap"),
                                     (512, "/64", "64 MiB download (within cap)"),
                                     (512, "/256", "256 MiB download (within cap)")):
            service = _service(work / f"fetch-{cap_mib}-{path.strip('/')}", cap_mib, origin)
            size = {"/huge": 512, "/64": 64, "/256": 256}[path]

            def run(svc: MediaService = service, p: str = path) -> int:
                try:
                    svc.store(ExecutionContext("bench", "exec"), origin.url(p),
                              "for_local_processing")
                    return 200
                except PayloadTooLarge:
                    return 413

            status, growth = measure(os.getpid(), run)
            rows.append((f"fetch {label}", status, growth, float(size)))
    finally:
        origin.stop()
    return rows


def _service(work: Path, cap_mib: int, origin: Origin) -> MediaService:
    from shared.files.service import FileService
    from shared.metadata.sqlite import SqliteMetadataStore
    from shared.quota import Quota
    from shared.storage.local import LocalBlobStore

    settings = Settings(workspace_storage_dir=str(work / "storage"), max_file_size_mb=cap_mib,
                        media_exec_root=str(work / "exec"))
    scanner = DisabledScanner()
    meta = SqliteMetadataStore(settings.workspace_storage_dir)
    files = FileService(settings, LocalBlobStore(settings.workspace_storage_dir), meta, scanner,
                        None, Quota(meta, 0))
    policy = NetPolicy.for_tests([("127.0.0.1", origin.port)])
    return MediaService(settings, files, scanner, Fetcher(policy, FetchLimits()))


def main() -> None:
    """Run both sides and print one line per case plus the verdict."""
    with tempfile.TemporaryDirectory(prefix="bench-oversize-") as tmp:
        work = Path(tmp)
        rows = http_side(work) + fetch_side(work)
    failed = False
    print(f"{'case':48s} {'status':>6s} {'RSS growth':>11s} {'input (baseline)':>17s} ratio")
    for label, status, growth, size in rows:
        print(f"{label:48s} {status:6d} {growth:8.1f} MiB {size:13.1f} MiB {growth / size:5.3f}")
        oversize = "within cap" not in label
        if (oversize and status not in {413, -1}) or (not oversize and status != 200):
            failed = True
        if growth > TARGET_MIB:
            failed = True
    print(f"target: oversize -> 413, RSS growth < {TARGET_MIB} MiB -> "
          f"{'FAIL' if failed else 'PASS'}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
