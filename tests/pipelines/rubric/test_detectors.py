"""Deterministic detectors on small real-style cases in Spanish and English; evidence offsets always verify."""

from __future__ import annotations

import pytest

from qa_service.pipelines.rubric.detectors import find_pii, pattern_evidence, pii_evidence
from qa_service.schemas import Transcript


def _t(turns, **kw) -> Transcript:
    return Transcript(id="t", turns=turns, **kw)


@pytest.mark.parametrize("text,entity", [
    ("Le confirmo la tarjeta 4539 1488 0343 6467, ¿es correcto?", "card_number"),
    ("Your card ending... sorry, the full number is 4539-1488-0343-6467.", "card_number"),
    ("Sería cuatro cinco tres nueve, uno cuatro ocho ocho, cero tres cuatro tres, seis cuatro seis siete.",
     "card_number"),
    ("Su DNI es 12345678Z, ¿verdad?", "dni_nie"),
    ("Tengo anotado el NIE X-1234567-L", "dni_nie"),
    ("El IBAN que tengo es ES91 2100 0418 4502 0005 1332.", "iban"),
    ("I have your SSN as 123-45-6789.", "us_ssn"),
    ("I have your SSN as 123 45 6789.", "us_ssn"),  # spaced: found since the redactor's pattern is shared
    ("El IBAN es es91 2100 0418 4502 0005 1332.", "iban"),  # lower case: likewise
    ("Tengo el <TARJETA> y el <DNI> anotados.", None),
])
def test_pii_found_with_checksums(text, entity):
    found = find_pii(text)
    assert [f[2] for f in found] == ([entity] if entity else ["card_number", "dni_nie"])


@pytest.mark.parametrize("text", [
    "Su número de pedido es 4539148803436468.",  # 16 digits, Luhn fails
    "Llámeme al 600 123 456, por favor.",
    "El DNI 12345678A no es válido.",  # wrong control letter
    "SSN 000-12-3456 is not assignable.",
    "ES00 2100 0418 4502 0005 1332",  # bad IBAN check digits
    "Le confirmo los últimos cuatro dígitos: 6467.",
    "La CLABE es 002100000000000005.",  # passes Luhn too, but an 18-digit valid CLABE is an account, not a card
])
def test_no_false_positives_on_near_misses(text):
    assert find_pii(text) == []


def test_evidence_offsets_match_the_turn_text():
    t = _t([{"speaker": "customer", "text": "Mi tarjeta es 4539 1488 0343 6467"},
            {"speaker": "agent", "text": "Perfecto, repito: 4539 1488 0343 6467. Y su DNI 12345678Z."}])
    ev = pii_evidence(t, [1], ["card_number", "dni_nie"])
    assert [(e.turn, e.label) for e in ev] == [(1, "card_number"), (1, "dni_nie")]
    for e in ev:
        assert t.turns[e.turn].text[e.start_char:e.end_char] == e.text
    pe = pattern_evidence(t, range(2), [r"\brepito\b", r"grabad[ao]"])
    assert [(e.turn, e.text) for e in pe] == [(1, "repito")]


def test_other_identifier_kinds_on_request():
    text = "CURP HEGG560427MVZRRL04, CLABE 002010077777777771, CUIT 20-12345678-6, RFC GODE561231GR8"
    assert find_pii(text) == []
    assert [f[2] for f in find_pii(text, ["curp", "clabe", "cuit", "rfc"])] == ["curp", "clabe", "cuit", "rfc"]
