"""Run the maintenance sweep once: ``python -m localdev.sweep`` (``make sweep``).

Purges blobs past retention, removes staging leftovers and releases abandoned
reservations. In the cloud the same ``Maintenance.run`` runs on a schedule (the ``sweep`` function).
"""

from __future__ import annotations

import json

from shared import factory
from shared.logging_config import configure_logging


def main() -> None:
    """Sweep and print what was cleaned, as JSON."""
    configure_logging()
    print(json.dumps(factory.maintenance().run()))


if __name__ == "__main__":
    main()
