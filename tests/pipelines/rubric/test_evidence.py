"""Evidence an analyst can use (qa_service/pipelines/rubric/evidence.py and the scorer): verified against the
transcript as read, so tampered evidence is caught and said; fails cite the closest candidate; sensitive data in
quotes masked; the sensitive-data criterion of the shipped rubrics on requests for secrets and read-backs."""

from __future__ import annotations

from typing import ClassVar

import pytest

from qa_service.encoders import load_encoder
from qa_service.io.rubrics import load_rubric, parse_rubric
from qa_service.pipelines.rubric import DETECTORS, Finding, RubricScorer
from qa_service.pipelines.rubric.evidence import verify_evidence
from qa_service.schemas import Evidence, Transcript

CALL = Transcript(id="c", channel="call", turns=[
    {"speaker": "agent", "text": "Buenos días, le atiende Laura, ¿en qué puedo ayudarle?"},
    {"speaker": "customer", "text": "Me han cobrado dos veces el recibo."},
    {"speaker": "agent", "text": "Lo siento mucho. Le atiende Laura y lo revisamos ahora."}])


def _ev(turn: int, start: int, end: int, text: str, speaker: str = "agent") -> Evidence:
    return Evidence(turn=turn, speaker=speaker, start_char=start, end_char=end, text=text, detector="pattern")


# ---------------------------------------------------------------- verify_evidence
def test_evidence_that_holds_is_left_alone():
    e = _ev(0, 13, 29, "le atiende Laura")
    assert CALL.turns[0].text[13:29] == "le atiende Laura"
    assert verify_evidence(CALL, e, "en") == (e, None)


def test_wrong_offsets_are_recomputed_from_the_quote():
    fixed, why = verify_evidence(CALL, _ev(0, 0, 16, "le atiende Laura"), "en")
    assert (fixed.start_char, fixed.end_char) == (13, 29)
    assert why == "characters 0-16 of turn 0 are not the quote (it is at 13-29)"


def test_a_quote_in_another_turn_is_moved_there_and_reported():
    fixed, why = verify_evidence(CALL, _ev(1, 0, 16, "Lo siento mucho."), "es")
    assert (fixed.turn, fixed.start_char, fixed.speaker) == (2, 0, "agent")
    assert why == "la cita no está en el turno 1 sino en el 2"


def test_a_quote_not_in_the_transcript_is_reported():
    _, why = verify_evidence(CALL, _ev(0, 13, 29, "le atiende Marta"), "en")
    assert why == "the quote is in neither turn 0 nor any other turn"
    _, why = verify_evidence(CALL, _ev(9, 0, 4, "nada"), "en")
    assert why == "turn 9 does not exist"
    _, why = verify_evidence(CALL, _ev(1, 0, 2, "Me", speaker="agent"), "en")
    assert why == "turn 1 is the customer's, not the agent's"


# ---------------------------------------------------------------- the scorer catches tampered evidence
RUBRIC = parse_rubric({"id": "ev", "version": "1", "language": "en", "sections": [{"id": "a", "name": "A",
    "weight": 1, "criteria": [{"id": "name", "question": "says name?", "weight": 1,
                               "detectors": [{"type": "pattern", "patterns": [r"le atiende \w+"]}]}]}]})


class _Tampering:
    """A ``pattern`` detector that finds the real match, then alters its evidence as a faulty detector might."""

    gives_evidence: ClassVar[bool] = True
    needs_sentences: ClassVar[bool] = False

    def __init__(self, **change) -> None:
        self.change = change

    def detect(self, spec, ctx) -> Finding:
        found = DETECTORS["pattern"].detect(spec, ctx)
        return Finding([e.model_copy(update=self.change) for e in found.evidence], 0.95)


