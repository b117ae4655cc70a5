"""Rubric scoring: the arithmetic (weights, N/A, auto-fail) on a deterministic rubric, and the shipped
rubrics on realistic Spanish and English calls with the real encoder and sentiment model."""

from __future__ import annotations

import pytest

from qa_service.encoders import load_encoder
from qa_service.pipelines.rubric import RubricScorer
from qa_service.io.rubrics import load_rubric, parse_rubric
from qa_service.schemas import Transcript
from qa_service.text.identifiers import mask_identifiers

ARITH = parse_rubric({
    "id": "arith", "version": "1", "language": "en",
    "sections": [
        {"id": "a", "name": "A", "weight": 3, "criteria": [
            {"id": "hello", "question": "greets?", "weight": 1,
             "detectors": [{"type": "pattern", "patterns": [r"\bhello\b"]}]},
            {"id": "name", "question": "says name?", "weight": 3,
             "detectors": [{"type": "pattern", "patterns": [r"my name is"]}]}]},
        {"id": "b", "name": "B", "weight": 1, "criteria": [
            {"id": "hold", "question": "hold ok?", "weight": 1, "na_when": ["no_hold"],
             "detectors": [{"type": "pattern", "patterns": ["thanks for holding"]}]},
            {"id": "pii", "question": "no card read back", "weight": 1, "critical": True,
             "detectors": [{"type": "pii", "entities": ["card_number"], "expect": "absent"}]}]},
    ]})


def _t(*agent_lines: str, channel: str = "call") -> Transcript:
    turns = []
    for i, line in enumerate(agent_lines):
        turns.append({"speaker": "agent", "text": line})
        turns.append({"speaker": "customer", "text": f"ok {i}"})
    return Transcript(id="x", channel=channel, turns=turns)


def test_weights_na_and_totals():
    r = RubricScorer(ARITH).score(_t("Hello there.", "Bye"))
    by = {c.id: c for c in r.criteria}
    assert by["hello"].result == "pass" and by["name"].result == "fail"
    assert by["hold"].result == "na" and by["hold"].score is None
    assert by["pii"].result == "pass"
    # section a: (1*1 + 3*0) / 4 = 25; section b: hold N/A -> pii only = 100; total (3*0.25 + 1*1) / 4
    assert [s.score for s in r.sections] == [25.0, 100.0]
    assert r.total == pytest.approx(100 * (3 * 0.25 + 1 * 1.0) / 4)
    assert not r.auto_fail


def test_critical_failure_auto_fails_with_reason_and_verified_evidence():
    t = _t("Hello, my name is Sam.", "Let me read it back: 4539 1488 0343 6467.")
    r = RubricScorer(ARITH).score(t)
    assert r.auto_fail and r.auto_fail_reasons[0].startswith("pii:")
    ev = next(c for c in r.criteria if c.id == "pii").evidence[0]
    # the offsets point at the transcript; the evidence text keeps only the last 4 digits (finding 8)
    assert t.turns[ev.turn].text[ev.start_char:ev.end_char] == "4539 1488 0343 6467"
    assert ev.text == "**** **** **** 6467"
    assert ev.label == "card_number" and ev.speaker == "agent"
    assert r.sections[0].score == 100.0
    assert "4539" not in r.model_dump_json()


def test_any_evidence_masks_identifiers_it_quotes():
    rubric = parse_rubric({"id": "m", "version": "1", "language": "es", "sections": [{"id": "a", "name": "A",
        "weight": 1, "criteria": [{"id": "c", "question": "confirma datos?", "weight": 1, "detectors": [
            {"type": "pattern", "patterns": [r"confirmo .*"]}]}]}]})
    t = _t("Le confirmo la tarjeta 4539 1488 0343 6467 y el DNI 12345678Z, ¿correcto?")
    r = RubricScorer(rubric).score(t)
    ev = r.criteria[0].evidence[0]
    assert ev.text == "confirmo la tarjeta **** **** **** 6467 y el DNI *****678Z, ¿correcto?"
    assert t.turns[ev.turn].text[ev.start_char:ev.end_char].startswith("confirmo la tarjeta 4539")
    assert "4539" not in r.criteria[0].rationale and not r.criteria[0].needs_review


def test_hold_applies_when_there_is_one():
    t = Transcript(id="h", channel="call", turns=[
        {"speaker": "agent", "text": "Hello, my name is Sam.", "start": 0, "end": 3},
        {"speaker": "agent", "text": "Thanks for holding.", "start": 60, "end": 62}])
    r = RubricScorer(ARITH).score(t)
    hold = next(c for c in r.criteria if c.id == "hold")
    assert hold.result == "pass" and r.metrics.holds == 1


def test_semantic_detectors_abstain_without_an_encoder(settings):
    r = RubricScorer(load_rubric("default-es", settings.rubrics_dir)).score(_t("Buenos días, le atiende Laura."))
    esc = next(c for c in r.criteria if c.id == "escucha_activa")
    assert esc.needs_review and r.needs_review


