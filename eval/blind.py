"""The blind evaluation set for rubric scoring: loading, the one tune/report split, and the leakage check.

    python -m eval.blind split      # writes eval/transcripts/splits.json ONCE (refuses to overwrite)
    python -m eval.blind leaks      # lists rubric wording found in the evaluation transcripts (exit 1 if any)

The transcripts (``eval/transcripts/blind-*.jsonl``) were written by a procedure that never saw the rubrics'
examples or patterns and labelled by reading against the criterion questions only. Labels are always read from
those files (a second labelling pass will replace the ``labels`` field in place), never copied elsewhere.

The split is made once, seeded, stratified by variety (which implies the language), channel and ASR-like noise,
and kept in ``splits.json``: rubric versions, thresholds and models are chosen on ``tune`` only; ``report`` is
scored once per candidate.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path
from typing import Any, Iterable

TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"
BLIND_FILES = ("blind-es-es.jsonl", "blind-es-la.jsonl", "blind-en.jsonl")
SPLITS = TRANSCRIPTS / "splits.json"
SEED = 20261124
RUBRIC_OF_LANGUAGE = {"es": "default-es", "en": "default-en"}
# Fields of an evaluation row that are not part of the transcript contract.
NOT_TRANSCRIPT = ("labels", "evidence", "sensitive", "notes", "variety", "asr_noise", "rubric", "split")


def load_blind(directory: Path = TRANSCRIPTS) -> list[dict[str, Any]]:
    """Every evaluation row of the blind files, with ``rubric`` (by language) and ``group`` (es-ES, es-LA, en)."""
    rows = []
    for name in BLIND_FILES:
        group = name.removeprefix("blind-").removesuffix(".jsonl").replace("es-la", "es-LA").replace("es-es", "es-ES")
        for line in (directory / name).open(encoding="utf-8"):
            if line.strip():
                r = json.loads(line)
                r["rubric"] = RUBRIC_OF_LANGUAGE[r["language"]]
                r["group"] = group
                rows.append(r)
    return rows


def transcript_of(row: dict[str, Any]):
    """The :class:`~qa_service.schemas.Transcript` of an evaluation row (labels and notes left out)."""
    from qa_service.schemas import Transcript

    return Transcript.model_validate({k: v for k, v in row.items() if k not in NOT_TRANSCRIPT + ("group",)})


def make_split(rows: list[dict[str, Any]], seed: int = SEED, report_share: float = 0.5) -> dict[str, list[str]]:
    """Seeded split stratified by (variety, channel, asr_noise): rows are ordered by stratum, shuffled inside it,
    and dealt so that each stratum (and the whole, across strata) gets ``report_share`` of report rows."""
    rng = random.Random(seed)
    strata: dict[tuple, list[str]] = {}
    for r in rows:
        strata.setdefault((r["variety"], r["channel"], bool(r["asr_noise"])), []).append(r["id"])
    tune: list[str] = []
    report: list[str] = []
    owed = 0.0  # carried fraction, so odd-sized strata alternate instead of all rounding the same way
    for key in sorted(strata):
        ids = sorted(strata[key])
        rng.shuffle(ids)
        want = len(ids) * report_share + owed
        k = int(want + 0.5) if rng.random() < 0.5 else int(want)
        k = max(0, min(len(ids), k))
        owed = want - k
        report += ids[:k]
        tune += ids[k:]
    return {"tune": sorted(tune), "report": sorted(report)}


def load_split(path: Path = SPLITS) -> dict[str, list[str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {"tune": data["tune"], "report": data["report"]}


def rows_in(rows: list[dict[str, Any]], split: str, path: Path = SPLITS) -> list[dict[str, Any]]:
    ids = set(load_split(path)[split])
    return [r for r in rows if r["id"] in ids]


# ----------------------------------------------------------------------------- leakage
MIN_RUN = 6
_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased words, accents kept (a run must match word for word)."""
    return [w.lower() for w in _WORD.findall(text)]


