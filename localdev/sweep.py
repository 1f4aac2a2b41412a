"""Run the maintenance sweep once: ``python -m localdev.sweep`` (``make sweep``).

Purges blobs past retention, removes staging leftovers and releases abandoned
reservations. In the cloud the same ``FileService.sweep`` runs on a schedule.
"""

from __future__ import annotations

import json

from shared import factory
from shared.logsetup import configure_logging


def main() -> None:
    """Sweep and print what was cleaned, as JSON."""
    configure_logging()
    print(json.dumps(factory.reconciler().run()))


if __name__ == "__main__":
    main()
