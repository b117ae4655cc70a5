"""Topic model for survey comments and customer messages: the BERTopic recipe on the project's multilingual encoder.

Fitting runs seeded UMAP -> HDBSCAN on embeddings computed once and reused (UMAP gets an exact k-nearest-neighbour
graph computed with BLAS; the clustering runs on a seeded sample of at most ``max_fit_documents`` comments), splits a
catch-all cluster into its HDBSCAN leaves, and merges close clusters hierarchically (centroid similarity) into the
number of topics a manager can read (``nr_topics``: 8-25 by default). Keywords come from BERTopic's class-based
TF-IDF; labels are short phrases customers wrote, chosen KeyBERT-style on the encoder (:mod:`.labels`).

The clustering (UMAP, HDBSCAN, merging) sees each comment's embedding beside an LSA view of its words
(``lexical_weight``); the topics' centroids are computed on the embeddings alone. Everything a fitted model needs to
tag new comments is kept without pickles: the topic centroids in the (centred) embedding space, one similarity
threshold, keywords, labels and representative comments. Tagging is then
"nearest centroid, or outlier (-1) when nothing is close enough", which is also how outliers are reduced at
fit time. Comments in the fitting set keep the clustering's assignment; tagging them again agrees for most of them
(the rest are members far from their topic's centre, which tagging calls outliers).

Topic ids are the model's own and stay stable across refits (:meth:`TopicModel.refit`): new topics are matched
to the previous model's by centroid similarity; persisting topics keep their id and custom label, and the
refit reports which topics are new, merged, split or gone. Ids are never reused.

Matching and merging live in :mod:`.editing`; stop words and cleaning in :mod:`.text`; labels in :mod:`.labels`.
UMAP compiles with numba: the process that uses this model sets ``NUMBA_CACHE_DIR`` once (the composition root),
this module does not touch the environment; it only switches numba's on-disk cache on for UMAP's functions.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import numpy as np

from qa_service.encoders import Encoder, l2_normalise
from qa_service.errors import InvalidInputError, ModelLoadError
from qa_service.pipelines.topics.editing import (RefitReport, Topic, match_topics, merge_assignment, merge_topics,
                                                 reduce_topics)
from qa_service.pipelines.topics.labels import choose_labels, fold
from qa_service.pipelines.topics.text import TOKEN_PATTERN, clean_for_topics, stop_words

OUTLIER = -1
TASK = "topics"


class TopicModel:
    """Topic model with a readable number of topics, stable ids and pickle-free tagging.

    Args:
        encoder: an :class:`Encoder`, or ``None`` when embeddings are always passed in (labels are then chosen
            without phrase embeddings).
        min_topic_size: smallest fine cluster (HDBSCAN ``min_cluster_size``); ``"auto"`` = max(10, 0.2% of the
            comments).
        n_neighbors, n_components, min_dist, n_epochs: UMAP parameters (``n_epochs`` ``None``: UMAP's default;
            ``n_components`` 10, chosen on the tune sets over 4 seeds: mean NMI 0.5350 vs 0.5346 at 5, within the
            seed noise, by the rule "adopt the highest at least the default's"; eval/reports/runs/topics-tune-umap.md).
        min_samples: HDBSCAN ``min_samples`` (``None``: same as ``min_topic_size``; lower = fewer outliers).
        cluster_selection: HDBSCAN's ``eom`` (fewer, larger clusters) or ``leaf`` (more, finer ones).
        nr_topics: how many topics to keep: ``"auto"`` (close fine clusters are merged while their centroids'
            cosine similarity is at least ``merge_similarity``, ending with ``min_topics`` to ``max_topics``
            topics), an int (merged down to that many), or ``None`` (the fine clusters as found).
        min_topics, max_topics: the range ``"auto"`` ends in (fewer only when fewer clusters were found).
        merge_similarity: ``"auto"`` stops merging below this centroid similarity once within the range.
        linkage: how close two topics are when merging: ``"centroid"`` (cosine of their mean vectors) or
            ``"average"`` (mean similarity of their members: better on the tune sets over 4 seeds, worse on the
            report sets, so not the default; eval/reports/runs/topics-average-linkage.md).
        max_topic_share: a cluster above this share of the comments is split into its HDBSCAN leaves when it has
            any (one theme that truly dominates has none and stays whole), and merging never builds one above it
            among the assigned comments (0.14), and outliers join a topic only while it stays within 15% of all
            comments or its own share of the clustered ones (``reduce_outliers``); ``None`` turns all three off.
        reduce_outliers: reassign outliers to the nearest topic when they are as close to it as a typical member
            (with ``max_topic_share``: the closest first, while the topic stays within that share + 1 point of all
            comments, or within its own share of the clustered comments when that is larger; the others stay
            outliers).
        outlier_quantile: the tagging threshold is this quantile of members' similarity to their own centroid
            (0.02, chosen on the tune sets over 4 seeds: mean NMI 0.535 vs 0.533 at 0.05, outliers 0.9% vs 3.2%;
            eval/reports/topics-tune.md).
        center: subtract the mean embedding before clustering (e5 vectors are anisotropic; harmless for USE).
        top_n_words: keywords kept per topic.
        n_representative: representative comments kept per topic.
        languages: stop-word languages.
        max_fit_documents: the clustering (UMAP, HDBSCAN) runs on a seeded sample of at most this many comments;
            the others are assigned to the nearest topic like outliers (``None``: all).
        embed_max_chars: comments longer than this are embedded from their first sentences up to this many
            characters (``None``: the whole text; truncation measured in bench/results/topics.json, "truncation").
        lexical_weight: the clustering (UMAP, HDBSCAN, merging) sees each comment's embedding beside a view of
            its words, weighted by this: TF-IDF over the fitted comments reduced to ``lexical_dims`` dimensions
            (LSA). Centroids, outlier reduction and tagging stay on the embeddings alone. ``0``: embeddings only.
            0.5, chosen on the tune sets over 4 seeds by the rule fixed before the run (the highest mean NMI at
            least the default's): 0.546 vs 0.533 without it (every seed higher), ARI 0.360 vs 0.340; 0.3 gave
            0.542, 0.7 0.531 (eval/reports/runs/topics-tune-lexical.md; the candidate weights were picked after an
            exploratory run of 0 / 0.5 / 1.0 on the same tune sets). The weight is relative to the uncentred,
            unit-length embeddings, and was tuned with USE: an encoder whose vectors sit closer together after
            centring (e5) gives the words more weight at the same setting, so re-tune with another encoder. Above
            ``max_fit_documents`` comments the rest are placed by the embeddings alone. ``merge_similarity`` was
            not re-tuned for it.
        lexical_dims: dimensions of that view.
        seed: UMAP's and the sample's random state (the same input and settings give the same topics).
    """

    def __init__(self, encoder: Encoder | None = None, min_topic_size: int | Literal["auto"] = "auto",
                 n_neighbors: int = 15, n_components: int = 10, min_dist: float = 0.0, min_samples: int | None = None,
                 cluster_selection: Literal["eom", "leaf"] = "eom", max_topic_share: float | None = 0.14,
                 nr_topics: int | Literal["auto"] | None = "auto", min_topics: int = 8, max_topics: int = 25,
                 merge_similarity: float = 0.4, linkage: Literal["average", "centroid"] = "centroid",
                 reduce_outliers: bool = True, outlier_quantile: float = 0.02,
                 center: bool = True, top_n_words: int = 10, n_representative: int = 5,
                 languages: Sequence[str] = ("es", "en"), n_epochs: int | None = None,
                 max_fit_documents: int | None = 20_000, embed_max_chars: int | None = None,
                 lexical_weight: float = 0.5, lexical_dims: int = 100, seed: int = 42) -> None:
        self.encoder = encoder
        self.min_topic_size = min_topic_size
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.min_dist = min_dist
        self.min_samples = min_samples
        self.cluster_selection = cluster_selection
        self.max_topic_share = max_topic_share
        self.nr_topics = nr_topics
        self.min_topics = min_topics
        self.max_topics = max_topics
        self.merge_similarity = merge_similarity
        self.linkage = linkage
        self.reduce_outliers = reduce_outliers
        self.outlier_quantile = outlier_quantile
        self.center = center
        self.top_n_words = top_n_words
        self.n_representative = n_representative
        self.languages = tuple(languages)
        self.n_epochs = n_epochs
        self.max_fit_documents = max_fit_documents
        self.embed_max_chars = embed_max_chars
        self.lexical_weight = lexical_weight
        self.lexical_dims = lexical_dims
        self.seed = seed

    # ------------------------------------------------------------------ parameters
    _PARAMS = ("min_topic_size", "n_neighbors", "n_components", "min_dist", "min_samples", "cluster_selection",
               "max_topic_share", "nr_topics", "min_topics", "max_topics", "merge_similarity", "linkage",
               "reduce_outliers", "outlier_quantile", "center", "top_n_words", "n_representative", "n_epochs",
               "max_fit_documents", "embed_max_chars", "lexical_weight", "lexical_dims", "seed")

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._PARAMS} | {"languages": list(self.languages)}

    def _min_size(self, n: int) -> int:
        if self.min_topic_size == "auto":
            return max(10, int(round(0.002 * n)))
        return int(self.min_topic_size)

    # ------------------------------------------------------------------ embeddings
    def embedding_text(self, text: str) -> str:
        """The text the encoder sees: cleaned (:func:`clean_for_topics`) and, past ``embed_max_chars``, cut after
        the last sentence (or word) that fits."""
        cleaned = clean_for_topics(text) or text
        return truncate(cleaned, self.embed_max_chars) if self.embed_max_chars else cleaned

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None,
              batch_size: int = 256) -> np.ndarray:
        """Embed ``texts`` with the model's encoder (L2-normalised rows), as :meth:`embedding_text` gives them."""
        if self.encoder is None:
            raise InvalidInputError("this topic model has no encoder: pass embeddings", "embeddings")
        out = []
        for i in range(0, len(texts), batch_size):
            chunk = [self.embedding_text(t) for t in texts[i:i + batch_size]]
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
            merge: Sequence[Sequence[int]] = (), doc_languages: Sequence[str | None] | None = None) -> "TopicModel":
        """Fit topics on ``texts`` (``embeddings`` precomputed, or computed with the encoder).

        Args:
            merge: groups of topic ids (as this fit numbers them) to merge before keywords are computed.
            doc_languages: each text's language (``es``, ``en``, ...): keywords, labels and representative
                comments of a topic come from its comments in the topic's (majority) language.

        Sets ``topics_`` (id -> :class:`Topic`, ids 0, 1, ... from the largest), ``labels_`` (one topic id per
        text), ``centroids_``, ``threshold_``, ``center_``; ``refit_report_`` is ``None`` (no refit yet).
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
        assignment = self._cluster(self._cluster_space(raw, cleaned, space), min_size)
        self._finish(cleaned, raw, space, assignment, merge, doc_languages=doc_languages)
        self.next_id_ = max([t for t in self.topics_] + [-1]) + 1
        self.n_documents_ = n
        self.refit_report_: RefitReport | None = None
        return self

    def _cluster_space(self, raw: np.ndarray, cleaned: list[str], space: np.ndarray) -> np.ndarray:
        """What the clustering sees: ``space``, or with ``lexical_weight`` the embeddings beside the weighted LSA
        view of the words, normalised and centred the same way."""
        lexical = self._lexical(cleaned) if self.lexical_weight else None
        if lexical is None:
            return space
        both = l2_normalise(np.hstack([raw, np.float32(self.lexical_weight) * lexical]))
        return l2_normalise(both - both.mean(axis=0)) if self.center else both

    def _lexical(self, cleaned: list[str]) -> np.ndarray | None:
        """Each comment's words as TF-IDF (the keywords' stop words and tokens, sublinear counts) reduced by a
        truncated SVD to ``lexical_dims`` unit vectors; ``None`` when there are too few words to reduce."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        n = len(cleaned)
        try:
            counts = TfidfVectorizer(**self._word_options(n), sublinear_tf=True).fit_transform(cleaned)
        except ValueError:  # no word left after stop words
            return None
        k = min(self.lexical_dims, counts.shape[1] - 1, n - 1)
        if k < 2:
            return None
        return l2_normalise(TruncatedSVD(k, random_state=0).fit_transform(counts).astype(np.float32))

    def _vectorizer(self, n: int):
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(**self._word_options(n), ngram_range=(1, 2))

    def _word_options(self, n: int) -> dict[str, Any]:
        """How the keywords and the lexical view read words from ``n`` comments."""
        return {"stop_words": stop_words(self.languages), "token_pattern": TOKEN_PATTERN,
                "min_df": 2 if n >= 100 else 1, "lowercase": True}

    def _umap(self, space: np.ndarray) -> np.ndarray:
        """UMAP coordinates of ``space`` on its exact cosine k-nearest-neighbour graph (BLAS, not numba)."""
        import warnings

        from umap import UMAP

        enable_numba_cache()
        k = min(self.n_neighbors, len(space) - 1)
        knn = exact_knn(space, k)
        umap_model = UMAP(n_neighbors=k, n_components=self.n_components, min_dist=self.min_dist, metric="cosine",
                          random_state=self.seed, low_memory=True, n_epochs=self.n_epochs,
                          precomputed_knn=(knn[0], knn[1], None))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no search index: transform unavailable" (tagging is by centroid)
            return umap_model.fit_transform(space)

    def _cluster(self, space: np.ndarray, min_size: int) -> np.ndarray:
        """Fine clusters (UMAP -> HDBSCAN, the BERTopic recipe) on a seeded sample of at most
        ``max_fit_documents`` comments, the largest split into their HDBSCAN leaves, then merged to the topic
        count ``nr_topics`` asks for. Ids 0, 1, ... from the largest; -1 = outlier (assigned later when close)."""
        from hdbscan import HDBSCAN

        n = len(space)
        fit = np.arange(n)
        if self.max_fit_documents and n > self.max_fit_documents:
            fit = np.sort(np.random.default_rng(self.seed).choice(n, self.max_fit_documents, replace=False))
            min_size = max(10, int(round(min_size * len(fit) / n)))
        coords = self._umap(space[fit])
        labels = HDBSCAN(min_cluster_size=min_size, min_samples=self.min_samples, metric="euclidean",
                         cluster_selection_method=self.cluster_selection).fit_predict(coords)
        self.split_ = []
        if self.max_topic_share and len(fit) >= 200:
            labels = self._split_large(labels, coords, min_size)
        out = np.full(n, OUTLIER, dtype=int)
        out[fit] = labels
        out = reduce_topics(out, space, self.nr_topics, self.min_topics, self.max_topics, self.merge_similarity,
                            self.max_topic_share, OUTLIER, linkage=self.linkage)
        return _by_size(out)

    def _split_large(self, labels: np.ndarray, coords: np.ndarray, min_size: int) -> np.ndarray:
        """Each cluster above ``max_topic_share`` split into the leaves of its own HDBSCAN tree, when it has two or
        more (a catch-all of several themes does; one theme that truly dominates does not, and stays whole)."""
        from hdbscan import HDBSCAN

        labels = labels.copy()
        n = len(labels)
        next_id = labels.max() + 1
        for t in sorted(set(labels.tolist()) - {OUTLIER}):
            idx = np.flatnonzero(labels == t)
            if len(idx) <= self.max_topic_share * n or len(idx) < 2 * min_size:
                continue
            leaf = HDBSCAN(min_cluster_size=min_size, min_samples=self.min_samples, metric="euclidean",
                           cluster_selection_method="leaf").fit_predict(coords[idx])
            parts = sorted(set(leaf.tolist()) - {OUTLIER})
            if len(parts) < 2:
                continue
            self.split_.append(int(t))
            for k, part in enumerate(parts):
                labels[idx[leaf == part]] = t if k == 0 else next_id
                next_id += 0 if k == 0 else 1
            labels[idx[leaf == OUTLIER]] = OUTLIER
        return labels

    def _finish(self, cleaned: list[str], raw: np.ndarray, space: np.ndarray, assignment: np.ndarray,
                merge: Sequence[Sequence[int]] = (), previous_labels: dict[int, str | None] | None = None,
                doc_languages: Sequence[str | None] | None = None) -> None:
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
            score = sims[np.arange(len(best)), best]
            ok = score >= self.threshold_
            if self.max_topic_share:
                ok &= _within_share(best, score, ok, np.bincount(np.searchsorted(ids, assignment[member]),
                                                                 minlength=len(ids)),
                                    self.max_topic_share + 0.01, len(assignment))
            reassigned = assignment[~member]
            reassigned[ok] = np.asarray(ids)[best[ok]]
            assignment[~member] = reassigned
            cents = self._centroids(space, assignment, ids)
        self.centroids_ = cents
        self.raw_centroids_ = self._centroids(raw, assignment, ids)
        self.labels_ = assignment
        self.topics_ = self._describe(cleaned, raw, space, assignment, ids, previous_labels or {}, doc_languages)

    @staticmethod
    def _centroids(space: np.ndarray, assignment: np.ndarray, ids: list[int]) -> np.ndarray:
        return l2_normalise(np.vstack([space[assignment == t].mean(axis=0) for t in ids]))

    def _describe(self, cleaned: list[str], raw: np.ndarray, space: np.ndarray, assignment: np.ndarray,
                  ids: list[int], custom: dict[int, str | None],
                  doc_languages: Sequence[str | None] | None = None) -> dict[int, Topic]:
        """Keywords, a unique readable label and representative comments per topic, from the topic's comments
        in its own language."""
        langs = list(doc_languages) if doc_languages is not None else [None] * len(cleaned)
        own_language = np.ones(len(cleaned), dtype=bool)
        topic_language: dict[int, str | None] = {}
        for t in ids:
            idx = np.flatnonzero(assignment == t)
            counts: dict[str, int] = {}
            for i in idx:
                if langs[i]:
                    counts[langs[i]] = counts.get(langs[i], 0) + 1
            lang = max(counts, key=lambda k: counts[k]) if counts else None
            topic_language[t] = lang
            if lang is not None:
                own_language[idx] = [langs[i] in (lang, None) for i in idx]
        keywords = self._keywords(cleaned, np.where(own_language, assignment, OUTLIER), ids)
        members: dict[int, np.ndarray] = {}
        docs: dict[int, list[str]] = {}
        for k, t in enumerate(ids):
            idx = np.flatnonzero((assignment == t) & own_language)
            if not len(idx):
                idx = np.flatnonzero(assignment == t)
            idx = idx[np.argsort(-(space[idx] @ self.centroids_[k]), kind="stable")]
            members[t] = idx
            docs[t] = [cleaned[i] for i in idx[:100]]
        order = sorted(ids, key=lambda t: (-int((assignment == t).sum()), t))
        embed = (lambda phrases: l2_normalise(self.encoder.encode(phrases))) if self.encoder is not None else None
        raw_cents = {t: self.raw_centroids_[k] for k, t in enumerate(ids)}
        named = choose_labels(docs, {t: keywords.get(t, ([], []))[0] for t in ids}, raw_cents, order,
                              set(stop_words(self.languages)), embed, self.top_n_words,
                              reserved=[c for c in custom.values() if c])
        topics: dict[int, Topic] = {}
        for k, t in enumerate(ids):
            reps = representatives([cleaned[i] for i in members[t]], space[members[t]], self.n_representative)
            label, words = named[t]
            weight = dict(zip(*keywords.get(t, ([], []))))
            topics[t] = Topic(id=t, label=label, keywords=words, size=int((assignment == t).sum()),
                              representative=reps, custom_label=custom.get(t),
                              keyword_weights=[weight.get(w, 0.0) for w in words], language=topic_language[t])
        return topics

    def _keywords(self, cleaned: list[str], assignment: np.ndarray,
                  ids: list[int]) -> dict[int, tuple[list[str], list[float]]]:
        """c-TF-IDF keywords per topic (BERTopic's class-based TF-IDF, :func:`class_tfidf`). A keyword is written
        by several of the topic's customers, not repeated by one ("minutes" in the one English review of a Spanish
        topic): at least 2 of its comments, and 2% of a large topic's; a single word has three letters or more.
        Comments outside ``ids`` (outliers, other languages: -1) do not count."""
        from scipy import sparse

        member = np.isin(assignment, ids)
        docs = [cleaned[i] for i in np.flatnonzero(member)]
        vec = self._vectorizer(len(cleaned))
        vec.set_params(min_df=1)
        try:
            per_doc = vec.fit_transform(docs)  # one tokenisation: counts per comment
        except ValueError:  # only stop words
            return {}
        words = vec.get_feature_names_out()
        rows = np.searchsorted(ids, assignment[member])
        onehot = sparse.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(len(ids), len(rows)))
        counts = onehot @ per_doc  # one "document" per topic, as BERTopic builds them
        doc_freq = (onehot @ (per_doc > 0).astype(np.float64)).toarray()
        totals = np.asarray(counts.sum(axis=0)).ravel()
        ctfidf = class_tfidf(counts)
        if len(cleaned) >= 100:
            ctfidf[:, totals < 2] = 0.0
        ctfidf[:, np.array([" " not in w and len(w) < 3 for w in words])] = 0.0
        sizes = np.bincount(rows, minlength=len(ids))
        ctfidf[doc_freq < np.maximum(2, 0.02 * sizes)[:, None]] = 0.0
        out = {}
        for k, t in enumerate(ids):
            row = ctfidf[k]
            order = [j for j in np.argsort(-row, kind="stable") if row[j] > 0]
            picked: list[int] = []
            folded: list[set[str]] = []
            for j in order:
                toks = set(fold(words[j]).split())
                # A unigram already inside a picked bigram (or vice versa), or an accent variant, adds nothing.
                if any(toks <= f or f <= toks for f in folded):
                    continue
                picked.append(j)
                folded.append(toks)
                if len(picked) >= 2 * self.top_n_words:
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
              match_threshold: float = 0.8, doc_languages: Sequence[str | None] | None = None) -> "TopicModel":
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
        min_size = self._min_size(len(texts))
        if len(texts) < max(2 * min_size, 20):  # checked before anything changes: the model still tags as before
            raise InvalidInputError(f"too few comments to refit: {len(texts)}", "texts")
        x = self.embed(texts) if embeddings is None else np.asarray(embeddings, dtype=np.float32)
        raw = l2_normalise(x)
        self.center_ = raw.mean(axis=0) if self.center else None
        space = self._space(raw)
        cleaned = [clean_for_topics(t) for t in texts]
        assignment = self._cluster(self._cluster_space(raw, cleaned, space), min_size)
        fresh = sorted(t for t in set(assignment.tolist()) if t != OUTLIER)
        new_raw = self._centroids(raw, assignment, fresh) if fresh else np.zeros((0, raw.shape[1]), np.float32)
        mapping, report, next_id = match_topics(old_ids, old_raw, fresh, new_raw, next_id, match_threshold)
        matched = set(mapping.values())
        stable = np.array([mapping.get(int(t), OUTLIER) for t in assignment], dtype=int)
        self._finish(cleaned, raw, space, stable, previous_labels={v: old_custom.get(v) for v in matched},
                     doc_languages=doc_languages)
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
        # A bundle saved before the lexical view was fitted without it: its refits and edits keep it off.
        params.setdefault("lexical_weight", 0.0)
        params.setdefault("lexical_dims", 100)
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


