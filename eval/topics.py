"""Topic model against gold categories: NMI, ARI, outlier share and number of topics.

    python -m eval.topics                 # report sets, shipped defaults vs BERTopic defaults vs k-means at true k
    python -m eval.topics --tune          # the tuning grid, on the tune sets only
    python -m eval.topics --encoder e5-small --limit 500

Outliers (-1) count as one more cluster in NMI and ARI, so leaving documents unassigned costs. Writes
``eval/reports/topics[-tune].md|json``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import typer
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from eval.features import embed_cached
from eval.topic_sets import ClusterSet, report_sets, tune_sets
from qa_service.config import get_settings
from qa_service.encoders import load_encoder
from qa_service.pipelines.topics import OUTLIER, TopicModel, clean_for_topics

REPORTS = Path(__file__).resolve().parent / "reports"


def score(gold: list[str], pred: np.ndarray) -> dict[str, float]:
    """NMI and ARI over all documents (outliers as one cluster), NMI over assigned ones, outlier share, topics."""
    pred = np.asarray(pred)
    assigned = pred != OUTLIER
    g = np.asarray(gold)
    return {
        "nmi": round(float(normalized_mutual_info_score(g, pred)), 4),
        "ari": round(float(adjusted_rand_score(g, pred)), 4),
        "nmi_assigned": round(float(normalized_mutual_info_score(g[assigned], pred[assigned])), 4)
        if assigned.sum() > 1 else 0.0,
        "outlier_share": round(float(1 - assigned.mean()), 4),
        "n_topics": int(len(set(pred.tolist()) - {OUTLIER})),
    }


def kmeans_true_k(x: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=4, random_state=42).fit_predict(x)


def bertopic_defaults(texts: list[str], x: np.ndarray) -> np.ndarray:
    """BERTopic as it comes (UMAP 15/5/0.0 cosine, HDBSCAN min_cluster_size 10, eom), UMAP seeded."""
    import warnings

    from bertopic import BERTopic
    from umap import UMAP

    model = BERTopic(language="multilingual", umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0,
                                                              metric="cosine", random_state=42))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        topics, _ = model.fit_transform(texts, embeddings=x)
    return np.asarray(topics)


def ours(**params: Any) -> Callable[[list[str], np.ndarray], np.ndarray]:
    def run(texts: list[str], x: np.ndarray) -> np.ndarray:
        return TopicModel(**params).fit(texts, x).labels_
    return run


TUNE_GRID: dict[str, dict[str, Any]] = {
    "default": {},
    "no-center": {"center": False},
    "no-outlier-reduction": {"reduce_outliers": False},
    "min_samples=5": {"min_samples": 5},
    "outlier_q=0.10": {"outlier_quantile": 0.10},
    "outlier_q=0.25": {"outlier_quantile": 0.25},
    "min_size=10": {"min_topic_size": 10},
    "min_size=20": {"min_topic_size": 20},
    "n_neighbors=30": {"n_neighbors": 30},
    "nr_topics=auto": {"nr_topics": "auto"},
    "n_neighbors=50": {"n_neighbors": 50},
    "leaf": {"cluster_selection": "leaf"},
    "n_neighbors=30,leaf": {"n_neighbors": 30, "cluster_selection": "leaf"},
    "n_neighbors=30,min_size=20": {"n_neighbors": 30, "min_topic_size": 20},
    "n_neighbors=30,no-center": {"n_neighbors": 30, "center": False},
}


def main(tune: bool = typer.Option(False, help="Run the tuning grid on the tune sets."),
         encoder: list[str] = typer.Option(["use-multilingual"], help="Encoders to compare."),
         limit: int = typer.Option(0, help="Use at most this many rows per set (0: all)."),
         only: list[str] = typer.Option([], help="Tuning: run only these grid entries (repeatable)."),
         out: Path = typer.Option(None, help="Report path stem (default eval/reports/topics[-tune]).")) -> None:
    settings = get_settings()
    # UMAP compiles with numba (~35 s per process without a cache); set before UMAP is first imported.
    settings.numba_cache_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(settings.numba_cache_dir))
    sets = tune_sets() if tune else report_sets()
    if limit:
        sets = [ClusterSet(s.name, s.language, s.texts[:limit], s.labels[:limit], s.licence) for s in sets]
    configs: dict[str, Callable] = {}
    if tune:
        configs = {name: ours(**p) for name, p in TUNE_GRID.items() if not only or name in only}
    else:
        configs = {"qa_service (shipped settings)": ours()}
    results: list[dict[str, Any]] = []
    for enc_name in encoder:
        enc = load_encoder(enc_name, settings)
        for s in sets:
            cleaned = [clean_for_topics(t) or t for t in s.texts]
            x = embed_cached(enc, cleaned, f"topics-{s.name}")
            k = len(set(s.labels))
            runs: dict[str, Callable] = {"k-means at true k": lambda t, e: kmeans_true_k(e, k),
                                         "BERTopic defaults": bertopic_defaults, **configs}
            for name, fn in runs.items():
                t0 = time.perf_counter()
                pred = fn(cleaned, x)
                row = {"set": s.name, "language": s.language, "n": len(s), "gold_k": k, "encoder": enc_name,
                       "method": name, **score(s.labels, pred), "seconds": round(time.perf_counter() - t0, 1)}
                results.append(row)
                print(json.dumps(row), file=sys.stderr)
    stem = out or (REPORTS / ("topics-tune" if tune else "topics"))
    stem.parent.mkdir(parents=True, exist_ok=True)
    Path(str(stem) + ".json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    Path(str(stem) + ".md").write_text(render(results, tune), encoding="utf-8")
    print(render(results, tune))


def render(results: list[dict[str, Any]], tune: bool) -> str:
    lines = [f"# Topic model vs gold categories ({'tune sets: parameter choice' if tune else 'report sets'})", "",
             "Generated by `python -m eval.topics" + (" --tune" if tune else "") + "`. NMI / ARI count outliers "
             "(-1) as one cluster; `nmi_assigned` leaves them out.", "",
             "| set | lang | n | gold k | encoder | method | NMI | ARI | NMI assigned | outliers | topics | s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['set']} | {r['language']} | {r['n']} | {r['gold_k']} | {r['encoder']} | {r['method']} | "
                     f"{r['nmi']:.3f} | {r['ari']:.3f} | {r['nmi_assigned']:.3f} | {r['outlier_share']:.1%} | "
                     f"{r['n_topics']} | {r['seconds']} |")
    # Mean per encoder x method over sets.
    lines += ["", "Mean over sets:", "", "| encoder | method | NMI | ARI | outliers |", "|---|---|---|---|---|"]
    keys = sorted({(r["encoder"], r["method"]) for r in results}, key=str)
    for enc, m in keys:
        rs = [r for r in results if r["encoder"] == enc and r["method"] == m]
        lines.append(f"| {enc} | {m} | {np.mean([r['nmi'] for r in rs]):.3f} | {np.mean([r['ari'] for r in rs]):.3f}"
                     f" | {np.mean([r['outlier_share'] for r in rs]):.1%} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    typer.run(main)
