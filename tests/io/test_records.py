"""Readers: CSV / JSONL / TXT / stdin, bad rows reported with line numbers, Latin-1 accepted."""

from __future__ import annotations

import io

import pytest

from qa_service.errors import InvalidInputError
from qa_service.io.records import BadRecord, ReadStats, TextRecord, read_text_records


def _read(path, **kw):
    stats = ReadStats()
    recs = list(read_text_records(path, stats=stats, **kw))
    return [r for r in recs if isinstance(r, TextRecord)], [r for r in recs if isinstance(r, BadRecord)], stats


def test_csv_with_ids_metadata_and_bad_rows(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text('id,text,score\nc1,"Muy buena atención, gracias",5\nc2,"  ",3\nc3,"línea con\nsalto",2\nc4,extra,1,oops\n',
                 encoding="utf-8")
    good, bad, stats = _read(f)
    assert [r.id for r in good] == ["c1", "c3"]
    assert good[1].text == "línea con\nsalto"
    assert good[0].metadata == {"score": "5"}
    assert [(b.line, b.reason.split(":")[0]) for b in bad] == [(3, "empty text"), (6, "broken CSV")]
    assert stats.read == 2 and stats.skipped_total == 2


def test_csv_without_id_column_uses_row_numbers_and_custom_text_column(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("comentario\nhola\nadiós\n", encoding="utf-8")
    good, _, _ = _read(f, text_column="comentario")
    assert [(r.id, r.text) for r in good] == [("1", "hola"), ("2", "adiós")]


def test_csv_missing_text_column_is_a_clear_error(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("id,body\n1,hola\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="no 'text' column"):
        _read(f)


def test_jsonl_broken_lines_are_reported_and_rest_kept(tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text('{"id": "a", "text": "bien", "team": "x"}\n{"id": "b", "text": \n\n[1,2]\n{"text": ""}\n'
                 '{"id": 7, "text": "mal"}\n{"id": "c"}\n', encoding="utf-8")
    good, bad, stats = _read(f)
    assert [(r.id, r.text) for r in good] == [("a", "bien"), ("7", "mal")]
    assert good[0].metadata == {"team": "x"}
    assert [b.line for b in bad] == [2, 4, 5, 7]
    assert bad[0].reason.startswith("broken JSON")
    assert bad[3].reason.startswith("missing field")
    assert stats.skipped["broken JSON"] == 2


def test_txt_and_latin1(tmp_path):
    f = tmp_path / "c.txt"
    f.write_bytes("Buen servicio\n\nAtención pésima\n".encode("utf-8") + "Línea en latin-1: atención\n".encode("latin-1"))
    good, bad, stats = _read(f)
    assert [(r.id, r.text) for r in good] == [("1", "Buen servicio"), ("3", "Atención pésima"),
                                            ("4", "Línea en latin-1: atención")]
    assert [(b.line, b.reason) for b in bad] == [(2, "empty text")]
    assert stats.latin1_lines == 1


def test_undecodable_line_is_a_bad_row(tmp_path):
    f = tmp_path / "c.txt"
    f.write_bytes(b"ok line\n\x81\x90\x9d garbage\nsecond\n")
    good, bad, _ = _read(f)
    assert [r.text for r in good] == ["ok line", "second"]
    assert bad[0].line == 2 and bad[0].reason.startswith("undecodable")


def test_stdin_detects_jsonl_or_text():
    good, _, _ = _read("-", stream=io.BytesIO(b'\n{"id": "x", "text": "hola"}\n'))
    assert [(r.id, r.text) for r in good] == [("x", "hola")]
    good, _, _ = _read("-", stream=io.BytesIO("uno\ndós\n".encode()))
    assert [r.text for r in good] == ["uno", "dós"]
    good, _, _ = _read("-", stream=io.BytesIO(b"text\nhola\n"), fmt="csv")
    assert [r.text for r in good] == ["hola"]


def test_unknown_suffix_and_missing_file(tmp_path):
    f = tmp_path / "c.xlsx"
    f.write_bytes(b"PK")
    with pytest.raises(InvalidInputError, match="format"):
        _read(f)
    with pytest.raises(InvalidInputError, match="not found"):
        _read(tmp_path / "missing.csv")


def test_jsonl_lone_surrogates_are_replaced_and_output_stays_utf8(tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text('{"id": "a\\ud800", "text": "mal \\udc00 servicio"}\n{"id": "b", "text": "\\u200b"}\n', encoding="utf-8")
    good, bad, _ = _read(f)
    assert good[0].id == "a\ufffd" and good[0].text == "mal \ufffd servicio"
    good[0].text.encode("utf-8")
    assert [(b.line, b.reason) for b in bad] == [(2, "empty text")]
