"""A ``system`` turn (IVR, a supervisor mapped with ``--speaker Supervisor=system``) is neither the agent nor the
customer: agent- and customer-scoped criteria, turn counts, talk ratio and customer sentiment leave it out;
only ``speaker: any`` criteria (a recording notice the IVR reads) see it."""

from __future__ import annotations

from qa_service.io.rubrics import parse_rubric
from qa_service.io.transcripts import SpeakerMap, read_transcripts
from qa_service.pipelines.rubric import RubricScorer
from qa_service.schemas import Transcript

RUBRIC = parse_rubric({
    "id": "sys", "version": "1", "language": "es",
    "sections": [{"id": "s", "name": "S", "weight": 1, "criteria": [
        {"id": "saludo", "question": "¿saluda el agente?", "weight": 1, "scope": {"speaker": "agent"},
         "detectors": [{"type": "pattern", "patterns": [r"\bbuenas tardes\b"]}]},
        {"id": "cliente_da_dni", "question": "¿da el cliente su DNI?", "weight": 1,
         "scope": {"speaker": "customer"}, "detectors": [{"type": "pattern", "patterns": [r"\bmi dni\b"]}]},
        {"id": "aviso", "question": "¿se avisa de la grabación?", "weight": 1, "scope": {"speaker": "any"},
         "detectors": [{"type": "pattern", "patterns": [r"grabada"]}]}]}]})


def _call(tmp_path) -> Transcript:
    f = tmp_path / "c.txt"
    f.write_text("[00:00:00] IVR: Esta llamada puede ser grabada.\n"
                 "[00:00:04] Laura: Hola.\n"
                 "[00:00:06] Cliente: Quiero una solución ya.\n"
                 "[00:00:10] Supervisor: Buenas tardes, le atiende la supervisora; páseme mi DNI si quiere.\n"
                 "[00:00:30] Cliente: Vale.\n", encoding="utf-8")
    [t] = list(read_transcripts(f, speakers=SpeakerMap({"Laura": "agent", "Supervisor": "system"})))
    return t


def test_system_turns_count_for_neither_party(tmp_path, sentiment):
    t = _call(tmp_path)
    assert [x.speaker for x in t.turns] == ["system", "agent", "customer", "system", "customer"]
    r = RubricScorer(RUBRIC, sentiment=sentiment).score(t)
    by = {c.id: c for c in r.criteria}
    assert by["saludo"].result == "fail"  # the supervisor's "buenas tardes" is not the agent's greeting
    assert by["cliente_da_dni"].result == "fail"  # nor is "mi DNI" said by the customer
    assert by["aviso"].result == "pass" and by["aviso"].evidence[0].speaker == "system"
    assert (r.metrics.turns, r.metrics.agent_turns, r.metrics.customer_turns) == (5, 1, 2)
    assert r.sentiment.customer_turns == 2