def _within_share(best: np.ndarray, score: np.ndarray, ok: np.ndarray, sizes: np.ndarray, share: float,
                  n: int) -> np.ndarray:
    """Which outliers may join their nearest topic (``best``, an index into ``sizes``), the closest first: a topic
    grows to ``share`` of all ``n`` comments, or to its own share of the assigned comments applied to all ``n`` when
    that is more (one theme that truly dominates, as the clustering found it, grows in proportion; so do all topics
    of a fit clustered on a sample, whose other comments arrive here as outliers)."""
    allowed = np.zeros(len(best), dtype=bool)
    assigned = max(int(sizes.sum()), 1)
    limit = np.maximum(np.floor(share * n), np.ceil(sizes / assigned * n))
    room = np.maximum(limit - sizes, 0).astype(int)
    for k in np.unique(best[ok]):
        idx = np.flatnonzero(ok & (best == k))
        allowed[idx[np.argsort(-score[idx], kind="stable")[:room[k]]]] = True
    return allowed


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0, 1, ... from the largest, as BERTopic does; -1 stays."""
    ids, counts = np.unique(labels[labels != OUTLIER], return_counts=True)
    order = {int(t): i for i, t in enumerate(ids[np.argsort(-counts, kind="stable")])}
    return np.array([order.get(int(t), OUTLIER) for t in labels], dtype=int)


def class_tfidf(counts) -> np.ndarray:
    """BERTopic's class-based TF-IDF (``ClassTfidfTransformer(reduce_frequent_words=True)``): per topic, the square
    root of each word's share of the topic's words, times ``log(1 + average words per topic / the word's count in
    all topics)``. The same arithmetic as the library's (tests/pipelines/topics compares them); written here because
    importing ``bertopic`` pulls ``transformers`` in and cost ~12 s in every new process.

    Args:
        counts: topics x words count matrix (scipy sparse or dense); not changed.
    """
    from scipy import sparse
    from sklearn.preprocessing import normalize

    x = sparse.csr_matrix(counts, dtype=np.float64, copy=True)
    df = np.asarray(x.sum(axis=0)).ravel()
    idf = np.log(int(x.sum(axis=1).mean()) / np.maximum(df, 1e-12) + 1)
    x = normalize(x, axis=1, norm="l1", copy=False)
    x.data = np.sqrt(x.data)
    return np.asarray((x @ sparse.diags(idf)).todense())


def truncate(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars``: after the last sentence end that fits, else the last whole word."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    cut = max(head.rfind(". "), head.rfind("! "), head.rfind("? "), head.rfind("\n"))
    if cut >= max_chars // 3:
        return head[:cut + 1].strip()
    space = head.rfind(" ")
    return (head[:space] if space > 0 else head).strip()


def representatives(docs: Sequence[str], vectors: np.ndarray, k: int, max_chars: int = 300,
                    duplicate: float = 0.92) -> list[str]:
    """Up to ``k`` of ``docs`` (most typical first, as given): skipping very short ones, repeats and near
    duplicates (cosine >= ``duplicate`` with one already picked); long ones cut at a sentence or word end."""
    picked: list[int] = []
    seen: set[str] = set()
    for i, doc in enumerate(docs):
        key = " ".join(doc.lower().split())
        if len(doc) < 12 or key in seen:
            continue
        if picked and float((vectors[picked] @ vectors[i]).max()) >= duplicate:
            continue
        seen.add(key)
        picked.append(i)
        if len(picked) >= k:
            break
    return [docs[i] if len(docs[i]) <= max_chars else truncate(docs[i], max_chars - 4) + " ..." for i in picked]


def exact_knn(x: np.ndarray, k: int, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of each row of L2-normalised ``x`` (itself first) and their cosine distances, by
    blocked matrix products: exact, and much faster on a few CPU cores than numba's pairwise loops or NN-descent
    for the sizes the clustering sees (at most ``max_fit_documents`` rows)."""
    n = len(x)
    k = min(k, n)
    idx = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k), dtype=np.float32)
    for i in range(0, n, block):
        sims = x[i:i + block] @ x.T
        rows = np.arange(sims.shape[0])
        sims[rows, i + rows] = 2.0  # a row is its own nearest neighbour, even among exact duplicates
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        idx[i:i + block] = np.take_along_axis(part, order, axis=1)
        dist[i:i + block] = np.clip(1.0 - np.take_along_axis(top, order, axis=1), 0.0, 2.0)
    return idx, dist


_NUMBA_CACHED = False


def enable_numba_cache() -> None:
    """Let numba cache UMAP's and pynndescent's compiled functions on disk (most are declared without
    ``cache=True`` and were compiled again in every process, ~35 s). Where the cache lives is the process's
    business (``NUMBA_CACHE_DIR``, set by the composition root); this only turns caching on, once."""
    global _NUMBA_CACHED
    if _NUMBA_CACHED:
        return
    import sys

    import umap  # noqa: F401  (imports the modules whose functions are switched)
    from numba.core.dispatcher import Dispatcher

    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in ("umap", "pynndescent") or module is None:
            continue
        for obj in list(vars(module).values()):
            if isinstance(obj, Dispatcher) and type(obj._cache).__name__ == "NullCache":
                try:
                    obj.enable_caching()
                except Exception:  # noqa: BLE001 - a function numba cannot cache just compiles as before
                    pass
    _NUMBA_CACHED = True

