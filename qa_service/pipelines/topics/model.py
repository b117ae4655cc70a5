"""Topic model for survey comments and customer messages: BERTopic on the project's multilingual encoder.

Fitting runs BERTopic (seeded UMAP -> HDBSCAN -> c-TF-IDF keywords) on embeddings computed once and reused.
Everything a fitted model needs to tag new comments is kept without pickles: the topic centroids in the
clustering space, one similarity threshold, keywords, labels and representative comments. Tagging is then
"nearest centroid, or outlier (-1) when nothing is close enough", which is also how outliers are reduced at
fit time. Comments in the fitting set keep HDBSCAN's assignment; tagging them again agrees for most of them
(the rest are members far from their topic's centre, which tagging calls outliers).

Topic ids are the model's own and stay stable across refits (:meth:`TopicModel.refit`): new topics are matched
to the previous model's by centroid similarity; persisting topics keep their id and custom label, and the
refit reports which topics are new, merged, split or gone. Ids are never reused.

Matching and merging live in :mod:`.editing`; stop words, cleaning and labels in :mod:`.text`. UMAP compiles
with numba: the process that uses this model sets ``NUMBA_CACHE_DIR`` once (the composition root), this module
does not touch the environment.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import numpy as np

from qa_service.encoders import Encoder, l2_normalise
from qa_service.errors import InvalidInputError, ModelLoadError
from qa_service.pipelines.topics.editing import RefitReport, Topic, match_topics, merge_assignment, merge_topics
from qa_service.pipelines.topics.text import TOKEN_PATTERN, clean_for_topics, make_label, stop_words

OUTLIER = -1
TASK = "topics"


class TopicModel:
    """BERTopic-based topic model with stable ids and pickle-free tagging.

    Args:
        encoder: an :class:`Encoder`, or ``None`` when embeddings are always passed in.
        min_topic_size: smallest topic (HDBSCAN ``min_cluster_size``); ``"auto"`` = max(10, 0.2% of the
            comments), so large sets give a readable number of topics.
        n_neighbors, n_components, min_dist: UMAP parameters.
        min_samples: HDBSCAN ``min_samples`` (``None``: same as ``min_topic_size``; lower = fewer outliers).
        cluster_selection: HDBSCAN's ``eom`` (fewer, larger topics) or ``leaf`` (more, finer topics).
        max_topic_share: when one topic swallows more than this share of the comments (HDBSCAN's ``eom`` does this
            on long or homogeneous texts), the clustering is redone with ``leaf`` selection on the same UMAP
            output and kept if it is less lopsided; ``None`` turns the guard off.
        nr_topics: ``None`` (as found), an int, or ``"auto"``: BERTopic's topic reduction.
        reduce_outliers: reassign outliers to the nearest topic when they are as close to it as a typical member.
        outlier_quantile: the tagging threshold is this quantile of members' similarity to their own centroid.
        center: subtract the mean embedding before clustering (e5 vectors are anisotropic; harmless for USE).
        top_n_words: keywords kept per topic.
        n_representative: representative comments kept per topic.
        languages: stop-word languages.
        seed: UMAP's random state (fixed: the same input and settings give the same topics).
    """

    def __init__(self, encoder: Encoder | None = None, min_topic_size: int | Literal["auto"] = "auto",
                 n_neighbors: int = 15, n_components: int = 5, min_dist: float = 0.0, min_samples: int | None = None,
                 cluster_selection: Literal["eom", "leaf"] = "eom", max_topic_share: float | None = 0.5,
                 nr_topics: int | Literal["auto"] | None = None, reduce_outliers: bool = True,
                 outlier_quantile: float = 0.05, center: bool = True, top_n_words: int = 10,
                 n_representative: int = 5, languages: Sequence[str] = ("es", "en"), seed: int = 42) -> None:
        self.encoder = encoder
        self.min_topic_size = min_topic_size
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.min_dist = min_dist
        self.min_samples = min_samples
        self.cluster_selection = cluster_selection
        self.max_topic_share = max_topic_share
        self.nr_topics = nr_topics
        self.reduce_outliers = reduce_outliers
        self.outlier_quantile = outlier_quantile
        self.center = center
        self.top_n_words = top_n_words
        self.n_representative = n_representative
        self.languages = tuple(languages)
        self.seed = seed

    # ------------------------------------------------------------------ parameters
    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("min_topic_size", "n_neighbors", "n_components", "min_dist",
                                              "min_samples", "cluster_selection", "max_topic_share", "nr_topics", "reduce_outliers", "outlier_quantile",
                                              "center", "top_n_words", "n_representative", "seed")} | {
            "languages": list(self.languages)}

    def _min_size(self, n: int) -> int:
        if self.min_topic_size == "auto":
            return max(10, int(round(0.002 * n)))
        return int(self.min_topic_size)

    # ------------------------------------------------------------------ embeddings
    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None,
              batch_size: int = 256) -> np.ndarray:
        """Embed cleaned ``texts`` with the model's encoder (L2-normalised rows)."""
        if self.encoder is None:
            raise InvalidInputError("this topic model has no encoder: pass embeddings", "embeddings")
        out = []
        for i in range(0, len(texts), batch_size):
            chunk = [clean_for_topics(t) or t for t in texts[i:i + batch_size]]
            out.append(self.encoder.encode(chunk))
            if progress:
                progress(len(chunk))
        if not out:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        return np.vstack(out).astype(np.float32)

    def _space(self, embeddings: np.ndarray) -> np.ndarray:
        x = l2_normalise(embeddings)
        return l2_normalise(x - self.center_) if self.center_ is not None else x

    # ------------------------------------------------------------------ fit
    def fit(self, texts: Sequence[str], embeddings: np.ndarray | None = None,
            merge: Sequence[Sequence[int]] = ()) -> "TopicModel":
        """Fit topics on ``texts`` (``embeddings`` precomputed, or computed with the encoder).

        Args:
            merge: groups of topic ids (as this fit numbers them) to merge before keywords are computed.

        Sets ``topics_`` (id -> :class:`Topic`), ``labels_`` (one topic id per text), ``centroids_``,
        ``threshold_``, ``center_``; ``refit_report_`` is ``None`` (no refit yet).
        """
        texts = list(texts)
        n = len(texts)
        min_size = self._min_size(n)
        if n < max(2 * min_size, 20):
            raise InvalidInputError(
                f"too few comments to find topics: {n} (need at least {max(2 * min_size, 20)})", "texts")
        x = self.embed(texts) if embeddings is None else np.asarray(embeddings, dtype=np.float32)
        if x.shape[0] != n:
            raise InvalidInputError(f"{x.shape[0]} embeddings for {n} texts", "embeddings")
        raw = l2_normalise(x)
        self.center_ = raw.mean(axis=0) if self.center else None
        space = self._space(raw)
        cleaned = [clean_for_topics(t) for t in texts]
        assignment = self._cluster(cleaned, space, min_size)
        self._finish(cleaned, raw, space, assignment, merge)
        self.next_id_ = max([t for t in self.topics_] + [-1]) + 1
        self.n_documents_ = n
        self.refit_report_: RefitReport | None = None
        return self

    def _bertopic(self, min_size: int, n: int):
        from bertopic import BERTopic
        from bertopic.vectorizers import ClassTfidfTransformer
        from hdbscan import HDBSCAN
        from umap import UMAP

        umap_model = UMAP(n_neighbors=min(self.n_neighbors, n - 1), n_components=self.n_components,
                          min_dist=self.min_dist, metric="cosine", random_state=self.seed, low_memory=True)
        hdbscan_model = HDBSCAN(min_cluster_size=min_size, min_samples=self.min_samples, metric="euclidean",
                                cluster_selection_method=self.cluster_selection, prediction_data=False)
        return BERTopic(umap_model=umap_model, hdbscan_model=hdbscan_model, vectorizer_model=self._vectorizer(n),
                        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True), language="multilingual",
                        nr_topics=self.nr_topics, top_n_words=self.top_n_words, calculate_probabilities=False,
                        verbose=False)

    def _vectorizer(self, n: int):
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(stop_words=stop_words(self.languages), token_pattern=TOKEN_PATTERN,
                               ngram_range=(1, 2), min_df=2 if n >= 100 else 1, lowercase=True)

    def _cluster(self, cleaned: list[str], space: np.ndarray, min_size: int) -> np.ndarray:
        import warnings

        model = self._bertopic(min_size, len(cleaned))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            topics, _ = model.fit_transform(cleaned, embeddings=space)
        labels = np.asarray(topics, dtype=int)
        self.rebalanced_ = False
        share = _largest_share(labels)
        if self.max_topic_share and len(labels) >= 200 and share > self.max_topic_share and \
                self.cluster_selection != "leaf" and not self.nr_topics:
            from hdbscan import HDBSCAN

            leaf = HDBSCAN(min_cluster_size=min_size, min_samples=self.min_samples, metric="euclidean",
                           cluster_selection_method="leaf").fit_predict(model.umap_model.embedding_)
            if len(set(leaf.tolist()) - {OUTLIER}) >= 2 and _largest_share(leaf) < share:
                labels, self.rebalanced_ = _by_size(leaf), True
        return labels

    def _finish(self, cleaned: list[str], raw: np.ndarray, space: np.ndarray, assignment: np.ndarray,
                merge: Sequence[Sequence[int]] = (), previous_labels: dict[int, str | None] | None = None) -> None:
        """From a clustering, the model: merges, centroids, threshold, outlier reduction, keywords, labels."""
        assignment = merge_assignment(assignment, merge, OUTLIER)
        ids = sorted(t for t in set(assignment.tolist()) if t != OUTLIER)
        if not ids:
            # Nothing dense enough: one topic would say nothing; everything stays an outlier.
            self.topics_, self.centroids_, self.raw_centroids_ = {}, np.zeros((0, space.shape[1]), np.float32), \
                np.zeros((0, raw.shape[1]), np.float32)
            self.threshold_ = 1.0
            self.labels_ = assignment
            return
        cents = self._centroids(space, assignment, ids)
        member = assignment != OUTLIER
        own = np.einsum("ij,ij->i", space[member], cents[np.searchsorted(ids, assignment[member])])
        self.threshold_ = float(np.quantile(own, self.outlier_quantile))
        if self.reduce_outliers and (~member).any():
            sims = space[~member] @ cents.T
            best = sims.argmax(axis=1)
            ok = sims[np.arange(len(best)), best] >= self.threshold_
            reassigned = assignment[~member]
            reassigned[ok] = np.asarray(ids)[best[ok]]
            assignment[~member] = reassigned
            cents = self._centroids(space, assignment, ids)
        self.centroids_ = cents
        self.raw_centroids_ = self._centroids(raw, assignment, ids)
        self.labels_ = assignment
        self.topics_ = self._describe(cleaned, space, assignment, ids, previous_labels or {})

    @staticmethod
    def _centroids(space: np.ndarray, assignment: np.ndarray, ids: list[int]) -> np.ndarray:
        return l2_normalise(np.vstack([space[assignment == t].mean(axis=0) for t in ids]))

    def _describe(self, cleaned: list[str], space: np.ndarray, assignment: np.ndarray, ids: list[int],
                  custom: dict[int, str | None]) -> dict[int, Topic]:
        keywords = self._keywords(cleaned, assignment, ids)
        topics: dict[int, Topic] = {}
        for k, t in enumerate(ids):
            idx = np.flatnonzero(assignment == t)
            sims = space[idx] @ self.centroids_[k]
            reps: list[str] = []
            seen: set[str] = set()
            for i in idx[np.argsort(-sims, kind="stable")]:
                doc = cleaned[i]
                key = doc.lower()
                if len(doc) < 12 or key in seen:
                    continue
                seen.add(key)
                reps.append(doc if len(doc) <= 300 else doc[:297].rstrip() + "...")
                if len(reps) >= self.n_representative:
                    break
            words, weights = keywords.get(t, ([], []))
            topics[t] = Topic(id=t, label=make_label(words, reps), keywords=words, size=int(len(idx)),
                              representative=reps, custom_label=custom.get(t), keyword_weights=weights)
        return topics

    def _keywords(self, cleaned: list[str], assignment: np.ndarray,
                  ids: list[int]) -> dict[int, tuple[list[str], list[float]]]:
        """c-TF-IDF keywords per topic (BERTopic's class-based TF-IDF, frequent words damped)."""
        from bertopic.vectorizers import ClassTfidfTransformer

        docs_per_topic = [" ".join(cleaned[i] for i in np.flatnonzero(assignment == t)) for t in ids]
        # One "document" per topic: min_df must not apply across topics (it would drop every topic-specific
        # word); words seen only once in the whole set are dropped instead.
        vec = self._vectorizer(len(cleaned))
        vec.set_params(min_df=1)
        try:
            counts = vec.fit_transform(docs_per_topic)
        except ValueError:  # only stop words
            return {}
        words = vec.get_feature_names_out()
        ctfidf = ClassTfidfTransformer(reduce_frequent_words=True).fit_transform(counts).toarray()
        if len(cleaned) >= 100:
            ctfidf[:, np.asarray(counts.sum(axis=0)).ravel() < 2] = 0.0
        out = {}
        for k, t in enumerate(ids):
            row = ctfidf[k]
            order = [j for j in np.argsort(-row, kind="stable") if row[j] > 0]
            picked: list[int] = []
            for j in order:
                w = words[j]
                # A unigram already inside a picked bigram (or vice versa) adds nothing.
                if any(w in words[p].split() or words[p] in w.split() for p in picked):
                    continue
                picked.append(j)
                if len(picked) >= self.top_n_words:
                    break
            out[t] = ([str(words[j]) for j in picked], [round(float(row[j]), 5) for j in picked])
        return out

    # ------------------------------------------------------------------ tagging
    def transform(self, texts: Sequence[str] | None = None, embeddings: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Topic id per comment (``-1``: no topic close enough) and its similarity to the topic centroid."""
        self._check_fitted()
        if embeddings is None:
            if texts is None:
                raise InvalidInputError("give texts or embeddings", "texts")
            embeddings = self.embed(list(texts))
        space = self._space(np.asarray(embeddings, dtype=np.float32))
        if not len(self.topics_) or not len(space):
            return np.full(len(space), OUTLIER, dtype=int), np.zeros(len(space), dtype=np.float32)
        sims = space @ self.centroids_.T
        best = sims.argmax(axis=1)
        score = sims[np.arange(len(best)), best]
        ids = np.asarray(sorted(self.topics_))
        return np.where(score >= self.threshold_, ids[best], OUTLIER), score.astype(np.float32)

    def predict(self, texts: str | Sequence[str]) -> int | list[int]:
        """Topic id of one comment, or of each of a list."""
        single = isinstance(texts, str)
        topics, _ = self.transform([texts] if single else list(texts))
        return int(topics[0]) if single else [int(t) for t in topics]

    def topic_name(self, topic: int) -> str:
        """Label of a topic id; ``outlier`` for -1."""
        return "(sin tema / no topic)" if topic == OUTLIER else self.topics_[topic].name

    def _check_fitted(self) -> None:
        if not hasattr(self, "topics_"):
            raise ModelLoadError("topic model is not fitted", "topics")

    # ------------------------------------------------------------------ editing a fitted model
    def set_label(self, topic: int, label: str | None) -> None:
        """Give a topic a custom label (kept across refits while the topic persists); ``None`` clears it."""
        self._check_fitted()
        if topic not in self.topics_:
            raise InvalidInputError(f"no topic {topic} in this model", "topic")
        self.topics_[topic].custom_label = (label or "").strip() or None

    def merge(self, group: Sequence[int], label: str | None = None) -> int:
        """Merge topics of a fitted model (no refit): the smallest id survives with size-weighted centroid and
        keywords; returns the surviving id."""
        self._check_fitted()
        keep, self.topics_, self.centroids_, self.raw_centroids_ = merge_topics(
            self.topics_, self.centroids_, self.raw_centroids_, group, label, self.top_n_words, self.n_representative)
        if hasattr(self, "labels_"):
            group = [int(g) for g in group]
            self.labels_ = np.where(np.isin(self.labels_, group), keep, self.labels_)
        return keep

    def refit(self, texts: Sequence[str], embeddings: np.ndarray | None = None,
              match_threshold: float = 0.8) -> "TopicModel":
        """Fit again on ``texts`` (for example the last quarter's comments) keeping topic ids stable.

        Returns ``self``; what happened to the previous topics is in ``refit_report_`` (a :class:`RefitReport`).

        A new topic takes the id (and custom label) of the previous topic whose centroid it is closest to, when
        their cosine similarity is at least ``match_threshold``. Several previous topics choosing the same new
        topic are *merged*; a new topic whose closest previous topic went to another new topic is *split* off it
        and gets a fresh id, as does a topic matching nothing (*new*). Previous topics matching nothing are *gone*.
        """
        self._check_fitted()
        old_ids = sorted(self.topics_)
        old_raw = self.raw_centroids_
        old_custom = {t: self.topics_[t].custom_label for t in old_ids}
        next_id = self.next_id_
        texts = list(texts)
        x = self.embed(texts) if embeddings is None else np.asarray(embeddings, dtype=np.float32)
        raw = l2_normalise(x)
        self.center_ = raw.mean(axis=0) if self.center else None
        space = self._space(raw)
        cleaned = [clean_for_topics(t) for t in texts]
        min_size = self._min_size(len(texts))
        if len(texts) < max(2 * min_size, 20):
            raise InvalidInputError(f"too few comments to refit: {len(texts)}", "texts")
        assignment = self._cluster(cleaned, space, min_size)
        fresh = sorted(t for t in set(assignment.tolist()) if t != OUTLIER)
        new_raw = self._centroids(raw, assignment, fresh) if fresh else np.zeros((0, raw.shape[1]), np.float32)
        mapping, report, next_id = match_topics(old_ids, old_raw, fresh, new_raw, next_id, match_threshold)
        matched = set(mapping.values())
        stable = np.array([mapping.get(int(t), OUTLIER) for t in assignment], dtype=int)
        self._finish(cleaned, raw, space, stable, previous_labels={v: old_custom.get(v) for v in matched})
        self.next_id_ = max([next_id] + [t + 1 for t in self.topics_])
        self.n_documents_ = len(texts)
        self.refit_report_ = report
        return self

    # ------------------------------------------------------------------ bundles
    def save(self, bundle: Path, version: str, encoder_name: str | None = None, encoder_fingerprint: str | None = None,
             training_data: list[dict[str, Any]] | None = None, metrics: dict[str, Any] | None = None) -> dict:
        """Write the model as a bundle directory (manifest + JSON + numpy arrays, no pickles)."""
        from qa_service.bundles import write_manifest

        self._check_fitted()
        bundle = Path(bundle)
        bundle.mkdir(parents=True, exist_ok=True)
        np.save(bundle / "centroids.npy", self.centroids_.astype(np.float32))
        np.save(bundle / "raw_centroids.npy", self.raw_centroids_.astype(np.float32))
        dim = self.centroids_.shape[1] if self.centroids_.size else (self.encoder.dim if self.encoder else 0)
        np.save(bundle / "center.npy", self.center_ if self.center_ is not None else np.zeros(dim, np.float32))
        topics = [asdict(self.topics_[t]) for t in sorted(self.topics_)]
        (bundle / "topics.json").write_text(json.dumps({"topics": topics}, ensure_ascii=False, indent=1) + "\n",
                                            encoding="utf-8")
        enc = self.encoder
        manifest = {
            "task": TASK, "version": version,
            "base_encoder": {"name": encoder_name or (enc.name if enc else None),
                             "fingerprint": encoder_fingerprint or (enc.fingerprint() if enc else None)},
            "labels": [self.topics_[t].name for t in sorted(self.topics_)],
            "params": self.get_params(), "threshold": self.threshold_, "next_id": self.next_id_,
            "n_documents": getattr(self, "n_documents_", None), "centered": self.center_ is not None,
            "training_data": training_data or [], "metrics": metrics or {},
            "artifacts": {"centroids.npy": "", "raw_centroids.npy": "", "center.npy": "", "topics.json": ""},
        }
        return write_manifest(bundle, manifest)

    @classmethod
    def load(cls, bundle: Path, encoder: Encoder | None = None, verify_encoder: bool = True,
             manifest: dict[str, Any] | None = None) -> "TopicModel":
        """Load a bundle written by :meth:`save`; checks artefact checksums and the encoder's fingerprint.
        ``manifest``: the bundle's manifest when the caller already read (and verified) it."""
        from qa_service.bundles import read_manifest

        bundle = Path(bundle)
        manifest = manifest if manifest is not None else read_manifest(bundle, TASK)
        params = dict(manifest.get("params", {}))
        params["languages"] = tuple(params.get("languages", ("es", "en")))
        model = cls(encoder=encoder, **params)
        base = manifest.get("base_encoder", {})
        if encoder is not None and verify_encoder and base.get("fingerprint") and \
                base["fingerprint"] != encoder.fingerprint():
            raise ModelLoadError(
                f"{bundle}: fitted on encoder {base.get('name')} ({str(base['fingerprint'])[:19]}...), "
                f"but {encoder.name} ({encoder.fingerprint()[:19]}...) is loaded: tag with the same encoder",
                str(bundle / "manifest.json"))
        try:
            data = json.loads((bundle / "topics.json").read_text(encoding="utf-8"))
            model.topics_ = {int(t["id"]): Topic(**t) for t in data["topics"]}
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"{bundle / 'topics.json'}: not a topic list ({exc})", str(bundle)) from exc
        model.centroids_ = np.load(bundle / "centroids.npy")
        model.raw_centroids_ = np.load(bundle / "raw_centroids.npy")
        center = np.load(bundle / "center.npy")
        model.center_ = center if manifest.get("centered") else None
        model.threshold_ = float(manifest["threshold"])
        model.next_id_ = int(manifest.get("next_id", max(list(model.topics_) + [-1]) + 1))
        model.n_documents_ = manifest.get("n_documents")
        model.manifest_ = manifest
        if model.centroids_.shape[0] != len(model.topics_):
            raise ModelLoadError(f"{bundle}: {model.centroids_.shape[0]} centroids for {len(model.topics_)} topics",
                                 str(bundle))
        return model


def _largest_share(labels: np.ndarray) -> float:
    assigned = labels[labels != OUTLIER]
    return float(np.bincount(assigned).max() / len(labels)) if len(assigned) else 0.0


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0, 1, ... from the largest, as BERTopic does; -1 stays."""
    ids, counts = np.unique(labels[labels != OUTLIER], return_counts=True)
    order = {int(t): i for i, t in enumerate(ids[np.argsort(-counts, kind="stable")])}
    return np.array([order.get(int(t), OUTLIER) for t in labels], dtype=int)
