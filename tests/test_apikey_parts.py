"""The pure parts of API keys: the key format and its hash, and the token bucket's arithmetic."""

from __future__ import annotations

import hashlib

from shared.apikeys import secret
from shared.apikeys.bucket import TokenBucket
from shared.models import Bucket


def test_a_key_names_its_record_and_only_its_hash_is_kept():
    key_id, key = secret.new_key()
    assert key.startswith("wsk_") and len(key) == 57 and key_id == "key_" + key[4:14]
    assert secret.key_id_of(key) == key_id
    assert secret.digest(key) == hashlib.sha256(key.encode()).hexdigest()
    assert secret.matches(key, secret.digest(key))
    assert not secret.matches(key[:-1] + ("x" if key[-1] != "x" else "y"), secret.digest(key))
    assert len({secret.new_key()[1] for _ in range(200)}) == 200


def test_malformed_keys_name_no_record():
    _, key = secret.new_key()
    for bad in ("", "wsk_", key[:-1], key + "A", "WSK_" + key[4:], key[:13] + "A" + key[14:],
                key[:20] + "=" + key[21:], "key_" + key[4:]):
        if bad != key:
            assert secret.key_id_of(bad) is None, bad
    assert secret.looks_like_key("wsk_anything") and not secret.looks_like_key("eyJhbGciOi")


def test_a_bucket_bursts_to_its_rate_then_refills_continuously():
    bucket, now = TokenBucket(60), 1000.0
    state: Bucket | None = None
    for _ in range(60):
        state = bucket.take(state, now)
        assert state is not None
    assert bucket.take(state, now) is None and bucket.wait(state, now) == 1
    assert bucket.take(state, now + 1.0) == Bucket(0.0, now + 1.0)  # one a second
    assert bucket.level(state, now + 3600) == 60.0  # never more than a minute's worth


def test_retry_after_is_whole_seconds_and_a_clock_going_back_refills_nothing():
    bucket = TokenBucket(7)  # a token every 8.57 s
    empty = Bucket(0.0, 100.0)
    assert bucket.wait(empty, 100.0) == 9
    assert bucket.wait(empty, 105.0) == 4
    assert bucket.level(empty, 50.0) == 0.0 and bucket.take(empty, 50.0) is None
    assert bucket.wait(None, 0.0) == 1  # never 0, even when a token is there
