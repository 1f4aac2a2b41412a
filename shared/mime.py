"""MIME sniffing from content (libmagic via python-magic) and the spec's ``file_type``.

The extension alone is never trusted: a ``.png`` holding HTML is served as HTML-with-
attachment, not as an image. ``SNIFF_BYTES`` of the head is all libmagic needs, so the
upload pipeline keeps that much while it streams and sniffs without a second read.
"""

from __future__ import annotations

import mimetypes
import os

import magic

SNIFF_BYTES = 64 * 1024

_DOCUMENT_TYPES = {
    "application/pdf",
    "application/json",
    "application/xml",
    "application/rtf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/epub+zip",
}
_GENERIC = {"application/octet-stream", "text/plain", "application/zip", "inode/x-empty"}
# Types a browser could execute or render as active content when served inline.
ACTIVE_TYPES = {
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "text/javascript",
    "application/javascript",
    "application/x-shockwave-flash",
}


def sniff(head: bytes, filename: str) -> str:
    """The MIME type of content whose first bytes are ``head``.

    libmagic decides; the extension only refines a generic answer (a ``.docx`` is a zip to
    libmagic, a ``.csv`` plain text), and never upgrades content to an active type.
    """
    detected = magic.from_buffer(head, mime=True) if head else "inode/x-empty"
    if detected == "inode/x-empty":
        detected = "application/octet-stream"
    if detected in _GENERIC:
        guessed, _ = mimetypes.guess_type(filename, strict=False)
        if guessed and guessed not in ACTIVE_TYPES and _compatible(detected, guessed):
            return guessed
    return detected


def _compatible(detected: str, guessed: str) -> bool:
    if detected == "text/plain":
        return guessed.startswith("text/") or guessed in {"application/json"}
    if detected == "application/zip":
        return "officedocument" in guessed or "opendocument" in guessed or guessed.endswith("+zip")
    return detected == "application/octet-stream" and not guessed.startswith("text/")


def file_type_of(mime_type: str) -> str:
    """The spec's category: image, video, audio, document or other."""
    major = mime_type.split("/", 1)[0]
    if major in {"image", "video", "audio"}:
        return major
    if major == "text" or mime_type in _DOCUMENT_TYPES or "officedocument" in mime_type:
        return "document"
    return "other"


def extension_of(filename: str) -> str:
    """The extension with its dot, lower-cased (``.png``), or ``""``."""
    return os.path.splitext(filename)[1].lower()[:16]
