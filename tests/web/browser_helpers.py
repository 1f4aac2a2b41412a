"""What the browser scenarios share: a watched page, axe, screenshots, a small PNG.

``Watched`` records every request URL and every console message of a page, so a scenario can
prove afterwards that no bearer token went into a URL and the CSP was never violated.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}


def png(width: int = 4, height: int = 3) -> bytes:
    """A valid RGB PNG (a small red picture) the browser can decode."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xc0\x20\x20" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


@dataclass
class Watched:
    """A page plus everything it requested and logged."""

    page: Any
    urls: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, context: Any) -> Watched:
        page = context.new_page()
        page.set_default_timeout(30_000)
        watched = cls(page)
        page.on("request", lambda r: (watched.urls.append(r.url),
                                      watched.requests.append((r.method, r.url))))
        page.on("console", lambda m: watched.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: watched.console.append(f"pageerror: {e}"))
        return watched

    def token(self) -> str:
        """The bearer token the page holds (dev and pasted-token sessions)."""
        import json

        raw = self.page.evaluate("() => sessionStorage.getItem('workspace.session')")
        return json.loads(raw)["token"] if raw else ""

    def assert_clean(self, token: str) -> None:
        """No token in any URL, no CSP violation, no uncaught error."""
        assert token, "the page held no token"
        leaked = [url for url in self.urls if token in url or "eyJ" in url]
        assert not leaked, f"a token went into a URL: {leaked}"
        bad = [m for m in self.console
               if "Content Security Policy" in m or m.startswith("pageerror")]
        assert not bad, bad


def axe_violations(page: Any) -> list[str]:
    """Serious and critical axe-core violations of the page as it is now.

    axe is evaluated through the DevTools protocol, which the page's CSP does not govern, so
    the check runs against the real, strict policy.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} — "
            f"{[n['target'] for n in v['nodes']][:5]}"
            for v in result["violations"] if v.get("impact") in BLOCKING]


def check_view(watched: Watched, output: Path, name: str) -> None:
    """A screenshot of the view, then the accessibility check."""
    watched.page.screenshot(path=str(output / f"{name}.png"), full_page=True)
    problems = axe_violations(watched.page)
    assert not problems, f"{name}: {problems}"
