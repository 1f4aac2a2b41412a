"""The finalize scan of a big direct upload: the function's memory and the bytes it reads.

A ``--size-mib`` (default 1024) object is uploaded to the incoming bucket through a real
signed URL on fake-gcs-server; then its finalize event is delivered to ``scan_uploaded_file``
served by functions-framework (a real process, Firestore on the emulator), as Eventarc would.
Measured on that process tree while it handles the event: wall time, and peak RSS growth over
the warmed-up process (sampled every 20 ms). The function reaches storage through a counting
TCP proxy, so the bytes storage sent it are counted exactly (the front and the uploader talk
to fake-gcs-server directly). Two ways to scan:

- ``front``: ``CLAMAV_SERVICE_URL`` set, the designed path: ``POST /scan/gcs``, the ClamAV
  front reads the pinned generation itself and answers verdict, SHA-256 and MIME type;
- ``direct``: no front, the function streams the object through clamd itself (the path
  before the restructure, kept for local clamd), for comparison.

The baseline is ``clamdscan --stream`` of the same number of bytes on the same clamd, in the
same run. Each scan gets bytes of its own: clamd caches verdicts by content hash, and a second
scan of the same bytes would measure the cache.

    .venv/bin/python -m bench.finalize_gcs [--size-mib 1024]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import psutil
import requests

from localdev.clamav_front import ClamavFront
from localdev.clamd import ClamdProcess
from localdev.emulators import FakeGcs, FirestoreEmulator
from localdev.events import FunctionProcess
from localdev.gcs_keys import create_buckets, write_service_account_key

warnings.filterwarnings("ignore", category=FutureWarning)  # api_core's Python-version notice
MiB = 1024 * 1024
PROJECT = "bench-finalize"
FILES, INCOMING, QUARANTINE = "bf-files", "bf-incoming", "bf-quarantine"


class TreeSampler:
    """Peak RSS of a process and its children, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def tree(self) -> list[psutil.Process]:
        return [self.root, *self.root.children(recursive=True)]

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in self.tree())

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.02)

    def __enter__(self) -> TreeSampler:
        self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class CountingProxy:
    """A TCP relay to ``target``; counts the bytes sent back to the clients."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.to_clients = 0
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, False),
                             daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True),
                             daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, count: bool) -> None:
        try:
            while data := source.recv(1 << 16):
                sink.sendall(data)
                if count:
                    with self._lock:
                        self.to_clients += len(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


def write_sample(path: Path, size: int) -> None:
    """Random bytes: every run scans bytes clamd has never seen (it caches verdicts by hash)."""
    with open(path, "wb") as out:
        for _ in range(size // MiB):
            out.write(os.urandom(MiB))
        out.write(os.urandom(size % MiB))


def issue(env: dict[str, str], filename: str, size: int) -> dict[str, Any]:
    """``POST /files/upload-url`` in process, with ``env`` (the same as the function's)."""
    os.environ.update(env)
    from shared import factory
    from shared.context import RequestContext

    factory.reset()
    return factory.direct_uploads().issue(RequestContext("bench-user"), {
        "filename": filename, "size_bytes": size, "mime_type": "application/octet-stream"})


def record(file_id: str) -> Any:
    from shared import factory

    ws = factory.metadata_store().get_or_create_workspace("bench-user")
    return factory.metadata_store().get_file(ws.id, file_id)


def deliver(function: FunctionProcess, proxy: CountingProxy, ticket: dict[str, Any],
            sample: Path) -> tuple[float, int, int, int]:
    """PUT the bytes, then the finalize event: (seconds, RSS growth, bytes from storage,
    status)."""
    with open(sample, "rb") as body:
        put = requests.put(ticket["upload_url"], data=body, headers=ticket["headers"],
                           timeout=600)
    put.raise_for_status()
    resource = put.json()
    event = {"bucket": INCOMING, "name": resource["name"],
             "generation": str(resource["generation"]), "size": str(resource["size"])}
    headers = {"ce-specversion": "1.0", "ce-type": "google.cloud.storage.object.v1.finalized",
               "ce-source": f"//storage.googleapis.com/projects/_/buckets/{INCOMING}",
               "ce-id": uuid.uuid4().hex, "ce-subject": f"objects/{resource['name']}",
               "ce-time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "Content-Type": "application/json"}
    assert function.proc is not None
    with TreeSampler(function.proc.pid) as sampler:
        before_rss, before_read = sampler.rss(), proxy.to_clients
        started = time.monotonic()
        answer = requests.post(function.url, data=json.dumps(event), headers=headers,
                               timeout=900)
        seconds = time.monotonic() - started
        read = proxy.to_clients - before_read
    return seconds, sampler.peak - before_rss, read, answer.status_code


def clamdscan_seconds(clamd: ClamdProcess, sample: Path, root: Path) -> float:
    # clamdscan reads StreamMaxLength from its own config (default 100M) and silently sends
    # no more than that: without it, a 1 GiB file is "OK" after its first 100 MiB.
    config = root / "clamdscan.conf"
    limit_mb = sample.stat().st_size // MiB + 64
    config.write_text(f"TCPSocket {clamd.port}\nTCPAddr 127.0.0.1\n"
                      f"StreamMaxLength {limit_mb}M\n")
    started = time.monotonic()
    done = subprocess.run(["clamdscan", "--stream", f"--config-file={config}", "--no-summary",
                           str(sample)], capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"clamdscan failed: {done.stdout}{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mib * MiB
    cap_mb = str(args.size_mib + 64)
    with tempfile.TemporaryDirectory(prefix="bench-finalize-") as tmp:
        root = Path(tmp)
        started: list[Any] = []
        try:
            gcs = FakeGcs(root / "gcs").start()
            started.append(gcs)
            firestore = FirestoreEmulator(root / "fs").start()
            started.append(firestore)
            create_buckets(gcs.url, PROJECT, FILES, INCOMING, QUARANTINE)
            clamd = ClamdProcess(root / "clamd", max_file_mb=int(cap_mb)).start()
            started.append(clamd)
            front = ClamavFront(root / "front", clamd.port, {
                "STORAGE_EMULATOR_HOST": gcs.url, "GOOGLE_CLOUD_PROJECT": PROJECT,
                "K_SERVICE": "", "CLAMAV_FRONT_AUTH": "none", "MAX_FILE_SIZE_MB": cap_mb,
                "CLAMAV_TIMEOUT_SECONDS": "600"}).start()
            started.append(front)
            proxy = CountingProxy(gcs.port)
            sample = root / "sample.bin"
            warm = root / "warm.bin"
            warm.write_bytes(b"warm-up bytes\n")
            base = {"AUTH_MODE": "dev", "AUTH_DEV_SECRET": "b" * 40,
                    "METADATA_BACKEND": "firestore", "MEDIA_GCS_BUCKET_NAME": FILES,
                    "INCOMING_GCS_BUCKET_NAME": INCOMING, "QUARANTINE_GCS_BUCKET_NAME": QUARANTINE,
                    "STORAGE_EMULATOR_HOST": gcs.url,
                    "FIRESTORE_EMULATOR_HOST": firestore.host_port,
                    "GOOGLE_CLOUD_PROJECT": PROJECT, "MAX_FILE_SIZE_MB": cap_mb,
                    "GCS_SIGNING_KEY_FILE": str(write_service_account_key(root / "sa.json")),
                    "CLAMAV_SERVICE_HOST": "127.0.0.1", "CLAMAV_SERVICE_PORT": str(clamd.port),
                    "CLAMAV_TIMEOUT_SECONDS": "600", "LOG_LEVEL": "WARNING"}
            write_sample(sample, size)
            baseline = clamdscan_seconds(clamd, sample, root)
            rows = []
            for mode, extra in (("front", {"CLAMAV_SERVICE_URL": front.url}),
                                ("direct", {"CLAMAV_SERVICE_URL": ""})):
                env = {**base, **extra}
                function = FunctionProcess(root / f"fn-{mode}", "scan_uploaded_file",
                                           "cloudevent", {**os.environ, **env,
                                                          "STORAGE_EMULATOR_HOST": proxy.url},
                                           ).start()
                started.append(function)
                deliver(function, proxy, issue(env, f"warm-{mode}.txt", warm.stat().st_size),
                        warm)  # imports and clients loaded: what follows is the object's cost
                write_sample(sample, size)  # fresh bytes: no clamd cache hit
                ticket = issue(env, f"big-{mode}.bin", size)
                seconds, rss, read, status = deliver(function, proxy, ticket, sample)
                final = record(ticket["file_id"])
                state = final.status
                if state == "infected":  # random bytes can look like a damaged archive
                    state += f" ({final.metadata.get('scan', {}).get('signature')})"
                rows.append((mode, seconds, rss, read, status, state))
                function.stop()
                started.remove(function)
            print(f"finalize of a {args.size_mib} MiB direct upload "
                  f"(clamdscan --stream baseline: {baseline:.2f} s)")
            print(f"{'scan path':<8} {'wall s':>8} {'x clamdscan':>12} {'peak RSS +MiB':>14} "
                  f"{'bytes from storage':>20} {'status':>8}")
            for mode, seconds, rss, read, status, state in rows:
                print(f"{mode:<8} {seconds:8.2f} {seconds / baseline:12.2f} {rss / MiB:14.1f} "
                      f"{read:20,d} {status:>4} {state}")
        finally:
            for process in reversed(started):
                process.stop()


if __name__ == "__main__":
    main()
