"""``GcsObjects``: every generation-pinned GCS operation, in one place.

``info`` (one generation's metadata), ``open``/``open_live``/``reader`` (streamed reads with
Range resume and a CRC32C check), ``copy`` (create-only, pinned to the source generation),
``delete`` (pinned to a generation), ``list`` and signing (``signer``). The blob store, the
direct-upload landing zone, media ``gcs://`` inputs and the ClamAV front all go through it;
nothing outside ``shared.storage.gcs`` imports ``google.cloud.storage``.

Preconditions and retries (STYLE habit 8): every create names ``if_generation_match=0``, every
copy also pins its source generation, every delete pins the generation it removes. Each call
is therefore safe to repeat and uses the connection's one retry policy (transient errors only).

fake-gcs-server 1.54 ignores ``ifGenerationMatch`` on rewrite, copy and delete, so ``copy``
also looks before it copies, and recognises its own earlier copy by a metadata marker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from google.api_core import exceptions as gexc

from shared.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from shared.models import ObjectRef
from shared.storage.base import ObjectInfo
from shared.storage.gcs.connection import GcsConnection
from shared.storage.gcs.errors import edge
from shared.storage.gcs.reader import GcsReader, download_url
from shared.storage.gcs.signing import GcsSigner

SOURCE_META = "workspace-source"  # "bucket/name#generation" of the object a copy came from
READ_CHUNK = 1024 * 1024
# GCS bucket names: 3-63 characters per dot-separated part, lower-case letters, digits, - _ .
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_MAX_NAME_BYTES = 1024
_MAX_GENERATION = 2**63 - 1
TAKEN = "a blob already exists at that key"
SOURCE_CHANGED = "the source object changed: the generation to copy is gone"


def check_object_ref(bucket: str, name: str, generation: int) -> None:
    """400 unless the triple names one possible GCS object generation."""
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise BadRequest("'bucket' is not a valid bucket name")
    if not name or len(name.encode("utf-8")) > _MAX_NAME_BYTES or any(
            c in name for c in "\r\n"):
        raise BadRequest("'name' must be an object name of 1 to 1024 bytes, without CR or LF")
    if name in {".", ".."} or name.startswith(".well-known/acme-challenge/"):
        raise BadRequest("'name' is not a valid object name")
    if not 0 < generation <= _MAX_GENERATION:
        raise BadRequest("'generation' must be a positive 64-bit integer")


def _info(bucket: str, blob: object) -> ObjectInfo:
    return ObjectInfo(bucket, blob.name, int(blob.generation or 0),  # type: ignore[attr-defined]
                      int(blob.size or 0), blob.time_created,  # type: ignore[attr-defined]
                      blob.content_type, blob.crc32c,  # type: ignore[attr-defined]
                      dict(blob.metadata or {}))  # type: ignore[attr-defined]


class GcsObjects:
    """Pinned operations over one ``GcsConnection``; ``signer`` signs URLs when configured."""

    def __init__(self, conn: GcsConnection, signer: GcsSigner | None = None) -> None:
        self.conn = conn
        self._signer = signer

    @property
    def signer(self) -> GcsSigner:
        """The URL signer; without a configured one, IAM signBlob with the runtime account."""
        if self._signer is None:
            self._signer = GcsSigner(self.conn)
        return self._signer

    # -- reads ------------------------------------------------------------------------------
    def info(self, bucket: str, name: str, generation: int | None = None) -> ObjectInfo | None:
        """That generation (the live one when None), or None when it does not exist."""
        with edge():
            blob = self.conn.client.bucket(bucket).get_blob(
                name, generation=generation, timeout=self.conn.timeout, retry=self.conn.retry)
        if blob is None or (generation is not None and blob.generation != generation):
            return None
        return _info(bucket, blob)

    def reader(self, obj: ObjectInfo) -> GcsReader:
        """A stream of exactly ``obj.generation`` (no further metadata request)."""
        url = download_url(self.conn.endpoint, obj.bucket, obj.name, obj.generation)
        return GcsReader(self.conn, url, obj.size, obj.crc32c)

    def open(self, ref: ObjectRef, max_bytes: int | None = None) -> GcsReader:
        """Exactly that generation: 400 for an impossible ref, 404 if gone, 413 past the cap."""
        check_object_ref(ref.bucket, ref.name, ref.generation)
        return self._open(ref.bucket, ref.name, ref.generation, max_bytes)

    def open_live(self, bucket: str, name: str, max_bytes: int | None = None) -> GcsReader:
        """The live generation, pinned at open: a later overwrite never mixes into the read."""
        check_object_ref(bucket, name, 1)
        return self._open(bucket, name, None, max_bytes)

    def _open(self, bucket: str, name: str, generation: int | None,
              max_bytes: int | None) -> GcsReader:
        obj = self.info(bucket, name, generation)
        if obj is None:
            raise NotFound("object not found at that generation")
        if max_bytes is not None and obj.size > max_bytes:
            raise PayloadTooLarge(f"the object is larger than {max_bytes} bytes",
                                  max_bytes=max_bytes)
        return self.reader(obj)

    def chunks(self, obj: ObjectInfo, size: int = READ_CHUNK) -> Iterator[bytes]:
        """The bytes of exactly ``obj.generation``, streamed (CRC32C checked at the end)."""
        with self.reader(obj) as reader:
            while chunk := reader.read(size):
                yield chunk

    def list(self, bucket: str, prefix: str, older_than: datetime,
             limit: int) -> list[ObjectInfo]:
        """Live objects under ``prefix`` created before ``older_than``."""
        out: list[ObjectInfo] = []
        with edge():
            for blob in self.conn.client.list_blobs(bucket, prefix=prefix,
                                                    timeout=self.conn.timeout,
                                                    retry=self.conn.retry):
                if blob.time_created is not None and blob.time_created < older_than:
                    out.append(_info(bucket, blob))
                    if len(out) >= limit:
                        break
        return out

    # -- writes -----------------------------------------------------------------------------
    def copy(self, source: ObjectInfo, bucket: str, name: str,
             metadata: dict[str, str] | None = None,
             marker: tuple[str, str] | None = None) -> None:
        """Create ``bucket/name`` from exactly ``source.generation``: create-only, repeatable.

        ``marker`` is the metadata (key, value) the target carries when a copy of this same
        source landed before (default: ``SOURCE_META`` = the source's id): a retried copy
        meets it and counts as done. Another object at the target is ``Conflict(TAKEN)``;
        a source generation that is gone is ``Conflict(SOURCE_CHANGED)``.
        """
        key, value = marker or (SOURCE_META, source.ref.id)
        client = self.conn.client
        origin = client.bucket(source.bucket).blob(source.name, generation=source.generation)
        target = client.bucket(bucket).blob(name)
        target.metadata = {**(metadata or {}), key: value}
        if source.content_type:
            target.content_type = source.content_type

        def landed() -> bool:
            existing = self.info(bucket, name)
            if existing is None:
                return False
            if existing.metadata.get(key) == value:
                return True
            raise Conflict(TAKEN)

        if landed():
            return
        try:
            with edge(precondition=Conflict(SOURCE_CHANGED)):
                try:
                    token: str | None = None
                    while True:
                        token, _, _ = target.rewrite(
                            origin, token=token, if_generation_match=0,
                            if_source_generation_match=source.generation,
                            timeout=self.conn.timeout, retry=self.conn.retry)
                        if token is None:
                            break
                except gexc.NotFound as exc:  # the pinned source generation is gone
                    raise Conflict(SOURCE_CHANGED) from exc
        except Conflict:
            if not landed():  # a retried rewrite whose first attempt landed counts as done
                raise

    def delete(self, ref: ObjectRef, retry: bool = True) -> bool:
        """Delete exactly ``ref.generation``; False when it was already gone or replaced."""
        with edge():
            try:
                self.conn.client.bucket(ref.bucket).blob(ref.name).delete(
                    if_generation_match=ref.generation, timeout=self.conn.timeout,
                    retry=self.conn.retry if retry else None)
            except (gexc.NotFound, gexc.PreconditionFailed):
                return False
        return True
