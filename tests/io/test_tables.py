"""The one CSV writer: cells that a spreadsheet would run as formulas are neutralised in every CSV output;
numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pytest

from qa_service.io.records import RecordWriter
from qa_service.io.tables import iter_csv, safe_cell, write_csv

ATTACKS = ['=HYPERLINK("http://evil","click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd",
           "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("cell", ATTACKS)
def test_formula_cells_get_a_leading_quote(cell):
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("value", [-0.5, -3, 0, 1.25, None, True, "-0.5", "+34", "-1e-05", "-1,5", "hola",
                                   "a=b", "", "'=x"])
def test_numbers_and_plain_text_are_unchanged(value):
    assert safe_cell(value) == value


def _read(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_write_csv_neutralises_cells_and_header(tmp_path):
    rows = [{"id": ATTACKS[0], "text": ATTACKS[3], "score": -0.5, "=col": "-x"}]
    f = write_csv(tmp_path / "t.csv", rows)
    back = _read(f.read_text(encoding="utf-8"))
    assert back == [{"id": "'" + ATTACKS[0], "text": "'" + ATTACKS[3], "score": "-0.5", "'=col": "'-x"}]


def test_iter_csv_streams_neutralised_chunks():
    rows = ({"id": f"=cmd{i}", "score": -i / 10} for i in range(5000))
    chunks = list(iter_csv(rows, ["id", "score"], chunk_chars=1000))
    assert len(chunks) > 10
    back = _read("".join(chunks))
    assert len(back) == 5000 and back[3] == {"id": "'=cmd3", "score": "-0.3"}


def test_record_writer_csv_neutralises_cells(tmp_path):
    out = tmp_path / "out.csv"
    with RecordWriter(out) as w:
        w.write({"id": "@evil", "label": "negative", "score": -0.75, "probabilities": {"negative": 0.9}})
    assert _read(out.read_text(encoding="utf-8")) == [
        {"id": "'@evil", "label": "negative", "score": "-0.75", "probabilities_negative": "0.9"}]
