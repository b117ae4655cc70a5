"""Topic model on small real samples (banking77 intents, English; Amazon-es product categories, Spanish)."""

from __future__ import annotations

import csv
import json
import random
from collections import Counter, defaultdict

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from qa_service.errors import InvalidInputError, ModelLoadError
from qa_service.pipelines.topics import OUTLIER, TopicModel, clean_for_topics, stop_words
from tests.conftest import SHARED_DATA, needs_shared_data

pytestmark = needs_shared_data()

BANKING = ["card_arrival", "exchange_rate", "lost_or_stolen_card", "cash_withdrawal_charge", "pending_top_up",
           "age_limit"]
AMAZON = ["shoes", "book", "pet_products", "kitchen"]


def _banking(intents=BANKING, per=40, seed=0, file="banking_data_train.csv"):
    by = defaultdict(list)
    with (SHARED_DATA / "banking77" / file).open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["category"] in intents:
                by[r["category"]].append(r["text"])
    rng = random.Random(seed)
    rows = [(t, c) for c in intents for t in rng.sample(by[c], per)]
    rng.shuffle(rows)
    return [t for t, _ in rows], [c for _, c in rows]


def _amazon(per=60):
    by = defaultdict(list)
    with (SHARED_DATA / "amazon_reviews_multi_es" / "dataset_es_dev.json").open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r["product_category"] in AMAZON and len(by[r["product_category"]]) < per:
                by[r["product_category"]].append(r["review_body"])
    rows = [(t, c) for c in AMAZON for t in by[c]]
    random.Random(1).shuffle(rows)
    return [t for t, _ in rows], [c for _, c in rows]


@pytest.fixture(scope="module")
def encoder(settings):
    from qa_service.encoders import load_encoder

    return load_encoder("use-multilingual", settings)


@pytest.fixture(scope="module")
def banking(encoder):
    texts, gold = _banking()
    model = TopicModel(encoder=encoder, min_topic_size=10)
    x = model.embed(texts)
    return texts, gold, x


@pytest.fixture(scope="module")
def fitted(banking, encoder, settings):
    texts, gold, x = banking
    return TopicModel(encoder=encoder, min_topic_size=10).fit(texts, x)


def test_english_topics_recover_intents(fitted, banking):
    texts, gold, _ = banking
    assert 4 <= len(fitted.topics_) <= 10
    assert normalized_mutual_info_score(gold, fitted.labels_) > 0.6
    assert (fitted.labels_ == OUTLIER).mean() < 0.2
    # Every topic has a label (a phrase customers wrote, unique), keywords without stop words, a size that matches
    # its members and real quotes.
    sw = set(stop_words())
    written = " ".join(texts).lower()
    for t in fitted.topics_.values():
        assert t.label and t.keywords and t.label.lower() in written and "·" not in t.label
        assert not any(w in sw for k in t.keywords for w in k.split() if len(k.split()) == 1)
        assert t.size == int((fitted.labels_ == t.id).sum())
        assert t.representative and all(r in {clean_for_topics(x) for x in texts} for r in t.representative)
    assert len({t.label.lower() for t in fitted.topics_.values()}) == len(fitted.topics_)
    # The topic holding most "exchange_rate" questions talks about rates.
    ex = Counter(int(l) for l, g in zip(fitted.labels_, gold) if g == "exchange_rate").most_common(1)[0][0]
    assert any("rate" in k or "exchange" in k for k in fitted.topics_[ex].keywords[:5])


def test_same_input_same_topics(banking, encoder, settings, fitted):
    texts, _, x = banking
    again = TopicModel(encoder=encoder, min_topic_size=10).fit(texts, x)
    assert np.array_equal(again.labels_, fitted.labels_)
    assert [t.keywords for t in again.topics_.values()] == [t.keywords for t in fitted.topics_.values()]


def test_spanish_topics_keep_accents_and_drop_stop_words(encoder, settings):
    texts, gold = _amazon()
    model = TopicModel(encoder=encoder, min_topic_size=10).fit(texts)
    assert len(model.topics_) >= 2
    assert normalized_mutual_info_score(gold, model.labels_) > 0.25
    words = [w for t in model.topics_.values() for k in t.keywords for w in k.split()]
    assert not {"de", "que", "el", "la", "muy", "para", "con", "está", "más"} & set(words)
    assert any(set(w) & set("áéíóúñ") for w in words), words  # accents kept, not stripped
    # Labels are phrases from the data, not ids.
    assert all(not t.label.isdigit() for t in model.topics_.values())


