"""Run the rescan job once: ``python -m localdev.rescan`` (``make rescan``).

After a signature update (locally: ``ClamdProcess.add_signature``, or a new database in
clamd's directory and ``RELOAD``), rescans every file scanned with older signatures, in
batches, at ``RESCAN_RATE_PER_SECOND``, and prints the progress report as JSON. In the cloud
the same ``RescanJob.run`` is the ``rescan`` function, started by Cloud Scheduler.
"""

from __future__ import annotations

import json
import os

from shared import factory
from shared.logging_config import configure_logging


def main() -> None:
    """Rescan until done and print the report."""
    os.umask(0o077)  # like the server: whatever it creates in the data dir stays private
    configure_logging()
    print(json.dumps(factory.rescan_job().run()))


if __name__ == "__main__":
    main()
