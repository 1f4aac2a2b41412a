"""The key format, its hash and the check of a presented key.

A key is ``wsk_`` + a 10-character public part + 32 random bytes (base64url, 43 characters).
The public part names the record (``key_<public>``; ``wsk_<public>`` is the prefix listings
show), so a presented key is checked against one record, never searched for. Only the
SHA-256 of the whole key is stored: the 256 random bits make a slow password hash
pointless, and nothing stored can be replayed. The comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

KEY_PREFIX = "wsk_"
PUBLIC_CHARS = 10
SECRET_BYTES = 32
_PUBLIC_ALPHABET = string.ascii_lowercase + string.digits
_KEY_RE = re.compile(rf"wsk_([a-z0-9]{{{PUBLIC_CHARS}}})[A-Za-z0-9_-]{{43}}")


def new_key() -> tuple[str, str]:
    """A fresh ``(key_id, key)``; the caller stores ``digest(key)`` and shows ``key`` once."""
    public = "".join(secrets.choice(_PUBLIC_ALPHABET) for _ in range(PUBLIC_CHARS))
    return f"key_{public}", KEY_PREFIX + public + secrets.token_urlsafe(SECRET_BYTES)


def looks_like_key(token: str) -> bool:
    """True for a bearer token meant as an API key (it may still be malformed)."""
    return token.startswith(KEY_PREFIX)


def key_id_of(presented: str) -> str | None:
    """The record a presented key names, or None when it is not a well-formed key."""
    match = _KEY_RE.fullmatch(presented)
    return f"key_{match.group(1)}" if match else None


def digest(key: str) -> str:
    """What is stored: the SHA-256 of the key, in hex."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def matches(presented: str, stored_digest: str) -> bool:
    """Constant-time comparison of a presented key with a stored digest."""
    return hmac.compare_digest(digest(presented), stored_digest)