def test_save_load_tags_without_refit(fitted, banking, encoder, tmp_path):
    texts, gold, x = banking
    info = fitted.save(tmp_path / "m", "t1")
    assert info["task"] == "topics" and info["base_encoder"]["name"] == "use-multilingual"
    loaded = TopicModel.load(tmp_path / "m", encoder=encoder)
    topics, sims = loaded.transform(embeddings=x)
    # Nearest-centroid tagging agrees with the fitted (HDBSCAN) assignment for most comments; the rest are
    # members far from their topic's centre, tagged as outliers.
    assert (topics == fitted.labels_).mean() >= 0.85
    assert ((topics != fitted.labels_) & (topics != OUTLIER)).mean() < 0.05
    assert loaded.predict(texts[0]) == int(topics[0])
    # A comment about something else entirely is an outlier.
    assert loaded.predict("¿A qué hora abre la piscina del hotel los domingos?") == OUTLIER
    assert sims.dtype == np.float32


def test_load_rejects_corruption_and_other_encoders(fitted, tmp_path, encoder):
    fitted.save(tmp_path / "m", "t1")
    with (tmp_path / "m" / "centroids.npy").open("r+b") as fh:
        fh.seek(200)
        fh.write(b"\x00\x01")
    with pytest.raises(ModelLoadError, match="checksum"):
        TopicModel.load(tmp_path / "m", encoder=encoder)
    fitted.save(tmp_path / "n", "t1", encoder_fingerprint="sha256:other")
    with pytest.raises(ModelLoadError, match="same encoder"):
        TopicModel.load(tmp_path / "n", encoder=encoder)


def test_merge_and_label(fitted, banking, tmp_path, encoder):
    texts, _, x = banking
    fitted.save(tmp_path / "m", "t1")
    model = TopicModel.load(tmp_path / "m", encoder=encoder)
    a, b = sorted(model.topics_)[:2]
    total = model.topics_[a].size + model.topics_[b].size
    keep = model.merge([a, b], label="Tarjetas")
    assert keep == min(a, b) and b not in model.topics_
    assert model.topics_[keep].size == total and model.topics_[keep].name == "Tarjetas"
    topics, _ = model.transform(embeddings=x)
    assert b not in set(topics.tolist())
    with pytest.raises(InvalidInputError):
        model.merge([keep, 999])
    model.set_label(keep, "")
    assert model.topics_[keep].name == model.topics_[keep].label


def test_refit_keeps_ids_and_labels_reports_new_and_gone(encoder, settings):
    old_intents = BANKING[:4] + ["age_limit"]
    texts, _ = _banking(old_intents, seed=0)
    model = TopicModel(encoder=encoder, min_topic_size=10).fit(texts)
    # Name the topic that holds "age_limit" questions.
    age = model.predict("How old do I need to be to open an account?")
    assert age != OUTLIER
    model.set_label(age, "Edad mínima")
    before = {t: model.topics_[t].name for t in model.topics_}
    # Next period: different comments, "age_limit" no longer asked about, "pending_top_up" is new.
    new_texts, _ = _banking(BANKING[:4] + ["pending_top_up"], seed=1, file="banking_data_test.csv", per=40)
    assert model.refit(new_texts) is model
    report = model.refit_report_
    assert report.kept, report
    assert age in report.gone or age in {o for v in report.merged.values() for o in v}
    assert report.new or report.split
    assert all(t >= max(before) + 1 for t in report.new)
    # Topics that persist keep their id; a persisting custom label survives.
    for t in report.kept:
        assert t in before and t in model.topics_
    fresh = model.predict("My top-up is still pending, why?")
    assert fresh in report.new or fresh in {i for v in report.split.values() for i in v}


def test_too_few_comments_is_a_clear_error(encoder):
    with pytest.raises(InvalidInputError, match="too few"):
        TopicModel(encoder=encoder).fit(["hola"] * 5)


def test_stop_words_cover_both_spellings_and_clean_text():
    sw = set(stop_words(("es",)))
    assert {"además", "ademas", "está", "esta", "gracias"} <= sw
    assert "factura" not in sw and "cobro" not in sw
    assert clean_for_topics("@Movistar XXXX cobro https://t.co/x #fail") == "cobro"
    with pytest.raises(InvalidInputError):
        stop_words(("fr",))


def test_one_topic_does_not_swallow_everything(encoder, settings):
    """Rest-Mex reviews of 10 attractions: unguarded, HDBSCAN's eom puts far more than the 14% share in one
    cluster; guarded, that cluster is split into its leaves and no merge rebuilds it, with or without the lexical
    view. One attraction has 41% of the reviews, so a topic may still pass 15%: on the embeddings alone it is then
    that attraction (one theme that truly dominates), not a catch-all. UMAP's layout on 400 texts moves with float
    rounding (how the vectors were batched, BLAS threads) and with its dimensions: unguarded, the largest cluster
    was 45%-96% across such variants, the largest guarded topic 13%-29%, always one attraction, so that is what is
    asserted. With the lexical view a large topic can be a theme several attractions share (a market-and-food
    topic of 18% in one run, 56% of it one attraction), so the one-attraction check is on the embeddings alone."""
    from collections import Counter

    from eval.topic_sets import restmex

    s = restmex("tune")
    texts, gold = s.texts[:400], np.asarray(s.labels[:400])
    x = encoder.encode(texts)  # the raw texts: their unguarded layout has the catch-all in every variant tried
    off = TopicModel(encoder=encoder, max_topic_share=None, nr_topics=None, lexical_weight=0.0).fit(texts, x)
    unguarded = max(t.size for t in off.topics_.values())
    assert unguarded / len(texts) > 0.3
    for weight in (0.0, 0.5):
        model = TopicModel(encoder=encoder, lexical_weight=weight).fit(texts, x)
        assert model.split_ and len(model.topics_) >= 4, weight
        assert max(t.size for t in model.topics_.values()) < unguarded, weight
        assert max(t.size for t in model.topics_.values()) / len(texts) <= 0.3, weight  # no catch-all either way
        assert normalized_mutual_info_score(gold, model.labels_) > 0.3, weight
        if weight:
            continue
        for t, topic in model.topics_.items():
            if topic.size / len(texts) > 0.16:
                top = Counter(gold[model.labels_ == t].tolist()).most_common(1)[0][1]
                assert top / topic.size >= 0.8, (topic.label, topic.size, top)


