"""Retrain the criterion classifiers on labelled transcripts plus analysts' corrections.

    python -m training.rubric_classifier --corrections reviews.jsonl            # tune split + corrections
    python -m training.rubric_classifier --labelled my-calls.jsonl --out /tmp/classifiers

Labelled transcripts: the blind evaluation set's tune split by default (labels read from eval/transcripts), or
``--labelled FILE`` (JSONL: a transcript, ``rubric``, ``labels``, optionally ``evidence``). Corrections
(``--corrections FILE``, JSONL): reviewed transcripts as ``qa-service reviews export`` writes them (added, or
replacing the row with the same id) or ``{"id": ..., "labels": {criterion: pass|fail|na}}`` records that
correct a labelled row (see ``qa_service.pipelines.rubric.learned.merge_corrections``). Each classifier keeps the
settings chosen by ``python -m eval.scoring`` (read from the current bundle's manifest). Writes the bundle
(default ``models/rubrics/classifiers``, which the service loads at start); re-run ``python -m eval.scoring`` to
measure it and refresh the calibration.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eval.blind import load_blind, load_split


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.open(encoding="utf-8"), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{n}: not valid JSON ({exc.msg})") from None
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.rubric_classifier", description=__doc__.split("\n")[0])
    ap.add_argument("--labelled", type=Path, default=None, help="labelled transcripts (default: the tune split)")
    ap.add_argument("--corrections", type=Path, default=None, help="analysts' corrections (JSONL)")
    ap.add_argument("--out", type=Path, default=None, help="bundle directory (default models/rubrics/classifiers)")
    args = ap.parse_args(argv)

    from qa_service.config import get_settings
    from qa_service.pipelines.rubric import RubricScorer
    from qa_service.pipelines.rubric.learned import fit_classifiers, save_classifiers
    from qa_service.runtime import get_runtime

    settings = get_settings()
    rt = get_runtime(settings)
    if args.labelled:
        rows = read_jsonl(args.labelled)
    else:
        tune = set(load_split()["tune"])
        rows = [r for r in load_blind() if r["id"] in tune]
    corrections = read_jsonl(args.corrections) if args.corrections else []
    out = args.out or settings.rubrics_dir / "classifiers"
    params = {}
    current = settings.rubrics_dir / "classifiers" / "manifest.json"
    if current.exists():
        manifest = json.loads(current.read_text(encoding="utf-8"))
        keep = ("C", "C_window", "use_windows", "threshold")
        params = {name: {k: v for k, v in meta.items() if k in keep} for name, meta in manifest["models"].items()}
    rubric_ids = sorted({r["rubric"] for r in rows} | {c["rubric"] for c in corrections if c.get("rubric")})
    scorers = {rid: RubricScorer(rt.rubric(rid), encoder=rt.encoder(), sentiment=rt.scoring_sentiment())
               for rid in rubric_ids}
    try:
        models = fit_classifiers(scorers, rows, corrections, params)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    enc = rt.encoder()
    save_classifiers(models, out, {
        "version": max(sc.rubric.version for sc in scorers.values()), "labels": ["fail", "pass"],
        "encoder": {"name": enc.name, "fingerprint": enc.fingerprint(), "dim": enc.dim},
        "rubrics": {rid: sc.rubric.version for rid, sc in scorers.items()},
        "training_data": [{"name": str(args.labelled or "blind evaluation set, tune split"), "rows": len(rows)},
                          {"name": str(args.corrections or "no corrections"), "rows": len(corrections)}],
        "metrics": {}, "command": "python -m training.rubric_classifier " + " ".join(argv or sys.argv[1:])})
    print(f"{len(models)} classifier(s) from {len(rows)} labelled transcript(s) and {len(corrections)} "
          f"correction(s) -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
