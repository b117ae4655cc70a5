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