def word_runs(text: str, n: int = MIN_RUN) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def rubric_wording(rubric) -> tuple[list[str], list[str]]:
    """The example sentences and the patterns of a rubric (every detector's ``patterns`` and ``cues``)."""
    examples, patterns = [], []
    for s in rubric.sections:
        for c in s.criteria:
            examples += list(c.examples.pass_) + list(c.examples.fail)
            for d in c.detectors:
                patterns += list(d.patterns)
                for cue in (getattr(d, "cues", None) or {}).values():
                    patterns += list(cue)
    return examples, patterns


def leaks(rubrics: Iterable[Any], rows: Iterable[dict[str, Any]], n: int = MIN_RUN) -> list[str]:
    """Every place rubric wording appears in an evaluation transcript: a whole example sentence, a run of ``n``+
    words of an example, or a pattern match spanning ``n``+ words. One line per finding."""
    from qa_service.schemas import compile_pattern

    rubrics = list(rubrics)
    rows = list(rows)
    turns = [(r["id"], i, t["text"]) for r in rows for i, t in enumerate(r["turns"])]
    index: dict[tuple[str, ...], list[tuple[str, int]]] = {}
    joined = []
    for rid, i, text in turns:
        for run in word_runs(text, n):
            index.setdefault(run, []).append((rid, i))
        joined.append((rid, i, f" {' '.join(words(text))} "))
    # patterns: one search per transcript (turns joined by a paragraph separator), then per turn where it hit
    by_row = [(r["id"], [t["text"] for t in r["turns"]], "\n\u2029\n".join(t["text"] for t in r["turns"]))
              for r in rows]
    found = []
    for rub in rubrics:
        examples, patterns = rubric_wording(rub)
        for ex in examples:
            ex_norm = " ".join(words(ex))
            hits = {where for run in word_runs(ex, n) for where in index.get(run, ())}
            if len(words(ex)) < n:  # too short for a run: the whole example, word for word
                hits = {(rid, i) for rid, i, j in joined if ex_norm and f" {ex_norm} " in j}
            for rid, i in sorted(hits):
                text = next(j for r, k, j in joined if r == rid and k == i)
                if ex_norm and f" {ex_norm} " in text:
                    found.append(f"{rub.id}: example {ex!r} in {rid} turn {i}")
                else:
                    found.append(f"{rub.id}: example {ex!r} shares {n}+ words with {rid} turn {i}")
        for p in patterns:
            rx = compile_pattern(p)
            for rid, texts, whole in by_row:
                if not any(len(words(m.group(0))) >= n for m in rx.finditer(whole)):
                    continue
                for i, text in enumerate(texts):
                    for m in rx.finditer(text):
                        if len(words(m.group(0))) >= n:
                            found.append(f"{rub.id}: pattern {p!r} matches {len(words(m.group(0)))} words in "
                                         f"{rid} turn {i}")
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.blind", description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["split", "leaks"])
    args = ap.parse_args(argv)
    rows = load_blind()
    if args.command == "split":
        if SPLITS.exists():
            print(f"{SPLITS} exists: the split is made once (delete it only to start a new evaluation protocol)",
                  file=sys.stderr)
            return 1
        split = make_split(rows)
        SPLITS.write_text(json.dumps({
            "seed": SEED, "report_share": 0.5,
            "stratified_by": ["variety", "channel", "asr_noise"],
            "files": list(BLIND_FILES), "command": "python -m eval.blind split", **split}, indent=1) + "\n")
        print(f"tune {len(split['tune'])}, report {len(split['report'])} -> {SPLITS}")
        return 0
    from qa_service.config import get_settings
    from qa_service.io.rubrics import load_rubric

    rubrics = [load_rubric(r, get_settings().rubrics_dir) for r in sorted(set(RUBRIC_OF_LANGUAGE.values()))]
    found = leaks(rubrics, rows)
    print("\n".join(found) or "no rubric wording in the evaluation transcripts")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
