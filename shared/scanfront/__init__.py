"""The ClamAV HTTP front: the Cloud Run service ``clamav`` that runs beside clamd.

Not a client: ``shared.scanning`` holds the clients (``HttpScanner`` calls this service).
- ``service``: ``ScanFront``, scanning request bodies and pinned GCS generations (hashed and
  sniffed in the same pass), readiness;
- ``auth``: ``IdTokenVerifier``, the Google ID tokens of allowed invokers.
``functions/clamav_front.py`` wires Flask to it.
"""
