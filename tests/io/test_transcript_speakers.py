"""Readers never attribute a turn by guess: unknown labels are errors with a suggested mapping, timestamped lines
need a speaker, system/supervisor turns are their own speaker, and empty or wholly rejected files are errors."""

from __future__ import annotations

import pytest

from qa_service.io.records import BadRecord, ReadStats
from qa_service.io.transcripts import SpeakerMap, looks_like_speaker, read_transcripts, suggest_roles
from qa_service.schemas import Transcript

CALL = ("[00:00:01] Laura: Buenos días, le atiende Laura, ¿en qué puedo ayudarle?\n"
        "[00:00:06] Pedro: Hola, quería consultar una factura que no entiendo.\n"
        "[00:00:12] Laura: Claro. ¿Me confirma su DNI?\n"
        "[00:00:18] Pedro: 12345678Z.\n"
        "[00:00:25] Laura: Gracias. Le explico: la factura incluye\n"
        "el cargo de instalación del router.\n")


def _read(path, mapping=None):
    stats = ReadStats()
    recs = list(read_transcripts(path, speakers=SpeakerMap(mapping or {}), stats=stats))
    return ([r for r in recs if isinstance(r, Transcript)], [r for r in recs if isinstance(r, BadRecord)], stats)


def test_unmapped_speaker_is_an_error_with_a_suggested_flag_never_a_continuation(tmp_path):
    f = tmp_path / "llamada.txt"
    f.write_text(CALL, encoding="utf-8")
    good, bad, stats = _read(f, {"Laura": "agent"})
    assert good == []  # no transcript with Pedro's answer glued onto Laura's question
    assert len(bad) == 1 and bad[0].line == 2
    assert "unknown speaker: 'Pedro' on line 2 (and 1 more line(s))" in bad[0].reason
    assert "likely the customer" in bad[0].reason and bad[0].reason.endswith("--speaker Pedro=customer")
    assert stats.read == 0 and stats.skipped["unknown speaker"] == 1
    good, bad, _ = _read(f, {"Laura": "agent", "Pedro": "customer"})
    assert not bad
    t = good[0]
    assert [x.speaker for x in t.turns] == ["agent", "customer", "agent", "customer", "agent"]
    assert t.turns[2].text == "Claro. ¿Me confirma su DNI?" and t.turns[3].text == "12345678Z."
    # an unstamped line with no label continues; "Le explico:" inside a turn is not a label
    assert t.turns[4].text == "Gracias. Le explico: la factura incluye el cargo de instalación del router."


