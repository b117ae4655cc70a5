"""Readable labels and keywords on constructed comments (no clustering; a deterministic tiny encoder where vectors
matter), and the model's small text helpers."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from qa_service.pipelines.topics import choose_labels, phrase_candidates, stop_words, truncate
from qa_service.pipelines.topics.labels import fold
from qa_service.pipelines.topics.model import exact_knn, representatives

STOP = set(stop_words())


def test_phrases_are_what_several_customers_wrote_within_a_clause():
    docs = ["El aire acondicionado no funcionaba, y el agua caliente tampoco.",
            "Sin agua caliente por la mañana; el aire acondicionado hacía ruido.",
            "El tiempo de espera en recepción fue largo.", "Mucho tiempo de espera para el check-in."]
    df = phrase_candidates(docs, STOP, min_df=2)
    assert df["aire acondicionado"] == 2 and df["agua caliente"] == 2 and df["tiempo de espera"] == 2
    assert not any(p.split()[0] in STOP or p.split()[-1] in STOP for p in df)  # no "el aire", "caliente por"
    assert "funcionaba y" not in df and "caliente tampoco" not in df  # min_df
    three = phrase_candidates(["Desayuno buffet variado, habitación muy limpia."], STOP, min_df=1)
    assert "habitación muy limpia" in three and "desayuno buffet variado" not in three  # 3 words: "x <stop> y"
    assert "tampoco sin" not in phrase_candidates([" ".join(docs)], STOP, min_df=1)  # never across a clause


def test_labels_are_unique_without_case_or_accents_and_fall_back_to_keywords():
    docs = {0: ["Los cócteles del bar, muy buenos", "cócteles ricos en el bar", "el bar y sus cócteles"] * 3,
            1: ["Cocteles caros en la piscina", "los cocteles de la piscina", "cocteles en la piscina"] * 3,
            2: ["xy", "zz"]}
    kw = {0: ["cócteles", "bar"], 1: ["cocteles", "piscina"], 2: ["wifi"]}
    out = choose_labels(docs, kw, {}, [0, 1, 2], STOP, embed=None)
    labels = [out[t][0] for t in (0, 1, 2)]
    assert len({fold(x) for x in labels}) == 3, labels
    assert all(x[0].isupper() for x in labels)
    assert out[2][0] == "Wifi"  # no shared phrase: the best keyword
    assert labels[0].lower() in {"cócteles", "bar", "cócteles del bar"} and "cocteles" not in fold(labels[0]) or \
        fold(labels[1]) != fold(labels[0])
    # "cócteles" / "cocteles": one keyword, not two, when one topic has both spellings.
    both = choose_labels({0: docs[0]}, {0: ["cócteles", "cocteles", "bar"]}, {}, [0], STOP, embed=None)
    assert both[0][1] == ["cócteles", "bar"]
    reserved = choose_labels(docs, kw, {}, [0, 1, 2], STOP, embed=None, reserved=[labels[0]])
    assert fold(reserved[0][0]) != fold(labels[0])


def _tiny_embed(texts):
    """Words hashed to a few dimensions; a text is the sum of its words (close texts share words)."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in re.findall(r"\w+", fold(t)):
            out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % 64] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_label_is_close_to_its_topic_and_keywords_do_not_repeat_each_other():
    docs = {0: ["el agua caliente no sale", "sin agua caliente en la ducha", "agua caliente escasa",
                "la ducha sin presión", "ducha rota"],
            1: ["el desayuno buffet variado", "desayuno buffet con fruta", "buen desayuno buffet", "fruta fresca"]}
    kw = {0: ["agua caliente", "ducha", "agua", "caliente"], 1: ["desayuno buffet", "fruta", "desayuno"]}
    cents = {t: _tiny_embed([" ".join(docs[t])])[0] for t in docs}
    out = choose_labels(docs, kw, cents, [0, 1], STOP, embed=_tiny_embed)
    assert out[0][0] == "Agua caliente" and out[1][0] == "Desayuno buffet"
    assert out[0][1][:2] == ["agua caliente", "ducha"]  # "agua" and "caliente" are inside "agua caliente"


def test_truncate_cuts_after_a_sentence_or_a_word():
    text = "La habitación era amplia. El baño estaba sucio y olía mal. " * 5
    assert truncate(text, 1000) == text
    cut = truncate(text, 70)
    assert cut.endswith(".") and len(cut) <= 70 and cut == "La habitación era amplia. El baño estaba sucio y olía mal."
    assert truncate("palabra " * 20, 30) == " ".join(["palabra"] * 3)


def test_representatives_skip_near_duplicates_and_short_texts():
    docs = ["El wifi no funciona en la habitación", "El wifi no funciona en la habitación!", "ok",
            "La piscina estaba cerrada todo el día", "Sin wifi en toda la estancia"]
    vecs = _tiny_embed(docs)
    reps = representatives(docs, vecs, 3)
    assert reps[0] == docs[0] and docs[1] not in reps and "ok" not in reps and len(reps) == 3
    long = representatives(["Primera frase larga del comentario. " * 20], _tiny_embed(["a"]), 1, max_chars=100)
    assert len(long[0]) <= 100 and long[0].endswith(" ...")


def test_exact_knn_matches_brute_force_cosine():
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 24)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    idx, dist = exact_knn(x, 10, block=64)
    ref_d, ref_i = NearestNeighbors(n_neighbors=10, metric="cosine", algorithm="brute").fit(x).kneighbors(x)
    assert (idx[:, 0] == np.arange(300)).all() and np.allclose(dist[:, 0], 0, atol=1e-5)
    assert (idx == ref_i).mean() > 0.99 and np.allclose(np.sort(dist, 1), np.sort(ref_d, 1), atol=1e-4)


def test_class_tfidf_is_bertopics():
    from bertopic.vectorizers import ClassTfidfTransformer
    from scipy import sparse

    from qa_service.pipelines.topics.model import class_tfidf

    rng = np.random.default_rng(3)
    counts = sparse.csr_matrix(rng.poisson(0.6, size=(7, 50)).astype(np.int64))
    counts[:, 3] = 0  # a word no topic uses
    ours = class_tfidf(counts)
    theirs = ClassTfidfTransformer(reduce_frequent_words=True).fit_transform(counts.copy()).toarray()
    assert np.allclose(ours, np.nan_to_num(theirs)) and ours[:, 3].sum() == 0  # theirs: nan for an unused word
    assert counts.sum() == sparse.csr_matrix(counts).sum()  # the input is not changed
