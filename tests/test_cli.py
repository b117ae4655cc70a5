"""The ``qa-service`` CLI end to end: CSV, JSONL, TXT and stdin round trips, errors as exit codes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from qa_service.cli import app

runner = CliRunner()

ROWS = [("r1", "La agente fue encantadora y me lo solucionó todo, ¡gracias!"),
        ("r2", "Me cobraron dos veces y nadie responde, pésimo servicio."),
        ("r3", "The agent was rude and my problem is still not fixed.")]


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _served() -> str:
    """The shipped default sentiment version (models/sentiment/CURRENT): the registry's seed current version."""
    from qa_service.bundles import current_version
    from qa_service.config import Settings

    return current_version(Settings().models_dir, "sentiment")


def test_csv_to_jsonl_stdout(tmp_path):
    f = tmp_path / "in.csv"
    with f.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        w.writerows(ROWS)
    res = runner.invoke(app, ["sentiment", str(f)])
    assert res.exit_code == 0, res.output
    out = _jsonl(res.stdout)
    assert [o["id"] for o in out] == ["r1", "r2", "r3"]
    assert [o["label"] for o in out] == ["positive", "negative", "negative"]
    assert set(out[0]) == {"id", "label", "score", "probabilities", "language", "model_version"}
    assert out[0]["model_version"] == _served()
    assert "done: 3 row(s) labelled, 0 skipped" in res.stderr


def test_jsonl_to_csv_file_with_bad_rows(tmp_path):
    f = tmp_path / "in.jsonl"
    lines = [json.dumps({"comment_id": i, "body": t}, ensure_ascii=False) for i, t in ROWS]
    lines.insert(1, '{"comment_id": "broken", "body": ')
    lines.append(json.dumps({"comment_id": "e", "body": "   "}))
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["sentiment", str(f), "-o", str(out), "--text-column", "body", "--id-column", "comment_id"])
    assert res.exit_code == 3, res.output  # partial: two rows skipped, the rest labelled
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["id"] for r in rows] == ["r1", "r2", "r3"]
    assert rows[0]["label"] == "positive" and float(rows[1]["score"]) < 0
    assert {"probabilities_negative", "probabilities_neutral", "probabilities_positive", "language"} <= set(rows[0])
    assert "skipped line 2: broken JSON" in res.stderr
    assert "skipped line 5: empty text" in res.stderr
    assert "3 row(s) labelled, 2 skipped (1 broken JSON, 1 empty text)" in res.stderr


def test_txt_uses_line_numbers_as_ids(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("\n".join(t for _, t in ROWS) + "\n", encoding="utf-8")
    res = runner.invoke(app, ["sentiment", str(f), "-o", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 0, res.output
    out = _jsonl((tmp_path / "o.jsonl").read_text(encoding="utf-8"))
    assert [o["id"] for o in out] == ["1", "2", "3"]
    assert [o["language"] for o in out] == ["es", "es", "en"]


def test_stdin_in_a_real_process():
    """Through the installed console entry point, as a user pipes text in."""
    proc = subprocess.run([sys.executable, "-m", "qa_service.cli", "sentiment", "-"],
                          input="\n".join(t for _, t in ROWS).encode(), capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    out = _jsonl(proc.stdout.decode())
    assert [o["label"] for o in out] == ["positive", "negative", "negative"]
    assert b"Traceback" not in proc.stderr


def test_latin1_file_is_read_with_a_warning(tmp_path):
    f = tmp_path / "in.txt"
    f.write_bytes("Atención pésima, no vuelvo\n".encode("latin-1"))
    res = runner.invoke(app, ["sentiment", str(f)])
    assert res.exit_code == 0
    assert _jsonl(res.stdout)[0]["label"] == "negative"
    assert "read as Windows-1252/Latin-1" in res.stderr


@pytest.mark.parametrize("args,code,msg", [
    (["sentiment", "does-not-exist.csv"], 2, "input file not found"),
    (["sentiment", "{csv_no_text}"], 2, "no 'text' column"),
    (["sentiment", "{csv_ok}", "--model", "9.9.9"], 4, "not found"),
    (["sentiment", "{csv_ok}", "-o", "/proc/no-such-dir/out.csv"], 2, "cannot write"),
    (["sentiment", "{csv_ok}", "--format", "xml"], 2, "unknown input format"),
])
def test_errors_are_one_line_with_exit_codes(tmp_path, args, code, msg):
    (tmp_path / "a.csv").write_text("id,body\n1,hola\n")
    (tmp_path / "b.csv").write_text("id,text\n1,hola\n")
    args = [a.replace("{csv_no_text}", str(tmp_path / "a.csv")).replace("{csv_ok}", str(tmp_path / "b.csv"))
            for a in args]
    res = runner.invoke(app, args)
    assert res.exit_code == code
    assert msg in res.stderr
    assert "Traceback" not in res.output


def test_models_list_marks_current():
    res = runner.invoke(app, ["models", "list", "sentiment"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].startswith(f"sentiment: current {_served()}")
    assert [line.split()[1] for line in lines if line.strip().startswith("*")] == [_served()]
    assert any(line.split()[:2] == ["1.0.0", "seed"] for line in lines)


def test_help_is_fast_and_lists_commands():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("sentiment", "serve", "models"):
        assert cmd in res.stdout


def test_serve_with_corrupted_bundle_exits_with_one_line(bundle_copy):
    from qa_service.bundles import current_version

    v = current_version(bundle_copy, "sentiment")
    (bundle_copy / "sentiment" / v / "head.npz").write_bytes(b"corrupted")
    env = {**__import__("os").environ, "QA_MODELS_DIR": str(bundle_copy)}
    proc = subprocess.run([sys.executable, "-m", "qa_service.cli", "serve", "--port", "8799"], env=env,
                          capture_output=True, timeout=300)
    err = proc.stderr.decode()
    assert proc.returncode == 4
    assert "head.npz" in err and "checksum" in err
    assert "Traceback" not in err


def test_score_command_streams_results_and_summary(tmp_path):
    from tests.pipelines.rubric.test_scorer import BAD_EN, GOOD_ES

    f = tmp_path / "calls.jsonl"
    f.write_text(json.dumps(GOOD_ES, ensure_ascii=False) + "\n{broken\n" + json.dumps(BAD_EN) + "\n", encoding="utf-8")
    res = runner.invoke(app, ["score", str(f), "--rubric", "default-en"])
    assert res.exit_code == 3, res.output  # partial: one record skipped
    out = _jsonl(res.stdout)
    assert [o["id"] for o in out] == ["es-good", "en-bad"]
    assert out[1]["auto_fail"] is True and out[1]["source"] == str(f)
    assert f"skipped {f} line 2: broken JSON" in res.stderr
    assert "auto-fails 1" in res.stderr and "pass rate" in res.stderr
    res = runner.invoke(app, ["score", str(f), "--rubric", "nope"])
    assert res.exit_code == 2 and "not found" in res.stderr
