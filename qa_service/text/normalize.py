"""Light normalisation before embedding: social-media noise out, wording kept."""

from __future__ import annotations

import re

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")
_SPACE = re.compile(r"\s+")
_REPEAT = re.compile(r"(\w)\1{3,}")


def normalise_for_sentiment(text: str) -> str:
    """Replace URLs and @handles with placeholders, squeeze letter runs ("buenooooo" -> "buenooo") and spaces.

    Mentions name brands and people; left in, a classifier learns who was mentioned instead of how.
    """
    text = _URL.sub("http", text)
    text = _MENTION.sub("@usuario", text)
    text = _REPEAT.sub(r"\1\1\1", text)
    return _SPACE.sub(" ", text).strip()
