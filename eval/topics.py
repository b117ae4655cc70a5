"""Topic model against gold categories: NMI, ARI, outlier share and number of topics.

    python -m eval.topics                 # report sets, shipped defaults vs BERTopic defaults vs k-means at true k
    python -m eval.topics --tune          # the tuning grid, on the tune sets only
    python -m eval.topics --encoder e5-small --limit 500

Outliers (-1) count as one more cluster in NMI and ARI, so leaving documents unassigned costs. The shipped
defaults give a manager a readable number of topics (``nr_topics="auto"``: 8-25), while gold sets have up to 77
classes: the number of topics and the largest topic's share are reported beside the scores, with k-means at the
shipped count as a second baseline. Writes ``eval/reports/topics[-tune].md|json`` with the command and commit.
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
from eval.provenance import git_commit

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
        "largest_share": round(float(np.bincount(pred[assigned]).max() / len(pred)), 4) if assigned.any() else 0.0,
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
    "linkage=average, outlier_quantile=0.02": {"linkage": "average", "outlier_quantile": 0.02},
    "linkage=average": {"linkage": "average"},
    "outlier_quantile=0.05 (before)": {"outlier_quantile": 0.05},
    "merge_similarity=0.3": {"merge_similarity": 0.3},
    "merge_similarity=0.5": {"merge_similarity": 0.5},
    "max_topics=20": {"max_topics": 20},
    "n_epochs=200": {"n_epochs": 200},
    "n_neighbors=30": {"n_neighbors": 30},
    "n_neighbors=10": {"n_neighbors": 10},
    "n_components=5 (before)": {"n_components": 5},
    "min_samples=5": {"min_samples": 5},
    "max_topic_share=None": {"max_topic_share": None},
    "nr_topics=None (clusters as found)": {"nr_topics": None},
    "lexical_weight=0 (before)": {"lexical_weight": 0.0},
    "lexical_weight=0.3": {"lexical_weight": 0.3},
    "lexical_weight=0.7": {"lexical_weight": 0.7},
}


def main(tune: bool = typer.Option(False, help="Run the tuning grid on the tune sets."),
         encoder: list[str] = typer.Option(["use-multilingual"], help="Encoders to compare."),
         limit: int = typer.Option(0, help="Use at most this many rows per set (0: all)."),
         only: list[str] = typer.Option([], help="Tuning: run only these grid entries (repeatable)."),
         seed: list[int] = typer.Option([42], help="Tuning: UMAP/sample seeds, each configuration runs once per "
                                        "seed and the means average over them (repeatable)."),
         control: list[str] = typer.Option([], help="Report sets: also run these tune grid entries, labelled as "
                                            "controls (a configuration not chosen, measured beside the shipped one "
                                            "in the same run; never used to choose)."),
         out: Path = typer.Option(None, help="Report path stem (default eval/reports/topics[-tune]).")) -> None:
    unknown = [name for name in [*only, *control] if name not in TUNE_GRID]
    if unknown:
        typer.echo(f"error: {unknown[0]!r} is not a tune grid entry (entries: {', '.join(TUNE_GRID)})", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    # UMAP compiles with numba (~35 s per process without a cache); set before UMAP is first imported.
    settings.numba_cache_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(settings.numba_cache_dir))
    sets = tune_sets() if tune else report_sets()
    if limit:
        sets = [ClusterSet(s.name, s.language, s.texts[:limit], s.labels[:limit], s.licence) for s in sets]
    configs: dict[str, Callable] = {}
    if tune:
        configs = {(name, sd): ours(**p, seed=sd) for name, p in TUNE_GRID.items() if not only or name in only
                   for sd in seed}
    else:
        configs = {"qa_service (shipped settings)": ours(),
                   "qa_service, clusters as found (nr_topics=None)": ours(nr_topics=None),
                   **{f"control, not used to choose: {name}": ours(**TUNE_GRID[name]) for name in control}}
    results: list[dict[str, Any]] = []
    for enc_name in encoder:
        enc = load_encoder(enc_name, settings)
        for s in sets:
            cleaned = [clean_for_topics(t) or t for t in s.texts]
            x = embed_cached(enc, cleaned, f"topics-{s.name}")
            k = len(set(s.labels))
            runs: dict[Any, Callable] = {"k-means at true k": lambda t, e: kmeans_true_k(e, k),
                                         "BERTopic defaults": bertopic_defaults, **configs}
            shipped_k = None
            for key, fn in runs.items():
                name, sd = key if isinstance(key, tuple) else (key, None)
                t0 = time.perf_counter()
                pred = fn(cleaned, x)
                if name in ("default", "qa_service (shipped settings)") and shipped_k is None:
                    shipped_k = int(len(set(pred.tolist()) - {OUTLIER}))
                row = {"set": s.name, "language": s.language, "n": len(s), "gold_k": k, "encoder": enc_name,
                       "method": name, **({"seed": sd} if sd is not None and len(seed) > 1 else {}),
                       **score(s.labels, pred), "seconds": round(time.perf_counter() - t0, 1)}
                results.append(row)
                print(json.dumps(row), file=sys.stderr)
            if shipped_k:
                t0 = time.perf_counter()
                pred = kmeans_true_k(x, shipped_k)
                results.append({"set": s.name, "language": s.language, "n": len(s), "gold_k": k, "encoder": enc_name,
                                "method": "k-means at the shipped topic count", **score(s.labels, pred),
                                "seconds": round(time.perf_counter() - t0, 1)})
    stem = out or (REPORTS / ("topics-tune" if tune else "topics"))
    stem.parent.mkdir(parents=True, exist_ok=True)
    command = "python -m eval.topics " + " ".join(sys.argv[1:])
    commit = _commit()
    Path(str(stem) + ".json").write_text(json.dumps({"command": command, "commit": commit, "results": results},
                                                    indent=1) + "\n", encoding="utf-8")
    Path(str(stem) + ".md").write_text(render(results, tune, command, commit), encoding="utf-8")
    print(render(results, tune, command, commit))


def _commit() -> str:
    return git_commit(dirty_mark=" (with uncommitted changes)")


def render(results: list[dict[str, Any]], tune: bool, command: str = "", commit: str = "") -> str:
    lines = [f"# Topic model vs gold categories ({'tune sets: parameter choice' if tune else 'report sets'})", "",
             f"Generated by `{command.strip()}` at commit {commit}. NMI / ARI count outliers (-1) as one cluster; "
             "`NMI assigned` leaves them out; `largest` is the largest topic's share of all documents"
             + ("; a configuration run with several seeds has one row per seed, and the means average over them"
                if any("seed" in r for r in results) else "") + ".", "",
             "| set | lang | n | gold k | encoder | method | NMI | ARI | NMI assigned | outliers | topics | largest | s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        method = r["method"] + (f" (seed {r['seed']})" if "seed" in r else "")
        lines.append(f"| {r['set']} | {r['language']} | {r['n']} | {r['gold_k']} | {r['encoder']} | {method} | "
                     f"{r['nmi']:.3f} | {r['ari']:.3f} | {r['nmi_assigned']:.3f} | {r['outlier_share']:.1%} | "
                     f"{r['n_topics']} | {r.get('largest_share', 0):.1%} | {r['seconds']} |")
    # Mean per encoder x method over sets.
    lines += ["", "Mean over sets:", "", "| encoder | method | NMI | ARI | outliers | topics (min-max) | largest (max) |",
              "|---|---|---|---|---|---|---|"]
    keys = sorted({(r["encoder"], r["method"]) for r in results}, key=str)
    for enc, m in keys:
        rs = [r for r in results if r["encoder"] == enc and r["method"] == m]
        lines.append(f"| {enc} | {m} | {np.mean([r['nmi'] for r in rs]):.3f} | {np.mean([r['ari'] for r in rs]):.3f}"
                     f" | {np.mean([r['outlier_share'] for r in rs]):.1%} | "
                     f"{min(r['n_topics'] for r in rs)}-{max(r['n_topics'] for r in rs)} | "
                     f"{max(r.get('largest_share', 0) for r in rs):.1%} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    typer.run(main)
