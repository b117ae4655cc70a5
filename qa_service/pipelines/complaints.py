"""Recurring complaints: negative comments and complaining customer turns, clustered into labelled complaints.

A *complaint* here is one piece of customer text that voices dissatisfaction:

* a survey comment or message whose sentiment is negative (labelled negative, or P(negative) >=
  ``negative_threshold``);
* a customer turn of a transcript that is clearly negative (P(negative) >= ``turn_threshold``: customer turns
  are mostly requests, which the sentiment model reads as mildly negative), or that carries a complaint cue
  ("me han cobrado dos veces", "todavía no", "still haven't", "refund", ...) and leans negative
  (P(negative) >= ``cue_threshold`` and not positive). Turns of fewer than ``min_words`` words are not
  complaints.

Complaints are clustered with the same :class:`~qa_service.pipelines.topics.TopicModel` as topics, so a
recurring complaint is named and sized like a topic (a readable label, keywords, a size, a trend, the same
8-25 clusters by default); its size counts distinct sources (a customer who complains three times in one call is
one case).

Quotes say what they claim: each is the most negative sentence of a typical member, taken only when the
sentiment model calls that sentence negative and the member's own score, when it has one, is not a good one
(above the middle of its scale); diverse (one per source, no near repeats).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Sequence

import numpy as np

from qa_service.pipelines.topics import OUTLIER, TopicModel
from qa_service.schemas import Comment, Transcript

_CUES = re.compile(
    r"\b(me (han )?cobrado|cobr\w+ (dos veces|de m[aá]s|doble)|cobros? (doble|indebido)\w*|reclam\w*|queja\w*|quejar\w*|todav[ií]a no|a[uú]n no|sigo sin|sigue sin|llevo \w+ "
    r"(d[ií]as|semanas|meses|horas)|nadie|otra vez|de nuevo|no funciona\w*|no me (llega|lleg[oó]|han|dan|dejan)|"
    r"no (sirve|responde\w*|contesta\w*)|devoluci[oó]n|reembols\w*|cancel\w*|p[eé]sim\w*|fatal|harto|harta|"
    r"inaceptable|estafa\w*|error\w*|fallo\w*|ca[ií]d[oa]s?|"
    r"charged|overcharg\w*|refund\w*|complain\w*|still (not|no|haven'?t|hasn'?t|waiting)|nobody|no one|"
    r"again|not working|doesn'?t work|didn'?t (get|receive|arrive)|never (got|received|arrived)|cancel\w*|"
    r"worst|terrible|unacceptable|scam|broken|wrong|error\w*|outage)\b",
    re.I,
)


def has_complaint_cue(text: str) -> bool:
    """True when ``text`` uses words customers complain with (Spanish or English)."""
    return bool(_CUES.search(text))


@dataclass
class ComplaintItem:
    """One complaining text and where it came from."""

    id: str
    source_id: str
    text: str
    origin: str  # "comment" | "transcript"
    negative: float
    created_at: datetime | None = None
    channel: str | None = None
    team: str | None = None
    score: float | None = None
    turn: int | None = None


@dataclass
class Complaint:
    """A recurring complaint: a cluster of complaining texts."""

    id: int
    label: str
    keywords: list[str]
    size: int
    sources: int
    quotes: list[str] = field(default_factory=list)
    mean_score: float | None = None


def select_complaints(sentiment, comments: Sequence[Comment] = (), transcripts: Iterable[Transcript] = (),
                      negative_threshold: float = 0.5, turn_threshold: float = 0.7, cue_threshold: float = 0.3,
                      min_words: int = 3,
                      comment_sentiment: Sequence | None = None) -> list[ComplaintItem]:
    """The complaining comments and customer turns.

    Args:
        sentiment: a sentiment pipeline (``predict(list[str]) -> list[SentimentResult]``).
        comment_sentiment: sentiment results already computed for ``comments`` (same order), to avoid a rerun.
    """
    items: list[ComplaintItem] = []
    comments = list(comments)
    if comments:
        results = comment_sentiment if comment_sentiment is not None else sentiment.predict([c.text for c in comments])
        for c, r in zip(comments, results):
            negative = r.label == "negative" or r.probabilities.negative >= negative_threshold
            if negative and len(c.text.split()) >= min_words:
                items.append(ComplaintItem(id=c.id, source_id=c.id, text=c.text, origin="comment",
                                           negative=round(r.probabilities.negative, 4), created_at=c.created_at,
                                           channel=c.channel, team=c.team, score=c.score))
    for t in transcripts:
        turns = [(i, turn.text) for i, turn in enumerate(t.turns)
                 if turn.speaker == "customer" and len(turn.text.split()) >= min_words]
        if not turns:
            continue
        results = sentiment.predict([text for _, text in turns])
        for (i, text), r in zip(turns, results):
            p = r.probabilities
            cue = has_complaint_cue(text) and p.negative >= cue_threshold and p.positive < 0.5
            if p.negative >= turn_threshold or cue:
                items.append(ComplaintItem(id=f"{t.id}#{i}", source_id=t.id, text=text, origin="transcript",
                                           negative=round(p.negative, 4), created_at=t.started_at,
                                           channel=t.channel, team=t.agent.team, turn=i))
    return items


class ComplaintClusters:
    """Clusters complaint texts into recurring complaints.

    Args:
        topic_model: a :class:`TopicModel` whose encoder and parameters decide the clustering; it is not changed
            (``fit`` fits a copy, ``topic_model_``). With its ``min_topic_size="auto"``, a recurring complaint
            needs ``min_cases`` texts (or 0.2% of them if more).
        n_quotes: example quotes kept per complaint (the most typical first, one per source).
        min_cases: the smallest recurring complaint under ``"auto"``.
        sentiment: the sentiment pipeline that picks each quote's negative sentences (``None``: whole texts,
            items' own ``negative`` probability only).
    """

    def __init__(self, topic_model: TopicModel, n_quotes: int = 5, min_cases: int = 5, sentiment=None) -> None:
        self.topic_model = topic_model
        self.n_quotes = n_quotes
        self.min_cases = min_cases
        self.sentiment = sentiment

    def fit(self, items: Sequence[ComplaintItem], embeddings: np.ndarray | None = None,
            doc_languages: Sequence[str | None] | None = None) -> "ComplaintClusters":
        """Cluster ``items``; sets ``labels_`` (complaint id per item, -1 = not recurring), ``complaints_`` and
        ``topic_model_`` (the fitted copy of ``topic_model``)."""
        from qa_service.errors import InvalidInputError

        self.items_ = list(items)
        texts = [it.text for it in self.items_]
        params = self.topic_model.get_params()
        if params["min_topic_size"] == "auto":
            params["min_topic_size"] = max(self.min_cases, int(round(0.002 * len(texts))))
        self.topic_model_ = type(self.topic_model)(encoder=self.topic_model.encoder, **params)
        self.typicality_ = np.zeros(len(texts), dtype=np.float32)
        try:
            if embeddings is None and texts and self.topic_model_.encoder is not None:
                embeddings = self.topic_model_.embed(texts)
            self.topic_model_.fit(texts, embeddings, doc_languages=doc_languages)
            self.labels_ = self.topic_model_.labels_
            if len(self.topic_model_.topics_):
                _, self.typicality_ = self.topic_model_.transform(embeddings=embeddings)
        except InvalidInputError:
            # Too few complaints to find recurring ones: each stays on its own.
            self.labels_ = np.full(len(texts), OUTLIER, dtype=int)
            self.topic_model_.topics_ = {}
        self.complaints_ = self._describe()
        return self

    def _describe(self) -> dict[int, Complaint]:
        out: dict[int, Complaint] = {}
        topics = self.topic_model_.topics_
        scores = [it.score for it in self.items_ if it.score is not None]
        high = 3.0 if scores and max(scores) <= 5 else 6.0  # CSAT 1-5: 4-5 are good; NPS 0-10: 7-10 are
        candidates: dict[int, list[ComplaintItem]] = {}
        for cid, topic in topics.items():
            idx = np.flatnonzero(self.labels_ == cid)
            # the most typical members first (closest to the complaint's centre), then the most negative
            typical = [self.items_[i] for i in idx[np.argsort(-self.typicality_[idx], kind="stable")][:self.n_quotes]]
            rest = sorted((self.items_[i] for i in idx), key=lambda m: -m.negative)
            pool, used = [], set()
            for m in typical + rest:
                if m.source_id in used or (m.score is not None and m.score > high):
                    continue
                used.add(m.source_id)
                pool.append(m)
                if len(pool) >= 3 * self.n_quotes:
                    break
            candidates[cid] = pool
        quotes = self._quotes(candidates)
        for cid, topic in topics.items():
            idx = np.flatnonzero(self.labels_ == cid)
            members = [self.items_[i] for i in idx]
            sources = {m.source_id for m in members}
            member_scores = [m.score for m in members if m.score is not None]
            out[cid] = Complaint(id=cid, label=topic.name, keywords=topic.keywords, size=len(members),
                                 sources=len(sources), quotes=quotes.get(cid, []),
                                 mean_score=round(float(np.mean(member_scores)), 3) if member_scores else None)
        return dict(sorted(out.items(), key=lambda kv: -kv[1].sources))

    def _quotes(self, candidates: dict[int, list[ComplaintItem]]) -> dict[int, list[str]]:
        """Per complaint, up to ``n_quotes`` quotes: each candidate's most negative sentence, kept only when the
        sentiment model calls it negative; no two alike."""
        from qa_service.text.sentences import sentence_spans

        pieces: list[tuple[int, int, str]] = []  # (complaint, candidate index, sentence)
        for cid, pool in candidates.items():
            for k, m in enumerate(pool):
                spans = sentence_spans(m.text) or [(0, len(m.text))]
                sents = [m.text[a:b].strip() for a, b in spans if len(m.text[a:b].split()) >= 3]
                for sent in sents or [m.text.strip()]:  # as it will be shown: what is judged is what is quoted
                    pieces.append((cid, k, sent if len(sent) <= 300 else sent[:296].rsplit(" ", 1)[0] + " ..."))
        if self.sentiment is not None and pieces:
            results = self.sentiment.predict([p[2] for p in pieces])
            neg = [(r.label == "negative", r.probabilities.negative) for r in results]
        else:
            neg = [(True, 1.0)] * len(pieces)
        best: dict[tuple[int, int], tuple[float, str]] = {}
        for (cid, k, sent), (is_neg, p) in zip(pieces, neg):
            if is_neg and p > best.get((cid, k), (-1.0, ""))[0]:
                best[(cid, k)] = (p, sent)
        out: dict[int, list[str]] = {}
        for cid, pool in candidates.items():
            picked: list[str] = []
            seen: set[str] = set()
            for k in range(len(pool)):
                if (cid, k) not in best:
                    continue
                sent = best[(cid, k)][1]
                key = " ".join(sent.lower().split())[:80]
                if key in seen:
                    continue
                seen.add(key)
                picked.append(sent)
                if len(picked) >= self.n_quotes:
                    break
            out[cid] = picked
        return out
