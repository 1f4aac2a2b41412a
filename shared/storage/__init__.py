"""Blob storage behind one interface: ``BlobStore`` (base), ``LocalBlobStore``."""