@pytest.mark.parametrize("change,reason", [
    ({"text": "le atiende Marta"}, "the quote is in neither turn 0 nor any other turn"),  # text not in the turn
    ({"turn": 1}, "the quote is not in turn 1 but in turn 0"),  # wrong turn index
    ({"start_char": 3, "end_char": 19}, "characters 3-19 of turn 0 are not the quote (it is at 13-29)"),
])
def test_tampered_evidence_flags_the_criterion_for_review(change, reason):
    honest = RubricScorer(RUBRIC).score(CALL).criteria[0]
    assert honest.result == "pass" and not honest.needs_review and honest.review_reasons == []
    got = RubricScorer(RUBRIC, detectors={**DETECTORS, "pattern": _Tampering(**change)}).score(CALL).criteria[0]
    assert got.needs_review and reason in got.review_reasons
    assert reason in got.rationale
    if "text" not in change:  # found elsewhere: the evidence now points where the quote is
        e = got.evidence[0]
        assert (e.turn, CALL.turns[e.turn].text[e.start_char:e.end_char]) == (0, "le atiende Laura")


# ---------------------------------------------------------------- fails cite the closest candidate
@pytest.fixture(scope="module")
def use_encoder():
    return load_encoder("use-multilingual")


def test_a_fail_cites_the_closest_turn_and_its_score(use_encoder):
    rubric = parse_rubric({"id": "near", "version": "1", "language": "es", "sections": [{"id": "s", "name": "S",
        "weight": 1, "criteria": [{"id": "empatia", "question": "¿Empatía?", "weight": 1,
                                   "detectors": [{"type": "semantic", "threshold": 0.95}],
                                   "examples": {"pass": ["Entiendo lo frustrante que debe ser esto para usted."]}}]}]})
    t = Transcript(id="n", turns=[
        {"speaker": "agent", "text": "Buenos días."}, {"speaker": "customer", "text": "Estoy harto."},
        {"speaker": "agent", "text": "Le llamo el lunes."}, {"speaker": "customer", "text": "Vale."},
        {"speaker": "agent", "text": "Comprendo que esto le resulte tan frustrante."}])
    c = RubricScorer(rubric, encoder=use_encoder).score(t).criteria[0]
    assert c.result == "fail" and c.evidence == []
    assert c.closest is not None and c.closest.turn == 4 and c.closest.similarity < 0.95
    assert t.turns[4].text[c.closest.start_char:c.closest.end_char] == c.closest.text
    assert f"más cercano: turno 4, {c.closest.similarity:.2f}" in c.rationale
    assert "no se encontró evidencia" in c.rationale


def test_a_fail_without_a_scored_candidate_says_so_plainly():
    c = RubricScorer(RUBRIC).score(Transcript(id="x", turns=[{"speaker": "agent", "text": "Hola."}])).criteria[0]
    assert c.result == "fail" and c.closest is None and c.rationale == "Fail: no evidence found in the turns in scope"


# ---------------------------------------------------------------- the shipped sensitive-data criterion
def _call(*turns: tuple[str, str], language: str = "es") -> Transcript:
    return Transcript(id="s", channel="call", language=language,
                      turns=[{"speaker": s, "text": x} for s, x in turns])


def _sensitive(settings, t: Transcript):
    name = "default-en" if t.language == "en" else "default-es"
    r = RubricScorer(load_rubric(name, settings.rubrics_dir)).score(t)
    return r, next(c for c in r.criteria if c.id in ("sin_datos_sensibles", "no_sensitive_data"))


@pytest.mark.parametrize("language,agent,label", [
    ("es", "Para terminar la verificación, dígame los tres números de atrás de la tarjeta.", "cvv"),
    ("es", "¿Me puede dar el código de seguridad de la tarjeta?", "cvv"),
    ("es", "Vale, y para entrar en su área de cliente necesito su contraseña.", "password"),
    ("es", "Dígame el PIN y se la desbloqueo.", "pin"),
    ("en", "Could you read me the three digits on the back of the card?", "cvv"),
    ("en", "What's the password on your online account?", "password"),
])
def test_asking_for_a_secret_is_a_critical_fail(settings, language, agent, label):
    t = _call(("agent", "Hello." if language == "en" else "Hola."), ("customer", "Ok."), ("agent", agent),
              language=language)
    r, c = _sensitive(settings, t)
    assert c.result == "fail" and r.auto_fail
    assert [(e.turn, e.label, e.speaker) for e in c.evidence] == [(2, label, "agent")]


