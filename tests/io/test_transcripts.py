"""Transcript readers on small realistic calls and chats in Spanish and English, well-formed and broken."""

from __future__ import annotations

import json

import pytest

from qa_service.errors import InvalidInputError
from qa_service.io.records import BadRecord, ReadStats
from qa_service.io.transcripts import SpeakerMap, parse_speaker_map, read_transcripts
from qa_service.schemas import Transcript

CALL = {"id": "call-0001", "channel": "call", "language": "es", "started_at": "2026-11-02T10:15:00Z",
        "agent": {"id": "a-17", "team": "facturacion"}, "metadata": {"queue": "billing"},
        "turns": [{"speaker": "agent", "text": "Buenos días, le atiende Laura, ¿en qué puedo ayudarle?",
                   "start": 0.0, "end": 4.2},
                  {"speaker": "customer", "text": "Me han cobrado dos veces la factura.", "start": 4.9, "end": 7.1}]}


def _read(path, **kw):
    stats = ReadStats()
    recs = list(read_transcripts(path, stats=stats, **kw))
    return ([r for r in recs if isinstance(r, Transcript)], [r for r in recs if isinstance(r, BadRecord)], stats)


def test_jsonl_contract_and_bad_records(tmp_path):
    chat = {"id": "chat-9", "channel": "chat", "turns": [
        {"speaker": "customer", "text": "Hi, my card was declined", "at": "2026-11-02T10:00:00Z"},
        {"speaker": "agent", "text": "Sorry to hear that, let me check.", "at": "2026-11-02T10:01:30Z"}]}
    f = tmp_path / "t.jsonl"
    f.write_text("\n".join([json.dumps(CALL, ensure_ascii=False), '{"id": "x", "turns": [', json.dumps(chat),
                            json.dumps({"id": "y", "turns": [{"speaker": "boss", "text": "hola"}]}),
                            json.dumps({"id": "z", "turns": []}),
                            json.dumps({"id": "w", "turns": [{"speaker": "agent", "text": "a", "start": 5,
                                                              "end": 2}]})]) + "\n", encoding="utf-8")
    good, bad, stats = _read(f)
    assert [t.id for t in good] == ["call-0001", "chat-9"]
    assert good[0].agent.team == "facturacion" and good[0].metadata == {"queue": "billing"}
    assert good[0].turns[1].end == 7.1 and good[1].turns[1].at.minute == 1
    assert [(b.line, b.reason.split(":")[0]) for b in bad] == [(2, "broken JSON"), (4, "invalid transcript"),
                                                              (5, "invalid transcript"), (6, "invalid transcript")]
    assert "turns[0].speaker" in bad[1].reason
    assert "turns" in bad[2].reason
    assert "before start" in bad[3].reason
    assert stats.read == 2 and stats.skipped_total == 4


def test_json_array_and_single_object(tmp_path):
    f = tmp_path / "one.json"
    f.write_text(json.dumps(CALL), encoding="utf-8")
    assert [t.id for t in _read(f)[0]] == ["call-0001"]
    f = tmp_path / "many.json"
    f.write_text(json.dumps([CALL, {"id": "bad"}]), encoding="utf-8")
    good, bad, _ = _read(f)
    assert [t.id for t in good] == ["call-0001"] and bad[0].line == 2


def test_plain_text_with_prefixes_stamps_and_continuations(tmp_path):
    f = tmp_path / "llamada-42.txt"
    f.write_text("[00:00:01] Agente: Buenos días, le atiende Marta de Atención al Cliente.\n"
                 "[00:00:05] Cliente: Hola, llamo porque no me funciona internet\n"
                 "desde ayer por la tarde.\n"
                 "[00:01:10] Agente: Entiendo lo frustrante que debe ser esto para usted.\n", encoding="utf-8")
    good, bad, _ = _read(f)
    assert not bad
    t = good[0]
    assert t.id == "llamada-42"
    assert [x.speaker for x in t.turns] == ["agent", "customer", "agent"]
    assert t.turns[1].text == "Hola, llamo porque no me funciona internet desde ayer por la tarde."
    assert [x.start for x in t.turns] == [1.0, 5.0, 70.0]


