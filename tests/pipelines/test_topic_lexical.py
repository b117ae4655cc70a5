"""The lexical view beside the embeddings (``lexical_weight``): planted data, no shared data or encoder needed."""

from __future__ import annotations

import random

import numpy as np
from sklearn.metrics import normalized_mutual_info_score

from qa_service.pipelines.topics import TopicModel

_A = "factura cobro doble tarjeta reembolso importe banco cargo recibo devolución".split()
_B = "paquete envío repartidor entrega retraso dirección caja pedido almacén mensajero".split()
_C = "contraseña aplicación sesión pantalla error actualización usuario cuenta acceso móvil".split()


def _planted(n_per: int = 150) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Three themes told apart only by their words; the embeddings are noise that says nothing about them."""
    rng = random.Random(0)
    texts, gold = [], []
    for k, vocab in enumerate((_A, _B, _C)):
        for _ in range(n_per):
            texts.append(" ".join(rng.sample(vocab, 5)))
            gold.append(k)
    x = np.random.default_rng(0).normal(size=(len(texts), 64)).astype(np.float32)
    return texts, x, np.array(gold)


def test_the_words_separate_themes_the_embeddings_do_not():
    texts, x, gold = _planted()
    params = dict(min_topic_size=20, nr_topics=None, max_topic_share=None, seed=1)
    blind = TopicModel(lexical_weight=0.0, **params).fit(texts, x)
    seeing = TopicModel(lexical_weight=1.0, **params).fit(texts, x)
    assert normalized_mutual_info_score(gold, blind.labels_) < 0.2
    assert normalized_mutual_info_score(gold, seeing.labels_) > 0.8
    # Centroids, and so tagging, stay in the embedding space.
    assert seeing.centroids_.shape[1] == x.shape[1] and seeing.raw_centroids_.shape[1] == x.shape[1]
    assert seeing.get_params()["lexical_weight"] == 1.0


def test_the_lexical_view_is_unit_vectors_or_nothing_when_no_words_are_left():
    texts, _, _ = _planted(40)
    view = TopicModel(lexical_dims=8)._lexical(texts)
    assert view.shape == (120, 8)
    assert np.allclose(np.linalg.norm(view, axis=1), 1, atol=1e-5)
    assert TopicModel()._lexical(["de la que el", "y en los del"] * 30) is None  # stop words only
    # Nothing to add: the clustering sees the embedding space as it was.
    space = np.eye(4, dtype=np.float32)
    assert TopicModel(lexical_weight=0.5)._cluster_space(space, ["de la", "y en", "el", "la"], space) is space


def test_a_refit_sees_the_words_too_and_a_refit_refused_changes_nothing():
    from qa_service.errors import InvalidInputError

    texts, x, gold = _planted()
    model = TopicModel(lexical_weight=1.0, min_topic_size=20, nr_topics=None, max_topic_share=None, seed=1)
    model.fit(texts[::2], x[::2])
    center = model.center_.copy()
    try:
        model.refit(texts[:5], x[:5])
        raise AssertionError("a refit of 5 comments was accepted")
    except InvalidInputError:
        pass
    assert np.array_equal(model.center_, center)  # the model still tags as it did
    model.refit(texts[1::2], x[1::2])
    assert normalized_mutual_info_score(gold[1::2], model.labels_) > 0.8


def test_the_setting_is_saved_and_a_bundle_from_before_the_view_keeps_it_off(tmp_path):
    from qa_service.bundles import read_manifest
    from qa_service.pipelines.topics.model import TASK

    texts, x, _ = _planted(60)
    TopicModel(lexical_weight=0.5, lexical_dims=20, min_topic_size=10).fit(texts, x).save(
        tmp_path, "1", encoder_name="planted", encoder_fingerprint="none")
    loaded = TopicModel.load(tmp_path, verify_encoder=False)
    assert (loaded.lexical_weight, loaded.lexical_dims) == (0.5, 20)
    manifest = read_manifest(tmp_path, TASK)
    for key in ("lexical_weight", "lexical_dims"):
        del manifest["params"][key]  # as a bundle saved before the view wrote it
    old = TopicModel.load(tmp_path, verify_encoder=False, manifest=manifest)
    assert (old.lexical_weight, old.lexical_dims) == (0.0, 100)
    assert old.get_params()["lexical_weight"] == 0.0  # an edit re-saving it says how it was fitted
