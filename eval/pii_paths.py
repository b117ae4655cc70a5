"""PII redaction measured through each storage path: what is STORED or WRITTEN, not what the redactor returns.

    python -m eval.pii_paths          # writes eval/reports/pii-paths.md and pii-paths.json

The labelled set of eval/pii_set.py goes, on a fresh temporary data directory (SQLite) per path, through:

- ``sentiment_job``: comments submitted with ``usecases.jobs.submit_job(rt, "sentiment", ...)`` and run with
  ``run_job``; read back: the comments table (text, metadata), the sentiment rows, the job items (payload,
  result, error).
- ``score_job``: each text is one turn of a two-turn transcript (customer and agent turns alternate, the other
  turn is a fixed PII-free sentence), WITHOUT a ``language`` field (so the per-record language detection is
  exercised), scored by a "score" job with the default rubric of the text's language; read back: transcript
  turns and metadata, job items, scores (result JSON) and criterion evidence.
- ``ingest_comments`` / ``ingest_transcripts``: ``usecases.ingest.ingest``; read back the stored rows.
- ``upload_comments`` (CSV) / ``upload_transcripts`` (JSONL): written to a file, read with
  ``usecases.jobs.payloads_from_file``, then submitted and run as jobs (the upload path); read back as above.
- ``topics``: ``usecases.feedback.fit_topics`` on up to ``TOPICS_MAX`` texts as dated comments; read back
  every file written (documents.csv, topics.csv, trends.csv, complaints.csv, drivers.csv, summary.json,
  report.html, the saved model's files).

A labelled span LEAKS when its original text (case-folded), or for identifiers with 6+ digits its digits-only
form, occurs in what was stored for its record (DB paths: every stored field that names the record) or, for
topics, anywhere in the written files (the outputs are aggregates). Recall = 1 - leaks / spans. As a check on the
attribution, ``anywhere`` counts spans found anywhere in the path's whole database (every row of every table)
or data directory files (the plotly.js library inside report.html left out). For PERSON, ``part`` counts names one of whose words (3+ letters) survives as a word
(a surname in a topic keyword, say): stricter than the brief's exact-string test.
A false alarm is a negative sentence (no PII by construction) whose stored text carries a redaction tag; for
topics this is read on the redacted comments the outputs are built from.
"""

from __future__ import annotations

import csv
import json
import random
import re
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from eval.pii import SEEDS, _commit
from eval.pii_set import build
from qa_service.text.pii import TAGS

REPORTS = Path(__file__).resolve().parent / "reports"
PATHS = ("sentiment_job", "score_job", "ingest_comments", "ingest_transcripts", "upload_comments",
         "upload_transcripts", "topics")
TOPICS_MAX = 300
COMMAND = "python -m eval.pii_paths"
_TAG = re.compile("|".join(re.escape(t) for t in TAGS.values()))
# report.html embeds the plotly.js library (~4.8 MB, the same in every report): its words and numbers (US states,
# map projections like "craig") are not the user's data, so it is left out of the search.
_PLOTLY = re.compile(r"<script>\s*/\*\*\s*\* plotly\.js v[\d.]+.*?</script>", re.S)
FILLER = {  # the PII-free other turn of each transcript: (agent turn, customer turn)
    "es": ("Gracias por llamar, ¿en qué puedo ayudarle hoy?", "Vale, muchas gracias por la ayuda."),
    "en": ("Thanks for calling, how can I help you today?", "Okay, thanks a lot for the help."),
}
BASE_TIME = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- records
def record_id(i: int) -> str:
    return f"pii-{i:04d}"


def as_comments(rows: Sequence[dict]) -> list[dict[str, Any]]:
    """Each labelled text as a JSON comment, dated over six weeks (topic trends need dates)."""
    return [{"id": record_id(i), "text": r["text"], "created_at": (BASE_TIME + timedelta(hours=5 * i)).isoformat()}
            for i, r in enumerate(rows)]


def as_transcripts(rows: Sequence[dict]) -> list[dict[str, Any]]:
    """Each labelled text as one turn of a transcript with no ``language`` field: the customer's turn for even
    rows, the agent's for odd ones; the other turn is a PII-free sentence of the same language."""
    out = []
    for i, r in enumerate(rows):
        agent, customer = FILLER[r["language"]]
        turns = [{"speaker": "agent", "text": agent}, {"speaker": "customer", "text": r["text"]}] if i % 2 == 0 \
            else [{"speaker": "agent", "text": r["text"]}, {"speaker": "customer", "text": customer}]
        out.append({"id": record_id(i), "channel": "call", "turns": turns})
    return out


