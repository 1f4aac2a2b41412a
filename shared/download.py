"""Response headers for serving stored bytes safely: ``download_headers``.

Uploaded HTML, SVG or script must never run in the service's origin: every download gets
``nosniff`` and a sandboxing CSP, and active types are always sent as attachments.
"""

from __future__ import annotations

from urllib.parse import quote

from shared.mime import ACTIVE_TYPES
from shared.models import FileRecord

CHUNK = 1024 * 1024
_INLINE_MAJOR = {"image", "video", "audio"}
_INLINE_EXACT = {"text/plain", "application/pdf"}


def _inline_ok(mime_type: str) -> bool:
    if mime_type in ACTIVE_TYPES:
        return False
    return mime_type.split("/", 1)[0] in _INLINE_MAJOR or mime_type in _INLINE_EXACT


def content_disposition(filename: str, inline: bool) -> str:
    """RFC 6266 disposition with an ASCII fallback and the UTF-8 name."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download_headers(record: FileRecord, want_inline: bool = False) -> dict[str, str]:
    """Headers for a file's bytes; inline only when asked and the type is passive."""
    return {
        "Content-Type": record.mime_type or "application/octet-stream",
        "Content-Length": str(record.size_bytes),
        "Content-Disposition": content_disposition(
            record.filename, want_inline and _inline_ok(record.mime_type)),
        "ETag": f'"{record.checksum}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        # Revalidate every time: the ETag (the SHA-256) makes that a cheap 304.
        "Cache-Control": "private, max-age=0, must-revalidate",
        "Accept-Ranges": "bytes",
    }
