"""Upload memory and throughput: a 200 MiB multipart upload through a real server process.

Prints the server's peak RSS growth for 50 MiB and 200 MiB uploads (flat means streaming)
and the upload's wall time against a baseline measured in the same run: the same bytes
written to disk, hashed and scanned by the same clamd, with no HTTP and no service.
Target (issue 2): peak RSS growth under 64 MiB for 200 MiB.

    make bench            # or: .venv/bin/python -m bench.upload_memory [--sizes 50,200]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import requests

from localdev.clamd import ClamdProcess
from localdev.process import LocalServer
from shared.auth import mint_dev_token
from shared.scanning.clamd import ClamdScanner

SECRET = "bench-secret-0123456789-abcdefghijklmnop"
MiB = 1024 * 1024
CHUNK = MiB
TARGET_MIB = 64


def body(size: int, boundary: str, name: str) -> tuple[Iterator[bytes], int]:
    """A streamed multipart body of ``size`` pseudo-random bytes, and its length."""
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    block = os.urandom(CHUNK)

    def gen() -> Iterator[bytes]:
        yield head
        sent = 0
        while sent < size:
            piece = block[: min(CHUNK, size - sent)]
            sent += len(piece)
            yield piece
        yield tail

    return gen(), len(head) + size + len(tail)


class RssSampler(threading.Thread):
    """Samples a process tree's RSS every 10 ms; ``peak`` is the maximum seen."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def rss(self) -> int:
        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        return total

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.rss())
            time.sleep(0.01)


class StreamBody:
    """A file-like body with a known length, so requests streams it with Content-Length.

    http.client reads it 8 KiB at a time, so each read slices the current piece at an offset
    (never re-copying what is left of it: that would cost more than the upload itself).
    """

    def __init__(self, gen: Iterator[bytes], length: int) -> None:
        self._gen, self._length = gen, length
        self._piece, self._offset = b"", 0

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        if self._offset >= len(self._piece):
            self._piece, self._offset = next(self._gen, b""), 0
        if size < 0:
            out = self._piece[self._offset:] + b"".join(self._gen)
            self._piece, self._offset = b"", 0
            return out
        out = self._piece[self._offset:self._offset + size]
        self._offset += len(out)
        return out


def upload(url: str, token: str, size: int) -> float:
    """Stream one upload; returns seconds."""
    boundary = "benchboundary7d3a"
    gen, length = body(size, boundary, f"big-{size}-{time.time_ns()}.bin")
    start = time.perf_counter()
    response = requests.post(
        url, data=StreamBody(gen, length), timeout=600,
        headers={"Authorization": f"Bearer {token}",
                 "Content-Type": f"multipart/form-data; boundary={boundary}"})
    elapsed = time.perf_counter() - start
    if response.status_code != 201:
        raise SystemExit(f"upload failed: {response.status_code} {response.text[:300]}")
    return elapsed


def baseline(size: int, clamd_port: int, workdir: Path) -> float:
    """The least work an upload needs: write to disk, hash, scan; no HTTP, no service."""
    block = os.urandom(CHUNK)
    start = time.perf_counter()
    sha = hashlib.sha256()
    session = ClamdScanner("127.0.0.1", clamd_port).open_session()
    with open(workdir / "baseline.bin", "wb") as out:
        sent = 0
        while sent < size:
            piece = block[: min(CHUNK, size - sent)]
            sent += len(piece)
            sha.update(piece)
            session.feed(piece)
            out.write(piece)
        out.flush()
        os.fsync(out.fileno())
    session.finish()
    elapsed = time.perf_counter() - start
    (workdir / "baseline.bin").unlink()
    return elapsed


def main() -> None:
    """Run the benchmark and print one line per size plus a verdict."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="50,200", help="upload sizes in MiB")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp:
        workdir = Path(tmp)
        clamd = ClamdProcess(workdir / "clamd", max_file_mb=max(sizes) + 16).start()
        env = {"AUTH_MODE": "dev", "AUTH_DEV_SECRET": SECRET,
               "WORKSPACE_STORAGE_DIR": str(workdir / "storage"),
               "CLAMAV_SERVICE_PORT": str(clamd.port), "CLAMAV_SERVICE_HOST": "127.0.0.1",
               "MAX_FILE_SIZE_MB": str(max(sizes) + 16)}
        server = LocalServer(workdir / "server", env)
        try:
            server.start()
            base_url = server.url
            token = mint_dev_token(SECRET, "bench")
            url = base_url + "/api/assistant/workspace/files"
            upload(url, token, MiB)  # warm up: imports, SQLite, first workspace
            sampler = RssSampler(server.proc.pid)
            idle = sampler.rss()
            sampler.start()
            failed = False
            print(f"server idle RSS: {idle / MiB:.1f} MiB")
            for size_mib in sizes:
                sampler.peak = sampler.rss()
                start_rss = sampler.peak
                took = upload(url, token, size_mib * MiB)
                growth = (sampler.peak - start_rss) / MiB
                base = baseline(size_mib * MiB, clamd.port, workdir)
                print(f"upload {size_mib:4d} MiB: {took:6.2f} s ({size_mib / took:6.1f} MiB/s); "
                      f"baseline (disk+sha256+clamd, no HTTP) {base:6.2f} s; "
                      f"ratio {took / base:4.2f}x; peak RSS growth {growth:5.1f} MiB")
                if size_mib >= 200 and growth >= TARGET_MIB:
                    failed = True
            sampler.running = False
            print(f"target: peak RSS growth < {TARGET_MIB} MiB for 200 MiB -> "
                  f"{'FAIL' if failed else 'PASS'}")
        finally:
            server.stop()
            clamd.stop()
        if failed:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
