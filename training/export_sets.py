"""Write the labelled-set catalogue the service trains and gates with (``QA_DATASETS_DIR``, default
``QA_DATA_DIR/datasets``) from ../shared/data and the project's labelled transcripts.

    python -m training.export_sets                    # into QA_DATASETS_DIR (or QA_DATA_DIR/datasets)
    python -m training.export_sets --out /srv/qa/datasets

This is the one place that decides which sets are gate sets. Base sets (trained on, with the corrections): the
shipped sentiment recipe's training sets (``eval.datasets.training_sets()``) and the tune split of the blind
evaluation set (``eval/transcripts/blind-*.jsonl``, ``splits.json``), on which the shipped rubric calibrations
and criterion classifiers were fitted. Gate sets (fixed, never trained on; snapshots leave their texts out):

* sentiment, per language: the XLM-T test split (tweets, balanced three classes), Spanish and English. The
  shipped models never trained on it; its Spanish tweets may repeat TASS tweets, which snapshots then drop.
* rubric calibrations: the report split of the blind evaluation set (es and en rubrics), the split
  ``eval/reports/scoring-blind.md`` reports on. (``eval/transcripts/labelled.jsonl`` is retired: its report
  transcripts share wording with the rubrics' examples.)

Rewriting the catalogue with other gate sets makes earlier comparisons stale: promotion compares again.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from eval import datasets as ds

XLMT = ("xlmt_sentiment", "xlmt_sentiment.csv")
XLMT_LICENCE = "research use (tweets from earlier shared tasks; repository Apache-2.0)"


def _slug(name: str) -> str:
    return name.replace("/", "-")


def sentiment_base() -> list[tuple[dict, list[dict]]]:
    """(catalogue entry, rows) for each base training set of the shipped sentiment recipe."""
    out = []
    for s in ds.training_sets():
        rows = [{"text": t, "label": lab, "language": s.language} for t, lab in zip(s.texts, s.labels) if t]
        out.append(({"name": s.name, "task": "sentiment", "role": "base", "language": s.language,
                     "file": f"{_slug(s.name)}.jsonl", "source": s.source, "licence": s.licence}, rows))
    return out


def sentiment_gates() -> list[tuple[dict, list[dict]]]:
    """The XLM-T test split, one gate set per language."""
    f = ds.data_root().joinpath(*XLMT)
    with f.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "test"]
    out = []
    for lang in ("es", "en"):
        part = [{"text": " ".join(r["text"].split()), "label": r["label"], "language": lang}
                for r in rows if r["language"] == lang and r["text"].strip()]
        out.append(({"name": f"xlmt/test-{lang}", "task": "sentiment", "role": "gate", "language": lang,
                     "file": f"xlmt-test-{lang}.jsonl", "source": "XLM-T multilingual tweet sentiment (test split)",
                     "licence": XLMT_LICENCE}, part))
    return out


def rubric_sets() -> list[tuple[dict, list[dict]]]:
    """The blind evaluation set: tune split as base, report split as gate. Rows keep the transcript, ``rubric``,
    ``labels`` and the labellers' cited ``evidence`` turns (what the criterion classifiers train on)."""
    from eval.blind import BLIND_FILES, NOT_TRANSCRIPT, load_blind, load_split

    split = load_split()
    keep = set(NOT_TRANSCRIPT) - {"rubric", "labels", "evidence"} | {"group"}
    rows = [{k: v for k, v in r.items() if k not in keep} for r in load_blind()]
    files = ", ".join(f"eval/transcripts/{f}" for f in BLIND_FILES)
    return [({"name": f"blind/{split_name}", "task": "rubric", "role": role, "language": None,
              "file": f"blind-{split_name}.jsonl",
              "source": f"{files}, split {split_name} of eval/transcripts/splits.json (written for the project)",
              "licence": "the project's own"}, [r for r in rows if r["id"] in set(split[split_name])])
            for split_name, role in (("tune", "base"), ("report", "gate"))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.export_sets", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="directory (default QA_DATASETS_DIR)")
    args = ap.parse_args(argv)

    from qa_service.config import get_settings
    from qa_service.io.labelled import write_catalog, write_jsonl

    out = args.out or get_settings().labelled_sets_dir
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for entry, rows in sentiment_base() + sentiment_gates() + rubric_sets():
        n = write_jsonl(out / entry["file"], rows)
        entries.append(entry)
        print(f"  {entry['role']:<4} {entry['task']:<9} {entry['name']:<22} {n:>6} rows  {entry['licence']}",
              file=sys.stderr)
    print(f"wrote {write_catalog(out, entries)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