def test_saying_never_to_share_a_secret_is_fine(settings):
    _, c = _sensitive(settings, _call(("agent", "Por su seguridad, nunca le pediremos el PIN ni la contraseña.")))
    assert c.result == "pass"


CARD_IN_GROUPS = ("cuarenta y cinco treinta y nueve, catorce ochenta y ocho, cero tres cuarenta y tres, "
                  "sesenta y cuatro sesenta y siete")


def test_a_full_card_read_back_in_groups_fails_and_is_masked_everywhere_in_the_result(settings):
    t = _call(("customer", f"Sí, es la {CARD_IN_GROUPS}."),
              ("agent", f"Le repito: {CARD_IN_GROUPS}, ¿correcto?"))
    r, c = _sensitive(settings, t)
    assert c.result == "fail" and r.auto_fail
    (e,) = c.evidence
    assert (e.turn, e.label) == (1, "card_number")
    assert t.turns[1].text[e.start_char:e.end_char] == CARD_IN_GROUPS  # the offsets point at what was said
    assert e.text == ("******** * ***** ******* * *****, ******* ******* * ****, **** **** ******** * ****, "
                      "sesenta y cuatro sesenta y siete")
    dumped = r.model_dump_json()
    for word in ("cuarenta", "treinta", "catorce", "ochenta"):
        assert word not in dumped  # evidence, rationale and auto-fail reasons
    assert "sesenta y cuatro sesenta y siete" in c.rationale


def test_the_customer_volunteering_data_or_a_last_four_confirmation_is_not_a_violation(settings):
    _, c = _sensitive(settings, _call(
        ("customer", f"Le doy la tarjeta: {CARD_IN_GROUPS}, y mi DNI 12345678Z."),
        ("agent", "Gracias. Le confirmo que la tarjeta termina en sesenta y cuatro sesenta y siete.")))
    assert c.result == "pass" and c.evidence == []


def test_a_latin_american_id_read_back_after_the_customer_named_it(settings):
    _, c = _sensitive(settings, _call(
        ("agent", "¿Me confirma su DNI?"),
        ("customer", "Sí, treinta y cinco millones ciento dieciocho mil novecientos cuatro."),
        ("agent", "Treinta y cinco millones ciento dieciocho mil novecientos cuatro, ¿correcto?")))
    assert c.result == "fail" and c.evidence[0].turn == 2 and c.evidence[0].label in ("ar_dni", "pe_dni")
    assert "treinta" not in c.evidence[0].text.lower()


def test_masking_reaches_every_criterion_not_only_the_sensitive_one(settings):
    rubric = parse_rubric({"id": "m", "version": "1", "language": "es", "sections": [{"id": "a", "name": "A",
        "weight": 1, "criteria": [{"id": "c", "question": "¿confirma?", "weight": 1, "detectors": [
            {"type": "pattern", "patterns": [r"le repito.*"]}]}]}]})
    t = _call(("customer", "Mi cédula es la uno cero dos cero tres cuatro cinco seis siete ocho."),
              ("agent", "Le repito uno cero dos cero tres cuatro cinco seis siete ocho."))
    c = RubricScorer(rubric).score(t).criteria[0]
    assert c.evidence[0].text == "Le repito *** **** *** **** **** ****** cinco seis siete ocho."
    assert "uno cero dos" not in c.rationale


def test_an_unknown_pii_entity_is_refused_with_its_path():
    from qa_service.errors import InvalidInputError

    rubric = parse_rubric({"id": "u", "version": "1", "language": "en", "sections": [{"id": "a", "name": "A",
        "weight": 1, "criteria": [{"id": "c", "question": "no secrets?", "weight": 1, "detectors": [
            {"type": "pii", "entities": ["card_number", "cvv_request"], "expect": "absent"}]}]}]})
    with pytest.raises(InvalidInputError, match=r"sections\[0\]\.criteria\[0\]\.detectors\[0\]\.entities\[1\]: "
                                                r"unknown pii entity 'cvv_request'"):
        RubricScorer(rubric)
