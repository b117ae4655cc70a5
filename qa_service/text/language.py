"""Language identification (es / en / other) with lingua, which ships its own models."""

from __future__ import annotations

import threading
from typing import Literal

LanguageCode = Literal["es", "en", "other"]

# Languages a Spanish/English contact centre actually meets; anything detected outside es/en is "other".
_CANDIDATES = ("SPANISH", "ENGLISH", "PORTUGUESE", "FRENCH", "ITALIAN", "GERMAN", "CATALAN", "DUTCH", "BASQUE")


class LanguageIdentifier:
    """Maps a text to ``es``, ``en`` or ``other``.

    Texts with no letters, or where no candidate wins with at least ``min_confidence``, fall back to
    ``default`` when it is given (for example the language of the rest of the conversation), else ``other``.
    """

    def __init__(self, min_confidence: float = 0.2) -> None:
        from lingua import Language, LanguageDetectorBuilder

        langs = [getattr(Language, n) for n in _CANDIDATES]
        self._detector = LanguageDetectorBuilder.from_languages(*langs).with_preloaded_language_models().build()
        self._lock = threading.Lock()
        self.min_confidence = min_confidence

    def detect(self, text: str, default: LanguageCode | None = None) -> LanguageCode:
        """The language of one text."""
        if not any(ch.isalpha() for ch in text):
            return default or "other"
        with self._lock:
            values = self._detector.compute_language_confidence_values(text)
        return self._decide(values, default)

    def detect_many(self, texts: list[str], default: LanguageCode | None = None) -> list[LanguageCode]:
        """Languages of many texts (lingua's parallel path for batches)."""
        if len(texts) < 8:
            return [self.detect(t, default) for t in texts]
        with self._lock:
            all_values = self._detector.compute_language_confidence_values_in_parallel(texts)
        return [self._decide(v, default) if any(ch.isalpha() for ch in t) else (default or "other")
                for t, v in zip(texts, all_values)]

    def _decide(self, values: list, default: LanguageCode | None) -> LanguageCode:
        if not values or values[0].value < self.min_confidence:
            return default or "other"
        code = values[0].language.iso_code_639_1.name.lower()
        return code if code in ("es", "en") else "other"  # type: ignore[return-value]
