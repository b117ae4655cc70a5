"""Editing topics: reducing a clustering to a readable number of topics (hierarchical merging of close topics),
merging topics (in a clustering before keywords, or in a fitted model), and matching a refit's topics to the
previous model's so that ids and custom labels stay stable.

Pure functions over arrays and topic dicts; :class:`~qa_service.pipelines.topics.model.TopicModel` calls them
from ``fit(merge=...)``, ``merge`` and ``refit``. BERTopic's own ``merge_topics`` is not used: it renumbers topics
by size after a merge (ids here must survive, the smallest of a group is kept) and needs the fitted BERTopic
object, which bundles do not keep (they are pickle-free).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from qa_service.encoders import l2_normalise
from qa_service.errors import InvalidInputError


@dataclass
class Topic:
    """One topic of a fitted model."""

    id: int
    label: str
    keywords: list[str]
    size: int
    representative: list[str] = field(default_factory=list)
    custom_label: str | None = None
    keyword_weights: list[float] = field(default_factory=list)
    language: str | None = None  # the language most of its comments are in (None: not known)

    @property
    def name(self) -> str:
        """The label people see: the custom one when someone set it."""
        return self.custom_label or self.label


@dataclass
class RefitReport:
    """What a refit did to the previous model's topics (ids are the model's stable ids)."""

    kept: dict[int, float] = field(default_factory=dict)  # id -> centroid similarity with its previous self
    new: list[int] = field(default_factory=list)
    merged: dict[int, list[int]] = field(default_factory=dict)  # surviving id -> ids folded into it
    split: dict[int, list[int]] = field(default_factory=dict)  # previous id -> new ids split off it
    gone: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"kept": {str(k): v for k, v in self.kept.items()}, "new": self.new,
                "merged": {str(k): v for k, v in self.merged.items()},
                "split": {str(k): v for k, v in self.split.items()}, "gone": self.gone}


def merge_assignment(assignment: np.ndarray, groups: Sequence[Sequence[int]], outlier: int) -> np.ndarray:
    """A copy of ``assignment`` (one topic id per document) with each group of ids folded into its smallest id.

    Groups apply in order: an id folded away by an earlier group no longer exists for a later one.

    Args:
        assignment: topic id per document.
        groups: groups of topic ids to merge.
        outlier: the outliers' id, which cannot be merged.

    Raises:
        InvalidInputError: a group names an id that is not (or no longer) in ``assignment``, or the outliers.
    """
    assignment = assignment.copy()
    for group in groups:
        group = [int(g) for g in group]
        unknown = [g for g in group if g not in set(assignment.tolist()) or g == outlier]
        if unknown:
            raise InvalidInputError(f"cannot merge unknown topic(s) {unknown}", "merge")
        assignment[np.isin(assignment, group)] = min(group)
    return assignment


def reduce_topics(assignment: np.ndarray, space: np.ndarray, nr_topics: int | str | None, min_topics: int,
                  max_topics: int, similarity: float, max_share: float | None, outlier: int,
                  linkage: str = "centroid") -> np.ndarray:
    """Merge close topics of a clustering, hierarchically: the two closest topics merge first, the smaller id
    surviving. Closeness is ``linkage``: ``"centroid"`` (the default), the cosine similarity of the two topics'
    mean vectors in ``space``; or ``"average"``, the mean cosine similarity over all pairs of their members (the dot
    product of the mean vectors, rows being unit length), which merges a diffuse topic later than a tight one at
    the same centroid distance.

    Args:
        nr_topics: ``None`` (no merging), an int (merge down to that many topics), or ``"auto"``: merge while
            there are more than ``max_topics``, or while the next pair's centroid cosine similarity is at least
            ``similarity`` and there are more than ``min_topics``.
        max_share: a merge may not build a topic above this share of the assigned documents (most outliers join a
            topic later, in proportion), unless nothing else can reach a requested number or ``max_topics``;
            ``None``: no limit.
        linkage: ``"centroid"`` or ``"average"`` (above); average linkage was better on the tune sets and worse
            on the report sets (eval/reports/runs/topics-average-linkage.md), so it is an option, not the default.

    Returns:
        A copy of ``assignment`` with merged ids.
    """
    if nr_topics is None:
        return assignment
    out = assignment.copy()
    ids = sorted(int(t) for t in set(out.tolist()) - {outlier})
    if not ids:
        return out
    target = None if nr_topics == "auto" else max(1, int(nr_topics))
    sums = {t: space[out == t].sum(axis=0) for t in ids}
    size = {t: int((out == t).sum()) for t in ids}
    # the share among assigned documents: most outliers join a topic later, in proportion
    cap = (max_share or 1.0) * sum(size.values())
    while len(ids) > 1:
        if target is not None and len(ids) <= target:
            break
        sizes = np.array([size[t] for t in ids])
        means = np.vstack([sums[t] for t in ids]) / sizes[:, None]
        dots = means @ means.T  # average linkage: mean similarity over all pairs of members
        norms = np.maximum(np.linalg.norm(means, axis=1), 1e-12)
        cos = dots / norms[:, None] / norms[None, :]  # centroid linkage: the cosine of the mean vectors
        sim = dots if linkage == "average" else cos.copy()
        np.fill_diagonal(sim, -np.inf)
        allowed = np.where(sizes[:, None] + sizes[None, :] > cap, -np.inf, sim)
        must = target is not None or len(ids) > max_topics
        if not np.isfinite(allowed).any():
            if not must:
                break
            allowed = sim  # the requested count wins over the share limit
        i, j = np.unravel_index(int(np.argmax(allowed)), allowed.shape)
        if not must and (len(ids) <= min_topics or cos[i, j] < similarity):
            break
        keep, gone = min(ids[i], ids[j]), max(ids[i], ids[j])
        sums[keep] = sums[keep] + sums.pop(gone)
        size[keep] += size.pop(gone)
        out[out == gone] = keep
        ids.remove(gone)
    return out


def merge_topics(topics: dict[int, Topic], centroids: np.ndarray, raw_centroids: np.ndarray, group: Sequence[int],
                 label: str | None, top_n_words: int, n_representative: int
                 ) -> tuple[int, dict[int, Topic], np.ndarray, np.ndarray]:
    """Merge topics of a fitted model without refitting: the smallest id survives, with the size-weighted centroid
    and keyword weights, the representatives of the larger topics first, and ``label`` (or the first custom label
    of the group) as its custom label.

    Args:
        topics: id -> topic; ``centroids`` / ``raw_centroids`` hold one row per id, in sorted id order.
        group: two or more ids of ``topics``.

    Returns:
        The surviving id, and the new topics, centroids and raw centroids (the inputs are not changed).
    """
    group = sorted({int(g) for g in group})
    unknown = [g for g in group if g not in topics]
    if len(group) < 2 or unknown:
        raise InvalidInputError(f"merge needs two or more topics of this model (unknown: {unknown})", "merge")
    ids = sorted(topics)
    rows = [ids.index(g) for g in group]
    sizes = np.array([topics[g].size for g in group], dtype=np.float32)[:, None]
    cent = l2_normalise((centroids[rows] * sizes).sum(axis=0, keepdims=True))
    raw = l2_normalise((raw_centroids[rows] * sizes).sum(axis=0, keepdims=True))
    weights: dict[str, float] = {}
    for g in group:
        t = topics[g]
        for w, v in zip(t.keywords, t.keyword_weights or [1.0] * len(t.keywords)):
            weights[w] = weights.get(w, 0.0) + v * t.size
    words = sorted(weights, key=lambda w: -weights[w])[:top_n_words]
    total = int(sizes.sum())
    reps = [r for g in sorted(group, key=lambda g: -topics[g].size) for r in topics[g].representative]
    keep = group[0]
    custom = label or next((topics[g].custom_label for g in group if topics[g].custom_label), None)
    out = {t: topic for t, topic in topics.items() if t not in group[1:]}
    largest = max(group, key=lambda g: (topics[g].size, -g))
    out[keep] = replace(topics[keep], label=topics[largest].label, keywords=words, size=total,
                        representative=reps[:n_representative], custom_label=custom,
                        keyword_weights=[round(weights[w] / total, 5) for w in words])
    keep_rows = [ids.index(t) for t in sorted(out)]
    centroids, raw_centroids = centroids.copy(), raw_centroids.copy()
    centroids[rows[0]] = cent[0]
    raw_centroids[rows[0]] = raw[0]
    return keep, out, centroids[keep_rows], raw_centroids[keep_rows]


def match_topics(old_ids: Sequence[int], old_centroids: np.ndarray, new_ids: Sequence[int],
                 new_centroids: np.ndarray, next_id: int, match_threshold: float
                 ) -> tuple[dict[int, int], RefitReport, int]:
    """Stable ids for a refit's topics.

    Each previous topic points at the new topic whose centroid is closest, when their cosine similarity is at
    least ``match_threshold``. A new topic chosen by previous topics takes the id of the closest of them (the
    others are *merged* into it); a new topic whose closest previous topic went to another new topic is *split*
    off it and gets a fresh id, as does a topic matching nothing (*new*). Previous topics matching nothing are
    *gone*.

    Args:
        old_ids / old_centroids: the previous model's ids and L2-normalised centroids (one row per id).
        new_ids / new_centroids: the refit clustering's ids and centroids in the same space.
        next_id: the first id never used by the previous model.

    Returns:
        new id -> stable id, the report, and the next unused id.
    """
    report = RefitReport()
    mapping: dict[int, int] = {}
    old_ids = list(old_ids)
    if len(new_ids):
        sim = old_centroids @ new_centroids.T if len(old_ids) else np.zeros((0, len(new_ids)))
        chosen: dict[int, list[tuple[float, int]]] = {}
        for i, old in enumerate(old_ids):
            j = int(sim[i].argmax())
            if sim[i, j] >= match_threshold:
                chosen.setdefault(j, []).append((float(sim[i, j]), old))
        for j, new in enumerate(new_ids):
            if j in chosen:
                cands = sorted(chosen[j], key=lambda c: (-c[0], c[1]))
                keep_sim, keep = cands[0]
                mapping[new] = keep
                report.kept[keep] = round(keep_sim, 4)
                if len(cands) > 1:
                    report.merged[keep] = sorted(o for _, o in cands[1:])
            else:
                mapping[new] = next_id
                i = int(sim[:, j].argmax()) if len(old_ids) else -1
                if i >= 0 and sim[i, j] >= match_threshold:
                    report.split.setdefault(old_ids[i], []).append(next_id)
                else:
                    report.new.append(next_id)
                next_id += 1
    matched = set(mapping.values())
    merged_away = {o for v in report.merged.values() for o in v}
    report.gone = [o for o in old_ids if o not in matched and o not in merged_away]
    return mapping, report, next_id