# --------------------------------------------------------------------------- reading back
def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def stored_by_record(rt) -> dict[str, list[Any]]:
    """Everything the database keeps about each record id: comment and transcript rows, their sentiment, scores
    and criterion evidence, and the job items whose payload names the record."""
    from sqlalchemy import select

    from qa_service.store.tables import (CommentRow, CriterionResultRow, JobItemRow, ScoreRow, SentimentRow,
                                         TranscriptRow)

    out: dict[str, list[Any]] = defaultdict(list)
    with rt.session() as s:
        for c in s.scalars(select(CommentRow)):
            out[c.external_id].append({"text": c.text, "meta": c.meta, "team": c.team, "agent": c.agent_id})
            for sr in s.scalars(select(SentimentRow).where(SentimentRow.comment_id == c.id)):
                out[c.external_id].append({"sentiment": sr.label, "probabilities": sr.probabilities})
        for t in s.scalars(select(TranscriptRow)):
            out[t.external_id].append({"turns": t.turns, "meta": t.meta})
            for sc in s.scalars(select(ScoreRow).where(ScoreRow.transcript_id == t.id)):
                out[t.external_id].append({"score": sc.result})
                for cr in s.scalars(select(CriterionResultRow).where(CriterionResultRow.score_id == sc.id)):
                    out[t.external_id].append({"evidence": cr.evidence})
        for it in s.scalars(select(JobItemRow)):
            out[str((it.payload or {}).get("id"))].append({"payload": it.payload, "result": it.result,
                                                           "error": it.error})
    return out


def stored_texts(rt, ids: Sequence[str]) -> list[str]:
    """Per record, its stored fields as one string (empty when nothing was stored)."""
    by_id = stored_by_record(rt)
    return [_dump(by_id.get(i, [])) for i in ids]


def everything_stored(rt, extra_dirs: Sequence[Path] = ()) -> str:
    """Every row of every table of the path's database, plus every file under its data directory (the SQLite
    files' raw bytes included: freed pages too) and under ``extra_dirs``."""
    from sqlalchemy import MetaData, select

    from qa_service.store import get_engine

    engine = get_engine(rt.settings.db_url)
    meta = MetaData()
    meta.reflect(engine)
    parts = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            parts.extend(_dump(list(row)) for row in conn.execute(select(table)))
    for d in (rt.settings.data_dir, *extra_dirs):
        parts.extend(_PLOTLY.sub("<script>plotly.js</script>", f.read_bytes().decode("utf-8", errors="ignore"))
                     for f in sorted(Path(d).rglob("*")) if f.is_file())
    # JSON columns and raw bytes keep non-ASCII letters as \\uXXXX escapes: undo them so "Lucía" is found
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), "\n".join(parts))


# --------------------------------------------------------------------------- the paths
def _run_job(rt, kind: str, payloads: list[dict], params: dict) -> None:
    from qa_service.usecases.jobs import get_job, run_job, submit_job

    job = submit_job(rt, kind, payloads, params)
    run_job(rt, job.id)
    job = get_job(rt, job.id)
    if job.status != "done" or job.failed:
        raise RuntimeError(f"{kind} job ended {job.status} with {job.failed} failed records: {job.error}")


def _score_jobs(rt, rows: Sequence[dict], transcripts: list[dict], source: str) -> None:
    for lang in ("es", "en"):
        picked = [t for t, r in zip(transcripts, rows) if r["language"] == lang]
        if picked:
            _run_job(rt, "score", picked, {"source": source, "rubric": f"default-{lang}"})


def path_sentiment_job(rt, rows, work: Path) -> None:
    _run_job(rt, "sentiment", as_comments(rows), {"source": "eval-sentiment-job"})


def path_score_job(rt, rows, work: Path) -> None:
    _score_jobs(rt, rows, as_transcripts(rows), "eval-score-job")


def path_ingest_comments(rt, rows, work: Path) -> None:
    from qa_service.schemas import Comment
    from qa_service.usecases.ingest import ingest

    ingest(rt, "eval-ingest", comments=[Comment.model_validate(c) for c in as_comments(rows)])


