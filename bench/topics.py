"""Topic fit speed and memory on real volumes, end to end (``fit_topics``: languages, redaction, embeddings,
sentiment, topics, complaints, trends, drivers, report and model written), each run in its own child process.

    python -m bench.topics                    # 4,000 long hotel reviews: new process, warm process, first run on a
                                              # machine (empty numba cache), and truncated vs full-text embeddings
    python -m bench.topics --short 100000     # 100,000 short real comments (minutes: run it once)
    python -m bench.topics --only hotels      # one section

Results are merged into ``bench/results/topics.json`` with the command, the commit and the load average before and
after each section (the CPU is shared: CPU seconds are reported beside wall seconds).

* **hotels/new process**: ``qa-service topics`` as a user runs it on 4,000 reviews never seen before: a fresh process
  (imports, model loads) and an empty embedding cache; UMAP's compiled code is on disk from an earlier run.
* **hotels/warm**: the same process again (a server or worker): 4,000 other reviews (embeddings not cached), then
  the first 4,000 again (embeddings cached).
* **hotels/first run on a machine**: a new process with an empty numba cache too (UMAP compiles once).
* **truncation**: the long reviews embedded whole and cut at 300/500/800 characters (after the last sentence
  that fits): seconds, cosine to the whole text, and agreement of the topics (NMI/ARI) with the whole-text topics,
  beside the agreement of two whole-text fits that differ only in UMAP's seed.
* **short**: 100,000 distinct short customer texts (banking77, CLINC150, MultiDoGO customer turns, TweetEval,
  XLM-T, TASS, customers' tweets of TWCS, Amazon-es review titles), seeded dates over 13 weeks, in a new process
  with an empty embedding cache.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from eval.provenance import git_commit

RESULTS = Path(__file__).resolve().parent / "results" / "topics.json"
_MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}


# --------------------------------------------------------------------------- corpora (real texts from shared/data)
def hotel_reviews(n: int, recent: bool = True) -> list[dict]:
    """``n`` Cuban hotel reviews with their month and 1-5 rating: the latest ones (June 2019 on, as a manager would
    take them) or, with ``recent=False``, older ones (2016-2018: other comments for a warm second fit)."""
    import openpyxl

    from eval.datasets import data_root

    wb = openpyxl.load_workbook(data_root() / "cuba_hotels" / "cuba_hotels_sentiment.xlsx", read_only=True)
    rows = []
    for i, (_title, text, cls, when) in enumerate(wb.active.iter_rows(min_row=2, values_only=True)):
        parts = str(when or "").split()
        if len(parts) != 2 or parts[0] not in _MONTHS or not parts[1].isdigit() or not text or not cls:
            continue
        ym = (int(parts[1]), _MONTHS[parts[0]])
        if (ym >= (2019, 6)) if recent else ((2016, 1) <= ym <= (2018, 12)):
            rows.append({"id": f"h{i}", "text": " ".join(str(text).split()), "created_at": f"{ym[0]}-{ym[1]:02d}-01",
                         "score": int(cls)})
    random.Random(0).shuffle(rows)
    if len(rows) < n:
        raise SystemExit(f"only {len(rows)} hotel reviews in that period, asked for {n}")
    return rows[:n]


def short_comments(n: int) -> list[dict]:
    """``n`` distinct short customer texts from eight real sets, seeded, with seeded dates over 13 weeks."""
    from eval.datasets import data_root

    root = data_root()
    texts: list[str] = []
    for f in ("banking_data_train.csv", "banking_data_test.csv"):
        with (root / "banking77" / f).open(encoding="utf-8", newline="") as fh:
            texts += [r["text"] for r in csv.DictReader(fh)]
    data = json.loads((root / "clinc150" / "data_data_full.json").read_text(encoding="utf-8"))
    texts += [t for split in ("train", "val", "test", "oos_train", "oos_val", "oos_test") for t, _ in data.get(split, [])]
    turns = root / "multidogo" / "turn_level"
    for dom in sorted(p.name for p in turns.iterdir() if p.is_dir()):
        for split in ("train.tsv", "dev.tsv", "test.tsv"):
            with (turns / dom / split).open(encoding="utf-8", errors="replace") as fh:
                next(fh, None)
                for line in fh:
                    parts = line.split("\t")
                    if len(parts) == 6 and len(parts[3].split()) >= 3:
                        texts.append(parts[3].strip())
    for folder, name in (("tweeteval_sentiment_en", "tweeteval_sentiment.csv"),
                         ("xlmt_sentiment", "xlmt_sentiment.csv")):
        with (root / folder / name).open(encoding="utf-8", newline="") as fh:
            texts += [r["text"] for r in csv.DictReader(fh)]
    with (root / "twcs_head" / "twcs_head.csv").open(encoding="utf-8", newline="") as fh:
        texts += [r["text"] for r in csv.DictReader(fh) if r["inbound"] == "True"]  # customers, not brands
    for f in ("dataset_es_dev.json", "dataset_es_test.json"):
        with (root / "amazon_reviews_multi_es" / f).open(encoding="utf-8") as fh:
            texts += [json.loads(line)["review_title"] for line in fh]
    for f in sorted((root / "tass2019_es").rglob("*.csv")):
        with f.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            col = next((c for c in reader.fieldnames or [] if c.lower() in ("text", "content", "tweet")), None)
            if col:
                texts += [r[col] for r in reader]
    texts = sorted({" ".join(t.split()) for t in texts if t and len(t.split()) >= 2})
    random.Random(7).shuffle(texts)
    if len(texts) < n:
        raise SystemExit(f"only {len(texts)} distinct short texts available, asked for {n}")
    rng = random.Random(11)
    start = datetime(2026, 8, 3, tzinfo=timezone.utc)
    return [{"id": f"s{i}", "text": t, "created_at": (start + timedelta(minutes=rng.randrange(13 * 7 * 24 * 60)))
             .isoformat()} for i, t in enumerate(texts[:n])]


# --------------------------------------------------------------------------- child processes
def _fit(rt, rows: list[dict], out: Path, period: str) -> dict:
    from qa_service.schemas import Comment
    from qa_service.usecases.feedback import fit_topics

    comments = [Comment(**{**r, "created_at": datetime.fromisoformat(r["created_at"])}) for r in rows]
    marks: list[tuple[str, float]] = []

    def progress(stage: str, done: int, total: int) -> None:
        if not marks or marks[-1][0] != stage:
            marks.append((stage, time.perf_counter()))

    enc = rt.encoder(rt.settings.topic_encoder)
    hits0, misses0 = getattr(enc, "hits", 0), getattr(enc, "misses", 0)
    t0, c0 = time.perf_counter(), time.process_time()
    fit = fit_topics(rt, comments, out / "out", out / "model", "bench", source_name="bench", period=period,
                     progress=progress)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    stages = {}
    for (name, t), nxt in zip(marks, marks[1:] + [("end", t0 + wall)]):
        stages[name] = round(stages.get(name, 0.0) + nxt[1] - t, 1)
    sizes = [t.size for t in fit.analysis.topic_model.topics_.values()]
    return {"comments": len(rows), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "stages_s": stages,
            "topics": len(sizes), "largest_share": round(max(sizes) / len(rows), 3) if sizes else 0.0,
            "outlier_share": fit.analysis.summary()["outlier_share"],
            "embedding_cache": {"hits": getattr(enc, "hits", 0) - hits0, "misses": getattr(enc, "misses", 0) - misses0}}


def child(kind: str, n: int) -> dict:
    from qa_service.runtime import get_runtime

    started = float(os.environ.get("BENCH_STARTED", time.time()))
    tmp = Path(tempfile.mkdtemp(prefix="bench-topics-"))
    rt = get_runtime()
    out: dict = {}
    try:
        if kind in ("hotels-new", "hotels-first"):
            out = _fit(rt, hotel_reviews(n), tmp / "a", "month")
            out["process_wall_s"] = round(time.time() - started, 1)  # interpreter start, imports and loads included
        elif kind == "hotels-warm":
            _fit(rt, hotel_reviews(n), tmp / "a", "month")  # loads, compiles, fills the cache
            out["other_comments"] = _fit(rt, hotel_reviews(n, recent=False), tmp / "b", "month")
            out["same_comments_cached"] = _fit(rt, hotel_reviews(n), tmp / "c", "month")
        elif kind == "short":
            out = _fit(rt, short_comments(n), tmp / "a", "week")
            out["process_wall_s"] = round(time.time() - started, 1)
        elif kind == "truncation":
            out = truncation(rt, hotel_reviews(n))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def truncation(rt, rows: list[dict]) -> dict:
    """Whole-text vs truncated embeddings of long reviews: time, cosine to whole, topic agreement."""
    import numpy as np
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from qa_service.pipelines.topics import TopicModel, clean_for_topics, truncate

    enc = getattr(rt.encoder(rt.settings.topic_encoder), "inner", rt.encoder(rt.settings.topic_encoder))  # no cache
    texts = [clean_for_topics(r["text"]) or r["text"] for r in rows]
    out = {"comments": len(texts), "mean_chars": round(float(np.mean([len(t) for t in texts])), 1)}
    whole = enc.encode(texts)
    a, b = TopicModel(seed=42).fit(texts, whole).labels_, TopicModel(seed=43).fit(texts, whole).labels_
    # how much the topics move with nothing changed but UMAP's seed: the floor for any agreement below
    out["whole_seed_43_vs_42"] = {"topics_nmi": round(float(normalized_mutual_info_score(a, b)), 4),
                                  "topics_ari": round(float(adjusted_rand_score(a, b)), 4)}
    full = None
    for cap in (None, 800, 500, 300):
        cut = texts if cap is None else [truncate(t, cap) for t in texts]
        t0 = time.perf_counter()
        x = enc.encode(cut)
        sec = time.perf_counter() - t0
        labels = TopicModel(nr_topics="auto").fit(texts, x).labels_
        if full is None:
            full = (x, labels)
        out["whole" if cap is None else f"cut_{cap}"] = {
            "chars_kept": round(sum(map(len, cut)) / sum(map(len, texts)), 3), "embed_s": round(sec, 1),
            "ms_per_text": round(1000 * sec / len(texts), 2),
            "cosine_to_whole_mean": round(float((x * full[0]).sum(axis=1).mean()), 4),
            "cosine_to_whole_p5": round(float(np.quantile((x * full[0]).sum(axis=1), 0.05)), 4),
            "topics_nmi_vs_whole": round(float(normalized_mutual_info_score(full[1], labels)), 4),
            "topics_ari_vs_whole": round(float(adjusted_rand_score(full[1], labels)), 4)}
    return out


# --------------------------------------------------------------------------- parent
def _run_child(kind: str, n: int, cache_dir: Path) -> dict:
    env = {**os.environ, "QA_CACHE_DIR": str(cache_dir), "BENCH_STARTED": str(time.time())}
    load = Path("/proc/loadavg").read_text().split()[:3]
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "bench.topics", "--child", kind, "--n", str(n)], env=env,
                         capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode:
        raise SystemExit(res.stderr[-3000:])
    row = json.loads(res.stdout.strip().splitlines()[-1])
    row["subprocess_wall_s"] = round(wall, 1)
    row["loadavg_before"] = load
    row["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
    print(f"{kind}: {json.dumps(row)}", file=sys.stderr)
    return row


def _cache_dir(with_numba: bool) -> Path:
    """A fresh cache directory: no embeddings; UMAP's compiled code copied from the real cache when asked; what
    setup builds once per machine (``qa-service models prepare``: the converted e5 checkpoint, the served
    sentiment model's ONNX files) linked from the real cache."""
    from qa_service.config import get_settings

    d = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    settings = get_settings()
    real = settings.numba_cache_dir
    if with_numba and real.exists():
        shutil.copytree(real, d / "numba")
    for name in ("e5-small-converted", "sentiment-onnx"):
        if (settings.cache_dir / name).exists():
            (d / name).symlink_to(settings.cache_dir / name)
    return d


def _commit() -> str:
    return git_commit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hotels", type=int, default=4000)
    ap.add_argument("--short", type=int, default=0, help="short comments to fit (0: skip)")
    ap.add_argument("--only", choices=("hotels", "first", "truncation", "short"), action="append")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.n)))
        return
    sections = args.only or (["hotels", "first", "truncation"] + (["short"] if args.short else []))
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    meta = {"command": "python -m bench.topics " + " ".join(sys.argv[1:]), "commit": _commit(),
            "cpus": os.cpu_count(), "measured": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "note": "the CPU is shared with other work: see loadavg_before/after and cpu_s beside wall_s"}
    dirs = []
    try:
        if "hotels" in sections:
            dirs.append(_cache_dir(True))
            new = _run_child("hotels-new", args.hotels, dirs[-1])
            dirs.append(_cache_dir(True))
            warm = _run_child("hotels-warm", args.hotels, dirs[-1])
            results["hotels"] = {**meta, "new_process": new, "warm_process": warm}
        if "first" in sections:
            dirs.append(_cache_dir(False))
            results["hotels_first_run_on_a_machine"] = {**meta, **_run_child("hotels-first", args.hotels, dirs[-1])}
        if "truncation" in sections:
            dirs.append(_cache_dir(True))
            results["truncation"] = {**meta, **_run_child("truncation", args.hotels, dirs[-1])}
        if "short" in sections:
            dirs.append(_cache_dir(True))
            results["short"] = {**meta, **_run_child("short", args.short or 100_000, dirs[-1])}
    finally:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
