"""Feedback analysis: comments in; topics, trends, complaints, score drivers and the report out.

The one place that chains the pipelines (embeddings once -> topics -> sentiment -> complaints -> trends ->
drivers -> report). The use cases at the end (:func:`fit_topics`, :func:`find_complaints`, :func:`tag_comments`,
:func:`edit_topic_model`, ...) are what ``qa-service topics`` / ``qa-service complaints``, the API and the
worker call.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from qa_service.pipelines.complaints import ComplaintClusters, ComplaintItem, select_complaints
from qa_service.pipelines.drivers import ScoreDriver, score_drivers
from qa_service.pipelines.topics import OUTLIER, RefitReport, TopicModel, clean_for_topics
from qa_service.pipelines.trends import Freq, TopicTrend, check_trend_span, significant_changes, topic_trends
from qa_service.errors import Deadline, InvalidInputError, LimitExceededError, NotFoundError, check_deadline
from qa_service.io.tables import write_csv
from qa_service.reports.feedback import ReportComplaint, ReportRow, ReportTopic, render_feedback_report
from qa_service.runtime import Runtime
from qa_service.usecases.ingest import comment_languages, redact_comments, redact_names_across, redact_transcripts
from qa_service.schemas import Comment, Transcript

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class FeedbackAnalysis:
    """Everything one analysis produced (the files of ``--out DIR`` are written from this)."""

    comments: list[Comment]
    topic_model: TopicModel
    topics: np.ndarray  # topic id per comment
    similarity: np.ndarray
    sentiment: list[Any]  # SentimentResult per comment
    complaints: ComplaintClusters | None
    complaint_of: dict[str, int]  # comment id -> complaint id (recurring complaints only)
    trends: list[TopicTrend]
    drivers: list[tuple[str, ScoreDriver]]  # ("topic" | "complaint", driver)
    freq: Freq
    refit: RefitReport | None = None
    notes: list[str] = field(default_factory=list)
    min_period_count: int = 30  # periods with fewer comments are thin: shown greyed, never tested

    # -------------------------------------------------------------- tables
    def document_rows(self) -> list[dict[str, Any]]:
        cm = self.complaints.complaints_ if self.complaints else {}
        out = []
        for c, t, s, r in zip(self.comments, self.topics, self.similarity, self.sentiment):
            k = self.complaint_of.get(c.id)
            out.append({"id": c.id, "topic": int(t), "topic_label": self.topic_model.topic_name(int(t)),
                        "similarity": round(float(s), 4), "sentiment": r.label,
                        "complaint": "" if k is None else k, "complaint_label": cm[k].label if k is not None else "",
                        "created_at": c.created_at.isoformat() if c.created_at else "", "channel": c.channel or "",
                        "team": c.team or "", "score": "" if c.score is None else c.score})
        return out

    def sentiment_counts(self) -> dict[int, tuple[int, int, int]]:
        """Topic id -> (comments, negative, positive), by each comment's sentiment."""
        out: dict[int, list[int]] = {}
        for t, r in zip(self.topics, self.sentiment):
            row = out.setdefault(int(t), [0, 0, 0])
            row[0] += 1
            row[1] += r.label == "negative"
            row[2] += r.label == "positive"
        return {t: (a, b, c) for t, (a, b, c) in out.items()}

    def topic_rows(self) -> list[dict[str, Any]]:
        n = max(len(self.comments), 1)
        counts = self.sentiment_counts()
        rows = []
        for t in sorted(self.topic_model.topics_.values(), key=lambda t: (-counts.get(t.id, (0, 0, 0))[0], t.id)):
            size, neg, pos = counts.get(t.id, (0, 0, 0))
            rows.append({"topic": t.id, "label": t.name, "size": size, "share": round(size / n, 4),
                         "negative": neg, "positive": pos, "negative_share": round(neg / size, 4) if size else 0.0,
                         "keywords": "; ".join(t.keywords), "representative": t.representative[0] if
                         t.representative else ""})
        outliers, neg, pos = counts.get(OUTLIER, (0, 0, 0))
        rows.append({"topic": OUTLIER, "label": self.topic_model.topic_name(OUTLIER), "size": outliers,
                     "share": round(outliers / n, 4), "negative": neg, "positive": pos,
                     "negative_share": round(neg / outliers, 4) if outliers else 0.0, "keywords": "",
                     "representative": ""})
        return rows

    def trend_rows(self) -> list[dict[str, Any]]:
        return [trend_row(tr, self.topic_model.topic_name(int(tr.topic))) for tr in self.trends]

    def complaint_rows(self) -> list[dict[str, Any]]:
        if not self.complaints:
            return []
        return [{"complaint": c.id, "label": c.label, "cases": c.sources, "texts": c.size,
                 "keywords": "; ".join(c.keywords), "mean_score": "" if c.mean_score is None else c.mean_score,
                 "quotes": " | ".join(c.quotes)} for c in self.complaints.complaints_.values()]

    def driver_rows(self) -> list[dict[str, Any]]:
        rows = []
        for kind, d in self.drivers:
            name = (self.topic_model.topic_name(int(d.topic)) if kind == "topic"
                    else self.complaints.complaints_[int(d.topic)].label if self.complaints else str(d.topic))
            rows.append({"kind": kind, "id": d.topic, "label": name, **{k: v for k, v in asdict(d).items()
                                                                       if k != "topic"}})
        return rows

    def summary(self, top: int = 5) -> dict[str, Any]:
        """What an e-mail digest needs: the top topics, what customers dislike and like, the top complaints,
        significant rises and drops (with counts), and the score drivers."""
        n = len(self.comments)
        name = self.topic_model.topic_name
        rows = [r for r in self.topic_rows() if r["topic"] != OUTLIER]
        keep = ("topic", "label", "size", "share", "negative", "positive", "negative_share")
        cm = self.complaints.complaints_ if self.complaints else {}
        negatives = sum(1 for r in self.sentiment if r.label == "negative")
        positives = sum(1 for r in self.sentiment if r.label == "positive")
        return {
            "comments": n, "topics": len(self.topic_model.topics_),
            "outlier_share": round(float((self.topics == OUTLIER).mean()), 4) if n else 0.0,
            "negative": negatives, "positive": positives,
            "top_topics": [{k: r[k] for k in keep} | {"keywords": r["keywords"].split("; ")[:5],
                                                      "quote": r["representative"]} for r in rows[:top]],
            "dislikes": [{k: r[k] for k in keep} for r in sorted(rows, key=lambda r: -r["negative"])[:top]
                         if r["negative"]],
            "likes": [{k: r[k] for k in keep} for r in sorted(rows, key=lambda r: -r["positive"])[:top]
                      if r["positive"]],
            "recurring_complaints": len(cm),
            "top_complaints": [{"complaint": c.id, "label": c.label, "cases": c.sources, "texts": c.size,
                                "mean_score": c.mean_score, "quote": c.quotes[0] if c.quotes else None}
                               for c in list(cm.values())[:top]],
            "latest_period": self.trends[-1].period.isoformat() if self.trends else None,
            "min_period_count": self.min_period_count,
            "thin_periods": sorted({t.period.isoformat() for t in self.trends if t.thin}),
            "rises": [change_row(t, name(int(t.topic))) for t in significant_changes(self.trends, "up", 10)],
            "drops": [change_row(t, name(int(t.topic))) for t in significant_changes(self.trends, "down", 10)],
            "emerging": _emerging_now(self.trends),
            "drivers": [r for r in self.driver_rows() if r["significant"]][:top],
            "refit": self.refit.as_dict() if self.refit else None, "notes": self.notes,
        }

    # -------------------------------------------------------------- report
    def report_html(self, title: str = "Informe de comentarios de clientes") -> str:
        rows = [ReportRow(source=c.id, topic=int(t), created_at=c.created_at, channel=c.channel, team=c.team,
                          score=c.score, complaint=self.complaint_of.get(c.id), negative=r.label == "negative",
                          positive=r.label == "positive")
                for c, t, r in zip(self.comments, self.topics, self.sentiment)]
        topics = [ReportTopic(id=t.id, name=t.name, keywords=t.keywords, quotes=t.representative)
                  for t in self.topic_model.topics_.values()]
        complaints = [ReportComplaint(id=c.id, label=c.label, keywords=c.keywords, quotes=c.quotes)
                      for c in (self.complaints.complaints_.values() if self.complaints else [])]
        return render_feedback_report(rows, topics, complaints, title=title, freq=self.freq, notes=self.notes,
                                      min_period_count=self.min_period_count)

    def write(self, out_dir: Path, title: str | None = None) -> dict[str, Path]:
        """Write documents.csv, topics.csv, trends.csv, complaints.csv, drivers.csv, summary.json, report.html."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        files = {
            "documents": write_csv(out_dir / "documents.csv", self.document_rows()),
            "topics": write_csv(out_dir / "topics.csv", self.topic_rows()),
            "trends": write_csv(out_dir / "trends.csv", self.trend_rows(), TREND_COLUMNS),
            "complaints": write_csv(out_dir / "complaints.csv", self.complaint_rows(), COMPLAINT_COLUMNS),
            "drivers": write_csv(out_dir / "drivers.csv", self.driver_rows(), DRIVER_COLUMNS),
        }
        (out_dir / "summary.json").write_text(json.dumps(self.summary(), ensure_ascii=False, indent=1) + "\n",
                                              encoding="utf-8")
        (out_dir / "report.html").write_text(self.report_html(title or "Informe de comentarios de clientes"),
                                             encoding="utf-8")
        files.update(summary=out_dir / "summary.json", report=out_dir / "report.html")
        return files


TREND_COLUMNS = ["topic", "label", "period", "count", "total", "share", "ci_low", "ci_high", "thin",
                 "previous_period", "previous_count", "previous_total", "previous_share", "change", "p_value",
                 "significant", "emerging", "falling", "new"]
COMPLAINT_COLUMNS = ["complaint", "label", "cases", "texts", "keywords", "mean_score", "quotes"]
DRIVER_COLUMNS = ["kind", "id", "label", "count", "mean_in", "mean_out", "effect", "ci_low", "ci_high", "cohens_d",
                  "significant"]


def _emerging_now(trends: list[TopicTrend]) -> list[int]:
    """Topics flagged emerging in the latest period (new, or grown significantly against the one before)."""
    if not trends:
        return []
    last = max(t.period for t in trends)
    return sorted(int(t.topic) for t in trends if t.period == last and t.emerging)


def trend_row(tr: TopicTrend, label: str) -> dict[str, Any]:
    """One row of trends.csv (blank cells where a period is thin or has no previous one to compare with)."""
    blank = lambda v: "" if v is None else v  # noqa: E731
    return {"topic": tr.topic, "label": label, "period": tr.period.isoformat(), "count": tr.count, "total": tr.total,
            "share": tr.share, "ci_low": tr.ci_low, "ci_high": tr.ci_high, "thin": tr.thin,
            "previous_period": tr.previous_period.isoformat() if tr.previous_period else "",
            "previous_count": blank(tr.previous_count), "previous_total": blank(tr.previous_total),
            "previous_share": blank(tr.previous_share), "change": blank(tr.change), "p_value": blank(tr.p_value),
            "significant": tr.significant, "emerging": tr.emerging, "falling": tr.falling, "new": tr.new}


def change_row(tr: TopicTrend, label: str) -> dict[str, Any]:
    """A significant change as summary.json lists it: both periods with counts, totals and shares."""
    return {"topic": tr.topic, "label": label, "period": tr.period.isoformat(),
            "previous_period": tr.previous_period.isoformat() if tr.previous_period else None,
            "count": tr.count, "total": tr.total, "share": tr.share, "ci_low": tr.ci_low, "ci_high": tr.ci_high,
            "previous_count": tr.previous_count, "previous_total": tr.previous_total,
            "previous_share": tr.previous_share, "change": tr.change, "p_value": tr.p_value}


def _drivers(comments: Sequence[Comment], labels: Sequence[int | None], kind: str) -> list[tuple[str, ScoreDriver]]:
    items = [(lab if lab is not None else OUTLIER, c.score) for c, lab in zip(comments, labels) if c.score is not None]
    if len(items) < 10:
        return []
    return [(kind, d) for d in score_drivers(items, ignore=[OUTLIER])]


def analyse_comments(comments: Sequence[Comment], topic_model: TopicModel, sentiment, freq: Freq = "week",
                     complaint_model: TopicModel | None = None, previous: TopicModel | None = None,
                     merge: Sequence[Sequence[int]] = (), progress: Progress | None = None,
                     max_periods: int | None = None, deadline: Deadline | None = None,
                     doc_languages: Sequence[str] | None = None, min_period_count: int = 30) -> FeedbackAnalysis:
    """Fit topics (or refit ``previous``), score sentiment, cluster the negative comments, compute trends and
    drivers.

    Args:
        topic_model: an unfitted model (its encoder embeds the comments once; the embeddings are reused, and the
            encoder's cache serves the sentiment model's look-up of the same texts).
        complaint_model: an unfitted model for the complaint clusters (default: the topic model's settings).
        previous: a fitted model to refit with stable ids (then ``topic_model`` only supplies the encoder).
        doc_languages: each comment's language (keywords, labels and quotes of a topic come from its language).
        min_period_count: periods with fewer dated comments are thin (shown greyed, never tested).
    """
    comments = list(comments)
    texts = [c.text for c in comments]
    report = (lambda stage, done, total: progress(stage, done, total)) if progress else (lambda *a: None)

    def step(stage: str, done: int, total: int) -> None:  # between batches and stages: stop when time is up
        check_deadline(deadline, stage)
        report(stage, done, total)
    done = [0]

    def tick(k: int) -> None:
        done[0] += k
        step("embeddings", done[0], len(texts))

    model = previous if previous is not None else topic_model
    step("embeddings", 0, len(texts))
    x = model.embed(texts, progress=tick)
    # The sentiment of what the topics read (URLs, handles and redaction tags left out): the same strings, so the
    # encoder's cache serves the sentiment model's embeddings when it runs on the topic encoder.
    said = [clean_for_topics(t) or t for t in texts]
    # A model whose labels do not depend on the language takes each comment's (detected once, before redaction)
    # instead of detecting it again on every text; one that does detects it on what it reads, as it always has.
    known = doc_languages if doc_languages is not None and getattr(sentiment, "reads_language", True) is False \
        else None
    results = []
    for i in range(0, len(texts), 512):
        results.extend(sentiment.predict(said[i:i + 512]) if known is None else
                       sentiment.predict(said[i:i + 512], languages=list(known[i:i + 512])))
        step("sentiment", min(i + 512, len(texts)), len(texts))
    step("topics", 0, 1)
    refit = None
    if previous is not None:
        refit = previous.refit(texts, x, doc_languages=doc_languages).refit_report_
    else:
        topic_model.fit(texts, x, merge=merge, doc_languages=doc_languages)
    topics, sim = model.labels_, np.ones(len(texts), dtype=np.float32)
    if len(model.topics_):
        _, sim = model.transform(embeddings=x)
    step("topics", 1, 1)
    items = select_complaints(sentiment, comments, comment_sentiment=results)
    pos = {c.id: i for i, c in enumerate(comments)}
    cmodel = complaint_model or TopicModel(encoder=model.encoder, **{
        k: v for k, v in model.get_params().items() if k != "languages"}, languages=model.languages)
    clusters = ComplaintClusters(cmodel, sentiment=sentiment)
    step("complaints", 0, 1)
    rows = [pos[it.id] for it in items]
    clusters.fit(items, x[rows] if items else None,
                 doc_languages=[doc_languages[i] for i in rows] if doc_languages is not None else None)
    step("complaints", 1, 1)
    complaint_of = {it.id: int(k) for it, k in zip(items, clusters.labels_) if k != OUTLIER}
    dated = [(c.created_at, int(t)) for c, t in zip(comments, topics) if c.created_at is not None]
    step("trends", 0, 1)
    trends = topic_trends(dated, freq=freq, ignore=[OUTLIER], max_periods=max_periods,
                          min_total=min_period_count) if dated else []
    step("drivers", 0, 1)
    notes = []
    undated = len(comments) - len(dated)
    if undated:
        notes.append(f"{undated} comentarios sin fecha: cuentan en temas y quejas, no en la evolución temporal.")
    thin = sorted({t.period for t in trends if t.thin})
    if thin:
        notes.append(f"{len(thin)} periodo(s) con menos de {min_period_count} comentarios: se muestran en gris y no "
                     f"se comparan.")
    drivers = _drivers(comments, [int(t) for t in topics], "topic")
    drivers += _drivers(comments, [complaint_of.get(c.id) for c in comments], "complaint")
    return FeedbackAnalysis(comments=comments, topic_model=model, topics=np.asarray(topics), similarity=sim,
                            sentiment=results, complaints=clusters, complaint_of=complaint_of, trends=trends,
                            drivers=drivers, freq=freq, refit=refit, notes=notes, min_period_count=min_period_count)


def analyse_complaints(items: Sequence[ComplaintItem], complaint_model: TopicModel, freq: Freq = "week",
                       max_periods: int | None = None, sentiment=None, doc_languages: Sequence[str] | None = None,
                       min_period_count: int = 30) -> tuple[ComplaintClusters, list[TopicTrend]]:
    """Cluster complaint items (from comments and/or transcripts) and their trend per period."""
    clusters = ComplaintClusters(complaint_model, sentiment=sentiment).fit(items, doc_languages=doc_languages)
    dated = [(it.created_at, int(k)) for it, k in zip(items, clusters.labels_) if it.created_at is not None]
    return clusters, (topic_trends(dated, freq=freq, ignore=[OUTLIER], max_periods=max_periods,
                                   min_total=min_period_count) if dated else [])


def complaint_outputs(clusters: ComplaintClusters, trends: list[TopicTrend], out_dir: Path, freq: Freq = "week"
                      ) -> dict[str, Path]:
    """Files of ``qa-service complaints``: complaints.csv, documents.csv, trends.csv, drivers.csv, summary.json,
    report.html (the report's topics are the recurring complaints). Quotes come from texts redacted before
    clustering (:func:`find_complaints`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cm = clusters.complaints_
    name = lambda k: cm[k].label if k in cm else "(no recurrente / not recurring)"  # noqa: E731
    docs = [{"id": it.id, "source_id": it.source_id, "origin": it.origin, "turn": "" if it.turn is None else it.turn,
             "complaint": int(k), "complaint_label": name(int(k)), "negative": it.negative,
             "created_at": it.created_at.isoformat() if it.created_at else "", "channel": it.channel or "",
             "team": it.team or "", "score": "" if it.score is None else it.score}
            for it, k in zip(clusters.items_, clusters.labels_)]
    complaints = [{"complaint": c.id, "label": c.label, "cases": c.sources, "texts": c.size,
                   "keywords": "; ".join(c.keywords), "mean_score": "" if c.mean_score is None else c.mean_score,
                   "quotes": " | ".join(c.quotes)} for c in cm.values()]
    trend_rows = [trend_row(t, name(int(t.topic))) for t in trends]
    scored = [(int(k), it.score) for it, k in zip(clusters.items_, clusters.labels_) if it.score is not None]
    drivers = score_drivers(scored, ignore=[OUTLIER]) if len(scored) >= 10 else []
    driver_rows = [{"kind": "complaint", "id": d.topic, "label": name(int(d.topic)),
                    **{k: v for k, v in asdict(d).items() if k != "topic"}} for d in drivers]
    files = {"complaints": write_csv(out_dir / "complaints.csv", complaints, COMPLAINT_COLUMNS),
             "documents": write_csv(out_dir / "documents.csv", docs),
             "trends": write_csv(out_dir / "trends.csv", trend_rows, TREND_COLUMNS),
             "drivers": write_csv(out_dir / "drivers.csv", driver_rows, DRIVER_COLUMNS)}
    n = len(clusters.items_)
    summary = {"complaints": n, "sources": len({it.source_id for it in clusters.items_}),
               "recurring_complaints": len(cm),
               "not_recurring_share": round(float((clusters.labels_ == OUTLIER).mean()), 4) if n else 0.0,
               "top_complaints": [{"complaint": c.id, "label": c.label, "cases": c.sources, "texts": c.size,
                                   "mean_score": c.mean_score, "quote": c.quotes[0] if c.quotes else None}
                                  for c in list(cm.values())[:5]],
               "latest_period": trends[-1].period.isoformat() if trends else None,
               "rises": [change_row(t, name(int(t.topic))) for t in significant_changes(trends, "up", 10)],
               "drops": [change_row(t, name(int(t.topic))) for t in significant_changes(trends, "down", 10)],
               "emerging": _emerging_now(trends),
               "drivers": [r for r in driver_rows if r["significant"]][:5]}
    (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    rows = [ReportRow(source=it.source_id, topic=int(k), created_at=it.created_at, channel=it.channel, team=it.team,
                      score=it.score, complaint=int(k), negative=True) for it, k in zip(clusters.items_, clusters.labels_)]
    topics = [ReportTopic(id=c.id, name=c.label, keywords=c.keywords, quotes=c.quotes) for c in cm.values()]
    complaints_r = [ReportComplaint(id=c.id, label=c.label, keywords=c.keywords, quotes=c.quotes) for c in cm.values()]
    (out_dir / "report.html").write_text(render_feedback_report(rows, topics, complaints_r, title="Quejas recurrentes",
                                                                freq=freq), encoding="utf-8")
    files.update(summary=out_dir / "summary.json", report=out_dir / "report.html")
    return files


# ================================================================== use cases (CLI, API, worker)
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")
PERIODS = ("day", "week", "month")


def check_period(period: str, field: str = "period") -> str:
    if period not in PERIODS:
        raise InvalidInputError(f"{field} {period!r}: use day, week or month", field)
    return period


def check_model_id(value: str, field: str) -> str:
    """A topic model or report id as the API names them (never a path)."""
    if not _MODEL_ID.match(value):
        raise InvalidInputError(f"{value!r} is not a model id (letters, digits, '.', '_', '-')", field)
    return value


def new_id(prefix: str) -> str:
    return f"{prefix}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def api_model_dir(rt: Runtime, model_id: str) -> Path:
    """Where a topic model fitted through the API is kept."""
    return rt.settings.data_dir / "topics" / check_model_id(model_id, "model_id")


def api_report_dir(rt: Runtime, report_id: str) -> Path:
    """Where the files of an API topic fit or complaint analysis are kept."""
    return rt.settings.data_dir / "reports" / check_model_id(report_id, "report_id")


def check_comments(rt: Runtime, comments: Sequence[Comment], field: str = "comments") -> None:
    """Limits and unique ids for comments sent to a fit."""
    s = rt.settings
    if len(comments) > s.max_topic_texts:
        raise LimitExceededError(f"too many items: {len(comments)} (limit {s.max_topic_texts}, QA_MAX_TOPIC_TEXTS)",
                                 field)
    for i, c in enumerate(comments):
        if len(c.text) > s.max_text_chars:
            raise LimitExceededError(f"text longer than {s.max_text_chars} characters", f"{field}[{i}].text")


def load_api_topic_model(rt: Runtime, model_id: str) -> TopicModel:
    d = api_model_dir(rt, model_id)
    if not (d / "manifest.json").exists():
        raise NotFoundError(f"topic model {model_id!r} not found")
    return rt.topic_model(d)


@dataclass
class TopicFit:
    """What a topic fit produced and where it was kept."""

    analysis: FeedbackAnalysis
    model_dir: Path
    files: dict[str, Path]


def fit_topics(rt: Runtime, comments: Sequence[Comment], out_dir: Path, model_dir: Path, version: str, *,
               source_name: str, period: str = "week", min_topic_size: int | str = "auto",
               nr_topics: int | str | None = "auto", reduce_outliers: bool = True,
               merge: Sequence[Sequence[int]] = (), refit: str | Path | None = None, seed: int = 42,
               title: str | None = None, progress: Progress | None = None,
               deadline: Deadline | None = None, min_period_count: int = 30,
               redacted: bool = False) -> TopicFit:
    """Fit topics on comments (or refit a saved model with stable ids), write the analysis files to ``out_dir``
    and the model to ``model_dir``; quotes are redacted when the deployment redacts PII.

    Args:
        nr_topics: ``"auto"`` (8-25 topics for a few thousand comments), a number, or ``None`` (as clustered).
        merge: groups of topic ids to merge (as this fit numbers them, or as ``refit``'s model does).
        refit: a saved topic model (path or version) whose ids and custom labels carry over.
        source_name: where the comments came from (recorded in the model's manifest).
        min_period_count: periods with fewer dated comments are thin (greyed out, never tested).
        redacted: the comments were already redacted record by record (a job's stored records); names that only
            the whole set reveals are still redacted here.
    """
    check_period(period)
    comments = list(comments)
    if not comments:
        raise InvalidInputError("no comments to fit topics on", "comments")
    ids = [c.id for c in comments]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise InvalidInputError(f"duplicate comment id {dup!r}", "comments")
    max_periods = rt.settings.max_trend_periods
    check_trend_span((c.created_at for c in comments), period, max_periods)  # type: ignore[arg-type]
    previous = rt.topic_model(refit) if refit is not None else None
    # Keywords, labels, quotes, the report and the saved model are all built from these texts: redact them
    # first (names of staff and customers, identifiers), each in its own language, then the names only the
    # whole set reveals (a member of staff thanked by name in many comments).
    stage = progress or (lambda *a: None)
    stage("languages", 0, len(comments))
    languages = comment_languages(rt, comments)
    originals = comments
    stage("redaction", 0, len(comments))
    if not redacted:
        comments = redact_comments(rt, comments, deadline, languages=languages)
    comments = redact_names_across(rt, originals, comments)
    stage("redaction", len(comments), len(comments))
    model = rt.new_topic_model(min_topic_size=min_topic_size, nr_topics=nr_topics, reduce_outliers=reduce_outliers,
                               seed=seed)
    analysis = analyse_comments(comments, model, rt.topic_sentiment(), freq=period, previous=previous,  # type: ignore[arg-type]
                                merge=merge if previous is None else (), progress=progress,
                                max_periods=max_periods, deadline=deadline, doc_languages=languages,
                                min_period_count=min_period_count)
    if previous is not None:
        for g in merge:
            analysis.topic_model.merge(g)
    check_deadline(deadline, "writing")
    stage("writing", 0, 1)
    files = analysis.write(out_dir, title=title)
    analysis.topic_model.save(model_dir, version, training_data=[
        {"source": source_name, "rows": len(comments), "licence": "the user's own data"}],
        metrics={"outlier_share": analysis.summary()["outlier_share"]})
    return TopicFit(analysis=analysis, model_dir=Path(model_dir), files=files)


def fit_topics_api(rt: Runtime, comments: Sequence[Comment] | None, source: str | None, since: datetime | None,
                   until: datetime | None, title: str, refit_id: str | None = None,
                   deadline: Deadline | None = None, **params: Any) -> tuple[str, TopicFit]:
    """A topic fit through the API: comments sent, or the stored comments of ``source`` in [since, until) (then
    each stored comment's topic is stored too); ``refit_id``: a model fitted through the API to refit. The
    model and report are kept under the data directory; returns the model id (also the report id) and the fit."""
    from qa_service.store.records import save_topic_assignments, stored_comments

    if bool(comments) == bool(source):
        raise InvalidInputError("give either comments or the source of stored comments", "comments")
    row_ids: list[int] | None = None
    if source:
        with rt.session() as s:
            stored = stored_comments(s, source, since, until, limit=rt.settings.max_topic_texts + 1)
        if not stored:
            raise InvalidInputError(f"no stored comments from source {source!r} in that period", "source")
        row_ids, comments = [i for i, _ in stored], [c for _, c in stored]
    comments = list(comments or [])
    check_comments(rt, comments)
    refit = None
    if refit_id is not None:
        load_api_topic_model(rt, refit_id)  # 404 when there is no such model
        refit = api_model_dir(rt, refit_id)
    model_id = new_id("topics")
    fit = fit_topics(rt, comments, api_report_dir(rt, model_id), api_model_dir(rt, model_id), model_id,
                     source_name="API request", title=title, refit=refit, deadline=deadline, **params)
    if row_ids is not None:
        tm, a = fit.analysis.topic_model, fit.analysis
        with rt.session() as s:
            save_topic_assignments(s, model_id, [(cid, int(t), tm.topic_name(int(t)), float(sim))
                                                 for cid, t, sim in zip(row_ids, a.topics, a.similarity)])
    return model_id, fit


def list_api_topic_models(rt: Runtime) -> list[dict[str, Any]]:
    """Topic models fitted through the API: id, created, number of topics and documents."""
    root = rt.settings.data_dir / "topics"
    out = []
    for d in sorted(root.glob("*/manifest.json")) if root.exists() else []:
        try:
            m = json.loads(d.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        out.append({"model_id": d.parent.name, "created": m.get("created"), "topics": len(m.get("labels", [])),
                    "documents": m.get("n_documents")})
    return out


def report_html(rt: Runtime, report_id: str) -> str:
    """The stored report page of an API topic fit or complaint analysis."""
    f = api_report_dir(rt, report_id) / "report.html"
    if not f.exists():
        raise NotFoundError(f"report {report_id!r} not found")
    return f.read_text(encoding="utf-8")


def tag_comments(model: TopicModel, texts: Sequence[str]) -> list[tuple[int, str, float]]:
    """(topic, topic label, similarity) per text with a fitted model, no refit (-1 = no topic)."""
    topics, sims = model.transform(list(texts))
    return [(int(t), model.topic_name(int(t)), round(float(s), 4)) for t, s in zip(topics, sims)]


def edit_topic_model(rt: Runtime, ref: str, edit: Callable[[TopicModel], Any]) -> Any:
    """Apply ``edit`` (label, merge) to a saved topic model and save it in place; returns what ``edit`` did."""
    from qa_service.bundles import resolve_bundle

    bundle = resolve_bundle(rt.settings.models_dir, "topics", ref)
    tm = TopicModel.load(bundle)
    out = edit(tm)
    m = tm.manifest_
    tm.save(bundle, m["version"], encoder_name=m["base_encoder"].get("name"),
            encoder_fingerprint=m["base_encoder"].get("fingerprint"), training_data=m.get("training_data"),
            metrics=m.get("metrics"))
    return out


def show_topic_model(rt: Runtime, ref: str) -> list[Any]:
    """A saved model's topics, largest first."""
    from qa_service.bundles import resolve_bundle

    tm = TopicModel.load(resolve_bundle(rt.settings.models_dir, "topics", ref))
    return sorted(tm.topics_.values(), key=lambda t: -t.size)


def find_complaints(rt: Runtime, out_dir: Path, comments: Sequence[Comment] = (),
                    transcripts: Sequence[Transcript] = (), period: str = "week",
                    min_topic_size: int | str = "auto", seed: int = 42, title: str | None = None,
                    deadline: Deadline | None = None
                    ) -> tuple[list[ComplaintItem], ComplaintClusters, dict[str, Path]]:
    """Recurring complaints in negative comments or complaining customer turns: clusters, their trends, and the
    files (complaints.csv, documents.csv, trends.csv, drivers.csv, summary.json, report.html) in ``out_dir``."""
    check_period(period)
    comments = list(comments)
    languages = comment_languages(rt, comments) if comments else []
    # complaint keywords, labels and quotes come from these
    comments = redact_names_across(rt, comments, redact_comments(rt, comments, deadline, languages=languages))
    transcripts = redact_transcripts(rt, transcripts, deadline)
    check_deadline(deadline, "sentiment")
    items = select_complaints(rt.topic_sentiment(), comments=comments, transcripts=transcripts)
    if not items:
        raise InvalidInputError("no complaints found in the input (no negative comments or customer turns)",
                                "comments" if comments or not transcripts else "transcripts")
    max_periods = rt.settings.max_trend_periods
    check_trend_span((it.created_at for it in items), period, max_periods)  # type: ignore[arg-type]
    model = rt.new_topic_model(min_topic_size=min_topic_size, seed=seed)
    check_deadline(deadline, "complaints")
    lang_of = dict(zip((c.id for c in comments), languages)) | {t.id: t.language for t in transcripts}
    clusters, trends = analyse_complaints(items, model, freq=period, max_periods=max_periods,  # type: ignore[arg-type]
                                          sentiment=rt.topic_sentiment(),
                                          doc_languages=[lang_of.get(it.source_id) for it in items])
    check_deadline(deadline, "writing")
    files = complaint_outputs(clusters, trends, out_dir, freq=period)  # type: ignore[arg-type]
    return items, clusters, files


def find_complaints_api(rt: Runtime, comments: Sequence[Comment], transcripts: Sequence[Transcript], period: str,
                        min_topic_size: int | str, deadline: Deadline | None = None
                        ) -> tuple[str, list[ComplaintItem], ComplaintClusters]:
    """Complaints through the API: the report is kept under the data directory; returns its id."""
    if len(comments) + len(transcripts) > rt.settings.max_topic_texts:
        raise LimitExceededError(f"too many items: {len(comments) + len(transcripts)} "
                                 f"(limit {rt.settings.max_topic_texts}, QA_MAX_TOPIC_TEXTS)", "comments")
    check_comments(rt, comments)
    limit = rt.settings.max_text_chars
    for i, t in enumerate(transcripts):
        for j, turn in enumerate(t.turns):
            if len(turn.text) > limit:
                raise LimitExceededError(f"text longer than {limit} characters (QA_MAX_TEXT_CHARS)",
                                         f"transcripts[{i}].turns[{j}].text")
    report_id = new_id("complaints")
    items, clusters, _ = find_complaints(rt, api_report_dir(rt, report_id), comments, transcripts, period,
                                         min_topic_size, deadline=deadline)
    return report_id, items, clusters