def path_ingest_transcripts(rt, rows, work: Path) -> None:
    from qa_service.schemas import Transcript
    from qa_service.usecases.ingest import ingest

    ingest(rt, "eval-ingest", transcripts=[Transcript.model_validate(t) for t in as_transcripts(rows)])


def path_upload_comments(rt, rows, work: Path) -> None:
    from qa_service.usecases.jobs import payloads_from_file

    f = work / "comments.csv"
    with f.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "text", "created_at"])
        w.writeheader()
        w.writerows(as_comments(rows))
    payloads = payloads_from_file(rt, f, "sentiment")
    f.unlink()  # the upload's temporary file is not what the service keeps
    _run_job(rt, "sentiment", payloads, {"source": "eval-upload"})


def path_upload_transcripts(rt, rows, work: Path) -> None:
    from qa_service.usecases.jobs import payloads_from_file

    f = work / "transcripts.jsonl"
    f.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in as_transcripts(rows)), encoding="utf-8")
    payloads = payloads_from_file(rt, f, "score")
    f.unlink()
    _score_jobs(rt, rows, payloads, "eval-upload")


def path_topics(rt, rows, work: Path) -> list[str]:
    """Fits topics; returns the redacted texts the outputs were built from (for false alarms)."""
    from qa_service.schemas import Comment
    from qa_service.usecases.feedback import fit_topics

    comments = [Comment.model_validate(c) for c in as_comments(rows)]
    fit = fit_topics(rt, comments, work / "topics-out", work / "topics-model", "pii-eval",
                     source_name="eval/pii_set", period="week")
    return [c.text for c in fit.analysis.comments]


RUNNERS: dict[str, Callable] = {
    "sentiment_job": path_sentiment_job, "score_job": path_score_job, "ingest_comments": path_ingest_comments,
    "ingest_transcripts": path_ingest_transcripts, "upload_comments": path_upload_comments,
    "upload_transcripts": path_upload_transcripts, "topics": path_topics,
}


# --------------------------------------------------------------------------- scoring what was stored
def leaks(span: str, stored: str, folded: str | None = None) -> bool:
    """The span's original text (case-folded), or its digits when it has 6 or more, occurs in ``stored``
    (``folded``: ``stored.casefold()`` when the caller has it already)."""
    if span.casefold() in (stored.casefold() if folded is None else folded):
        return True
    digits = re.sub(r"\D", "", span)
    # a run of exactly these digits (not a piece of a longer number such as a float or a timestamp)
    return len(digits) >= 6 and digits in stored and re.search(rf"(?<!\d){digits}(?!\d)", stored) is not None


def name_part_leaks(span: str, words: set[str]) -> bool:
    """One of the name's words (3+ letters) is one of ``words`` (the stored text's words, case-folded)."""
    return any(w.casefold() in words for w in re.findall(r"\w{3,}", span))


def score_path(rows: Sequence[dict], per_record: Sequence[str], anywhere: str, redacted_texts: Sequence[str]
               ) -> dict:
    n, leaked, part, found_anywhere, in_input = (defaultdict(int) for _ in range(5))
    leaked_spans = []
    neg_total = neg_flagged = 0
    folds: dict[int, str] = {}  # topics check every record against one (large) text: fold it once

    words: dict[int, set[str]] = {}

    def fold(t: str) -> str:
        if id(t) not in folds:
            folds[id(t)] = t.casefold()
        return folds[id(t)]

    def words_of(t: str) -> set[str]:
        if id(t) not in words:
            words[id(t)] = set(re.findall(r"\w+", fold(t)))
        return words[id(t)]

    for row, stored, text in zip(rows, per_record, redacted_texts):
        if not row["spans"]:
            neg_total += 1
            neg_flagged += bool(_TAG.search(text))
        for s, e, ent in row["spans"]:
            key = (row["language"], ent)
            span = row["text"][s:e]
            n[key] += 1
            if leaks(span, stored, fold(stored)):
                leaked[key] += 1
                leaked_spans.append({"language": row["language"], "entity": ent, "span": span})
            in_input[key] += leaks(span, text, fold(text))
            found_anywhere[key] += leaks(span, anywhere, fold(anywhere))
            if ent == "PERSON":
                part[key] += name_part_leaks(span, words_of(stored))
    per = [{"language": k[0], "entity": k[1], "n": n[k], "leaks": leaked[k], "recall": 1 - leaked[k] / n[k],
            "anywhere": found_anywhere[k], "in_redacted_text": in_input[k], "name_part_leaks": part[k] if k[1] == "PERSON" else None}
           for k in sorted(n)]
    overall = {}
    for lang in ("es", "en", "all"):
        keys = [k for k in n if lang in ("all", k[0])]
        tot, lk = sum(n[k] for k in keys), sum(leaked[k] for k in keys)
        overall[lang] = {"n": tot, "leaks": lk, "recall": 1 - lk / tot if tot else None,
                         "anywhere": sum(found_anywhere[k] for k in keys)}
    return {"rows": len(rows), "per_entity": per, "overall": overall, "leaked_spans": leaked_spans,
            "false_alarms": {"negatives": neg_total, "with_a_tag": neg_flagged,
                             "rate": neg_flagged / neg_total if neg_total else None}}


