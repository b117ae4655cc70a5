"""Text for topic modelling: stop words (Spanish, English, conversation filler) and cleaning before embedding."""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from qa_service.errors import InvalidInputError

# Conversation filler that survives the standard stop lists and says nothing about the topic.
_FILLER = {
    "es": "hola buenas buenos días dias tardes noches gracias graciasss saludos favor porfa porfavor ok vale sí si "
          "usted ustedes señor señora señorita hoy ayer mañana hace pues bueno gracias por ya q k xq pq tb tmb "
          "etc jaja jajaja jeje mas més muy súper super quiero quería queria necesito necesitaba".split(),
    "en": "hi hello hey thanks thank thx pls please ok okay yes yeah sir madam today yesterday tomorrow just "
          "really want wanted need would like lol dm im ive dont cant wont didnt doesnt hasn haven don didn doesn isn wasn aren won wouldn couldn "
          "shouldn ve ll re".split(),
}


def stop_words(languages: Sequence[str] = ("es", "en")) -> list[str]:
    """Stop words for the given languages (spaCy's lists plus conversation filler), accents kept.

    Both the accented and the unaccented spelling of each Spanish word are included, since customers often
    type without accents ("como estas" / "cómo estás").
    """
    words: set[str] = set()
    for lang in languages:
        if lang == "es":
            from spacy.lang.es.stop_words import STOP_WORDS
        elif lang == "en":
            from spacy.lang.en.stop_words import STOP_WORDS
        else:
            raise InvalidInputError(f"no stop words for language {lang!r}: use es or en", "languages")
        words |= {w.lower() for w in STOP_WORDS} | set(_FILLER[lang])
    words |= {_strip_accents(w) for w in words}
    return sorted(words)


def _strip_accents(w: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", w) if unicodedata.category(c) != "Mn")


# Words of two or more letters (accented letters included, ñ kept); digits and punctuation are not topic words.
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W\d_]+\b"

_URL = re.compile(r"https?://\S+|www\.\S+", re.I)
_HANDLE = re.compile(r"(?<!\w)[@#]\w+")
_MASK = re.compile(r"\b([^\W\d_])\1+\b|[{<\[]\$?[\w.\- ]{0,20}[}>\]]")
_SPACES = re.compile(r"\s+")


def clean_for_topics(text: str) -> str:
    """Drop URLs, @handles and #tags, masks of redacted data ("XXXX", "{$1.00}", "<EMAIL>"), squeeze spaces:
    clusters should follow the complaint, not the brand or the redaction."""
    return _SPACES.sub(" ", _MASK.sub(" ", _HANDLE.sub(" ", _URL.sub(" ", text)))).strip()
