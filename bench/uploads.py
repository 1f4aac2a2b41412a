"""Upload throughput over HTTP with scanning on, at 1 and 4 clients, against clamd alone.

The server is ``localdev.server`` of the tree under test with a private clamd (what ``make
run`` serves). The baseline, measured in the same run on the same clamd with the same files
and thread counts, is clamd's own INSTREAM rate: every upload must scan its bytes, so the
ratio says how much of clamd's throughput the service keeps (1.0 = the scan is all it costs).

Rates on two shared cores swing from run to run; the CPU the server's processes spend per
upload (from ``/proc``, against clamd's CPU per scan in the same run) moves much less, and
it is what bounds the rate at 4 clients.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path
from typing import Any

from bench.client import Client, run_parallel
from bench.target import Target
from bench.workload import file_spec
from localdev.process import cpu_seconds, process_tree

USER = "bench_upload"


def _instream(port: int, data: bytes) -> bytes:
    """One ``zINSTREAM`` scan of ``data`` on a fresh connection (what a scan session does)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(b"zINSTREAM\0" + struct.pack(">I", len(data)) + data + b"\0\0\0\0")
        reply = b""
        while not reply.endswith(b"\0"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    if not reply.startswith(b"stream: OK"):
        raise RuntimeError(f"clamd answered {reply!r}")
    return reply


def measure(workdir: Path, source: Path, files: int) -> dict[str, Any]:
    """Files per second through ``POST /files`` and through clamd alone, 1 and 4 clients."""
    target = Target(workdir / "uploads", source, scanning=True).start()
    try:
        assert target.clamd is not None
        port = target.clamd.port
        client = Client(target.url, Target.token(USER))
        warm = [file_spec(1_000_000 + i) for i in range(8)]
        run_parallel(2, warm, client.upload)
        out: dict[str, Any] = {"files": files}
        offset = 0
        assert target.servers[0].proc is not None and target.clamd.proc is not None
        server, clamd = process_tree(target.servers[0].proc.pid), [target.clamd.proc.pid]
        for workers in (1, 4):
            specs = [file_spec(offset + i) for i in range(files)]
            offset += files
            cpu = cpu_seconds(server), cpu_seconds(clamd)
            seconds = run_parallel(workers, specs, client.upload)
            out[f"server_cpu_ms_{workers}c"] = 1000 * (cpu_seconds(server) - cpu[0]) / files
            out[f"clamd_cpu_ms_{workers}c"] = 1000 * (cpu_seconds(clamd) - cpu[1]) / files
            clamd_seconds = run_parallel(workers, [s.content for s in specs],
                                         lambda data: _instream(port, data))
            out[f"http_{workers}c_per_s"] = files / seconds
            out[f"clamd_{workers}c_per_s"] = files / clamd_seconds
            out[f"vs_clamd_{workers}c"] = clamd_seconds / seconds
        out["scaling_4c_vs_1c"] = out["http_4c_per_s"] / out["http_1c_per_s"]
        return out
    finally:
        target.stop()


def load(client: Client, start: int, stop: int, workers: int = 4) -> float:
    """Upload files ``start``..``stop-1`` of the workload; seconds taken."""
    return run_parallel(workers, [file_spec(i) for i in range(start, stop)], client.upload)
