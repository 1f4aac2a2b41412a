"""The outbox publisher as a local process: ``python -m localdev.publisher`` (``make dev``).

In the cloud Eventarc calls ``publish_events`` for each new outbox document; locally this
loop does the same job: it drains the outbox to ``EVENTS_TOPIC`` on the Pub/Sub emulator
(``PUBSUB_EMULATOR_HOST``) and polls for more. ``PublisherProcess`` runs it in its own
process group (tests kill it mid-drain to show that a new one resumes and nothing is lost).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from localdev.process import ManagedProcess
from shared import factory
from shared.logging_config import configure_logging

log = logging.getLogger("localdev.publisher")
ROOT = Path(__file__).resolve().parent.parent


class PublisherProcess(ManagedProcess):
    """``python -m localdev.publisher`` with ``env``; ready once it has started draining."""

    name = "publisher"

    def __init__(self, workdir: str | os.PathLike[str], env: dict[str, str],
                 batch: int = 100) -> None:
        super().__init__(workdir)
        self._env, self.batch = env, batch
        self.ready_file = self.workdir / "ready"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "localdev.publisher", "--batch", str(self.batch),
                "--ready-file", str(self.ready_file)]

    def env(self) -> dict[str, str]:
        return self._env

    def cwd(self) -> Path:
        return ROOT

    def prepare(self) -> None:
        self.ready_file.unlink(missing_ok=True)

    def answers(self) -> bool:
        return self.ready_file.exists()


def main(argv: list[str] | None = None) -> None:
    """Drain and poll until stopped."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--ready-file", default="")
    args = parser.parse_args(argv)
    configure_logging()
    publisher = factory.event_publisher()
    publisher.batch = args.batch
    if args.ready_file:
        Path(args.ready_file).write_text(str(os.getpid()))
    while True:
        report = publisher.drain(max_seconds=60, idle_seconds=1.0)
        if report["published"]:
            log.info("published %d event(s)", report["published"])
        time.sleep(0.2 if report["status"] == "drained" else 1.0)


if __name__ == "__main__":
    main()
