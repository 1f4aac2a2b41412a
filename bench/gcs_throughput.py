"""GCS throughput and memory: ``GcsBlobStore`` against the raw google-cloud-storage client.

One fake-gcs-server (in memory) serves every path in the same run:

- store upload: ``stage()``, 1 MiB ``write``s, ``promote`` (one streamed upload to staging, then a
  server-side rewrite and the staging delete); raw upload: ``blob.upload_from_file`` (the
  library default) and ``blob.open("wb")`` with the store's chunk size;
- store download: ``open_read`` read in 1 MiB chunks; raw download: ``blob.download_to_file``
  and ``blob.open("rb")``.

Prints MiB/s (median of ``--repeat`` runs), the ratio store/raw (target >= 0.8x) and this
process's peak RSS growth per path, sampled every 2 ms by a psutil thread after returning freed
memory to the OS (target: growth far below the payload size, i.e. flat).

    .venv/bin/python -m bench.gcs_throughput [--size-mib 64] [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import os
import statistics
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

import psutil

from localdev.emulators import FakeGcs
from localdev.gcs_keys import create_buckets
from shared.storage.gcs.connection import GcsConnection
from shared.storage.gcs.objects import GcsObjects
from shared.storage.gcs.store import GcsBlobStore

MiB = 1024 * 1024
WRITE = MiB
TARGET_RATIO = 0.8
warnings.filterwarnings("ignore", category=FutureWarning)  # api_core's Python-version notice


class RssSampler(threading.Thread):
    """This process's RSS every 2 ms; ``measure`` gives a callable's peak growth."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process()
        self.peak = 0
        self.running = True
        self._lock = threading.Lock()  # a reset must not be overwritten by a stale maximum

    def run(self) -> None:
        while self.running:
            rss = self.proc.memory_info().rss
            with self._lock:
                self.peak = max(self.peak, rss)
            time.sleep(0.002)

    def measure(self, work: Callable[[], None]) -> tuple[float, float]:
        """Seconds taken and peak RSS growth (MiB) while ``work`` runs."""
        gc.collect()
        _trim()
        with self._lock:
            start_rss = self.proc.memory_info().rss
            self.peak = start_rss
        started = time.perf_counter()
        work()
        took = time.perf_counter() - started
        time.sleep(0.01)
        with self._lock:
            return took, (max(self.peak, self.proc.memory_info().rss) - start_rss) / MiB


def _trim() -> None:
    """Give freed heap back to the OS so each path starts from a comparable baseline."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Source:
    """A read-only stream of ``size`` bytes built from one block (holds 1 MiB, not the file)."""

    def __init__(self, block: bytes, size: int) -> None:
        self.block, self.size, self.pos = block, size, 0

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.pos if n < 0 else min(n, self.size - self.pos)
        out = bytearray()
        while len(out) < n:
            offset = (self.pos + len(out)) % len(self.block)
            out += self.block[offset: offset + n - len(out)]
        self.pos += n
        return bytes(out)

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int, whence: int = 0) -> int:
        self.pos = pos if whence == 0 else (self.pos + pos if whence == 1 else self.size + pos)
        return self.pos


class Sink:
    """A writable stream that only counts."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return len(data)


