"""Score transcripts against a rubric: every criterion with evidence, confidence, N/A and auto-fail.

Detectors (see the rubric format and ``detectors.py``, where each ``type`` name maps to a class): ``pattern`` and
``pii`` (deterministic), ``metric`` (conversation timing), ``semantic`` (similarity between turns in scope and the
criterion's example phrases, cross-lingual through the multilingual encoder) and ``sentiment`` (customer start
vs end).

Rules:
* a criterion with ``expect: absent`` detectors fails when any of them finds something;
* a ``metric`` detector fails the criterion when the metric is beyond its bound;
* otherwise the criterion passes when any ``present`` detector finds evidence, and fails if none does;
* N/A conditions are checked first; N/A criteria are left out of every denominator;
* a failed ``critical`` criterion sets ``auto_fail``; the rubric's ``on_auto_fail`` then decides the total:
  ``zero`` (default) sets it to 0, ``keep`` keeps the computed total (section scores are computed either way);
* every piece of evidence is verified against the transcript as read: its turn and offsets are recomputed by
  searching the quote in the source turn (``evidence.verify_evidence``); a quote found elsewhere is moved there,
  and a mismatch or a quote not found flags the criterion ``needs_review`` with the reason in
  ``review_reasons``, as does low confidence or low measured agreement;
* a fail without evidence cites the closest candidate a detector saw ("closest: turn 12, 0.41");
* quoted identifiers are masked to their last 4 characters at most, in evidence and rationale alike.

Semantic thresholds are uncalibrated defaults until ``eval/`` fits them on labelled transcripts.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from qa_service.errors import InvalidInputError
from qa_service.pipelines.rubric.detectors import (DEFAULT_SEMANTIC_THRESHOLD, DETECTORS, PII_ENTITY_NAMES,
                                                   DetectionContext, Detector)
from qa_service.pipelines.rubric.evidence import TurnMasker, verify_evidence
from qa_service.pipelines.rubric.metrics import conversation_metrics
from qa_service.text.normalize import is_blank, normalise_for_sentiment
from qa_service.text.sentences import sentence_spans
from qa_service.schemas import (ConversationMetrics, Criterion, CriterionResult, Evidence, Probabilities, Rubric,
                                RubricRef, ScoreResult, SectionScore, SentimentResult, SentimentTrajectory,
                                Transcript, compile_pattern)

_ESCALATION_REQUEST = re.compile(
    r"\b(supervisor|supervisora|responsable|encargad[oa]|jefe|jefa|manager|gerente|superior)\b|"
    r"hablar con (alguien|otra persona)|speak (to|with) (someone|somebody) else|escalat", re.IGNORECASE)
_HOLD_WORDS = re.compile(r"\b(espera|esperar|hold|holding|un momento|one moment)\b", re.IGNORECASE)

_TEXT = {
    "es": {"pass": "Cumple", "fail": "No cumple", "na": "No aplica", "turn": "turno",
           "no_evidence": "no se encontró evidencia en los turnos evaluados",
           "customer_never_negative": "el cliente no muestra sentimiento negativo",
           "no_hold": "no hay espera en la conversación", "no_escalation_request": "el cliente no pide escalado",
           "chat_channel": "es un chat", "call_channel": "es una llamada",
           "found_absent": "se encontró lo que no debe aparecer", "metric": "métrica fuera de rango",
           "review": "requiere revisión", "closest": "más cercano: {turn} {i}, {score:.2f}",
           "low_confidence": "confianza {value:.2f} < {min:.2f}", "low_kappa": "kappa medido {value:.2f} < {min:.2f}"},
    "en": {"pass": "Pass", "fail": "Fail", "na": "N/A", "turn": "turn",
           "no_evidence": "no evidence found in the turns in scope",
           "customer_never_negative": "the customer never shows negative sentiment",
           "no_hold": "there is no hold in the conversation", "no_escalation_request": "no escalation was requested",
           "chat_channel": "this is a chat", "call_channel": "this is a call",
           "found_absent": "found what must not appear", "metric": "metric out of range",
           "review": "needs review", "closest": "closest: {turn} {i}, {score:.2f}",
           "low_confidence": "confidence {value:.2f} < {min:.2f}", "low_kappa": "measured kappa {value:.2f} < {min:.2f}"},
}


# N/A condition -> the detector type that can decide it from the conversation (see ``_na_reason``).
_NA_DETECTOR = {"no_hold": "hold", "customer_never_negative": "empathy", "no_escalation_request": "escalation"}


class RubricScorer:
    """Scores transcripts against one rubric.

    Args:
        rubric: the validated rubric.
        encoder: sentence encoder for ``semantic`` detectors (None: they abstain).
        sentiment: sentiment pipeline for N/A conditions and the sentiment trajectory (None: unknown).
        min_confidence: below this a criterion is flagged ``needs_review``.
        hold_seconds: a gap at least this long counts as a hold.
        thresholds: calibrated semantic thresholds by criterion id (defaults otherwise).
        kappa: measured agreement with human labels by criterion id; criteria below ``min_kappa`` are
            flagged ``needs_review`` so analysts see which criteria the machine can be trusted on.
        detectors: detector ``type`` name -> implementation (default: ``detectors.DETECTORS``).
        classifiers: trained criterion classifiers by model name, for ``learned`` detectors (which abstain
            without them, leaving the decision to the criterion's other detectors).
        review_below: calibrated confidence below which a criterion is flagged ``needs_review``, by criterion id
            (``min_confidence`` otherwise).
        versions: model versions to report in every result (e.g. ``{"rubric:default-es": "1.1.0"}``, the
            calibration's); the sentiment model's own version is added.
    """

    def __init__(self, rubric: Rubric, encoder: Any = None, sentiment: Any = None, min_confidence: float = 0.6,
                 hold_seconds: float = 30.0, thresholds: dict[str, float] | None = None,
                 kappa: dict[str, float] | None = None, min_kappa: float = 0.6,
                 detectors: dict[str, Detector] | None = None, classifiers: dict[str, Any] | None = None,
                 review_below: dict[str, float] | None = None, versions: dict[str, str] | None = None) -> None:
        self.rubric = rubric
        self.encoder = encoder
        self.sentiment = sentiment
        self.min_confidence = min_confidence
        self.hold_seconds = hold_seconds
        self.thresholds = thresholds or {}
        self.kappa = kappa or {}
        self.min_kappa = min_kappa
        self.detectors = detectors if detectors is not None else DETECTORS
        self.classifiers = classifiers or {}
        self.review_below = review_below or {}
        self.versions = dict(versions or {})
        if getattr(sentiment, "version", None):
            self.versions["sentiment"] = sentiment.version
        self._examples: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        _check_pii_entities(rubric)
        # Every pattern compiled once per scorer (RE2: matching is linear in the text, whatever the pattern).
        self.patterns_ = {p: compile_pattern(p) for s in rubric.sections for c in s.criteria for d in c.detectors
                          for p in [*d.patterns, *(q for cue in d.cues.values() for q in cue)]}

    # ------------------------------------------------------------------ helpers
    def _example_vectors(self, c: Criterion) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of the pass and fail examples, computed once per rubric version."""
        if c.id not in self._examples:
            dim = getattr(self.encoder, "dim", 1)
            p = self.encoder.encode(c.examples.pass_) if c.examples.pass_ else np.zeros((0, dim), np.float32)
            f = self.encoder.encode(c.examples.fail) if c.examples.fail else np.zeros((0, dim), np.float32)
            self._examples[c.id] = (p, f)
        return self._examples[c.id]

    @staticmethod
    def scope_turns(t: Transcript, c: Criterion) -> list[int]:
        idx = [i for i, turn in enumerate(t.turns) if c.scope.speaker in ("any", turn.speaker)]
        if c.scope.position == "first":
            return idx[: c.scope.n]
        if c.scope.position == "last":
            return idx[-c.scope.n :] if c.scope.n else idx
        return idx

    def _na_reason(self, t: Transcript, c: Criterion, metrics: ConversationMetrics,
                   customer_labels: list[str] | None, ctx: DetectionContext | None = None) -> str | None:
        for cond in c.na_when:
            # A conversation detector that knows the condition decides it (a hold detector: is there a hold?
            # an empathy detector: is the customer upset?), so N/A and the criterion's own reading agree.
            hook = _NA_DETECTOR.get(cond)
            spec = next((d for d in c.detectors if d.type == hook), None) if hook and ctx is not None else None
            if spec is not None and hasattr(self.detectors[spec.type], "applies"):
                if (cond != "customer_never_negative" or ctx.turn_sentiment is not None) \
                        and not self.detectors[spec.type].applies(spec, ctx):
                    return cond
                continue
            if cond == "chat_channel" and t.channel == "chat":
                return cond
            if cond == "call_channel" and t.channel == "call":
                return cond
            if cond == "customer_never_negative" and customer_labels is not None and "negative" not in customer_labels:
                return cond
            if cond == "no_escalation_request" and not any(
                    _ESCALATION_REQUEST.search(turn.text) for turn in t.turns if turn.speaker == "customer"):
                return cond
            if cond == "no_hold":
                if metrics.holds is not None:
                    if metrics.holds == 0:
                        return cond
                elif not any(_HOLD_WORDS.search(turn.text) for turn in t.turns if turn.speaker == "agent"):
                    return cond
        return None

    # ------------------------------------------------------------------- scoring
    def score(self, transcript: Transcript) -> ScoreResult:
        """Score one transcript."""
        return self.score_many([transcript])[0]

    def _needs(self, flag: str) -> bool:
        return any(getattr(self.detectors[d.type], flag, False) for s in self.rubric.sections for c in s.criteria
                   for d in c.detectors)

    def _turn_vectors(self, transcripts: Sequence[Transcript]) -> tuple[list[np.ndarray | None], list[np.ndarray | None]]:
        """One embedding per turn of every transcript (one encoder batch over all of them; zero rows for blank
        turns) and, with a sentiment model, P(negative, neutral, positive) of every agent and customer turn.

        The turn embeddings are also the sentiment model's input when it uses this scorer's encoder (each turn is
        embedded once), so sentiment on every turn costs the head alone."""
        n = len(transcripts)
        vecs: list[np.ndarray | None] = [None] * n
        sent: list[np.ndarray | None] = [None] * n
        want_vecs = self.encoder is not None and self._needs("needs_turns")
        want_sent = self.sentiment is not None
        if not (want_vecs or want_sent):
            return vecs, sent
        keys = [(i, j) for i, t in enumerate(transcripts) for j, turn in enumerate(t.turns)
                if turn.speaker != "system" and not is_blank(turn.text)]
        texts = [normalise_for_sentiment(transcripts[i].turns[j].text) for i, j in keys]
        shared = want_sent and getattr(self.sentiment, "encoder_", None) is self.encoder and hasattr(
            self.sentiment, "predict_proba_embeddings")
        x = None
        if want_vecs or shared:
            x = self.encoder.encode(texts) if texts else np.zeros((0, getattr(self.encoder, "dim", 1)), np.float32)
        probs = None
        if want_sent and keys:
            langs = [transcripts[i].language or self.rubric.language for i, _ in keys]
            probs = self.sentiment.predict_proba_embeddings(x, langs) if shared \
                else self.sentiment.predict_proba(texts, langs)
        for i, t in enumerate(transcripts):
            if x is not None and want_vecs:
                vecs[i] = np.zeros((len(t.turns), x.shape[1]), np.float32)
            if want_sent:
                sent[i] = np.full((len(t.turns), 3), np.nan, np.float32)
        for k, (i, j) in enumerate(keys):
            if vecs[i] is not None:
                vecs[i][j] = x[k]
            if probs is not None:
                sent[i][j] = probs[k]
        return vecs, sent

    def score_many(self, transcripts: Sequence[Transcript]) -> list[ScoreResult]:
        """Score several transcripts, batching the encoder and the sentiment model over all their turns."""
        vecs, turns = self._prepare(transcripts)
        return [self._score_one(t, vecs[i], turns[i]) for i, t in enumerate(transcripts)]

    def criterion_results(self, transcripts: Sequence[Transcript], criterion_id: str) -> list[CriterionResult]:
        """One criterion's result for each transcript (what calibrating that criterion's threshold needs, without
        scoring the others)."""
        section, crit = next((s.id, c) for s in self.rubric.sections for c in s.criteria if c.id == criterion_id)
        vecs, turns = self._prepare(transcripts)
        words = _TEXT[self.rubric.language]
        out = []
        for i, t in enumerate(transcripts):
            cust = self._customer_sentiment(t, turns[i][1])
            out.append(self._criterion(t, section, crit, vecs[i], conversation_metrics(t, self.hold_seconds),
                                       [r.label for _, r in cust] if cust is not None else None, words,
                                       TurnMasker(t), *turns[i]))
        return out

    def _prepare(self, transcripts: Sequence[Transcript]) -> tuple[list[tuple | None], list[tuple]]:
        """Per transcript: (sentence spans, their vectors) or None, and (turn embeddings, turn sentiment
        probabilities), each None when absent."""
        # Semantic evidence is a sentence: embed every sentence of every turn once, in one batch.
        sent_index: list[list[tuple[int, int, int]] | None] = [None] * len(transcripts)
        sent_vecs: list[np.ndarray | None] = [None] * len(transcripts)
        if self.encoder is not None and self._needs("needs_sentences"):
            texts: list[str] = []
            for i, t in enumerate(transcripts):
                spans = [(j, a, b) for j, turn in enumerate(t.turns) for a, b in sentence_spans(turn.text)]
                sent_index[i] = spans
                texts += [t.turns[j].text[a:b] for j, a, b in spans]
            vecs = self.encoder.encode(texts) if texts else np.zeros((0, 1), np.float32)
            k = 0
            for i in range(len(transcripts)):
                n = len(sent_index[i] or [])
                sent_vecs[i] = vecs[k : k + n]
                k += n
        turn_vecs, turn_sent = self._turn_vectors(transcripts)
        return [(sent_index[i], sent_vecs[i]) if sent_vecs[i] is not None else None
                for i in range(len(transcripts))], list(zip(turn_vecs, turn_sent))

    def _customer_sentiment(self, t: Transcript, turn_sent: np.ndarray | None) -> list | None:
        """(turn index, sentiment result) of every non-blank customer turn, None without a sentiment model."""
        if turn_sent is None:
            return None
        version = getattr(self.sentiment, "version", None)
        return [(j, _sentiment_result(turn_sent[j], t.language or self.rubric.language, version))
                for j, turn in enumerate(t.turns) if turn.speaker == "customer" and not np.isnan(turn_sent[j, 0])]

    def _score_one(self, t: Transcript, vecs: tuple | None, turns: tuple) -> ScoreResult:
        """``turns``: (turn embeddings, P(negative, neutral, positive) of every turn), each None when absent."""
        lang = self.rubric.language
        words = _TEXT[lang]
        metrics = conversation_metrics(t, self.hold_seconds)
        cust_sent = self._customer_sentiment(t, turns[1])
        customer_labels = [r.label for _, r in cust_sent] if cust_sent is not None else None
        results: list[CriterionResult] = []
        masker = TurnMasker(t)
        for s in self.rubric.sections:
            for c in s.criteria:
                results.append(self._criterion(t, s.id, c, vecs, metrics, customer_labels, words, masker, *turns))
        section_scores, total = rubric_totals(self.rubric, {r.id: r.score for r in results})
        sections = [SectionScore(id=s.id, name=s.name, score=None if sc is None else round(sc, 2), weight=s.weight)
                    for s, sc in zip(self.rubric.sections, section_scores)]
        auto_fail_reasons = [f"{r.id}: {r.rationale}" for r in results if r.critical and r.result == "fail"]
        total = policy_total(self.rubric, total, bool(auto_fail_reasons))
        return ScoreResult(
            id=t.id, rubric=RubricRef(id=self.rubric.id, version=self.rubric.version),
            total=None if total is None else round(total, 2),
            auto_fail=bool(auto_fail_reasons), auto_fail_reasons=auto_fail_reasons,
            needs_review=any(r.needs_review for r in results), sections=sections, criteria=results,
            metrics=metrics, sentiment=sentiment_trajectory(cust_sent), language=t.language or lang,
            model_versions=self.versions)

    def _criterion(self, t: Transcript, section: str, c: Criterion, vecs: tuple | None,
                   metrics: ConversationMetrics, customer_labels: list[str] | None, words: dict,
                   masker: TurnMasker, turn_vecs: np.ndarray | None = None,
                   turn_sent: np.ndarray | None = None) -> CriterionResult:
        scope = self.scope_turns(t, c)
        ctx = DetectionContext(transcript=t, criterion=c, scope=scope, metrics=metrics,
                               customer_labels=customer_labels, sentences=vecs,
                               example_vectors=self._example_vectors if self.encoder is not None else None,
                               calibrated_threshold=self.thresholds.get(c.id), patterns=self.patterns_,
                               turn_vectors=turn_vecs, turn_sentiment=turn_sent, classifiers=self.classifiers,
                               hold_seconds=self.hold_seconds)
        na = self._na_reason(t, c, metrics, customer_labels, ctx)
        if na:
            return CriterionResult(id=c.id, section=section, result="na", score=None, confidence=0.9,
                                   critical=c.critical, rationale=f"{words['na']}: {words[na]}")
        present: list[Evidence] = []
        absent_hits: list[Evidence] = []
        confidences: list[float] = []
        metric_fail: str | None = None
        abstained = False
        verdict: tuple[str, float, list[Evidence], Evidence | None] | None = None
        deferred: set[int] = set()
        closest: list[Evidence] = []
        for d in c.detectors:
            detector = self.detectors[d.type]
            found = detector.detect(d, ctx)
            ctx.findings.append((d, found))
            if found.verdict is not None and found.confidence is not None:
                verdict = (found.verdict, found.confidence, found.evidence, found.closest)
                continue
            if found.abstained:
                if getattr(detector, "defers", False):  # a learned detector without a model: as if absent
                    deferred.add(id(d))
                    continue
                abstained = True
                continue
            if found.confidence is None:
                continue
            if found.failure:
                metric_fail = found.failure
            if found.closest is not None:
                closest.append(found.closest)
            confidences.append(found.confidence)
            (absent_hits if d.expect == "absent" else present).extend(found.evidence)
        has_present_detectors = any(d.expect == "present" and self.detectors[d.type].gives_evidence
                                    and id(d) not in deferred for d in c.detectors)
        if absent_hits:
            result, evidence, why = "fail", absent_hits, words["found_absent"]
        elif metric_fail:
            result, evidence, why = "fail", present, f"{words['metric']} ({metric_fail})"
        elif present or not has_present_detectors:
            result, evidence, why = "pass", present, ""
        else:
            result, evidence, why = "fail", [], words["no_evidence"]
        if verdict is not None:  # a trained classifier decides, on the other detectors' findings
            result, evidence = verdict[0], verdict[2]
            why = words["no_evidence"] if result == "fail" and not evidence else ""
            if verdict[3] is not None:  # the window it found most telling is the closest candidate of a fail
                closest = [verdict[3]]
        lang = self.rubric.language
        problems: list[str] = []
        checked: list[Evidence] = []
        for e in evidence:
            fixed, problem = verify_evidence(t, e, lang)
            checked.append(fixed)
            if problem:
                problems.append(problem)
        near = None
        if result == "fail" and not evidence and closest:
            near, problem = verify_evidence(t, max(closest, key=lambda e: e.similarity or 0.0), lang)
            if problem:
                problems.append(problem)
            near = masker(near)
            why += " (" + words["closest"].format(turn=words["turn"], i=near.turn, score=near.similarity or 0.0) + ")"
        # Verified against the transcript, evidence is then stored and shown: identifiers keep their last 4
        # characters at most (offsets still point at the transcript, where the full text is, or its tag).
        evidence = [masker(e) for e in checked]
        confidence = max(confidences) if result == "pass" and present else (min(confidences) if confidences else 0.5)
        if abstained and not confidences:
            confidence = 0.0
        if verdict is not None:
            confidence = verdict[1]
        reasons = list(dict.fromkeys(problems))
        review_below = self.review_below.get(c.id, self.min_confidence)
        if confidence < review_below:
            reasons.append(words["low_confidence"].format(value=confidence, min=review_below))
        if c.id in self.kappa and self.kappa[c.id] < self.min_kappa:
            reasons.append(words["low_kappa"].format(value=self.kappa[c.id], min=self.min_kappa))
        needs_review = bool(reasons)
        rationale = words[result]
        if evidence:
            e = evidence[0]
            rationale += f": «{e.text}» ({words['turn']} {e.turn})"
        elif why:
            rationale += f": {why}"
        if needs_review:
            rationale += f" [{words['review']}: {'; '.join(reasons)}]"
        scale = _scale_score(result, evidence, self.thresholds.get(c.id, DEFAULT_SEMANTIC_THRESHOLD)) \
            if c.kind == "scale" else None
        return CriterionResult(id=c.id, section=section, result=result,
                               score=(scale - 1) / 4 if scale is not None else (1.0 if result == "pass" else 0.0),
                               scale_score=scale, confidence=round(float(confidence), 3), needs_review=needs_review,
                               review_reasons=reasons, critical=c.critical, evidence=evidence[:5], closest=near,
                               rationale=rationale)


def _check_pii_entities(rubric: Rubric) -> None:
    """A ``pii`` detector naming an entity the detector does not know would silently find nothing: refuse it."""
    for i, s in enumerate(rubric.sections):
        for j, c in enumerate(s.criteria):
            for k, d in enumerate(c.detectors):
                for m, e in enumerate(d.entities if d.type == "pii" else []):
                    if e not in PII_ENTITY_NAMES:
                        raise InvalidInputError(
                            f"sections[{i}].criteria[{j}].detectors[{k}].entities[{m}]: unknown pii entity {e!r} "
                            f"(known: {', '.join(PII_ENTITY_NAMES)})", "rubric")


def rubric_totals(rubric: Rubric, scores: dict[str, float | None]) -> tuple[list[float | None], float | None]:
    """Section scores and the total (0-100) from criterion scores (0..1, None = N/A), N/A left out of every
    denominator and sections with only N/A criteria left out of the total."""
    section_scores: list[float | None] = []
    weighted = weights = 0.0
    for s in rubric.sections:
        rs = [(scores[c.id], c.weight) for c in s.criteria if scores.get(c.id) is not None]
        if not rs:
            section_scores.append(None)
            continue
        sc = sum(v * w for v, w in rs) / sum(w for _, w in rs)
        section_scores.append(100 * sc)
        weighted += sc * s.weight
        weights += s.weight
    return section_scores, (100 * weighted / weights if weights else None)


def policy_total(rubric: Rubric, total: float | None, auto_fail: bool) -> float | None:
    """The total reported under the rubric's auto-fail policy: 0 when a critical criterion failed and
    ``on_auto_fail`` is ``zero`` (the default), else the computed total."""
    if auto_fail and rubric.on_auto_fail == "zero":
        return 0.0
    return total


def _scale_score(result: str, evidence: list[Evidence], threshold: float) -> int:
    """1-5 for ``scale`` criteria: 1 on a fail; on a pass, 5 for a pattern/PII hit, else from how far the best
    semantic similarity clears the threshold (threshold -> 3, threshold + 0.3 or more -> 5)."""
    if result != "pass":
        return 1
    if not evidence or any(e.detector in ("pattern", "pii") for e in evidence):
        return 5
    best = max(e.similarity or 0.0 for e in evidence)
    return int(min(5, 3 + round((best - threshold) / 0.15)))


def _sentiment_result(p: np.ndarray, language: str, version: str | None = None) -> SentimentResult:
    """A turn's sentiment from its calibrated probabilities (negative, neutral, positive)."""
    p = np.clip(p.astype(float), 0.0, 1.0)
    p = p / p.sum()
    return SentimentResult(label=_SENTIMENT_LABELS[int(np.argmax(p))], score=round(float(p[2] - p[0]), 4),
                           probabilities=Probabilities(negative=round(float(p[0]), 4), neutral=round(float(p[1]), 4),
                                                       positive=round(float(p[2]), 4)),
                           language=language, model_version=version)


_SENTIMENT_LABELS = ("negative", "neutral", "positive")
TREND_DELTA = 0.2
"""A marked change of the customer's sentiment score (-1..1): start vs end, fitted change, depth of a dip."""


def sentiment_trajectory(points: Sequence[tuple[int, Any]] | None) -> SentimentTrajectory:
    """The customer's sentiment over every customer turn: ``points`` are (turn index, result with ``label`` and
    ``score``) in turn order.

    start / end: the first and last customer turns; worst: the lowest score (the earliest on a tie) and its turn
    index; slope: least-squares score change per customer turn (None with fewer than 2). ``trend``, with
    change = end - start, fitted = slope * (turns - 1) and D = ``TREND_DELTA``:

    * ``worsened``: change < -D (the customer ends markedly lower than they started);
    * ``recovered``: otherwise, when a turn between the first and the last is ``negative`` and more than D below
      both the start and the end (a mid-call complaint that the two ends hide);
    * ``improved``: otherwise, when change > D and fitted > D (both the ends and the trend over every turn rise);
    * ``unchanged``: anything else (one customer turn included); ``unknown``: no customer turn was scored.

    ``trajectory`` keeps the original vocabulary: the same as ``trend``, except that ``recovered`` is
    ``unchanged`` there (never ``improved``).
    """
    if not points:
        return SentimentTrajectory()
    turns = [j for j, _ in points]
    results = [r for _, r in points]
    scores = np.array([float(r.score) for r in results])
    n = len(scores)
    start, end = scores[0], scores[-1]
    w = int(np.argmin(scores))
    slope = None
    if n >= 2:
        x = np.arange(n, dtype=float)
        slope = float(np.sum((x - x.mean()) * (scores - scores.mean())) / np.sum((x - x.mean()) ** 2))
    change = end - start
    fitted = slope * (n - 1) if slope is not None else 0.0
    dipped = False
    if n >= 3:
        m = 1 + int(np.argmin(scores[1:-1]))
        dipped = results[m].label == "negative" and scores[m] < min(start, end) - TREND_DELTA
    if change < -TREND_DELTA:
        trend = "worsened"
    elif dipped:
        trend = "recovered"
    elif change > TREND_DELTA and fitted > TREND_DELTA:
        trend = "improved"
    else:
        trend = "unchanged"
    return SentimentTrajectory(
        start=results[0].label, end=results[-1].label, start_score=results[0].score, end_score=results[-1].score,
        trajectory="unchanged" if trend == "recovered" else trend, customer_turns=n, worst=results[w].label,
        worst_score=results[w].score, worst_turn=turns[w], slope=None if slope is None else round(slope, 4),
        trend=trend)
