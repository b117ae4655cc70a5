"""The sentiment data protocol: fixed roles, near-duplicates never cross from training into evaluation."""

from __future__ import annotations

import pytest

from tests.conftest import needs_shared_data


def test_dedup_key_treats_near_duplicates_as_the_same_text():
    from eval.datasets import dedup_key

    a = "@Iberia  Llevo 3 HORAS esperando!!! https://t.co/xyz"
    b = "llevo 3 horas esperando… @iberia_es http://bit.ly/abc"
    c = "RT @x: Llevo 3 HORAS esperando..."
    assert dedup_key(a) == dedup_key(b) == dedup_key(c)
    assert dedup_key("Está genial") == dedup_key("esta GENIAL.")
    assert dedup_key("geniaaaaal") == dedup_key("geniaaal")
    assert dedup_key("Está genial") != dedup_key("Está fatal")


@needs_shared_data()
def test_no_training_or_validation_text_reaches_a_report_set():
    from eval import datasets as ds

    keys = {role: set() for role in ("train", "val", "report")}
    for s in ds.all_sets():
        keys[s.role] |= {ds.dedup_key(t) for t in s.texts}
    assert keys["train"] and keys["val"] and keys["report"]
    assert not keys["train"] & keys["report"]
    assert not keys["train"] & keys["val"]
    assert not keys["val"] & keys["report"]
    summary = ds.split_summary()
    # The protocol really removed rows (TASS and XLM-T share tweets): the check above is not vacuous.
    assert summary["xlmt_es/train"]["in_report"] > 0 and summary["tass2019/train"]["in_val"] > 0


@needs_shared_data()
def test_roles_languages_and_customer_messages_are_fixed():
    from eval import datasets as ds

    by_name = {s.name: s for s in ds.all_sets()}
    assert by_name["twcs/test"].role == "report" and by_name["twcs/val"].role == "val"
    assert by_name["twcs/test"].kind == "customer-messages" and len(by_name["twcs/test"]) > 500
    assert {s.language for s in ds.training_sets()} == {"es", "en"}
    assert all(s.role == "train" for s in ds.training_sets())
    assert "xlmt_en/train" not in by_name  # its rows are TweetEval validation tweets


@needs_shared_data()
def test_mix_weights_give_each_group_its_share():
    import numpy as np

    from eval import datasets as ds

    sets = ds.training_sets()
    w = np.asarray(ds.mix_weights(sets))
    assert w.mean() == pytest.approx(1.0)
    total = w.sum()
    i = 0
    share = {}
    for s in sets:
        share[(s.language, s.kind)] = share.get((s.language, s.kind), 0) + w[i : i + len(s)].sum() / total
        i += len(s)
    for group, want in ds.MIX.items():
        assert share[group] == pytest.approx(want, abs=1e-6)
