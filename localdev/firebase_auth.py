"""``AuthEmulator``: the Firebase Auth emulator (firebase-tools from npm) on a free port.

``make dev AUTH_MODE=firebase`` and the browser tests run it so that the web app's real
Firebase sign-in works locally. firebase-tools is pinned in ``web/emulator/`` and installed
(``npm ci``) on first use. The project id starts with ``demo-``, so the emulator needs no
credentials and never calls Google. Its tokens are unsigned; ``shared.auth`` accepts them
only while ``FIREBASE_AUTH_EMULATOR_HOST`` is set.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from localdev.process import ManagedProcess, free_port

HOME = Path(__file__).resolve().parent.parent / "web" / "emulator"
PROJECT = "demo-workspace"


def install() -> bool:
    """``npm ci`` in web/emulator when its packages are missing or stale; True when usable."""
    if shutil.which("npm") is None:
        return False
    installed, lock = HOME / "node_modules" / ".package-lock.json", HOME / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HOME,
                       check=True)
    return (HOME / "node_modules" / ".bin" / "firebase").exists()


class AuthEmulator(ManagedProcess):
    """``firebase emulators:start --only auth`` with no UI, on loopback."""

    name = "firebase-auth-emulator"

    def prepare(self) -> None:
        config = {"emulators": {"auth": {"host": "127.0.0.1", "port": self.port},
                                "ui": {"enabled": False},
                                "hub": {"host": "127.0.0.1", "port": free_port()},
                                "logging": {"host": "127.0.0.1", "port": free_port()}}}
        (self.workdir / "firebase.json").write_text(json.dumps(config))

    def command(self) -> list[str]:
        return [str(HOME / "node_modules" / ".bin" / "firebase"), "emulators:start",
                "--only", "auth", "--project", PROJECT,
                "--config", str(self.workdir / "firebase.json")]

    def env(self) -> dict[str, str]:
        return {"FIREBASE_CLI_DISABLE_UPDATE_CHECK": "true", "CI": "true",
                "XDG_CONFIG_HOME": str(self.workdir / "config")}
