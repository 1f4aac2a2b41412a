"""Rescans: one file on demand (``Rescans``), or every file scanned with older signatures
after a signature update (``RescanJob``)."""
