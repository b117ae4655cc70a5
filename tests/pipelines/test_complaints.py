"""Complaint selection and clustering on real text, with the shipped sentiment model."""

from __future__ import annotations

import csv
from datetime import datetime

import numpy as np
import pytest

from qa_service.pipelines.complaints import ComplaintClusters, has_complaint_cue, select_complaints
from qa_service.pipelines.topics import OUTLIER, TopicModel
from qa_service.schemas import Comment, Transcript
from tests.conftest import SHARED_DATA, needs_shared_data


@pytest.mark.parametrize("text", ["Me han cobrado dos veces la factura", "Todavía no me llega el pedido",
                                  "Llevo tres semanas esperando el reembolso", "I was charged twice",
                                  "Still haven't received my card", "The app is not working again"])
def test_complaint_cues(text):
    assert has_complaint_cue(text)


@pytest.mark.parametrize("text", ["Muchas gracias por la ayuda", "¿Qué horario tienen los sábados?",
                                  "Thanks, that solved it", "I would like to open an account"])
def test_no_cue_in_plain_requests(text):
    assert not has_complaint_cue(text)


def test_select_negative_comments_and_complaining_turns(sentiment):
    comments = [Comment(id="a", text="Pésimo servicio, me cobraron dos veces y nadie me responde."),
                Comment(id="b", text="Excelente atención, la agente fue muy amable y resolvió todo."),
                Comment(id="c", text="Horrible, el pedido llegó roto y tarde."),
                Comment(id="d", text="mal")]  # too short to be a complaint
    picked = select_complaints(sentiment, comments=comments)
    assert [p.id for p in picked] == ["a", "c"]
    t = Transcript.model_validate({"id": "call-1", "channel": "call", "started_at": "2026-11-02T10:00:00Z",
                                   "agent": {"id": "a1", "team": "facturacion"}, "turns": [
        {"speaker": "agent", "text": "Buenos días, le atiende Laura, ¿en qué puedo ayudarle?"},
        {"speaker": "customer", "text": "Llevo tres semanas esperando el reembolso y nadie me da una solución."},
        {"speaker": "agent", "text": "Lamento mucho las molestias, lo reviso ahora mismo."},
        {"speaker": "customer", "text": "Vale, gracias."},
        {"speaker": "customer", "text": "Muchas gracias, muy amable, todo perfecto."}]})
    turns = select_complaints(sentiment, transcripts=[t])
    assert [(x.source_id, x.turn, x.origin, x.team) for x in turns] == [("call-1", 1, "transcript", "facturacion")]
    assert turns[0].created_at == datetime.fromisoformat("2026-11-02T10:00:00+00:00")


@needs_shared_data()
def test_recurring_complaints_from_real_complaints(settings):
    """CFPB complaint narratives about debt collection vs. mortgages cluster apart; sizes count sources."""
    from qa_service.encoders import load_encoder
    from qa_service.pipelines.complaints import ComplaintItem

    with (SHARED_DATA / "cfpb_sample" / "complaints_sample.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["Consumer complaint narrative"].strip()
                and r["Product"] in ("Debt collection", "Mortgage")][:160]
    items = [ComplaintItem(id=f"{r['Complaint ID']}#{k}", source_id=r["Complaint ID"],
                           text=r["Consumer complaint narrative"][:600], origin="comment", negative=0.9)
             for r in rows for k in (0,)]
    # One customer complaining twice is one case.
    items.append(ComplaintItem(id=items[0].source_id + "#1", source_id=items[0].source_id, text=items[0].text,
                               origin="comment", negative=0.9))
    enc = load_encoder("use-multilingual", settings)
    clusters = ComplaintClusters(TopicModel(encoder=enc)).fit(items)
    assert len(clusters.complaints_) >= 2
    gold = [r["Product"] for r in rows] + [rows[0]["Product"]]
    for c in clusters.complaints_.values():
        members = [g for g, k in zip(gold, clusters.labels_) if k == c.id]
        assert c.size == len(members) and c.sources <= c.size
        assert 1 <= len(c.quotes) <= 5 and c.label
    big = max(clusters.complaints_.values(), key=lambda c: c.size)
    members = [g for g, k in zip(gold, clusters.labels_) if k == big.id]
    assert max(members.count("Debt collection"), members.count("Mortgage")) / len(members) > 0.7
    first = clusters.labels_[0]
    if first != OUTLIER:
        assert clusters.complaints_[int(first)].sources == clusters.complaints_[int(first)].size - \
            int(clusters.labels_[-1] == first)


def test_too_few_complaints_stay_unclustered(settings):
    from qa_service.encoders import load_encoder
    from qa_service.pipelines.complaints import ComplaintItem

    items = [ComplaintItem(id=str(i), source_id=str(i), text=f"me cobraron de más en la factura {i}",
                           origin="comment", negative=0.9) for i in range(6)]
    clusters = ComplaintClusters(TopicModel(encoder=load_encoder("use-multilingual", settings))).fit(items)
    assert clusters.complaints_ == {} and np.all(clusters.labels_ == OUTLIER)


def test_fit_leaves_the_given_topic_model_unchanged(settings):
    """scikit-learn contract: the model passed in is a parameter; fit works on a copy (``topic_model_``)."""
    from qa_service.encoders import load_encoder
    from qa_service.pipelines.complaints import ComplaintItem

    items = [ComplaintItem(id=str(i), source_id=str(i), text=f"me cobraron de más en la factura {i}",
                           origin="comment", negative=0.9) for i in range(6)]
    given = TopicModel(encoder=load_encoder("use-multilingual", settings))
    before = given.get_params()
    clusters = ComplaintClusters(given, min_cases=3).fit(items)
    assert given.get_params() == before and given.min_topic_size == "auto" and not hasattr(given, "topics_")
    assert clusters.topic_model is given and clusters.topic_model_ is not given
    assert clusters.topic_model_.min_topic_size == 3 and clusters.topic_model_.encoder is given.encoder


@needs_shared_data()
def test_complaint_quotes_are_negative_sentences_and_never_from_a_good_score(sentiment, settings):
    """A 4-star "ha sido excelente" was quoted as a complaint: quotes are now the most negative sentence of a typical
    member, kept only when the sentiment model calls that sentence negative, and never from a 4-5 star review."""
    from qa_service.encoders import load_encoder
    from tests.conftest import hotel_comments

    rows = hotel_comments(600)
    comments = [Comment(id=r["id"], text=r["text"], score=r["score"]) for r in rows]
    results = sentiment.predict([c.text for c in comments])
    items = select_complaints(sentiment, comments, comment_sentiment=results)
    label = {c.id: r.label for c, r in zip(comments, results)}
    assert items and all(label[it.id] == "negative" for it in items)
    enc = load_encoder("use-multilingual", settings)
    clusters = ComplaintClusters(TopicModel(encoder=enc), sentiment=sentiment).fit(items)
    quotes = [q for c in clusters.complaints_.values() for q in c.quotes]
    assert len(quotes) >= 5 and len(clusters.complaints_) >= 2
    assert all(r.label == "negative" for r in sentiment.predict(quotes))
    good = [it.text for it in items if it.score is not None and it.score >= 4]
    assert good, "the sample has good-score reviews the model calls negative"
    assert not any(q.removesuffix(" ...") in t for q in quotes for t in good)
    for c in clusters.complaints_.values():  # named and sized like topics
        assert c.label and c.label[0].isupper() and "·" not in c.label and c.size >= c.sources >= 1
    assert len({c.label.lower() for c in clusters.complaints_.values()}) == len(clusters.complaints_)
