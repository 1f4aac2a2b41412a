"""``UrlSigner`` and its key file, below the HTTP layer: what a signed local link promises.

The key is shared by every process on one storage directory, created once (mode 0600, 64
hex characters); a second process waits for a half-written key instead of using it. A link
verifies only for the exact workspace, file, version and expiry it was signed for, and
every refusal is the same 404 message, whatever was wrong.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from shared.errors import NotFound
from shared.signing import KEY_FILE, UrlSigner, load_or_create_key

REFUSED = "^invalid or expired link$"


def params(signer: UrlSigner, ttl: int = 60, version: int = 3) -> dict[str, str]:
    query, expires = signer.sign("ws_1", "file_000001", version, ttl)
    parsed = {k: v[0] for k, v in parse_qs(query).items()}
    assert int(parsed["expires"]) == expires
    return parsed


def test_the_key_is_created_once_private_and_shared(tmp_path: Path) -> None:
    root = tmp_path / "not" / "yet" / "there"
    key = load_or_create_key(root)
    assert len(key) == 64 and all(c in b"0123456789abcdef" for c in key)
    assert stat.S_IMODE(os.stat(root / KEY_FILE).st_mode) == 0o600
    assert load_or_create_key(root) == key  # a second process reads the same key
    assert load_or_create_key(tmp_path / "elsewhere") != key


def test_a_half_written_key_is_waited_for(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_bytes(b"0123")  # another process is still writing it
    full = b"ab" * 32

    def finish() -> None:
        time.sleep(0.05)
        (tmp_path / KEY_FILE).write_bytes(full)

    writer = threading.Thread(target=finish)
    writer.start()
    assert load_or_create_key(tmp_path) == full
    writer.join()


def test_a_key_that_never_completes_is_an_error(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_bytes(b"short")
    started = time.monotonic()
    with pytest.raises(FileExistsError):
        load_or_create_key(tmp_path)
    assert time.monotonic() - started < 10  # it gives up after about half a second


def test_a_link_verifies_only_for_what_it_was_signed_for() -> None:
    signer = UrlSigner(b"k" * 64)
    good = params(signer)
    assert signer.verify("ws_1", "file_000001", good["v"], good["expires"], good["sig"]) == 3
    assert int(good["expires"]) - time.time() == pytest.approx(60, abs=2)
    refusals = [
        ("ws_2", "file_000001", good["v"], good["expires"], good["sig"]),
        ("ws_1", "file_000002", good["v"], good["expires"], good["sig"]),
        ("ws_1", "file_000001", "4", good["expires"], good["sig"]),
        ("ws_1", "file_000001", good["v"], str(int(good["expires"]) + 1), good["sig"]),
        ("ws_1", "file_000001", good["v"], good["expires"], good["sig"][:-1]),
        ("ws_1", "file_000001", good["v"], good["expires"], ""),
        ("ws_1", "file_000001", "three", good["expires"], good["sig"]),
        ("ws_1", "file_000001", good["v"], None, good["sig"]),
        ("ws_1", "file_000001", good["v"], good["expires"], "\udc80"),  # not encodable
    ]
    for args in refusals:
        with pytest.raises(NotFound, match=REFUSED):
            signer.verify(*args)  # type: ignore[arg-type]
    other = UrlSigner(b"q" * 64)
    with pytest.raises(NotFound, match=REFUSED):
        other.verify("ws_1", "file_000001", good["v"], good["expires"], good["sig"])


def test_an_expired_link_is_refused_with_the_same_message() -> None:
    signer = UrlSigner(b"k" * 64)
    dead = params(signer, ttl=-1)
    with pytest.raises(NotFound, match=REFUSED):
        signer.verify("ws_1", "file_000001", dead["v"], dead["expires"], dead["sig"])
