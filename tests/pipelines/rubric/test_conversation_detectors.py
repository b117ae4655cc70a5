"""Conversation detectors of the shipped rubrics (1.3.0), deciding alone (no trained classifier): they read who
spoke before, timing gaps, where the call ends and what the customer felt, not the rubric's phrases."""

from __future__ import annotations

import pytest

from qa_service.encoders import load_encoder
from qa_service.io.rubrics import load_rubric
from qa_service.pipelines.rubric import RubricScorer
from qa_service.schemas import Transcript


@pytest.fixture(scope="module")
def use_encoder():
    return load_encoder("use-multilingual")


@pytest.fixture(scope="module")
def es(settings, use_encoder, sentiment):
    return RubricScorer(load_rubric("default-es", settings.rubrics_dir), encoder=use_encoder, sentiment=sentiment)


@pytest.fixture(scope="module")
def en(settings, use_encoder, sentiment):
    return RubricScorer(load_rubric("default-en", settings.rubrics_dir), encoder=use_encoder, sentiment=sentiment)


def call(*turns: tuple, channel: str = "call") -> Transcript:
    """(speaker, text) or (speaker, text, start, end) or (speaker, text, at) per turn."""
    out = []
    for k, t in enumerate(turns):
        d = {"speaker": {"a": "agent", "c": "customer", "s": "system"}[t[0]], "text": t[1]}
        if len(t) == 4:
            d["start"], d["end"] = t[2], t[3]
        elif len(t) == 3:
            d["at"] = t[2]
        out.append(d)
    return Transcript(id="t", channel=channel, turns=out)


def result(scorer, t: Transcript, cid: str):
    return next(c for c in scorer.score(t).criteria if c.id == cid)


# ----------------------------------------------------------------------------- closing
def test_closing_counts_the_final_phase_not_the_last_two_turns(es):
    t = call(("a", "Buenas tardes, le atiende Rocío."), ("c", "Quería saber por qué me ha subido la cuota este mes."),
             ("a", "Se acabó la promoción; le he aplicado otra y vuelve a pagar lo mismo desde el mes que viene."),
             ("c", "Ah, vale, perfecto."),
             ("a", "¿Le puedo ayudar con alguna otra cosa? Si no, que tenga muy buen día."),
             ("c", "No, nada más, muchas gracias."), ("a", "A usted."), ("c", "Hasta luego."), ("a", "Hasta luego."))
    r = result(es, t, "cierre")
    assert r.result == "pass", r.rationale
    assert {e.turn for e in r.evidence} == {4, 8} or 4 in {e.turn for e in r.evidence}


def test_an_offer_before_the_last_request_does_not_close_the_call(es):
    t = call(("a", "Buenas, le atiende Rocío."), ("c", "Quería cambiar la tarifa."),
             ("a", "Hecho. ¿Algo más?"), ("c", "Sí, también quiero saber cuándo me llega la factura nueva."),
             ("a", "A primeros de mes."), ("c", "Vale."), ("a", "Venga."))
    assert result(es, t, "cierre").result == "fail"


# ----------------------------------------------------------------------------- hold
def test_hold_from_a_timing_gap_asked_before_and_thanked_after(en):
    t = call(("a", "Hi, Dana here at support.", 0, 3), ("c", "My router keeps dropping.", 4, 7),
             ("a", "Do you mind if I put you on hold for two minutes while I check the line?", 8, 13),
             ("c", "Sure.", 14, 15), ("a", "Thanks for holding, the line had a fault and it's fixed.", 110, 116),
             ("c", "Great, thanks.", 117, 119))
    r = result(en, t, "hold_etiquette")
    assert r.result == "pass", r.rationale
    assert {e.turn for e in r.evidence} == {2, 4}


def test_hold_without_asking_fails_and_no_hold_is_na(en):
    rude = call(("a", "Hi, Dana here.", 0, 2), ("c", "My router keeps dropping.", 3, 6),
                ("a", "Let me check.", 7, 8), ("c", "Hello? Are you there?", 90, 92),
                ("a", "The line is fixed now.", 95, 98))
    r = result(en, rude, "hold_etiquette")
    assert r.result == "fail"  # the gap ends at the customer's turn; the agent returns after it
    quick = call(("a", "Hi, Dana here.", 0, 2), ("c", "My router keeps dropping.", 3, 6),
                 ("a", "It's fixed now.", 7, 9))
    assert result(en, quick, "hold_etiquette").result == "na"


def test_chat_typing_gaps_are_not_holds_but_a_long_announced_wait_is(en):
    base = "2026-03-02T10:{:02d}:{:02d}Z"
    typing = call(("a", "Hi, I'm Dana from support.", base.format(0, 0)),
                  ("c", "My parcel never arrived.", base.format(0, 50)),
                  ("a", "Sorry to hear that, what's the order number?", base.format(1, 40)),
                  ("c", "It's 55123.", base.format(2, 30)), ("a", "A new one ships today.", base.format(3, 20)),
                  channel="chat")
    assert result(en, typing, "hold_etiquette").result == "na"
    wait = call(("a", "Hi, I'm Dana from support.", base.format(0, 0)),
                ("c", "My parcel never arrived.", base.format(0, 30)),
                ("a", "Would you mind waiting a few minutes while I check with the courier?", base.format(0, 50)),
                ("c", "ok", base.format(1, 0)),
                ("a", "Thank you for waiting: a new one ships today.", base.format(5, 0)), channel="chat")
    assert result(en, wait, "hold_etiquette").result == "pass"


