"""``Digest`` and ``Ingest`` below the upload paths: the one pass that limits, hashes, sniffs,
scans and stages bytes, against a real local blob store.

The scanner here is ``Recorder``, a ``Scanner`` that records what its session was given
and answers a chosen verdict: a stand-in for the interface, so the pass's own bookkeeping
(which bytes were fed, when the session is finished or aborted) can be seen. Real clamd and
the front are exercised through the same pass by the ingress tests.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from shared import mime
from shared.errors import PayloadTooLarge, ScannerUnavailable
from shared.files.ingest import Ingest
from shared.models import BlobFacts
from shared.scanning.base import Scanner, ScanSession, Verdict
from shared.scanning.digest import Digest
from shared.storage.local import LocalBlobStore

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")


class RecordingSession(ScanSession):
    def __init__(self, scanner: Recorder) -> None:
        self.scanner = scanner
        self.fed: list[bytes] = []
        self.finished = self.aborted = self.submitted = False

    def feed(self, chunk: bytes) -> None:
        if self.scanner.fail_on_feed:
            raise ScannerUnavailable("virus scanner connection lost")
        self.fed.append(bytes(chunk))

    def submit(self) -> None:
        if not self.submitted:  # once, as the real sessions end a stream once
            self.submitted = True
            self.scanner.events.append("submit")

    def finish(self) -> Verdict:
        self.finished = True
        self.scanner.events.append("verdict")
        return Verdict(self.scanner.infected, "Test.Sig" if self.scanner.infected else None,
                       sum(map(len, self.fed)))

    def abort(self) -> None:
        self.aborted = True


class Recorder(Scanner):
    def __init__(self, infected: bool = False, fail_on_feed: bool = False) -> None:
        self.infected, self.fail_on_feed = infected, fail_on_feed
        self.sessions: list[RecordingSession] = []
        self.events: list[str] = []

    def open_session(self) -> ScanSession:
        session = RecordingSession(self)
        self.sessions.append(session)
        return session

    def ping(self) -> bool:
        return True


def test_every_byte_is_scanned_hashed_and_counted() -> None:
    scanner = Recorder()
    digest = Digest(scanner, 100)
    chunks = [b"a" * 40, b"", b"b" * 30, b"c" * 30]
    for chunk in chunks:
        digest.write(chunk)
    assert digest.size == 100 and digest.finished is False
    verdict, facts = digest.finish("notes.txt")
    assert digest.finished is True
    body = b"".join(chunks)
    assert b"".join(scanner.sessions[0].fed) == body
    assert verdict == Verdict(False, None, 100)
    assert facts == BlobFacts(100, hashlib.sha256(body).hexdigest(), "text/plain", "document")
    digest.abort()  # after the verdict: nothing left to abort
    assert scanner.sessions[0].aborted is False


def test_the_cap_is_inclusive_and_named() -> None:
    exact = Digest(Recorder(), 3 * 1024 * 1024)
    exact.write(b"x" * (3 * 1024 * 1024))  # exactly the cap: accepted
    over = Digest(Recorder(), 3 * 1024 * 1024)
    over.write(b"x" * (2 * 1024 * 1024))
    with pytest.raises(PayloadTooLarge, match=r"^file exceeds the 3 MiB limit$") as info:
        over.write(b"x" * (1024 * 1024 + 1))
    assert info.value.extra == {"max_bytes": 3 * 1024 * 1024}


def test_the_type_is_sniffed_from_the_head_across_chunks() -> None:
    digest = Digest(Recorder(), 10 * mime.SNIFF_BYTES)
    body = PNG + b"\0" * (2 * mime.SNIFF_BYTES)
    for index in range(0, len(body), 7):  # the magic bytes arrive split up
        digest.write(body[index:index + 7])
    assert len(digest._head) == mime.SNIFF_BYTES  # filled exactly, never past it
    _, facts = digest.finish("picture.bin")
    assert (facts.mime_type, facts.file_type) == ("image/png", "image")
    assert facts.checksum == hashlib.sha256(body).hexdigest()


def test_only_the_head_is_kept_for_sniffing() -> None:
    digest = Digest(Recorder(), 10 * mime.SNIFF_BYTES)
    digest.write(b"%PDF-1.7\n" + b"p" * (mime.SNIFF_BYTES * 2))
    assert len(digest._head) == mime.SNIFF_BYTES
    digest.write(PNG)  # past the head: cannot change the answer
    assert len(digest._head) == mime.SNIFF_BYTES
    assert digest.finish("doc.pdf")[1].mime_type == "application/pdf"


def test_an_unfinished_digest_aborts_its_scan() -> None:
    scanner = Recorder()
    digest = Digest(scanner, 10)
    digest.write(b"half")
    digest.abort()
    assert scanner.sessions[0].aborted is True and scanner.sessions[0].finished is False


def test_an_infected_verdict_comes_back_with_the_facts() -> None:
    digest = Digest(Recorder(infected=True), 10)
    digest.write(b"bad")
    verdict, facts = digest.finish("x.txt")
    assert verdict == Verdict(True, "Test.Sig", 3) and facts.size_bytes == 3


def test_ingest_stages_what_it_scans(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    scanner = Recorder()
    ingest = Ingest(store, scanner, 100)
    ingest.write(b"hello ")
    ingest.write(b"world")
    assert ingest.size == 11
    verdict, facts = ingest.finish("hello.txt")
    assert verdict.bytes_scanned == 11 and facts.size_bytes == 11
    staged = ingest.staged
    assert staged.size == 11 and Path(staged.path).read_bytes() == b"hello world"  # type: ignore[attr-defined]
    store.promote(staged, "ws_1/file_000001/v1/hello.txt")
    with store.open_read("ws_1/file_000001/v1/hello.txt") as stream:
        assert stream.read() == b"hello world"


def test_ingest_discard_leaves_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    scanner = Recorder()
    ingest = Ingest(store, scanner, 100)
    ingest.write(b"unwanted")
    path = Path(ingest.staged.path)  # type: ignore[attr-defined]
    assert path.exists()
    ingest.discard()
    assert not path.exists() and scanner.sessions[0].aborted is True
    assert list((tmp_path / ".staging").iterdir()) == []


def test_ingest_over_the_cap_stages_nothing_more(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    ingest = Ingest(store, Recorder(), 10)
    ingest.write(b"1234567890")
    with pytest.raises(PayloadTooLarge):
        ingest.write(b"1")
    assert ingest.staged.size == 10  # the refused chunk never reached the stage
    ingest.discard()


def test_a_scanner_lost_mid_stream_stages_nothing_more(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    ingest = Ingest(store, Recorder(fail_on_feed=True), 100)
    with pytest.raises(ScannerUnavailable):
        ingest.write(b"first")
    assert ingest.staged.size == 0
    ingest.discard()


def test_a_stage_that_fails_aborts_the_scan(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalBlobStore(tmp_path)
    scanner = Recorder()

    def broken(key: str | None = None) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store, "stage", broken)
    with pytest.raises(OSError, match="disk full"):
        Ingest(store, scanner, 100)
    assert scanner.sessions[0].aborted is True


def test_ingest_stages_under_the_key_it_is_given(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    seen: list[str | None] = []
    real = store.stage

    def spy(key: str | None = None):  # the store's own stage, with its argument noted
        seen.append(key)
        return real(key)

    store.stage = spy  # type: ignore[method-assign]
    Ingest(store, Recorder(), 10, key="ws_1/file_000001/v1/a.txt").discard()
    Ingest(store, Recorder(), 10).discard()
    assert seen == ["ws_1/file_000001/v1/a.txt", None]


def test_the_flush_and_the_sniff_overlap_the_scan(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The scanner's stream ends first; the staged bytes are flushed (an fsync, or the
    last request of a GCS upload) and the type sniffed while it scans; then the verdict."""
    scanner = Recorder()
    store = LocalBlobStore(tmp_path)
    stage = store.stage

    def recording_stage(key: str | None = None):  # the real staged blob, its close noted
        staged = stage(key)
        close = staged.close

        def noted_close() -> None:
            scanner.events.append("flush")
            close()

        staged.close = noted_close  # type: ignore[method-assign]
        return staged

    sniff = mime.sniff

    def noted_sniff(head: bytes, filename: str) -> str:
        scanner.events.append("sniff")
        return sniff(head, filename)

    monkeypatch.setattr(store, "stage", recording_stage)
    monkeypatch.setattr(mime, "sniff", noted_sniff)
    ingest = Ingest(store, scanner, 1024)
    ingest.write(PNG)
    verdict, facts = ingest.finish("pixel.png")
    assert scanner.events == ["submit", "flush", "sniff", "verdict"]
    assert not verdict.infected and facts.mime_type == "image/png"