GOOD_ES = {"id": "es-good", "channel": "call", "turns": [
    {"speaker": "agent", "text": "Buenos días, le atiende Laura. Le informo de que esta llamada puede ser grabada."},
    {"speaker": "customer", "text": "Hola, me han cobrado dos veces la factura y estoy harto, es una vergüenza."},
    {"speaker": "agent", "text": "Entiendo lo frustrante que debe ser esto para usted. Para verificar su identidad, "
                                 "¿me indica su fecha de nacimiento?"},
    {"speaker": "customer", "text": "El 3 de mayo de 1980."},
    {"speaker": "agent", "text": "Si le he entendido bien, le cobraron dos veces el mes de octubre. He abierto la "
                                 "incidencia con número de referencia 4521 y en 48 horas tendrá el abono."},
    {"speaker": "customer", "text": "Vale, muchas gracias."},
    {"speaker": "agent", "text": "¿Hay algo más en lo que pueda ayudarle? Que tenga un buen día."}]}

BAD_EN = {"id": "en-bad", "channel": "call", "turns": [
    {"speaker": "agent", "text": "Yeah?"},
    {"speaker": "customer", "text": "I was charged twice and this is the third time I call, I'm furious."},
    {"speaker": "agent", "text": "That's not my problem. Card number 4539 1488 0343 6467, right?"},
    {"speaker": "customer", "text": "I want to speak to a supervisor."},
    {"speaker": "agent", "text": "There's no manager available, call back another day."},
    {"speaker": "customer", "text": "Unbelievable."},
    {"speaker": "agent", "text": "Ok, bye."}]}


@pytest.fixture(scope="module")
def use_encoder():
    return load_encoder("use-multilingual")


def test_shipped_rubrics_separate_a_good_and_a_bad_call(settings, use_encoder, sentiment):
    es = RubricScorer(load_rubric("default-es", settings.rubrics_dir), encoder=use_encoder, sentiment=sentiment)
    en = RubricScorer(load_rubric("default-en", settings.rubrics_dir), encoder=use_encoder, sentiment=sentiment)
    good = es.score(Transcript.model_validate(GOOD_ES))
    bad = en.score(Transcript.model_validate(BAD_EN))
    g = {c.id: c for c in good.criteria}
    b = {c.id: c for c in bad.criteria}
    for cid in ("saludo", "aviso_grabacion", "verificacion_identidad", "empatia", "resolucion_proximos_pasos",
                "cierre", "sin_datos_sensibles"):
        assert g[cid].result == "pass", (cid, g[cid].rationale)
    assert g["escalado"].result == "na" and g["espera"].result == "na"
    assert not good.auto_fail and good.total >= 85
    for cid in ("greeting", "recording_disclosure", "empathy", "resolution_next_steps", "closing"):
        assert b[cid].result == "fail", (cid, b[cid].rationale)
    assert b["escalation"].result == "fail"  # asked for a supervisor, refused
    assert bad.auto_fail and bad.total < 40
    assert good.sentiment.start == "negative" and good.sentiment.trajectory == "improved"
    for r in (good, bad):
        for c in r.criteria:
            for e in c.evidence:
                src = Transcript.model_validate(GOOD_ES if r is good else BAD_EN).turns[e.turn].text
                assert mask_identifiers(src[e.start_char:e.end_char]) == e.text


def test_score_many_equals_score(settings, use_encoder):
    sc = RubricScorer(load_rubric("default-es", settings.rubrics_dir), encoder=use_encoder)
    t1, t2 = Transcript.model_validate(GOOD_ES), Transcript.model_validate({**BAD_EN, "id": "b"})
    many = sc.score_many([t1, t2])
    assert [m.total for m in many] == [sc.score(t1).total, sc.score(t2).total]


def test_low_kappa_criteria_are_flagged_for_review():
    t = _t("Hello, my name is Sam.")
    trusted = RubricScorer(ARITH, kappa={"hello": 0.9}).score(t)
    untrusted = RubricScorer(ARITH, kappa={"hello": 0.3}, min_kappa=0.6).score(t)
    assert not next(c for c in trusted.criteria if c.id == "hello").needs_review
    hello = next(c for c in untrusted.criteria if c.id == "hello")
    assert hello.result == "pass" and hello.needs_review and untrusted.needs_review


def test_scale_criteria_score_1_to_5(use_encoder):
    rubric = parse_rubric({
        "id": "scale", "version": "1", "language": "es", "sections": [{"id": "s", "name": "S", "weight": 1, "criteria": [
            {"id": "empatia", "question": "¿Empatía?", "weight": 1, "kind": "scale",
             "detectors": [{"type": "semantic", "threshold": 0.5}],
             "examples": {"pass": ["Entiendo lo frustrante que debe ser esto para usted."]}}]}]})
    sc = RubricScorer(rubric, encoder=use_encoder)
    strong = sc.score(_t("Entiendo lo frustrante que debe ser esto para usted.")).criteria[0]
    none = sc.score(_t("Su número de pedido es el 4411.")).criteria[0]
    assert strong.result == "pass" and strong.scale_score == 5 and strong.score == 1.0
    assert none.result == "fail" and none.scale_score == 1 and none.score == 0.0


def test_blank_customer_turns_do_not_break_sentiment(use_encoder, sentiment):
    t = Transcript(id="b", turns=[{"speaker": "agent", "text": "Hello, my name is Sam."},
                                  {"speaker": "customer", "text": "\u200b"}])
    r = RubricScorer(ARITH, encoder=use_encoder, sentiment=sentiment).score(t)
    assert r.sentiment.trajectory == "unknown"