def main() -> None:
    """Run every path ``--repeat`` times and print one line each plus the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--chunk-mib", type=int, default=8, help="the store's chunk size")
    args = parser.parse_args()
    size = args.size_mib * MiB
    block = os.urandom(WRITE)

    with tempfile.TemporaryDirectory(prefix="bench-gcs-") as tmp:
        server = FakeGcs(Path(tmp)).start()
        try:
            create_buckets(server.url, "bench", "bench")
            conn = GcsConnection("bench", server.url)
            store = GcsBlobStore(GcsObjects(conn), "bench", chunk_size=args.chunk_mib * MiB)
            missed: list[str] = []
            bucket = conn.client.bucket("bench")
            keys: list[str] = []
            promote_seconds: list[float] = []

            def store_upload() -> None:
                staged = store.stage()
                source = Source(block, size)
                while piece := source.read(WRITE):
                    staged.write(piece)
                staged.close()
                started = time.perf_counter()
                keys.append(f"ws/{uuid.uuid4().hex}/v1/payload.bin")
                store.promote(staged, keys[-1])
                promote_seconds.append(time.perf_counter() - started)

            def raw_upload_from_file() -> None:
                bucket.blob("raw.bin").upload_from_file(Source(block, size), size=size)

            def raw_upload_open() -> None:
                with bucket.blob("raw.bin").open("wb", chunk_size=store.chunk_size,
                                                 if_generation_match=None) as writer:
                    source = Source(block, size)
                    while piece := source.read(WRITE):
                        writer.write(piece)

            def store_download() -> None:
                stream, got = store.open_read(keys[0]), 0
                while piece := stream.read(WRITE):
                    got += len(piece)
                stream.close()
                assert got == size, got

            def raw_download_to_file() -> None:
                sink = Sink()
                bucket.blob("raw.bin").download_to_file(sink)
                assert sink.count == size, sink.count

            def raw_download_open() -> None:
                got = 0
                with bucket.blob("raw.bin").open("rb", chunk_size=store.chunk_size) as reader:
                    while piece := reader.read(WRITE):
                        got += len(piece)
                assert got == size, got

            paths: dict[str, Callable[[], None]] = {
                "store upload (stage+write+promote)": store_upload,
                "raw upload_from_file": raw_upload_from_file,
                "raw blob.open('wb')": raw_upload_open,
                "store download (open_read)": store_download,
                "raw download_to_file": raw_download_to_file,
                "raw blob.open('rb')": raw_download_open,
            }
            sampler = RssSampler()
            sampler.start()
            for work in paths.values():  # warm up: connections, imports, first objects
                work()
            results: dict[str, tuple[float, float, float]] = {}
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
            for _ in range(args.repeat):  # interleaved, so drift hits every path alike
                for name, work in paths.items():
                    runs[name].append(sampler.measure(work))
            sampler.running = False
            for key in keys:
                store.delete(key)
            print(f"fake-gcs-server {server.url}; payload {args.size_mib} MiB, 1 MiB writes/reads, "
                  f"store chunk {store.chunk_size // MiB} MiB; median of {args.repeat} runs")
            print(f"  {'path':36s} {'MiB/s':>7s}   peak RSS growth, MiB (median / max)")
            for name, samples in runs.items():
                took = statistics.median(t for t, _ in samples)
                growth = sorted(g for _, g in samples)
                results[name] = (size / MiB / took, statistics.median(growth), growth[-1])
                print(f"  {name:36s} {results[name][0]:7.1f}   "
                      f"{results[name][1]:6.1f} / {results[name][2]:6.1f}")
            promote = statistics.median(promote_seconds)
            whole = statistics.median(t for t, _ in runs["store upload (stage+write+promote)"])
            print(f"  store upload = upload phase {whole - promote:.3f} s "
                  f"({size / MiB / (whole - promote):.1f} MiB/s) + promote (server-side rewrite"
                  f" + staging delete) {promote:.3f} s")
            missed = []
            for direction, ours, raws in [
                    ("upload", "store upload (stage+write+promote)",
                     ["raw upload_from_file", "raw blob.open('wb')"]),
                    ("download", "store download (open_read)",
                     ["raw download_to_file", "raw blob.open('rb')"])]:
                for raw in raws:
                    ratio = results[ours][0] / results[raw][0]
                    met = ratio >= TARGET_RATIO
                    print(f"  {direction:8s} store / {raw:22s} {ratio:5.2f}x "
                          f"(target >= {TARGET_RATIO}x: {'met' if met else 'MISSED'})")
                    if not met:
                        missed.append(f"{direction} vs {raw}")
                flat = results[ours][2] < size / MiB / 2
                print(f"  {direction:8s} store peak RSS growth {results[ours][2]:.1f} MiB at most "
                      f"for {args.size_mib} MiB ({'flat' if flat else 'NOT FLAT'})")
                if not flat:
                    missed.append(f"{direction} memory")
            print(f"verdict: {'PASS' if not missed else 'MISSED: ' + ', '.join(missed)}")
        finally:
            server.stop()
    if missed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
