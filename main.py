"""Entry points for Cloud Functions, which loads ``main.py`` from the source root.

Each name here is a deployed function (``--entry-point``); the Terraform tests check that
every one of them has a function resource. Importing this module configures logging and
registers a JSON error handler on the app functions-framework is building (its
``errorhandler`` points at that app while this module executes); clients and backends are
built on first use (cold starts).
"""

import functions_framework
from werkzeug.exceptions import HTTPException

from functions._http import framework_error
from functions.auth import auth
from functions.files import files
from functions.logs import logs
from functions.media import media
from functions.memory import memory
from functions.publish import publish_events
from functions.rescan import rescan
from functions.scan import scan_uploaded_file
from functions.search import search
from functions.sweep import sweep
from functions.workspace import workspace
from shared.logging_config import configure_logging

configure_logging()
functions_framework.errorhandler(HTTPException)(framework_error)

__all__ = ["auth", "files", "logs", "media", "memory", "publish_events", "rescan",
           "scan_uploaded_file", "search", "sweep", "workspace"]
