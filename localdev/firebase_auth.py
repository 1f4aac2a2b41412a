"""``AuthEmulator``: the Firebase Auth emulator (firebase-tools from npm) on a free port.

``make dev AUTH_MODE=firebase`` and the browser tests run it so that the web app's real
Firebase sign-in works locally. firebase-tools is pinned in ``web/emulator/`` and installed
(``npm ci``, about 600 packages, ~20 s) on first use into a cache folder named by the
lockfile's hash, so clones and worktrees on one machine (CI's fresh clone too) share one
install. Install scripts are skipped: the only one that matters builds ``re2`` (used by the
Hosting emulator, never loaded by Auth's), which compiles from source for ~4 minutes where
its prebuilt binary cannot be downloaded (this machine, a fresh CI machine). The
project id starts with ``demo-``, so the emulator needs no credentials and never calls
Google. Its tokens are unsigned; ``shared.auth`` accepts them only while
``FIREBASE_AUTH_EMULATOR_HOST`` is set.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from localdev.process import ManagedProcess, free_port

SOURCE = Path(__file__).resolve().parent.parent / "web" / "emulator"
PROJECT = "demo-workspace"


def install_dir() -> Path:
    """Where this lockfile's firebase-tools lives: ``~/.cache/workspace-auth-emulator/<hash>``."""
    digest = hashlib.sha256((SOURCE / "package-lock.json").read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "workspace-auth-emulator" / digest


def firebase_cli() -> Path:
    """The installed ``firebase`` command."""
    return install_dir() / "node_modules" / ".bin" / "firebase"


def install() -> bool:
    """``npm ci`` of web/emulator into its cache folder unless done; True when usable."""
    if shutil.which("npm") is None:
        return False
    target = install_dir()
    done = target / ".installed"
    if not done.exists():
        target.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(SOURCE / name, target / name)
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund",
                        "--loglevel=error"],
                       cwd=target, check=True)
        done.touch()  # only after a complete install
    return firebase_cli().exists()


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
        return [str(firebase_cli()), "emulators:start",
                "--only", "auth", "--project", PROJECT,
                "--config", str(self.workdir / "firebase.json")]

    def env(self) -> dict[str, str]:
        return {"FIREBASE_CLI_DISABLE_UPDATE_CHECK": "true", "CI": "true",
                "XDG_CONFIG_HOME": str(self.workdir / "config")}
