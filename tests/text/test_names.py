"""Spanish and English person names: gazetteer + context rules (qa_service/text/names.py) and the redactor."""

import pytest

from qa_service.text.names import find_names
from qa_service.text.pii import PIIRedactor


@pytest.mark.parametrize("text, names", [
    ("Buenos días, le atiende Laura, ¿en qué puedo ayudarle?", ["Laura"]),
    ("Ernesto me atendió fatal", ["Ernesto"]),
    ("La agente Soyma fue muy amable", ["Soyma"]),          # unlisted name after a cue
    ("Gracias Soyma por todo", ["Soyma"]),
    ("Me llamo María José Fernández de la Vega y llamo por la factura", ["María José Fernández de la Vega"]),
    ("Rosa Pérez me atendió", ["Rosa Pérez"]),
    ("me llamo ernesto garcía", ["ernesto garcía"]),        # lower-case ASR text after a cue
    ("Quiero hablar con el señor Martínez", ["Martínez"]),
    ("A nombre de Guadalupe Hernández, por favor", ["Guadalupe Hernández"]),
    ("Hablé con Jennifer Walsh ayer", ["Jennifer Walsh"]),
    ("Hi, this is Jennifer Walsh calling", ["Jennifer Walsh"]),
])
def test_finds_names(text, names):
    assert [text[s:e] for s, e in find_names(text, "es")] == names


@pytest.mark.parametrize("text", [
    "Rosa es mi color favorito", "Pagué con Visa en Amazon", "El servicio de Movistar es malo",
    "Buenas tardes, Atención al Cliente", "La factura de Endesa llegó tarde", "Mercedes Benz",
    "Compré en Zara y en El Corte Inglés", "Banco Santander me cobró dos veces", "Blanco y negro",
    "Will you call me back?", "Hi, I'm calling about my bill",
])
def test_ordinary_capitalised_words_are_not_names(text):
    assert find_names(text, "es") == [] and find_names(text, "en") == []


def test_redactor_uses_names_in_spanish():
    red = PIIRedactor()
    assert red.redact("Le atiende Laura, ¿me da su DNI 12345678Z?", "es").text == \
        "Le atiende <NOMBRE>, ¿me da su DNI <DNI>?"
    assert red.redact("Ernesto me colgó", "es").text == "<NOMBRE> me colgó"


def test_names_only_the_whole_set_reveals():
    """Staff thanked by name in many reviews: a name no list has ("Soyma"), even alone at the start of a sentence
    in one review, is a name because other reviews thank her; places and ordinary words stay."""
    from qa_service.text.names import corpus_names, replace_words

    texts = ["Queremos agradecer a Soyma y a Yuliesky por su atención.", "El camarero Yoandri fue excelente.",
             "Soyma en la recepción nos ayudó con todo.", "Gracias a Yoandri, el mejor. La Habana es preciosa.",
             "En especial a Soyma, muy amable.", "Yuliesky nos recomendó el restaurante y gracias a Yuliesky fuimos.",
             "Fuimos a la Habana Vieja y a Varadero; en Varadero la playa es preciosa.",
             "Gracias a Cuba por todo. En Cuba se come bien. Cuba es bonita y Cuba es barata.",
             "SOYMA es la mejor", "el Hotel Nacional y el hotel Nacional de nuevo"]
    names = corpus_names(texts)
    assert {"soyma", "yuliesky", "yoandri"} <= names
    assert not {"habana", "varadero", "cuba", "hotel", "nacional", "vieja"} & names
    assert replace_words("soyma y SOYMA, y la Habana", names, "<NOMBRE>") == "<NOMBRE> y <NOMBRE>, y la Habana"
    assert corpus_names(texts[:1]) == frozenset()  # one comment alone reveals nothing beyond its own rules
