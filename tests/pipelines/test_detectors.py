"""Deterministic detectors on small real-style cases in Spanish and English; evidence offsets always verify."""

from __future__ import annotations

import pytest

from qa_service.pipelines.detectors import (conversation_metrics, dni_nie_ok, find_pii, iban_ok, luhn_ok,
                                            pattern_evidence, pii_evidence, ssn_ok)
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
])
def test_pii_found_with_checksums(text, entity):
    found = find_pii(text)
    assert [f[2] for f in found] == [entity]


@pytest.mark.parametrize("text", [
    "Su número de pedido es 4539148803436468.",  # 16 digits, Luhn fails
    "Llámeme al 600 123 456, por favor.",
    "El DNI 12345678A no es válido.",  # wrong control letter
    "SSN 000-12-3456 is not assignable.",
    "ES00 2100 0418 4502 0005 1332",  # bad IBAN check digits
    "Le confirmo los últimos cuatro dígitos: 6467.",
])
def test_no_false_positives_on_near_misses(text):
    assert find_pii(text) == []


def test_checksum_helpers():
    assert luhn_ok("4539148803436467") and not luhn_ok("4539148803436468")
    assert dni_nie_ok("12345678Z") and dni_nie_ok("Y1234567X") and not dni_nie_ok("1234567Z")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")
    assert ssn_ok("123456789") and not ssn_ok("987-65-4321")


def test_evidence_offsets_match_the_turn_text():
    t = _t([{"speaker": "customer", "text": "Mi tarjeta es 4539 1488 0343 6467"},
            {"speaker": "agent", "text": "Perfecto, repito: 4539 1488 0343 6467. Y su DNI 12345678Z."}])
    ev = pii_evidence(t, [1], ["card_number", "dni_nie"])
    assert [(e.turn, e.label) for e in ev] == [(1, "card_number"), (1, "dni_nie")]
    for e in ev:
        assert t.turns[e.turn].text[e.start_char:e.end_char] == e.text
    pe = pattern_evidence(t, range(2), [r"\brepito\b", r"grabad[ao]"])
    assert [(e.turn, e.text) for e in pe] == [(1, "repito")]


def test_call_metrics_from_timestamps():
    t = _t([{"speaker": "agent", "text": "Buenos días", "start": 0, "end": 4},
            {"speaker": "customer", "text": "Hola, tengo un problema", "start": 3.5, "end": 10},  # overlap
            {"speaker": "agent", "text": "Le pongo en espera un momento", "start": 11, "end": 14},
            {"speaker": "agent", "text": "Gracias por esperar", "start": 74, "end": 78},  # 60 s hold
            {"speaker": "customer", "text": "Vale", "start": 79, "end": 80}])
    m = conversation_metrics(t)
    assert m.handle_time_seconds == 80
    assert m.longest_silence_seconds == 60 and m.holds == 1 and m.overlaps == 1
    assert m.agent_talk_ratio == round(11 / (11 + 7.5), 3)
    assert (m.turns, m.agent_turns, m.customer_turns) == (5, 3, 2)
    assert m.first_response_seconds is None


def test_chat_metrics_from_at():
    t = _t([{"speaker": "customer", "text": "Hi, my order never arrived", "at": "2026-11-02T10:00:00Z"},
            {"speaker": "customer", "text": "Hello??", "at": "2026-11-02T10:02:00Z"},
            {"speaker": "agent", "text": "Sorry for the wait, let me check", "at": "2026-11-02T10:03:00Z"},
            {"speaker": "customer", "text": "Thanks", "at": "2026-11-02T10:03:30Z"},
            {"speaker": "agent", "text": "It ships today", "at": "2026-11-02T10:10:30Z"}], channel="chat")
    m = conversation_metrics(t)
    assert m.first_response_seconds == 180 and m.longest_agent_gap_seconds == 420
    assert m.handle_time_seconds == 630 and m.agent_talk_ratio is None


def test_metrics_without_times_are_none():
    m = conversation_metrics(_t([{"speaker": "agent", "text": "hola"}]))
    assert m.handle_time_seconds is None and m.holds is None and m.turns == 1