def test_auto_gives_a_readable_number_of_topics_and_n_asks_for_n(encoder):
    """2,000 banking questions of 77 intents: HDBSCAN alone finds dozens of clusters; 'auto' merges close ones into
    8-25 topics; an int asks for exactly that many; None keeps the clusters as found."""
    from eval.topic_sets import banking77

    s = banking77("tune")
    texts = s.texts[:2000]
    x = TopicModel(encoder=encoder).embed(texts)
    auto = TopicModel(encoder=encoder).fit(texts, x)
    assert 8 <= len(auto.topics_) <= 25
    assert max(t.size for t in auto.topics_.values()) / len(texts) <= 0.16
    assert normalized_mutual_info_score(s.labels[:2000], auto.labels_) > 0.5
    assert len(TopicModel(encoder=encoder, nr_topics=12).fit(texts, x).topics_) == 12
    fine = TopicModel(encoder=encoder, nr_topics=None).fit(texts, x)
    assert len(fine.topics_) > 25
    # Ids run from the largest topic.
    sizes = [auto.topics_[t].size for t in sorted(auto.topics_)]
    assert sizes[0] == max(sizes)


def test_numba_caching_is_switched_on_for_umap():
    from numba.core.dispatcher import Dispatcher

    from qa_service.pipelines.topics.model import enable_numba_cache

    enable_numba_cache()
    import umap.umap_ as u

    funcs = [f for f in vars(u).values() if isinstance(f, Dispatcher)]
    assert funcs and all(type(f._cache).__name__ != "NullCache" for f in funcs)


def test_keywords_and_labels_of_a_topic_come_from_its_language(encoder):
    """A Spanish topic with a few English comments gets no English keyword or label word."""
    texts, gold = _amazon(per=60)
    langs = ["es"] * len(texts)
    extra = ["The shoes arrived broken and the box was damaged, terrible quality",
             "Terrible quality shoes, broken after two days, damaged box"] * 3
    model = TopicModel(encoder=encoder, min_topic_size=10).fit(texts + extra, doc_languages=langs + ["en"] * 6)
    english = {"shoes", "broken", "damaged", "terrible", "quality", "box", "arrived"}
    for t in model.topics_.values():
        if t.language == "es":
            assert not english & {w for k in t.keywords + [t.label.lower()] for w in k.split()}, t


def test_outlier_reduction_asks_the_share_limit(encoder, monkeypatch):
    """The fit asks :func:`_within_share` which outliers may join, with the cap at the share + 1 point of all
    comments, and follows its answer: refused outliers stay outliers (as with no reduction at all)."""
    import qa_service.pipelines.topics.model as topic_model
    from eval.topic_sets import banking77

    texts = banking77("tune").texts[:1000]
    x = TopicModel(encoder=encoder).embed(texts)
    caps = []

    def refuse_all(best, score, ok, sizes, share, n):
        caps.append((share, n, int(ok.sum())))
        return np.zeros(len(best), dtype=bool)

    monkeypatch.setattr(topic_model, "_within_share", refuse_all)
    refused = TopicModel(encoder=encoder, max_topic_share=0.1).fit(texts, x)
    none = TopicModel(encoder=encoder, max_topic_share=0.1, reduce_outliers=False).fit(texts, x)
    assert len(caps) == 1 and caps[0][:2] == (pytest.approx(0.11), len(texts)) and caps[0][2] > 0
    assert (refused.labels_ == none.labels_).all()
    monkeypatch.undo()
    reduced = TopicModel(encoder=encoder, max_topic_share=0.1).fit(texts, x)
    assert (reduced.labels_ == OUTLIER).sum() < (none.labels_ == OUTLIER).sum()
    assigned = sum(t.size for t in none.topics_.values())
    for t, topic in reduced.topics_.items():  # the same clustering: each topic within its limit
        assert topic.size <= max(int(0.11 * len(texts)), int(np.ceil(none.topics_[t].size / assigned * len(texts))))