def evaluate_path(path: str, rows: Sequence[dict], root: Path, settings_kw: dict | None = None) -> dict:
    """Run one storage path on a fresh data directory under ``root`` and measure what it kept."""
    from qa_service.config import Settings
    from qa_service.runtime import Runtime
    from qa_service.store import upgrade

    data_dir, work = root / path / "data", root / path / "work"
    work.mkdir(parents=True)
    rt = Runtime(Settings(data_dir=data_dir, **(settings_kw or {})))
    upgrade(rt.settings.db_url)
    t0 = time.perf_counter()
    built_from = RUNNERS[path](rt, rows, work)
    seconds = time.perf_counter() - t0
    anywhere = everything_stored(rt, [work])
    if path == "topics":  # aggregate outputs: every record is checked against all of them
        per_record = [anywhere] * len(rows)
        alarms = built_from
    else:
        per_record = stored_texts(rt, [record_id(i) for i in range(len(rows))])
        missing = [record_id(i) for i, t in enumerate(per_record) if t == "[]"]
        if missing:
            raise RuntimeError(f"{path}: nothing stored for {len(missing)} records, e.g. {missing[:3]}")
        alarms = per_record
    return {**score_path(rows, per_record, anywhere, alarms), "seconds": round(seconds, 1)}


def topic_rows(rows: Sequence[dict], seed: int, limit: int = TOPICS_MAX) -> list[dict]:
    """A seeded sample of at most ``limit`` rows (every entity and the negatives stay represented)."""
    if len(rows) <= limit:
        return list(rows)
    return random.Random(seed).sample(list(rows), limit)


def evaluate(rows: Sequence[dict], seed: int, paths: Sequence[str] = PATHS, settings_kw: dict | None = None,
             root: Path | None = None) -> dict[str, dict]:
    out = {}
    with tempfile.TemporaryDirectory(prefix="pii-paths-") as tmp:
        base = Path(root or tmp)
        for path in paths:
            picked = topic_rows(rows, seed) if path == "topics" else rows
            out[path] = evaluate_path(path, picked, base, settings_kw)
            print(f"seed {seed} {path}: recall {out[path]['overall']['all']['recall']:.3f}, "
                  f"{out[path]['seconds']} s", flush=True)
    return out


# --------------------------------------------------------------------------- report
def person_check(results: dict[int, dict[str, dict]]) -> dict:
    """English PERSON recall >= 0.9 on every path (and seed); Spanish PERSON recall per path."""
    en, es = {}, {}
    for seed, by_path in results.items():
        for path, res in by_path.items():
            for r in res["per_entity"]:
                if r["entity"] == "PERSON":
                    (en if r["language"] == "en" else es)[f"{seed}/{path}"] = r["recall"]
    return {"english_person_recall_ge_0.9_on_every_path": all(v >= 0.9 for v in en.values()),
            "english_person_recall": en, "spanish_person_recall": es}


