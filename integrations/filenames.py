"""Safe, readable, unique file names for recordings, whatever their topic holds."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

MAX_TOPIC_BYTES = 120
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_RESERVED = set('<>:"/\\|?*')


def _keep(char: str) -> bool:
    if char in _RESERVED:
        return False
    category = unicodedata.category(char)
    # Letters, marks (accents, Indic vowel signs) and digits stay; so do a few ASCII signs.
    return category[0] in "LMN" or char in "-_.,()[]+&'"


def _cap_bytes(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def safe_id(ident: object) -> str:
    """`ident` when it is a plain token (digits, letters, `-`, `_`), else a short hash of it."""
    text = str(ident)
    if _SAFE_ID.fullmatch(text) and len(text) <= 64:
        return text
    return "x" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def safe_filename(
    ident: object, topic: str, ext: str = ".mp4", max_topic_bytes: int = MAX_TOPIC_BYTES
) -> str:
    """`<id>-<topic>.<ext>`: unique by the id prefix, the topic kept readable.

    Unicode letters and digits survive (NFC-normalised); path separators, `..`, control and
    reserved characters and whitespace runs become a single `_`; the topic is capped at
    `max_topic_bytes` of UTF-8 without splitting a character.
    """
    text = unicodedata.normalize("NFC", topic or "")
    pieces = [c if _keep(c) else "_" for c in text]
    slug = re.sub(r"_+", "_", "".join(pieces))
    slug = re.sub(r"\.{2,}", ".", slug)
    slug = _cap_bytes(slug, max_topic_bytes).strip("._-,' ")
    name = f"{safe_id(ident)}-{slug or 'recording'}"
    return name + ext


def transcript_path(media: Path) -> Path:
    """Where the captions of a media file live: beside it, with `.vtt`."""
    return media.with_suffix(".vtt")
