"""64 MiB through the whole service on the cloud backends, against the raw GCS client.

One fake-gcs-server and one Firestore emulator serve every path in the same run:

- service upload: multipart POST to a real server process (``localdev.server``) configured
  with ``MEDIA_GCS_BUCKET_NAME`` + ``METADATA_BACKEND=firestore``; scanning is switched off
  here so the figure is the storage path (``bench.upload_memory`` measures scanning);
- service download: ``GET .../content``, its 302 followed to the V4 signed URL, streamed;
- raw: ``blob.upload_from_file`` and ``blob.download_to_file`` on the same emulator.

Runs alternate service-first and raw-first pairs (fake-gcs-server's own speed drifts by 2x
between identical requests as its Go heap grows), and prints MiB/s, the median per-pair
ratio (target >= 0.8x) and the server's peak RSS growth (flat means
streaming).

    .venv/bin/python -m bench.service_gcs [--size-mib 64] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import requests

from bench.gcs_throughput import Sink
from bench.upload_memory import MiB, RssSampler, StreamBody, body
from localdev.emulators import FakeGcs, FirestoreEmulator
from localdev.gcs_keys import write_service_account_key
from localdev.process import LocalServer
from shared.auth import mint_dev_token
from shared.storage.gcs.connection import GcsConnection

SECRET = "bench-secret-0123456789-abcdefghijklmnop"
API = "/api/assistant/workspace"


def main() -> None:
    """Run each path ``--repeat`` times; print medians, ratios and RSS growth."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk-mb", type=int, default=8, help="the service's GCS_CHUNK_MB")
    args = parser.parse_args()
    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory(prefix="bench-service-gcs-") as tmp:
        root = Path(tmp)
        gcs = FakeGcs(root / "gcs").start()
        firestore = FirestoreEmulator(root / "fs").start()
        client = GcsConnection("bench", gcs.url).client
        bucket = client.create_bucket(f"bench-{uuid.uuid4().hex[:8]}")
        env = {
            "AUTH_MODE": "dev",
            "AUTH_DEV_SECRET": SECRET,
            "WORKSPACE_STORAGE_DIR": str(root / "storage"),
            "CLAMAV_SERVICE_ENABLED": "false",
            "MEDIA_GCS_BUCKET_NAME": bucket.name,
            "METADATA_BACKEND": "firestore",
            "GOOGLE_CLOUD_PROJECT": "bench",
            "STORAGE_EMULATOR_HOST": gcs.url,
            "FIRESTORE_EMULATOR_HOST": firestore.host_port,
            "GCS_SIGNING_KEY_FILE": str(write_service_account_key(root / "k.json")),
            "MAX_FILE_SIZE_MB": str(args.size_mib + 16),
            "LOG_LEVEL": "ERROR",
            "GCS_CHUNK_MB": str(args.chunk_mb),
        }
        server = LocalServer(root / "server", env)
        try:
            server.start()
            base = server.url
            headers = {"Authorization": f"Bearer {mint_dev_token(SECRET, 'bench')}"}
            sampler = RssSampler(server.proc.pid)
            sampler.start()
            timings: dict[str, list[float]] = {}
            growth: dict[str, float] = {}

            def run(name: str, fn) -> None:
                sampler.peak = start_rss = sampler.rss()
                started = time.perf_counter()
                fn()
                timings.setdefault(name, []).append(time.perf_counter() - started)
                growth[name] = max(growth.get(name, 0.0), (sampler.peak - start_rss) / MiB)

            file_ids: list[str] = []

            def service_upload() -> None:
                boundary = "benchgcs7d3a"
                gen, length = body(size, boundary, f"f-{uuid.uuid4().hex}.bin")
                response = requests.post(
                    base + API + "/files",
                    data=StreamBody(gen, length),
                    timeout=600,
                    headers={
                        **headers,
                        "Content-Type": f"multipart/form-data; boundary={boundary}",
                    },
                )
                assert response.status_code == 201, response.text[:300]
                file_ids.append(response.json()["id"])

            def service_download() -> None:
                response = requests.get(
                    base + API + f"/files/{file_ids[-1]}/content",
                    headers=headers,
                    stream=True,
                    timeout=600,
                )
                got = sum(len(piece) for piece in response.iter_content(MiB))
                assert response.history and response.history[0].status_code == 302
                assert got == size, got

            payload = os.urandom(size)  # the raw client's source, held by this process only

            def raw_upload() -> None:
                bucket.blob("raw.bin").upload_from_file(io.BytesIO(payload), size=size)

            def raw_download() -> None:
                sink = Sink()
                bucket.blob("raw.bin").download_to_file(sink)
                assert sink.count == size

            pairs = (("service upload", service_upload, "raw upload_from_file", raw_upload),
                     ("service download (302 + signed GET)", service_download,
                      "raw download_to_file", raw_download))
            for number in range(args.repeat):
                for service_name, service_fn, raw_name, raw_fn in pairs:
                    order = [(service_name, service_fn), (raw_name, raw_fn)]
                    for name, fn in order if number % 2 == 0 else order[::-1]:
                        run(name, fn)  # alternate who goes first: the emulator drifts
            sampler.running = False
            rate = {name: args.size_mib / statistics.median(t) for name, t in timings.items()}
            for name, mibs in rate.items():
                print(
                    f"{name:38} {mibs:7.1f} MiB/s  server peak RSS growth {growth[name]:5.1f} MiB"
                )
            for label, service_name, _, raw_name, _ in [("upload", *pairs[0]),
                                                       ("download", *pairs[1])]:
                ratios = sorted(r / s for s, r in zip(timings[service_name], timings[raw_name],
                                                       strict=True))
                print(f"GCS_CHUNK_MB={args.chunk_mb}: {label} service/raw, per pair: median "
                      f"{statistics.median(ratios):.2f}x (min {ratios[0]:.2f}x, max "
                      f"{ratios[-1]:.2f}x, {len(ratios)} pairs; target >= 0.8x)")
        finally:
            server.stop()
            firestore.stop()
            gcs.stop()


if __name__ == "__main__":
    main()
