"""Topic model speed and memory: fit time on precomputed embeddings, tagging throughput, peak memory.

    python -m bench.topics                       # 10,000 and 50,000 comments
    python -m bench.topics --sizes 10000

Comments are real short customer texts from ../shared/data (MultiDoGO customer turns, CLINC150 queries, Amazon-es
and Cuban hotel reviews, banking77), mixed and seeded. Each size is fitted in a fresh child process so that its
peak RSS is its own; embeddings are computed once with USE and cached (eval/features.py), the fit gets them
precomputed as in ``qa-service topics``. UMAP and pynndescent compile parts of their code (numba) in every new
process; "fit, new process" includes that, "fit, warm process" is a second fit in the same process (a running
server or worker).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time


def corpus(n: int) -> list[str]:
    """``n`` real comments, mixed from several sets, seeded."""
    import csv

    from eval.datasets import amazon_es, cuba_hotels
    from eval.datasets import data_root

    texts: list[str] = []
    root = data_root() / "multidogo" / "turn_level"
    for dom in sorted(p.name for p in root.iterdir() if p.is_dir()):
        with (root / dom / "train.tsv").open(encoding="utf-8", errors="replace") as fh:
            next(fh, None)
            for line in fh:
                parts = line.split("\t")
                if len(parts) == 6 and len(parts[3].split()) >= 4:
                    texts.append(parts[3].strip())
    data = json.loads((data_root() / "clinc150" / "data_data_full.json").read_text(encoding="utf-8"))
    texts += [t for split in ("train", "val", "test") for t, _ in data[split]]
    with (data_root() / "banking77" / "banking_data_train.csv").open(encoding="utf-8", newline="") as fh:
        texts += [r["text"] for r in csv.DictReader(fh)]
    texts += amazon_es("train").texts + cuba_hotels(20000).texts
    texts = sorted(set(texts))
    random.Random(7).shuffle(texts)
    if len(texts) < n:
        raise SystemExit(f"only {len(texts)} distinct comments available, asked for {n}")
    return texts[:n]


def child(n: int) -> dict:
    from eval.features import embed_cached
    from qa_service.config import get_settings
    from qa_service.encoders import load_encoder
    from qa_service.pipelines.topics import TopicModel, clean_for_topics

    settings = get_settings()
    # UMAP's numba code is cached across processes, as the service's composition root does; set before UMAP loads.
    settings.numba_cache_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(settings.numba_cache_dir))
    texts = [clean_for_topics(t) or t for t in corpus(n)]
    enc = load_encoder(settings.topic_encoder, settings)
    x = embed_cached(enc, texts, f"bench-topics-{n}")
    model = TopicModel(encoder=enc)
    t0 = time.perf_counter()
    model.fit(texts, x)
    fit_s = time.perf_counter() - t0
    # A second fit in the same process: UMAP/pynndescent code is compiled by then (a warm server or worker).
    t0 = time.perf_counter()
    TopicModel(encoder=enc).fit(texts, x)
    warm_s = time.perf_counter() - t0
    sample = texts[:2000]
    t0 = time.perf_counter()
    model.transform(sample)
    tag_rate = len(sample) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(20):
        model.transform(embeddings=x[:2000])
    assign_rate = 20 * 2000 / (time.perf_counter() - t0)
    return {"n": n, "topics": len(model.topics_), "outlier_share": round(float((model.labels_ == -1).mean()), 4),
            "fit_seconds": round(fit_s, 1), "warm_fit_seconds": round(warm_s, 1), "tag_per_s_with_encoding": round(tag_rate),
            "tag_per_s_precomputed": round(assign_rate), "peak_rss_mb": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    rows = []
    for n in args.sizes:
        out = subprocess.run([sys.executable, "-m", "bench.topics", "--child", str(n)], capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(out.stderr[-2000:])
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    print("| comments | topics | outliers | fit, new process (s) | fit, warm process (s) | tag/s (encode + assign) | "
          "tag/s (precomputed) | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']:,} | {r['topics']} | {r['outlier_share']:.1%} | {r['fit_seconds']} | {r['warm_fit_seconds']} | "
              f"{r['tag_per_s_with_encoding']:,} | {r['tag_per_s_precomputed']:,} | {r['peak_rss_mb']:,} |")


if __name__ == "__main__":
    main()
