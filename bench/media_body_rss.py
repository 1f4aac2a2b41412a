"""Media JSON bodies are read as they arrive: peak RSS per request stays flat.

A real server process (``LocalServer``, production config, ClamAV off so the scanner's own
memory is not counted) takes ``POST /media`` data-URI bodies of growing size, one at a time
and then four at once. For each it prints the server's peak RSS growth per request. The
baseline, measured in the same run, is a multipart upload of the same decoded bytes (the
path that always streamed): the ratio shows what the JSON path costs over it in time.

Target (issue 16, item 7): peak RSS growth per request under 32 MiB whatever the body size
(before the streaming reader, a 31 MiB body cost about 63 MiB).

    .venv/bin/python -m bench.media_body_rss [--sizes 8,31,96] [--concurrent 4]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

from bench.upload_memory import RssSampler, StreamBody, body
from localdev.process import LocalServer
from shared.auth import mint_dev_token

SECRET = "bench-secret-0123456789-abcdefghijklmnop"
MiB = 1024 * 1024
TARGET_MIB = 32
API = "/api/assistant/workspace"


def media_body(body_mib: int, tag: str) -> tuple[Iterator[bytes], int]:
    """A ``POST /media`` JSON body of about ``body_mib`` MiB (a base64 data URI), streamed."""
    head = (f'{{"graph_exec_id": "bench-{tag}", "return_format": "for_local_processing", '
            f'"file": "data:application/octet-stream;base64,').encode()
    tail = b'"}'
    block = b"QUJD" * (MiB // 4)  # 1 MiB of base64 text, 0.75 MiB decoded

    def gen() -> Iterator[bytes]:
        yield head
        for _ in range(body_mib):
            yield block
        yield tail

    return gen(), len(head) + body_mib * len(block) + len(tail)


def post_media(url: str, token: str, body_mib: int, tag: str) -> float:
    gen, length = media_body(body_mib, tag)
    start = time.perf_counter()
    response = requests.post(url, data=StreamBody(gen, length), timeout=600,
                             headers={"Authorization": f"Bearer {token}",
                                      "Content-Type": "application/json"})
    took = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"media failed: {response.status_code} {response.text[:300]}")
    return took


def post_upload(url: str, token: str, size: int) -> float:
    boundary = "benchboundary7d3a"
    gen, length = body(size, boundary, f"same-{size}-{time.time_ns()}.bin")
    start = time.perf_counter()
    response = requests.post(url, data=StreamBody(gen, length), timeout=600,
                             headers={"Authorization": f"Bearer {token}",
                                      "Content-Type": f"multipart/form-data; boundary={boundary}"})
    took = time.perf_counter() - start
    if response.status_code != 201:
        raise SystemExit(f"upload failed: {response.status_code} {response.text[:300]}")
    return took


def peak_growth(pid: int, action: Callable[[], object]) -> tuple[object, float]:
    """Run ``action`` while sampling ``pid``'s RSS; (its result, peak growth in MiB)."""
    sampler = RssSampler(pid)
    start = sampler.rss()
    sampler.peak = start
    sampler.start()
    try:
        result = action()
    finally:
        sampler.running = False
        sampler.join()
    return result, (sampler.peak - start) / MiB


def main() -> None:
    """Print one line per size and a verdict; exit 1 when the target is missed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="8,31,96", help="body sizes in MiB")
    parser.add_argument("--concurrent", type=int, default=4, help="parallel 31 MiB bodies")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-media-body-") as tmp:
        work = Path(tmp)
        env = {"AUTH_MODE": "dev", "AUTH_DEV_SECRET": SECRET, "CLAMAV_SERVICE_ENABLED": "false",
               "WORKSPACE_STORAGE_DIR": str(work / "storage"),
               "MEDIA_EXEC_ROOT": str(work / "exec"), "LOG_LEVEL": "ERROR",
               "MAX_FILE_SIZE_MB": str(max(sizes) + 8),
               "MEDIA_MAX_BODY_MB": str(max(sizes) + 8)}
        server = LocalServer(work / "server", env).start()
        failed = False
        try:
            assert server.proc is not None
            pid, token = server.proc.pid, mint_dev_token(SECRET, "bench")
            media, files = server.url + f"{API}/media", server.url + f"{API}/files"
            post_media(media, token, 1, "warm")
            post_upload(files, token, MiB)
            for mib in sizes:
                took, growth = peak_growth(pid, lambda m=mib: post_media(media, token, m, "one"))
                base = post_upload(files, token, mib * 3 * MiB // 4)
                print(f"media body {mib:4d} MiB: {took:6.2f} s; multipart upload of the same "
                      f"bytes {base:6.2f} s; ratio {float(took) / base:4.2f}x "  # type: ignore[arg-type]
                      f"; peak RSS growth {growth:5.1f} MiB")
                failed = failed or growth >= TARGET_MIB
            n = args.concurrent

            def together() -> None:
                with concurrent.futures.ThreadPoolExecutor(n) as pool:
                    list(pool.map(lambda i: post_media(media, token, 31, f"c{i}"), range(n)))

            _, growth = peak_growth(pid, together)
            print(f"{n} concurrent 31 MiB bodies: peak RSS growth {growth:5.1f} MiB "
                  f"({growth / n:5.1f} MiB per request)")
            failed = failed or growth / n >= TARGET_MIB
            print(f"target: peak RSS growth per request < {TARGET_MIB} MiB -> "
                  f"{'FAIL' if failed else 'PASS'}")
        finally:
            server.stop()
        if failed:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
