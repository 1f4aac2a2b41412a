"""``python -m workspace_client`` is the ``ws`` command line."""

from workspace_client.cli import main

main()