# ----------------------------------------------------------------------------- active listening
def test_a_paraphrase_without_any_stock_phrase_counts_as_listening(es):
    t = call(("a", "Buenas, le atiende Marcos."),
             ("c", "Desde el lunes la lavadora hace un ruido muy fuerte al centrifugar y se para a mitad."),
             ("a", "Vale: desde el lunes, al centrifugar, un ruido fuerte y luego se detiene a medias."),
             ("c", "Eso es."), ("a", "Le mando un técnico el jueves."))
    r = result(es, t, "escucha_activa")
    assert r.result == "pass" and r.evidence[0].turn == 2, r.rationale
    deaf = call(("a", "Buenas, le atiende Marcos."),
                ("c", "Desde el lunes la lavadora hace un ruido muy fuerte al centrifugar y se para a mitad."),
                ("a", "Vale."), ("c", "¿Y entonces?"), ("a", "Le mando un técnico el jueves."))
    assert result(es, deaf, "escucha_activa").result == "fail"


# ----------------------------------------------------------------------------- next steps
@pytest.mark.parametrize("line,expected", [
    ("Le llamaremos el martes por la tarde con la respuesta.", "pass"),
    ("Su número de referencia es el 88412; le llegará un correo en 24 horas.", "pass"),
    ("Ya está solucionado, puede volver a usar la tarjeta.", "pass"),
    ("Ya veremos qué pasa, no le sé decir.", "fail"),
    ("Le confirmo su tarjeta 4539 1488 0343 6467.", "fail"),  # a card number is no reference number
])
def test_next_steps_are_commitments_with_a_time_a_reference_or_a_resolution(es, line, expected):
    t = call(("a", "Buenas, le atiende Marcos."), ("c", "No me funciona la tarjeta."), ("a", line), ("c", "Vale."))
    assert result(es, t, "resolucion_proximos_pasos").result == expected


# ----------------------------------------------------------------------------- tone
def test_curt_and_dismissive_agent_turns_fail_the_tone(es):
    t = call(("a", "Buenas, le atiende Marcos."), ("c", "Me han cobrado dos veces, ¿qué hago?"), ("a", "Usted verá."),
             ("c", "¿Cómo que yo veré?"), ("a", "¿Lo quiere pagar o no?"))
    r = result(es, t, "tono_profesional")
    assert r.result == "fail" and {e.turn for e in r.evidence} >= {2, 4}, r.rationale


def test_an_apology_is_not_negative_tone_but_an_interruption_is(en):
    sorry = call(("a", "Hi, Dana here."), ("c", "You charged me twice and I'm furious."),
                 ("a", "I'm so sorry, that's awful, let me fix it right now."))
    assert result(en, sorry, "professional_tone").result == "pass"
    cut = call(("a", "Hi, Dana here.", 0, 2), ("c", "You charged me twice and I want to know why it", 3, 9),
               ("a", "Yes, yes, I'll refund it.", 5.5, 7))
    r = result(en, cut, "professional_tone")
    assert r.result == "pass"  # one interruption alone is not rudeness for the rule...
    from qa_service.pipelines.rubric.detectors import DETECTORS, DetectionContext
    from qa_service.pipelines.rubric.metrics import conversation_metrics

    c = next(c for s in en.rubric.sections for c in s.criteria if c.id == "professional_tone")
    ctx = DetectionContext(transcript=cut, criterion=c, scope=[0, 2], metrics=conversation_metrics(cut),
                           patterns=en.patterns_)
    assert DETECTORS["tone"].detect(c.detectors[0], ctx).features["interruptions"] == 1  # ...but is measured


# ----------------------------------------------------------------------------- empathy
def test_empathy_counts_when_it_answers_an_upset_customer(es):
    t = call(("a", "Buenas, le atiende Marcos."),
             ("c", "Esto es una vergüenza, llevo una semana sin luz y me estoy planteando irme."),
             ("a", "Vamos a revisarlo ahora mismo. Entiendo perfectamente el enfado, una semana es muchísimo."),
             ("c", "Pues eso."))
    r = result(es, t, "empatia")
    assert r.result == "pass"
    assert "Entiendo perfectamente el enfado" in r.evidence[0].text and "revisarlo" not in r.evidence[0].text
    calm = call(("a", "Buenas, le atiende Marcos."), ("c", "Quería consultar el horario de la tienda."),
                ("a", "Lo siento, entiendo, de diez a ocho."), ("c", "Perfecto, gracias."))
    assert result(es, calm, "empatia").result == "na"
    cold = call(("a", "Buenas, le atiende Marcos."),
                ("c", "Esto es una vergüenza, llevo una semana sin luz y estoy harto."),
                ("a", "Deme el número de contrato."), ("c", "El 4471."), ("a", "Mañana pasa un técnico."))
    assert result(es, cold, "empatia").result == "fail"
