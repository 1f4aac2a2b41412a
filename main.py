"""Entry points for Cloud Functions, which loads ``main.py`` from the source root.

Each name here is a deployed function (``--entry-point``); the Terraform tests check that
every one of them has a function resource. Importing this module only configures logging:
clients and backends are built on first use (cold starts).
"""

from functions.files import files
from functions.logs import logs
from functions.workspace import workspace
from shared.logsetup import configure_logging

configure_logging()

__all__ = ["files", "logs", "workspace"]
