"""The ClamAV HTTP front: peak RSS and throughput on a 100 MiB object, against clamdscan.

One clamd serves every path in the same run (the container's layout: the front beside
clamd), with the front as a local gunicorn process (``localdev.clamav_front``) reading from
fake-gcs-server:

- baseline: Debian's ``clamdscan --stream`` on the file (from the page cache), with a config
  file that points it at the same clamd's TCP port;
- ``/scan/gcs``: the front streams the object from fake-gcs-server into clamd;
- ``HttpScanner``: the service's client streams the same bytes as a chunked ``POST /scan``.

Prints each path's median time and MiB/s, the ratio of its time to clamdscan's (target
<= 1.5x) and the front's peak RSS growth over its idle size (target < 64 MiB). Every scan
must find the EICAR string placed at the end of the file, or the bench fails.

    make bench-scan     # or: .venv/bin/python -m bench.scan_front [--size-mib 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

from bench.upload_memory import MiB, RssSampler
from localdev.clamav_front import ClamavFront
from localdev.clamd import ClamdProcess
from localdev.emulators import FakeGcs
from shared.scanning.http import HttpScanner
from shared.storage.gcs.connection import GcsConnection

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
RSS_TARGET_MIB = 64
RATIO_TARGET = 1.5


def clamdscan_argv(config: Path, path: Path) -> list[str]:
    binary = shutil.which("clamdscan")
    if binary is None:
        raise SystemExit("clamdscan not found: install Debian's clamdscan package")
    return [binary, f"--config-file={config}", "--stream", "--no-summary", str(path)]


def main() -> None:
    """Run each path ``--repeat`` times; print medians, ratios and the front's RSS growth."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory(prefix="bench-scan-front-") as tmp:
        root = Path(tmp)
        sample = root / "sample.bin"
        with sample.open("wb") as handle:  # random bytes, the signature in the last ones
            block = os.urandom(MiB)
            for _ in range(args.size_mib - 1):
                handle.write(block)
            handle.write(os.urandom(MiB - len(EICAR)) + EICAR)
        clamd = ClamdProcess(root / "clamd", max_file_mb=args.size_mib).start()
        gcs = FakeGcs(root / "gcs").start()
        front = ClamavFront(root / "front", clamd.port, {
            "STORAGE_EMULATOR_HOST": gcs.url, "GOOGLE_CLOUD_PROJECT": "bench",
            "MAX_FILE_SIZE_MB": str(args.size_mib), "LOG_LEVEL": "WARNING",
            "K_SERVICE": "", "CLAMAV_FRONT_AUTH": ""})
        try:
            front.start()
            config = root / "clamdscan.conf"
            config.write_text(f"TCPSocket {clamd.port}\nTCPAddr 127.0.0.1\n")
            client = GcsConnection("bench", gcs.url).client
            bucket = client.create_bucket(f"bench-{uuid.uuid4().hex[:8]}")
            blob = bucket.blob("incoming/ws/file_000001/sample.bin")
            blob.upload_from_filename(str(sample))
            generation = int(blob.generation or 0)
            scanner = HttpScanner(front.url, timeout=600)

            def baseline() -> None:
                done = subprocess.run(clamdscan_argv(config, sample), capture_output=True,
                                      text=True, timeout=600, check=False)
                assert done.returncode == 1 and "FOUND" in done.stdout, done.stdout + done.stderr

            def via_gcs() -> None:
                response = requests.post(f"{front.url}/scan/gcs", timeout=600, json={
                    "bucket": bucket.name, "name": blob.name, "generation": generation})
                body = response.json()
                assert body.get("verdict") == "infected", body
                assert body["bytes_scanned"] == size, body

            def via_client() -> None:
                with sample.open("rb") as stream:
                    verdict = scanner.scan_stream(stream)
                assert verdict.infected and verdict.bytes_scanned == size, verdict

            # Warm up with small scans only (imports, pools, the GCS client), so the idle size
            # is taken before any large scan could have grown the heap.
            scanner.scan_stream(io.BytesIO(b"warm-up"))
            small = bucket.blob("warm-up.txt")
            small.upload_from_string(b"warm-up")
            requests.post(f"{front.url}/scan/gcs", timeout=60, json={
                "bucket": bucket.name, "name": small.name,
                "generation": small.generation}).raise_for_status()
            sampler = RssSampler(front.proc.pid if front.proc else 0)
            sampler.start()
            idle = sampler.rss()
            timings: dict[str, list[float]] = {}
            growth: dict[str, float] = {}

            def run(name: str, fn: Callable[[], None]) -> None:
                sampler.peak = sampler.rss()
                started = time.perf_counter()
                fn()
                timings.setdefault(name, []).append(time.perf_counter() - started)
                growth[name] = max(growth.get(name, 0.0), (sampler.peak - idle) / MiB)

            for _ in range(args.repeat):
                run("clamdscan --stream", baseline)
                run("front POST /scan/gcs", via_gcs)
                run("HttpScanner POST /scan", via_client)
            sampler.running = False
            base = statistics.median(timings["clamdscan --stream"])
            print(f"{args.size_mib} MiB, median of {args.repeat}; front idle RSS "
                  f"{idle / MiB:.0f} MiB")
            for name, times in timings.items():
                took = statistics.median(times)
                line = f"{name:24} {took:6.2f} s {args.size_mib / took:7.1f} MiB/s"
                if name != "clamdscan --stream":
                    ratio = took / base
                    verdict = "ok" if ratio <= RATIO_TARGET else "OVER"
                    line += (f"  time ratio {ratio:4.2f}x vs clamdscan (target <= "
                             f"{RATIO_TARGET}x: {verdict})  front peak RSS growth "
                             f"{growth[name]:5.1f} MiB (target < {RSS_TARGET_MIB}: "
                             f"{'ok' if growth[name] < RSS_TARGET_MIB else 'OVER'})")
                print(line)
        finally:
            front.stop()
            gcs.stop()
            clamd.stop()


if __name__ == "__main__":
    main()