def render_path(path: str, res: dict) -> str:
    f = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    o, fa = res["overall"], res["false_alarms"]
    lines = [f"### {path}", "",
             f"{res['rows']} sentences, {res['seconds']} s. Overall recall **{f(o['all']['recall'])}** "
             f"({o['all']['leaks']} of {o['all']['n']} spans leaked; es {f(o['es']['recall'])}, en "
             f"{f(o['en']['recall'])}; found anywhere in the path's storage: {o['all']['anywhere']}). False alarms: "
             f"**{fa['with_a_tag']} of {fa['negatives']}** negative sentences carry a redaction tag.", "",
             "| lang | entity | n | recall | leaks | anywhere | in redacted text | name-part leaks |",
             "|---|---|---|---|---|---|---|---|"]
    for r in res["per_entity"]:
        lines.append(f"| {r['language']} | {r['entity']} | {r['n']} | {f(r['recall'])} | {r['leaks']} | "
                     f"{r['anywhere']} | {r['in_redacted_text']} | "
                     f"{'-' if r['name_part_leaks'] is None else r['name_part_leaks']} |")
    if res["leaked_spans"]:
        lines += ["", "Leaked: " + "; ".join(f"{x['language']} {x['entity']} `{x['span']}`"
                                            for x in res["leaked_spans"]) + "."]
    return "\n".join(lines) + "\n"


def summary_table(results: dict[int, dict[str, dict]]) -> str:
    f = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    lines = ["| seed | path | recall (all) | es | en | en PERSON | es PERSON | false alarms |",
             "|---|---|---|---|---|---|---|---|"]
    for seed, by_path in results.items():
        for path, res in by_path.items():
            pers = {r["language"]: r["recall"] for r in res["per_entity"] if r["entity"] == "PERSON"}
            o, fa = res["overall"], res["false_alarms"]
            lines.append(f"| {seed} | {path} | {f(o['all']['recall'])} | {f(o['es']['recall'])} | "
                         f"{f(o['en']['recall'])} | {f(pers.get('en'))} | {f(pers.get('es'))} | "
                         f"{fa['with_a_tag']}/{fa['negatives']} |")
    return "\n".join(lines) + "\n"


def render(results: dict[int, dict[str, dict]], commit: str, seconds: float) -> str:
    check = person_check(results)
    verdict = "HOLDS" if check["english_person_recall_ge_0.9_on_every_path"] else "DOES NOT HOLD"
    failing = [k for k, v in check["english_person_recall"].items() if v < 0.9]
    head = [
        "# PII redaction measured through each storage path", "",
        f"Generated by `{COMMAND}` at commit `{commit}` ({seconds:.0f} s on this machine). The labelled set of "
        "eval/pii_set.py (same seeds as eval/reports/pii.md) goes through the service's use cases on a fresh "
        "SQLite data directory per path; what was stored or written is read back and searched for each "
        "labelled span (see the module docstring of eval/pii_paths.py for the exact rules). Topics use a "
        f"seeded sample of at most {TOPICS_MAX} sentences.", "",
        f"**English PERSON recall >= 0.9 on every path and seed: {verdict}**"
        + (f" (below: {', '.join(failing)})" if failing else "") + ".", "",
        "Spanish PERSON recall per path: " + ", ".join(f"{k} {v:.3f}" for k, v in
                                                       check["spanish_person_recall"].items()) + ".", "",
        "## Summary", "", summary_table(results),
        "Caveats: synthetic templates and identifiers (see eval/reports/pii.md); a span counts as leaked only when "
        "its whole text (or all its 6+ digits) survives, so a partly redacted identifier counts as hidden; the "
        "name-part column is the stricter test for names. Topics outputs are aggregates: every span is checked "
        "against every written file; they quote only a few representative comments per topic, so a name the "
        "redactor missed often never reaches them (column *in redacted text*: spans still present in the "
        "redacted comments the fit was built from; on the database paths it equals *leaks*).", ""]
    body = []
    for seed, by_path in results.items():
        body.append(f"## Seed {seed}: {SEEDS.get(seed, '')}\n")
        body.extend(render_path(p, r) for p, r in by_path.items())
    return "\n".join(head) + "\n" + "\n".join(body)


def main() -> None:
    t0 = time.perf_counter()
    results = {seed: evaluate(build(seed), seed) for seed in SEEDS}
    commit = _commit()
    text = render(results, commit, time.perf_counter() - t0)
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "pii-paths.json").write_text(json.dumps(
        {"command": COMMAND, "commit": commit, "person_check": person_check(results),
         "results": {str(k): v for k, v in results.items()}}, indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8")
    (REPORTS / "pii-paths.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
