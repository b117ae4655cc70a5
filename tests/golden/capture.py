"""Record the command line's outputs on fixed inputs, to show a refactoring changed no behaviour.

    python -m tests.golden.capture OUT_DIR [--fast]

Writes OUT_DIR/inputs/* (built from eval/transcripts/labelled.jsonl and ../shared/data) and OUT_DIR/*.out:
``qa-service sentiment``, ``score`` (both shipped rubrics; JSONL, JSON, plain text, WebVTT, SRT and CSV-turn
transcripts), ``topics`` and ``complaints`` (CSV outputs and summary.json), and the API's OpenAPI schema.
Compare two runs with ``diff -r``. ``--fast`` leaves out topics and complaints.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _fmt(sec: float, sep: str) -> str:
    h, rem = divmod(sec, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h):02d}:{int(m):02d}:{int(s):02d}{sep}{int(round((s % 1) * 1000)):03d}"


def build_inputs(d: Path) -> dict[str, Path]:
    d.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(x) for x in (ROOT / "eval/transcripts/labelled.jsonl").read_text(encoding="utf-8").splitlines()]
    es = [r for r in rows if r["language"] == "es"][:4]
    en = [r for r in rows if r["language"] == "en"][:3]
    clean = lambda r: {k: v for k, v in r.items() if k not in ("labels", "split", "rubric")}  # noqa: E731
    out = {}
    out["es.jsonl"] = d / "es.jsonl"
    out["es.jsonl"].write_text("".join(json.dumps(clean(r), ensure_ascii=False) + "\n" for r in es), encoding="utf-8")
    out["en.jsonl"] = d / "en.jsonl"
    out["en.jsonl"].write_text("".join(json.dumps(clean(r), ensure_ascii=False) + "\n" for r in en), encoding="utf-8")
    out["es.json"] = d / "one.json"
    out["es.json"].write_text(json.dumps(clean(es[1]), ensure_ascii=False), encoding="utf-8")
    t = es[2]
    prefix = {"agent": "Agente", "customer": "Cliente", "system": "Sistema"}
    out["es.txt"] = d / "call.txt"
    out["es.txt"].write_text("".join(f"[00:00:{(4 * i) % 60:02d}] {prefix[x['speaker']]}: {x['text']}\n"
                                     for i, x in enumerate(t["turns"])), encoding="utf-8")
    vtt = ["WEBVTT", ""]
    srt = []
    for i, x in enumerate(t["turns"]):
        a, b = 3.0 * i, 3.0 * i + 2.5
        vtt += [f"{_fmt(a, '.')} --> {_fmt(b, '.')}", f"<v {prefix[x['speaker']]}>{x['text']}", ""]
        srt += [str(i + 1), f"{_fmt(a, ',')} --> {_fmt(b, ',')}", f"{prefix[x['speaker']]}: {x['text']}", ""]
    out["es.vtt"] = d / "call.vtt"
    out["es.vtt"].write_text("\n".join(vtt), encoding="utf-8")
    out["es.srt"] = d / "call.srt"
    out["es.srt"].write_text("\n".join(srt), encoding="utf-8")
    out["es.csv"] = d / "turns.csv"
    with open(out["es.csv"], "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["conversation_id", "speaker", "text"])
        for r in es[:2]:
            for x in r["turns"]:
                w.writerow([r["id"], x["speaker"], x["text"]])
    # Comments: real Spanish hotel reviews (shared/data/cuba_hotels), dated by month, with a score.
    sys.path.insert(0, str(ROOT))
    from tests.conftest import hotel_comments, write_csv

    out["comments.csv"] = write_csv(d / "comments.csv", hotel_comments(300, seed=11))
    texts = [r["text"][:300] for r in hotel_comments(60, seed=5)] + [
        "Gracias por la ayuda, todo resuelto!", "@Brand my order never arrived and nobody answers",
        "Thanks a lot, great service", "¿Cuándo abren mañana?", "Llevo tres días esperando un reembolso. Vergüenza."]
    out["sentiment.csv"] = write_csv(d / "sentiment.csv", [{"id": f"s{i}", "text": x} for i, x in enumerate(texts)])
    return out


def run(args: list[str], out: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "qa_service.cli", *args], capture_output=True, text=True, cwd=ROOT)
    out.write_text(p.stdout, encoding="utf-8")
    (out.with_suffix(".rc")).write_text(f"{p.returncode}\n")
    if p.returncode != 0:
        print(f"{' '.join(args)}: exit {p.returncode}\n{p.stderr[-2000:]}", file=sys.stderr)


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    fast = "--fast" in argv
    inp = build_inputs(out / "inputs")
    run(["sentiment", str(inp["sentiment.csv"])], out / "sentiment.out")
    run(["sentiment", str(inp["sentiment.csv"]), "-o", str(out / "sentiment.csv")], out / "sentiment-csv.out")
    for rubric, key in (("default-es", "es.jsonl"), ("default-en", "en.jsonl"), ("default-es", "es.json"),
                        ("default-es", "es.txt"), ("default-es", "es.vtt"), ("default-es", "es.srt"),
                        ("default-es", "es.csv")):
        run(["score", str(inp[key]), "--rubric", rubric], out / f"score-{rubric}-{key}.out")
    sys.path.insert(0, str(ROOT))
    from qa_service.api.app import create_app

    (out / "openapi.json").write_text(json.dumps(create_app(load_models=False).openapi(), indent=1, sort_keys=True),
                                      encoding="utf-8")
    if not fast:
        run(["topics", str(inp["comments.csv"]), "--out", str(out / "topics"), "--version", "golden",
             "--period", "month"], out / "topics.out")
        run(["complaints", str(inp["comments.csv"]), "--out", str(out / "complaints"), "--period", "month"],
            out / "complaints.out")
        run(["complaints", str(inp["es.jsonl"]), "--out", str(out / "complaints-t")], out / "complaints-t.out")
        for d in ("topics", "complaints", "complaints-t"):
            (out / d / "report.html").unlink(missing_ok=True)  # embeds Plotly; its data is in the CSVs
            m = out / d / "model" / "manifest.json"
            if m.exists():  # creation time and library versions differ between runs
                man = json.loads(m.read_text())
                man.pop("created", None)
                m.write_text(json.dumps(man, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
