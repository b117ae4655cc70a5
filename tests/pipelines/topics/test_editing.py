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
