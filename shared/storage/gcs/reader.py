"""``GcsReader``: one streaming GET of a pinned object generation, Range-resumed, CRC-checked.

Memory is bounded by the caller's read size. A dropped connection is resumed with a ``Range``
request at the current offset (same generation, under the connection's retry policy), and
the CRC32C of everything read is checked against the object's at the end, so a short or
corrupted transfer is an error, not a file.
"""

from __future__ import annotations

import base64
import http.client
import io
from urllib.parse import quote

import google_crc32c
import requests
from google.api_core import exceptions as gexc

from shared.errors import BackendUnavailable
from shared.storage.gcs.connection import GcsConnection
from shared.storage.gcs.errors import edge


def crc32c_b64(checksum: google_crc32c.Checksum) -> str:
    """A running CRC32C in GCS's encoding (base64 of the big-endian digest)."""
    return base64.b64encode(checksum.digest()).decode()


def checked(response: requests.Response) -> requests.Response:
    """The response when it is a success or a resumable 308; the mapped API error otherwise."""
    if response.status_code in (200, 201, 206, 308):
        return response
    try:
        raise gexc.from_http_response(response)
    finally:
        response.close()


def download_url(endpoint: str, bucket: str, name: str, generation: int) -> str:
    """The JSON API media URL of exactly one generation of ``bucket/name``."""
    return (f"{endpoint}/download/storage/v1/b/{quote(bucket, safe='')}/o/"
            f"{quote(name, safe='')}?alt=media&generation={generation}")


class GcsReader(io.BufferedIOBase):
    """The bytes of one generation; ``size`` is known before the first read."""

    def __init__(self, conn: GcsConnection, url: str, size: int, crc32c: str | None) -> None:
        self._conn = conn
        self._url = url
        self.size = size
        self._expected = crc32c
        self._crc = google_crc32c.Checksum()
        self._pos = 0
        self._response: requests.Response | None = None

    def _read_once(self, size: int) -> bytes:
        if self._response is None:
            # The stored bytes exactly: no decompressive transcoding, whatever was uploaded.
            headers = {"Accept-Encoding": "gzip"}
            if self._pos:
                headers["Range"] = f"bytes={self._pos}-"
            self._response = checked(self._conn.session.get(
                self._url, headers=headers, stream=True, timeout=self._conn.timeout))
        try:
            data = self._response.raw.read(size if size >= 0 else None, decode_content=False)
            if not data:
                raise http.client.IncompleteRead(b"", self.size - self._pos)
        except BaseException:
            self._drop()
            raise
        return data

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative); b"" at the end."""
        if self.closed:
            raise ValueError("read of a closed blob stream")
        if self._pos >= self.size:
            self._drop()
            return b""
        want = -1 if size is None or size < 0 else min(size, self.size - self._pos)
        with edge():
            data = self._conn.retry(self._read_once)(want)
        self._pos += len(data)
        self._crc.update(data)
        done = self._pos >= self.size and self._expected is not None
        if done and crc32c_b64(self._crc) != self._expected:
            raise BackendUnavailable("download checksum mismatch; retry the download")
        return data

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readable(self) -> bool:
        return True

    def _drop(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    def close(self) -> None:
        self._drop()
        super().close()
