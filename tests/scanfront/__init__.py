"""The ClamAV HTTP front and its client, ``HttpScanner`` (fixtures in ``conftest.py``)."""
