from __future__ import annotations

import pytest

from qa_service.text.language import LanguageIdentifier
from qa_service.text.normalize import normalise_for_sentiment

_LID = LanguageIdentifier()


@pytest.mark.parametrize("text,lang", [
    ("Buenos días, le atiende Laura, ¿en qué puedo ayudarle?", "es"),
    ("Me han cobrado dos veces la factura.", "es"),
    ("I was charged twice for my subscription.", "en"),
    ("Thank you for calling, have a nice day.", "en"),
    ("Bom dia, gostaria de cancelar a minha assinatura.", "other"),
    ("Bonjour, je voudrais annuler mon abonnement.", "other"),
    ("12345 !!!", "other"),
])
def test_language(text, lang):
    assert _LID.detect(text) == lang


def test_default_for_undecidable_text():
    assert _LID.detect("...", default="es") == "es"


def test_normalise_strips_handles_and_urls():
    out = normalise_for_sentiment("@Iberia  vuelo cancelado https://t.co/xyz   otra veeeeez")
    assert "Iberia" not in out and "t.co" not in out
    assert out == "@usuario vuelo cancelado http otra veeez"
