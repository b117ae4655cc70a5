"""Light normalisation before embedding: social-media noise out, wording kept."""

from __future__ import annotations

import re
import unicodedata

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")
_SPACE = re.compile(r"\s+")
_REPEAT = re.compile(r"(\w)\1{3,}")


def normalise_for_sentiment(text: str) -> str:
    """Replace URLs and @handles with placeholders, squeeze letter runs ("buenooooo" -> "buenooo") and spaces.

    Mentions name brands and people; left in, a classifier learns who was mentioned instead of how.
    """
    text = _URL.sub("http", scrub(text))
    text = _MENTION.sub("@usuario", text)
    text = _REPEAT.sub(r"\1\1\1", text)
    return _SPACE.sub(" ", text).strip()


def scrub(text: str) -> str:
    """Replace lone UTF-16 surrogates (valid in JSON escapes, not encodable as UTF-8) with U+FFFD."""
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return text
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


_BLANK_CATEGORIES = {"Cc", "Cf", "Zs", "Zl", "Zp", "Cs"}


def is_blank(text: str) -> bool:
    """True when ``text`` has nothing but white space, control or invisible format characters."""
    return all(unicodedata.category(c) in _BLANK_CATEGORIES for c in text)


def text_fingerprint(text: str) -> str:
    """SHA-256 (hex) of a text with case, Unicode form and white space normalised: the same message written again
    (or with different spacing) has the same fingerprint. Gate sets and training snapshots are kept apart by it."""
    import hashlib

    norm = _SPACE.sub(" ", unicodedata.normalize("NFC", scrub(text)).casefold()).strip()
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()
