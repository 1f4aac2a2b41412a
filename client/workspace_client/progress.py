"""``ProgressBar``: upload and download progress on stderr, and ``human_size``.

On a terminal the bar redraws one line (at most ten times a second); elsewhere (a log file,
a CI job) it prints a plain line every 10 %, so the output stays readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30


def human_size(size: float) -> str:
    """``1536`` → ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


class ProgressBar:
    """A ``progress(sent, total)`` callback that draws on ``stream``."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._last_decile = -1
        self._done = False

    def __call__(self, sent: int, total: int | None) -> None:
        if self._done:
            return
        now = time.monotonic()
        finished = total is not None and sent >= total
        rate = sent / max(now - self.started, 1e-6)
        if self.tty:
            if not finished and now - self._last_draw < 0.1:
                return
            self._last_draw = now
            self.stream.write("\r" + self._line(sent, total, rate) + ("\n" if finished else ""))
        else:
            decile = int(10 * sent / total) if total else -1
            if decile == self._last_decile and not finished:
                return
            self._last_decile = decile
            self.stream.write(self._line(sent, total, rate) + "\n")
        self.stream.flush()
        self._done = finished

    def _line(self, sent: int, total: int | None, rate: float) -> str:
        speed = f"{human_size(rate)}/s"
        if not total:
            return f"{self.label} {human_size(sent)} {speed}"
        share = min(sent / total, 1.0)
        filled = int(WIDTH * share)
        return (f"{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {share:4.0%} "
                f"{human_size(sent)}/{human_size(total)} {speed}")