def test_supervisor_is_an_error_then_a_system_turn_of_its_own(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("Agente: Le paso con mi supervisora, un momento.\n"
                 "Cliente: De acuerdo.\n"
                 "Supervisor: Buenas tardes, soy Elena, supervisora del equipo.\n"
                 "Cliente: Gracias por atenderme.\n", encoding="utf-8")
    good, bad, _ = _read(f)
    assert good == [] and bad[0].line == 3
    assert "'Supervisor'" in bad[0].reason and bad[0].reason.endswith("--speaker Supervisor=system")
    good, bad, _ = _read(f, {"Supervisor": "system"})
    assert not bad
    assert [x.speaker for x in good[0].turns] == ["agent", "customer", "system", "customer"]
    assert good[0].turns[2].text == "Buenas tardes, soy Elena, supervisora del equipo."
    assert good[0].turns[1].text == "De acuerdo."  # not merged into the customer's turn


def test_timestamped_line_without_speaker_is_an_error(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("[00:00:01] Agent: Thanks for calling, this is Sam.\n"
                 "[00:00:04] I was charged twice for my order.\n", encoding="utf-8")
    good, bad, _ = _read(f)
    assert good == [] and bad[0].line == 2 and "timestamp but no known 'Label:'" in bad[0].reason


@pytest.mark.parametrize("content,reason", [
    ("", "empty file"),
    ("\n  \n", "empty file"),
    ("Agente:\nCliente:   \n", "empty transcript"),
    ("Pedro: hola\nMarta: buenas\n", "unknown speaker"),
    ("hola, buenas\n¿me oye?\n", "no speaker"),
])
def test_empty_or_wholly_rejected_files_are_errors(tmp_path, content, reason):
    f = tmp_path / "c.txt"
    f.write_text(content, encoding="utf-8")
    good, bad, stats = _read(f)
    assert good == [] and bad and reason in bad[0].reason
    assert stats.read == 0 and stats.skipped_total >= 1


def test_empty_json_jsonl_and_csv_files_are_errors(tmp_path):
    for name, content in [("a.jsonl", ""), ("b.json", "[]"), ("c.csv", "conversation_id,speaker,text\n")]:
        f = tmp_path / name
        f.write_text(content, encoding="utf-8")
        good, bad, _ = _read(f)
        assert good == [] and bad[0].reason.startswith("empty file"), name


def test_suggestions_by_position():
    # no party known: the first to speak answers the call (agent), the other is the customer
    s = suggest_roles([("Ana", None), ("Luis", None), ("Ana", None), ("Luis", None)])
    assert (s["Ana"][0], s["Luis"][0]) == ("agent", "customer")
    # the customer known: the voice alternating with it is the agent
    assert suggest_roles([("Ana", None), ("Cliente", "customer"), ("Ana", None)])["Ana"][0] == "agent"
    # both parties known: a further voice is a system/third-party turn
    assert suggest_roles([("A", "agent"), ("C", "customer"), ("Marta", None)])["Marta"][0] == "system"
    # agent known, two unknown voices: the frequent one is the customer, the other a third voice
    s = suggest_roles([("L", "agent"), ("Pedro", None), ("L", "agent"), ("Pedro", None), ("Jorge", None)])
    assert (s["Pedro"][0], s["Jorge"][0]) == ("customer", "system")


@pytest.mark.parametrize("label,stamped,expected", [
    ("Pedro", False, True), ("Cliente 2", False, True), ("Sra. García", False, True), ("SUPERVISOR", False, True),
    ("le explico", False, False), ("Le dije a Pedro", False, False), ("10", False, False), ("https", False, True),
    ("pedro garcia", True, True), ("Hola, mire", False, False),
])
def test_what_looks_like_a_label(label, stamped, expected):
    assert looks_like_speaker(label, stamped) is expected


def test_vtt_unknown_name_prefix_and_unmapped_voice_reject_the_call(tmp_path):
    f = tmp_path / "call.vtt"
    f.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:03.500\n<v Laura>Buenos días, le atiende Laura.</v>\n\n"
                 "00:00:04.000 --> 00:00:06.000\nPedro: Hola, tengo un problema con mi factura.\n\n"
                 "00:00:06.500 --> 00:00:08.000\nsin nombre\n", encoding="utf-8")
    good, bad, _ = _read(f, {"Laura": "agent"})
    assert good == []
    assert [b.line for b in bad] == [7, 10]
    assert "'Pedro'" in bad[0].reason and bad[0].reason.endswith("--speaker Pedro=customer")
    assert "no speaker" in bad[1].reason


def test_csv_unknown_speaker_rejects_its_conversation_with_a_suggestion(tmp_path):
    f = tmp_path / "turns.csv"
    f.write_text("conversation_id,speaker,text\n"
                 "c1,Laura,Buenos días\nc1,Cliente 7,Hola\nc1,Laura,¿En qué le ayudo?\n"
                 "c2,agent,Hello\nc2,,Hi there\n"
                 "c3,agent,Hello\nc3,customer,Hi\n", encoding="utf-8")
    good, bad, _ = _read(f)
    assert [t.id for t in good] == ["c3"]
    reasons = sorted(b.reason for b in bad)
    assert reasons[0].startswith("missing field: no speaker on line 6 in conversation c2")
    assert "'Cliente 7' on line 3 in conversation c1" in reasons[1]
    assert reasons[1].endswith("--speaker 'Cliente 7=customer'")
    assert "'Laura' on line 2 (and 1 more line(s)) in conversation c1" in reasons[2]
    assert reasons[2].endswith("--speaker Laura=agent")
