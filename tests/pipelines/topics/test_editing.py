"""Topic editing on small constructed arrays: merging and stable ids across refits (no encoder, no clustering)."""

from __future__ import annotations

import numpy as np
import pytest

from qa_service.errors import InvalidInputError
from qa_service.pipelines.topics import OUTLIER, Topic, match_topics, merge_assignment, merge_topics


def _unit(*rows):
    x = np.asarray(rows, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_merge_assignment_folds_groups_into_the_smallest_id_in_order():
    a = np.array([0, 1, 2, 3, OUTLIER, 2])
    out = merge_assignment(a, [[2, 1], [3, 0]], OUTLIER)
    assert out.tolist() == [0, 1, 1, 0, OUTLIER, 1] and a.tolist() == [0, 1, 2, 3, OUTLIER, 2]
    with pytest.raises(InvalidInputError):
        merge_assignment(a, [[1, 2], [2, 3]], OUTLIER)  # 2 was folded into 1 by the first group
    with pytest.raises(InvalidInputError):
        merge_assignment(a, [[OUTLIER, 0]], OUTLIER)


def test_merge_topics_keeps_smallest_id_and_leaves_inputs_alone():
    topics = {t: Topic(id=t, label=f"t{t}", keywords=[f"w{t}", "común"], size=s, representative=[f"r{t}"],
                       keyword_weights=[0.5, 0.1]) for t, s in ((0, 10), (3, 30), (5, 20))}
    topics[5].custom_label = "Cobros"
    cents = _unit([1, 0, 0], [0, 1, 0], [0, 0, 1])
    keep, out, c, r = merge_topics(topics, cents, cents.copy(), [5, 3], None, top_n_words=3, n_representative=5)
    assert keep == 3 and sorted(out) == [0, 3] and sorted(topics) == [0, 3, 5]
    assert out[3].size == 50 and out[3].custom_label == "Cobros" and out[3].representative == ["r3", "r5"]
    assert out[3].keywords == ["w3", "w5", "común"] and topics[3].size == 30
    assert c.shape == (2, 3) and np.allclose(c[1], _unit([0, 30, 20])[0]) and np.allclose(cents, np.eye(3))
    with pytest.raises(InvalidInputError):
        merge_topics(topics, cents, cents, [3], None, 3, 5)


def test_match_topics_reports_kept_merged_split_new_and_gone():
    old_ids = [0, 1, 2, 4]
    old = _unit([1, 0, 0, 0], [0.95, 0.3, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1])
    # new 10 ~ old 0 and old 1 (merged); new 11 ~ old 2; new 12 ~ old 2 too (split off); new 13 matches nothing.
    new = _unit([1, 0.1, 0, 0], [0, 0, 1, 0], [0, 0.2, 1, 0.1], [0, 1, 0, -1])
    mapping, report, next_id = match_topics(old_ids, old, [10, 11, 12, 13], new, next_id=5, match_threshold=0.8)
    assert mapping == {10: 0, 11: 2, 12: 5, 13: 6} and next_id == 7
    assert sorted(report.kept) == [0, 2] and report.merged == {0: [1]}
    assert report.split == {2: [5]} and report.new == [6] and report.gone == [4]
    mapping, report, next_id = match_topics(old_ids, old, [], np.zeros((0, 4)), 5, 0.8)
    assert mapping == {} and report.gone == old_ids and next_id == 5


def _blobs(centres, sizes, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    x, lab = [], []
    for k, (c, n) in enumerate(zip(centres, sizes)):
        x.append(np.asarray(c, dtype=np.float32) + noise * rng.normal(size=(n, len(c))).astype(np.float32))
        lab += [k] * n
    x = np.vstack(x)
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.array(lab)


def test_reduce_topics_merges_the_closest_first_down_to_a_requested_count():
    from qa_service.pipelines.topics import reduce_topics

    # Three pairs of near-identical clusters, far apart from each other.
    eye = np.eye(6, dtype=np.float32)
    centres = [eye[0], eye[0] + 0.2 * eye[1], eye[2], eye[2] + 0.2 * eye[3], eye[4], eye[4] + 0.2 * eye[5]]
    x, lab = _blobs(centres, [20] * 6)
    out = reduce_topics(lab, x, 3, 1, 25, 0.5, None, OUTLIER)
    assert sorted(set(out.tolist())) == [0, 2, 4]  # each pair merged, the smaller id surviving
    assert all(len(set(out[lab == k].tolist())) == 1 for k in range(6)) and lab.tolist() != out.tolist()
    assert reduce_topics(lab, x, None, 1, 25, 0.5, None, OUTLIER) is lab  # None: as clustered
    # "auto": merge while the closest pair is at least this similar (the pairs, ~0.98), not beyond.
    auto = reduce_topics(lab, x, "auto", 1, 25, 0.9, None, OUTLIER)
    assert sorted(set(auto.tolist())) == [0, 2, 4]
    assert len(set(reduce_topics(lab, x, "auto", 5, 25, 0.9, None, OUTLIER).tolist())) == 5  # not below min_topics


def test_reduce_topics_keeps_to_max_topics_and_never_builds_a_catch_all():
    from qa_service.pipelines.topics import reduce_topics

    rng = np.random.default_rng(1)
    centres = list(rng.normal(size=(40, 16)))
    x, lab = _blobs(centres, [10] * 40, noise=0.3)
    lab[:5] = OUTLIER
    out = reduce_topics(lab, x, "auto", 8, 25, 0.99, 0.15, OUTLIER)
    ids = set(out.tolist()) - {OUTLIER}
    assert len(ids) == 25 and (out == OUTLIER).sum() == 5  # outliers stay outliers
    # A share limit of 6% of the 395 assigned documents (~23): only pairs of 10 may merge, and "auto" stops when
    # none can.
    capped = reduce_topics(lab, x, "auto", 8, 30, -1.0, 0.06, OUTLIER)
    sizes = np.bincount(capped[capped != OUTLIER])
    assert sizes.max() <= 20 and len(set(capped.tolist()) - {OUTLIER}) <= 30
    # A requested count wins over the share limit.
    assert len(set(reduce_topics(lab, x, 4, 8, 25, 0.5, 0.05, OUTLIER).tolist()) - {OUTLIER}) == 4


def test_average_linkage_merges_a_tight_pair_before_a_diffuse_one_at_the_same_centroid_distance():
    from qa_service.pipelines.topics import reduce_topics

    # Two pairs whose centroids are equally far apart: (0, 1) tight, (2, 3) diffuse. Average linkage (the mean
    # similarity over all pairs of members) merges the tight pair first; centroid linkage sees a tie.
    eye = np.eye(8, dtype=np.float32)
    tight, _ = _blobs([eye[0], eye[0] + 0.3 * eye[1]], [30, 30], noise=0.02, seed=3)
    loose, _ = _blobs([eye[4], eye[4] + 0.3 * eye[5]], [30, 30], noise=0.35, seed=4)
    x = np.vstack([tight, loose])
    lab = np.repeat([0, 1, 2, 3], 30)
    out = reduce_topics(lab, x, 3, 1, 25, 0.5, None, OUTLIER, linkage="average")
    assert sorted(set(out.tolist())) == [0, 2, 3]  # the tight pair merged
    # Centroid linkage (the default) merges the diffuse pair: its centroids are a hair closer.
    assert sorted(set(reduce_topics(lab, x, 3, 1, 25, 0.5, None, OUTLIER).tolist())) == [0, 1, 2]
    means = [x[lab == k].mean(axis=0) for k in range(4)]
    cos = [float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) for a, b in ((means[0], means[1]),
                                                                           (means[2], means[3]))]
    assert abs(cos[0] - cos[1]) < 0.05  # centroids about as close in both pairs: the rule, not the geometry, decides
