"""Which sentiment model a topic fit should run: cost and agreement on real long comments with star ratings.

    python -m eval.topic_sentiment                 # 4,000 hotel reviews (the bench/topics set)
    python -m eval.topic_sentiment --n 1000

A topic fit scores the sentiment of every comment (the dislike/like split, complaint selection and quotes).
The served model 2.0.0 (fine-tuned e5-small, int8 ONNX) costs a transformer pass per comment; 1.0.0 (a logistic
head on the topic encoder, USE) reads the embeddings the topic fit has just computed and cached. This runs both on
the texts a fit scores (``clean_for_topics``, as ``analyse_comments`` does), in one process with an empty
embedding cache, and reports:

* seconds per model: 1.0.0 with its USE embeddings to compute (as if nothing were cached), 1.0.0 as a fit runs it
  (embeddings cached by the topic step), 2.0.0;
* each model against the reviews' star ratings (1-2 negative, 3 neutral, 4-5 positive; the reviews were never
  trained on): macro-F1, per-class precision/recall, how many comments each calls negative;
* 1.0.0 against 2.0.0: label agreement, Cohen's kappa, overlap of the comments called negative (the pool that
  complaint clusters are built from).

Writes ``eval/reports/topic-sentiment.md|json`` with the command, commit and load average (timings run best
with the machine to themselves, or at raised CPU priority where the CPU is shared).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import typer

from qa_service.config import get_settings

REPORTS = Path(__file__).resolve().parent / "reports"
LABELS = ("negative", "neutral", "positive")


def _timed(pipe, texts: list[str]) -> tuple[list[Any], float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = []
    for i in range(0, len(texts), 512):  # as analyse_comments batches it
        out.extend(pipe.predict(texts[i:i + 512]))
    return out, round(time.perf_counter() - t0, 1), round(time.process_time() - c0, 1)


def _against_stars(labels: list[str], gold: list[str]) -> dict[str, Any]:
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(gold, labels, labels=list(LABELS), zero_division=0)
    return {"macro_f1": round(float(f1_score(gold, labels, labels=list(LABELS), average="macro")), 4),
            "accuracy": round(float(np.mean([a == b for a, b in zip(labels, gold)])), 4),
            "per_class": {c: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                              "f1": round(float(f[i]), 4), "support": int(s[i])} for i, c in enumerate(LABELS)},
            "called_negative": int(sum(x == "negative" for x in labels))}


def main(n: int = typer.Option(4000, help="Hotel reviews (the latest ones, as bench/topics takes them).")) -> None:
    from sklearn.metrics import cohen_kappa_score

    from bench.topics import _cache_dir, hotel_reviews

    cache = _cache_dir(with_numba=False)  # an empty embedding cache; setup's converted models linked
    os.environ["QA_CACHE_DIR"] = str(cache)
    get_settings.cache_clear()
    from eval.datasets import stars_to_label
    from eval.topics import _commit
    from qa_service.pipelines.topics import clean_for_topics
    from qa_service.runtime import get_runtime

    load_before = Path("/proc/loadavg").read_text().split()[:3]
    rows = hotel_reviews(n)
    texts = [clean_for_topics(r["text"]) or r["text"] for r in rows]
    gold = [stars_to_label(r["score"]) for r in rows]
    rt = get_runtime(get_settings())
    old, new = rt.sentiment("1.0.0"), rt.sentiment("2.0.0")
    old.predict(texts[:8]), new.predict(texts[:8])  # loads (ONNX session, language identifier) out of the timing
    a, a_s, a_cpu = _timed(old, texts)  # USE embeddings computed (and cached)
    a2, a2_s, a2_cpu = _timed(old, texts)  # as a topic fit runs it: embeddings already cached
    b, b_s, b_cpu = _timed(new, texts)
    la, lb = [x.label for x in a], [x.label for x in b]
    assert [x.label for x in a2] == la
    neg_a, neg_b = {i for i, x in enumerate(la) if x == "negative"}, {i for i, x in enumerate(lb) if x == "negative"}
    res = {
        "command": "python -m eval.topic_sentiment " + " ".join(sys.argv[1:]), "commit": _commit(),
        "loadavg_before": load_before, "loadavg_after": Path("/proc/loadavg").read_text().split()[:3],
        "comments": len(texts), "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "stars": {c: gold.count(c) for c in LABELS},
        "seconds": {"1.0.0 (USE embeddings computed)": {"wall_s": a_s, "cpu_s": a_cpu},
                    "1.0.0 (embeddings cached, as in a topic fit)": {"wall_s": a2_s, "cpu_s": a2_cpu},
                    "2.0.0": {"wall_s": b_s, "cpu_s": b_cpu}},
        "vs_stars": {"1.0.0": _against_stars(la, gold), "2.0.0": _against_stars(lb, gold)},
        "agreement_1.0.0_vs_2.0.0": {
            "labels": round(float(np.mean([x == y for x, y in zip(la, lb)])), 4),
            "cohen_kappa": round(float(cohen_kappa_score(la, lb)), 4),
            "negative_jaccard": round(len(neg_a & neg_b) / max(1, len(neg_a | neg_b)), 4),
            "negative_of_2.0.0_also_negative_in_1.0.0": round(len(neg_a & neg_b) / max(1, len(neg_b)), 4),
            "score_pearson": round(float(np.corrcoef([x.score for x in a], [x.score for x in b])[0, 1]), 4)},
    }
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "topic-sentiment.json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    (REPORTS / "topic-sentiment.md").write_text(render(res), encoding="utf-8")
    print(render(res))
    shutil.rmtree(cache, ignore_errors=True)


def render(res: dict[str, Any]) -> str:
    ag = res["agreement_1.0.0_vs_2.0.0"]
    lines = ["# Sentiment model of topic fits: cost and agreement on long real comments", "",
             f"Generated by `{res['command'].strip()}` at commit {res['commit']}; load average "
             f"{' '.join(res['loadavg_before'])} before, {' '.join(res['loadavg_after'])} after. "
             f"{res['comments']} Cuban hotel reviews (the bench/topics set, mean {res['mean_chars']:.0f} characters) "
             f"as a topic fit scores them; gold from their star ratings (1-2 negative, 3 neutral, 4-5 positive: "
             f"{res['stars']}); neither model was trained on them.", "",
             "| model | wall s | CPU s | macro-F1 vs stars | accuracy | negative P / R | called negative |",
             "|---|---|---|---|---|---|---|"]
    for name, t in res["seconds"].items():
        v = res["vs_stars"][name.split()[0]]
        neg = v["per_class"]["negative"]
        lines.append(f"| {name} | {t['wall_s']} | {t['cpu_s']} | {v['macro_f1']:.3f} | {v['accuracy']:.3f} | "
                     f"{neg['precision']:.2f} / {neg['recall']:.2f} | {v['called_negative']} |")
    lines += ["", f"1.0.0 vs 2.0.0: same label on {ag['labels']:.1%} of comments (Cohen's kappa {ag['cohen_kappa']:.3f});"
              f" comments called negative: Jaccard {ag['negative_jaccard']:.3f}, "
              f"{ag['negative_of_2.0.0_also_negative_in_1.0.0']:.1%} of 2.0.0's negatives are negative in 1.0.0; "
              f"score correlation {ag['score_pearson']:.3f}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    typer.run(main)
