"""Time to the first rendered page of the web app's file list at 10,000 files (make run).

Seeds one workspace (the ``bench-user`` of ``bench.search_latency``) through the metadata
store the server itself opens, serves it with ``python -m localdev.server`` (the embedded
backends, as ``make run``) and loads the Files view in Debian's Chromium. The time counted
is from navigation start to the first 50 rows on screen: the HTML, the scripts, the
session restore, ``GET /files?limit=50`` and ``GET /files/count``, and the render. Cold is
a fresh browser context (nothing cached); warm is a reload. The baseline is the same
workspace with 100 files, measured in the same run: the app pages on the server, so the
ratio should stay near 1.

    make bench-web        # or: .venv/bin/python -m bench.web_first_render [--files 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.search_latency import seed
from localdev.process import LocalServer
from localdev.server import build_web
from shared import factory
from shared.auth import mint_dev_token

SECRET = "bench-secret-0123456789-abcdefghijklmnop"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# A function, not an expression: the page's CSP forbids eval, which expressions would need.
ROWS = "(n) => document.querySelectorAll('.file-table tbody tr').length >= Math.min(50, n)"


def seeded(root: Path, files: int) -> dict[str, str]:
    """A storage dir holding ``files`` files for bench-user, and the server's environment."""
    env = {"AUTH_MODE": "dev", "AUTH_DEV_SECRET": SECRET, "WORKSPACE_STORAGE_DIR": str(root),
           "CLAMAV_SERVICE_ENABLED": "false", "MEDIA_EXEC_ROOT": str(root / "exec"),
           "LOG_LEVEL": "WARNING"}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    factory.reset()
    try:
        seed(factory.metadata_store(), files, 0)  # type: ignore[arg-type]
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        factory.reset()
    return env


def first_render(page: Any, files: int) -> float:
    """Milliseconds from navigation start to the first page of rows."""
    page.wait_for_function(ROWS, arg=files, polling="raf", timeout=60_000)
    return float(page.evaluate("() => performance.now()"))


def measure(browser: Any, server: LocalServer, files: int, runs: int) -> tuple[float, float]:
    """(median cold, median warm) first-render times in ms.

    Each run is a fresh browser context (an empty cache) already signed in: the session the
    sign-in form would store is put in sessionStorage before the page's scripts run.
    """
    session = json.dumps({"user": "bench-user", "token": mint_dev_token(SECRET, "bench-user"),
                          "expires_at": "2999-01-01T00:00:00Z"})
    cold, warm = [], []
    for _ in range(runs):
        context = browser.new_context()
        context.add_init_script(f"sessionStorage.setItem('workspace.session', {session!r})")
        page = context.new_page()
        page.goto(server.url + "/", wait_until="commit")
        cold.append(first_render(page, files))
        page.reload(wait_until="commit")
        warm.append(first_render(page, files))
        context.close()
    return statistics.median(cold), statistics.median(warm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    build_web()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for files in (args.baseline, args.files):
            start = time.perf_counter()
            env = seeded(Path(tmp) / f"storage-{files}", files)
            print(f"seeded {files} files in {time.perf_counter() - start:.1f} s")
            server = LocalServer(Path(tmp) / f"server-{files}", env).start()
            try:
                results[files] = measure(browser, server, files, args.runs)
            finally:
                server.stop()
            cold, warm = results[files]
            print(f"{files:6d} files: first page rendered in {cold:6.0f} ms cold (no cache), "
                  f"{warm:6.0f} ms warm (median of {args.runs})")
        browser.close()
    (base_cold, base_warm), (big_cold, big_warm) = results[args.baseline], results[args.files]
    print(f"ratio {args.files} / {args.baseline} files: cold {big_cold / base_cold:.2f}x, "
          f"warm {big_warm / base_warm:.2f}x")


if __name__ == "__main__":
    main()