def test_plain_text_english_and_unknown_speaker(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("Agent: Thank you for calling, this is Sam.\nCustomer: I was charged twice.\n", encoding="utf-8")
    assert [x.speaker for x in _read(f)[0][0].turns] == ["agent", "customer"]
    f.write_text("Supervisor: hola\nCliente: buenas\n", encoding="utf-8")
    good, bad, _ = _read(f)
    assert bad[0].line == 1 and "unknown speaker: 'Supervisor'" in bad[0].reason
    good, bad, _ = _read(f, speakers=SpeakerMap(parse_speaker_map(["Supervisor=agent"])))
    assert not bad and [x.speaker for x in good[0].turns] == ["agent", "customer"]


def test_webvtt_voice_tags_mapped_by_name(tmp_path):
    f = tmp_path / "call.vtt"
    f.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:03.500\n<v Laura>Buenos días, le atiende Laura.</v>\n\n"
                 "00:00:04.000 --> 00:00:06.000\n<v Pedro>Hola, tengo un problema con mi factura.\n\n"
                 "00:00:06.200 --> 00:00:08.000\n<v Pedro>Me cobraron dos veces.\n", encoding="utf-8")
    good, bad, _ = _read(f)
    assert "unknown speaker: 'Laura'" in bad[0].reason
    good, bad, _ = _read(f, speakers=SpeakerMap({"Laura": "agent", "Pedro": "customer"}))
    assert not bad
    t = good[0]
    assert [x.speaker for x in t.turns] == ["agent", "customer"]
    assert t.turns[1].text == "Hola, tengo un problema con mi factura. Me cobraron dos veces."
    assert (t.turns[1].start, t.turns[1].end) == (4.0, 8.0)


def test_srt_with_name_prefixes(tmp_path):
    f = tmp_path / "call.srt"
    f.write_text("1\n00:00:01,000 --> 00:00:03,000\nAgent: Hello, you're speaking with Sam.\n\n"
                 "2\n00:00:03,500 --> 00:00:06,000\nCustomer: Hi, my order never arrived.\n\n", encoding="utf-8")
    good, bad, _ = _read(f)
    assert not bad
    assert [(x.speaker, x.start) for x in good[0].turns] == [("agent", 1.0), ("customer", 3.5)]


def test_vtt_without_header_is_reported(tmp_path):
    f = tmp_path / "x.vtt"
    f.write_text("00:00:01.000 --> 00:00:02.000\n<v Agent>hola\n", encoding="utf-8")
    good, bad, _ = _read(f)
    assert not good and "WEBVTT" in bad[0].reason


def test_csv_turns_grouped_by_conversation(tmp_path):
    f = tmp_path / "turns.csv"
    f.write_text("conversation_id,speaker,text,at,team\n"
                 "c1,Agente,\"Hola, soy Ana, ¿en qué le ayudo?\",2026-11-02T10:00:00Z,soporte\n"
                 "c2,agent,Hello there,2026-11-02T11:00:00Z,support\n"
                 "c1,Cliente,No puedo entrar en mi cuenta,2026-11-02T10:00:40Z,soporte\n"
                 "c3,jefe,hola,,x\n"
                 ",agent,huérfana,,\n", encoding="utf-8")
    good, bad, _ = _read(f)
    assert [t.id for t in good] == ["c1", "c2"]
    assert [x.speaker for x in good[0].turns] == ["agent", "customer"]
    assert good[0].channel == "chat" and good[0].agent.team == "soporte"
    assert sorted(b.reason.split(":")[0] for b in bad) == ["missing field", "unknown speaker"]


def test_csv_missing_columns_and_unknown_format(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("id,text\n1,hola\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="conversation_id"):
        _read(f)
    g = tmp_path / "t.docx"
    g.write_text("x")
    with pytest.raises(InvalidInputError, match="transcript format"):
        _read(g)
    with pytest.raises(InvalidInputError, match="LABEL=agent"):
        parse_speaker_map(["Laura"])
    with pytest.raises(InvalidInputError, match="role must be"):
        SpeakerMap({"Laura": "boss"})
