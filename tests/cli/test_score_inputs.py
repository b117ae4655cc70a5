"""``qa-service score`` as an analyst runs it: several files, glob patterns and directories; unmapped speakers,
empty and wholly rejected files; exit codes 0 / 3 / 2; the per-call and per-criterion summary."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from qa_service.cli import app

runner = CliRunner()

GOOD = ("[00:00:01] Agente: Buenas tardes, le atiende Marta, ¿en qué puedo ayudarle?\n"
        "[00:00:05] Cliente: Hola, el router no me da conexión desde esta mañana.\n"
        "[00:00:11] Agente: Vaya, lo siento. Voy a reiniciar la línea desde aquí.\n"
        "[00:00:40] Cliente: Ya funciona, muchas gracias.\n"
        "[00:00:44] Agente: Perfecto. ¿Puedo ayudarle en algo más? Que tenga buena tarde.\n")
PEDRO = ("[00:00:01] Laura: Buenos días, le atiende Laura, ¿en qué puedo ayudarle?\n"
         "[00:00:06] Pedro: Quería revisar un cargo de la factura de marzo.\n"
         "[00:00:12] Laura: ¿Me confirma su DNI?\n"
         "[00:00:18] Pedro: 12345678Z.\n")
SUPERVISOR = ("Agente: Buenas tardes, soy Luis. Le paso con mi supervisora.\n"
              "Cliente: Vale, gracias.\n"
              "Supervisor: Hola, soy Elena, la supervisora. Ya he anulado el cargo.\n"
              "Cliente: Estupendo.\n"
              "Agente: ¿Algo más en lo que pueda ayudarle? Que tenga buen día.\n")


def _jsonl(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def _score(*args: str):
    return runner.invoke(app, ["score", *args])


def test_unmapped_speaker_names_it_with_a_flag_and_exits_2(tmp_path):
    f = tmp_path / "llamada.txt"
    f.write_text(PEDRO, encoding="utf-8")
    res = _score(str(f), "--speaker", "Laura=agent")
    assert res.exit_code == 2, res.output
    assert res.stdout == ""  # nothing scored, nothing glued
    assert f"skipped {f} line 2: unknown speaker: 'Pedro' on line 2" in res.stderr
    assert "--speaker Pedro=customer" in res.stderr
    assert "error: no transcript scored" in res.stderr
    res = _score(str(f), "--speaker", "Laura=agent", "--speaker", "Pedro=customer")
    assert res.exit_code == 0, res.output
    [r] = _jsonl(res.stdout)
    assert (r["metrics"]["agent_turns"], r["metrics"]["customer_turns"]) == (2, 2)


def test_supervisor_mapped_to_system_is_its_own_turn(tmp_path):
    f = tmp_path / "escalado.txt"
    f.write_text(SUPERVISOR, encoding="utf-8")
    assert _score(str(f)).exit_code == 2
    res = _score(str(f), "--speaker", "Supervisor=system")
    assert res.exit_code == 0, res.output
    [r] = _jsonl(res.stdout)
    m = r["metrics"]
    assert (m["turns"], m["agent_turns"], m["customer_turns"]) == (5, 2, 2)  # one system turn, in neither party


@pytest.mark.parametrize("content", ["", "   \n\n", "Pedro: hola\nMarta: buenas\n", "[00:00:01] hola\n"])
def test_empty_or_wholly_rejected_file_exits_2(tmp_path, content):
    f = tmp_path / "c.txt"
    f.write_text(content, encoding="utf-8")
    res = _score(str(f))
    assert res.exit_code == 2, res.output
    assert f"skipped {f} line 1:" in res.stderr and "error: no transcript scored" in res.stderr


def test_files_glob_and_directory_with_one_bad_file_exit_3_and_score_the_rest(tmp_path):
    d = tmp_path / "lote"
    d.mkdir()
    (d / "b.txt").write_text(GOOD, encoding="utf-8")
    (d / "a.txt").write_text(GOOD.replace("Marta", "Ana"), encoding="utf-8")
    (d / "roto.txt").write_text(PEDRO, encoding="utf-8")
    (d / "notas.md").write_text("# no es una transcripción\n", encoding="utf-8")
    g = tmp_path / "glob"
    g.mkdir()
    (g / "x1.txt").write_text(GOOD, encoding="utf-8")
    (g / "x2.txt").write_text(GOOD, encoding="utf-8")
    single = tmp_path / "suelta.txt"
    single.write_text(GOOD, encoding="utf-8")
    out = d / "out.jsonl"  # inside the directory: never read back as input
    res = _score(str(single), str(g / "x*.txt"), str(d), str(d / "a.txt"), "-o", str(out))
    assert res.exit_code == 3, res.output
    rows = _jsonl(out.read_text(encoding="utf-8"))
    assert [(r["id"], r["source"]) for r in rows] == [
        ("suelta", str(single)), ("x1", str(g / "x1.txt")), ("x2", str(g / "x2.txt")),
        ("a", str(d / "a.txt")), ("b", str(d / "b.txt"))]  # directory sorted; a.txt named twice, read once
    assert f"skipped {d / 'roto.txt'} line 2: unknown speaker: 'Pedro'" in res.stderr
    assert "scored 5 transcript(s) from 5 file(s); 2 skipped (2 unknown speaker) in 1 file(s)" in res.stderr
    assert "1 file(s) that are not transcripts left aside" in res.stderr
    # a pattern matching nothing and a missing file are skipped inputs too
    res = _score(str(single), str(tmp_path / "nada*.vtt"), str(tmp_path / "falta.txt"))
    assert res.exit_code == 3
    assert f"skipped {tmp_path / 'nada*.vtt'}: no file matches the pattern" in res.stderr
    assert f"skipped {tmp_path / 'falta.txt'}: input file not found" in res.stderr
    assert len(_jsonl(res.stdout)) == 1


def test_summary_table_and_files(tmp_path):
    (tmp_path / "bueno.txt").write_text(GOOD, encoding="utf-8")
    card = GOOD.replace("Ya funciona, muchas gracias.", "Mi tarjeta es la 4539 1488 0343 6467.").replace(
        "Perfecto.", "Le repito: 4539 1488 0343 6467. Perfecto.")
    (tmp_path / "tarjeta.txt").write_text(card, encoding="utf-8")
    res = _score(str(tmp_path / "*.txt"), "--summary", str(tmp_path / "s.csv"), "-o", str(tmp_path / "r.jsonl"))
    assert res.exit_code == 0, res.output
    results = {r["id"]: r for r in _jsonl((tmp_path / "r.jsonl").read_text(encoding="utf-8"))}
    assert results["tarjeta"]["auto_fail"] is True and results["bueno"]["auto_fail"] is False
    rows = list(csv.DictReader((tmp_path / "s.csv").open(encoding="utf-8")))
    calls = [r for r in rows if r["row"] == "call"]
    crit = {r["id"]: r for r in rows if r["row"] == "criterion"}
    assert [(c["id"], c["source"], c["auto_fail"]) for c in calls] == [
        ("bueno", str(tmp_path / "bueno.txt"), "no"), ("tarjeta", str(tmp_path / "tarjeta.txt"), "yes")]
    for c in calls:
        r = results[c["id"]]
        assert float(c["total"]) == r["total"]
        assert c["needs_review"] == ";".join(x["id"] for x in r["criteria"] if x["needs_review"])
    assert list(crit) == [c["id"] for c in results["bueno"]["criteria"]]
    for cid, row in crit.items():
        got = [next(x for x in r["criteria"] if x["id"] == cid) for r in results.values()]
        counts = [sum(x["result"] == k for x in got) for k in ("pass", "fail", "na")]
        assert [int(row["pass"]), int(row["fail"]), int(row["na"])] == counts
        assert int(row["needs_review"]) == sum(x["needs_review"] for x in got)
        assert row["pass_rate"] == ("" if counts[0] + counts[1] == 0 else str(round(counts[0] / (counts[0] + counts[1]), 4)))
    assert crit["sin_datos_sensibles"]["fail"] == "1" and crit["sin_datos_sensibles"]["pass_rate"] == "0.5"
    # stderr: the call table with ids, sources and auto-fail, then the criteria
    assert "2 call(s) scored" in res.stderr and "per criterion" in res.stderr
    assert "tarjeta" in res.stderr and "yes" in res.stderr and "sin_datos_sensibles" in res.stderr
    assert "auto-fails 1" in res.stderr
    # JSON: the same numbers, plus totals
    res = _score(str(tmp_path / "*.txt"), "--summary", str(tmp_path / "s.json"), "-o", str(tmp_path / "r2.jsonl"))
    assert res.exit_code == 0, res.output
    js = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in js["calls"]] == ["bueno", "tarjeta"] and js["calls"][1]["auto_fail"] is True
    assert js["totals"]["calls"] == 2 and js["totals"]["auto_fails"] == 1
    by = {c["id"]: c for c in js["criteria"]}
    assert (by["sin_datos_sensibles"]["pass"], by["sin_datos_sensibles"]["fail"]) == (1, 1)
    # a summary name that is neither .csv nor .json is refused before anything is scored
    res = _score(str(tmp_path / "bueno.txt"), "--summary", str(tmp_path / "s.xlsx"))
    assert res.exit_code == 2 and "use a .csv or .json name" in res.stderr and res.stdout == ""


def test_sentiment_with_no_usable_row_exits_2(tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text('{"text": "  "}\n{broken\n', encoding="utf-8")
    res = runner.invoke(app, ["sentiment", str(f)])
    assert res.exit_code == 2 and "no usable record" in res.stderr
