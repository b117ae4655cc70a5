"""Rubric detectors: one class per detector ``type`` of the rubric format, picked by name from ``DETECTORS``.

A detector looks at the turns in a criterion's scope and returns a :class:`Finding`: evidence, how sure it is,
and (for bounds such as metrics and sentiment) a failure reason. Every piece of evidence is an
:class:`~qa_service.schemas.Evidence` whose ``text`` is exactly ``transcript.turns[turn].text[start_char:end_char]``,
so a reviewer can jump to it and the scorer can verify it before returning a result.

Adding a detector type: write a class with ``gives_evidence`` and ``detect`` and add it to ``DETECTORS`` (and to
``DetectorType`` in ``schemas.py`` so rubrics may name it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, ClassVar, Iterable, Mapping, Protocol

import numpy as np

from qa_service.schemas import ConversationMetrics, Criterion, Evidence, Transcript, compile_pattern
from qa_service.schemas import Detector as DetectorSpec
from qa_service.text.credentials import CREDENTIAL_KINDS, find_credential_requests
from qa_service.text.identifiers import find_identifiers, strongest
from qa_service.text.pii import IDENTIFIER_ENTITIES, TAGS

DEFAULT_SEMANTIC_THRESHOLD = 0.55

# ----------------------------------------------------------------------------- contract
SentenceVectors = tuple[list[tuple[int, int, int]], np.ndarray]
"""(turn, start_char, end_char) of every sentence of a transcript, and their embeddings (one row each)."""


@dataclass(frozen=True)
class DetectionContext:
    """What a detector may look at for one criterion of one transcript.

    Attributes:
        transcript: the transcript being scored.
        criterion: the criterion being decided.
        scope: indices of the turns in the criterion's scope.
        metrics: the transcript's conversation metrics.
        customer_labels: sentiment label of each customer turn (None: no sentiment model).
        sentences: sentence spans and embeddings (None: no encoder, semantic detectors abstain).
        example_vectors: embeddings of a criterion's pass and fail examples.
        calibrated_threshold: the semantic threshold fitted for this criterion, if any.
        patterns: the rubric's patterns compiled once by the scorer (pattern text -> compiled RE2 pattern);
            a pattern missing here is compiled on use.
    """

    transcript: Transcript
    criterion: Criterion
    scope: list[int]
    metrics: ConversationMetrics
    customer_labels: list[str] | None = None
    sentences: SentenceVectors | None = None
    example_vectors: Callable[[Criterion], tuple[np.ndarray, np.ndarray]] | None = None
    calibrated_threshold: float | None = None
    patterns: Mapping[str, Any] | None = None


@dataclass
class Finding:
    """What one detector found.

    Attributes:
        evidence: spans found (for ``expect: absent`` detectors, what must not appear).
        confidence: how sure the detector is; None when it could not decide (left out of the criterion's
            confidence).
        failure: set when a bound is crossed (a metric out of range, sentiment worsening): fails the criterion.
        abstained: the detector lacks what it needs (no encoder, no sentiment model).
        closest: when nothing cleared the bar, the best candidate below it (with its ``similarity``), so a fail
            can point the analyst at the nearest miss.
    """

    evidence: list[Evidence] = field(default_factory=list)
    confidence: float | None = None
    failure: str | None = None
    abstained: bool = False
    closest: Evidence | None = None


class Detector(Protocol):
    """One detector type of the rubric format."""

    gives_evidence: ClassVar[bool]
    """Whether a ``present`` detector of this type passes a criterion by finding evidence (pattern, pii,
    semantic); types that only check bounds (metric, sentiment) do not."""
    needs_sentences: ClassVar[bool]
    """Whether it reads ``DetectionContext.sentences`` (the scorer embeds every sentence only when one does)."""

    def detect(self, spec: DetectorSpec, ctx: DetectionContext) -> Finding:
        """Run the detector described by ``spec`` on the context's scope."""
        ...


# ----------------------------------------------------------------------------- pattern
def pattern_evidence(transcript: Transcript, turn_ids: Iterable[int], patterns: Iterable[Any]) -> list[Evidence]:
    """Case-insensitive regular-expression matches in the given turns. ``patterns``: pattern strings (compiled
    here with :func:`~qa_service.schemas.compile_pattern`, RE2) or patterns compiled with it already."""
    compiled = [compile_pattern(p) if isinstance(p, str) else p for p in patterns]
    out = []
    for i in turn_ids:
        t = transcript.turns[i]
        for rx in compiled:
            for m in rx.finditer(t.text):
                if m.end() > m.start():
                    out.append(Evidence(turn=i, speaker=t.speaker, start_char=m.start(), end_char=m.end(),
                                        text=m.group(0), detector="pattern", label=rx.pattern))
    return out


class PatternDetector:
    """``pattern``: regular expressions (case-insensitive) in the turns in scope."""

    gives_evidence: ClassVar[bool] = True
    needs_sentences: ClassVar[bool] = False

    def detect(self, spec: DetectorSpec, ctx: DetectionContext) -> Finding:
        known = ctx.patterns or {}
        ev = pattern_evidence(ctx.transcript, ctx.scope, [known.get(p, p) for p in spec.patterns])
        return Finding(ev, 0.95 if ev else 0.6)


# ----------------------------------------------------------------------------- pii
DEFAULT_PII_ENTITIES = ("card_number", "dni_nie", "iban", "us_ssn")
# Rubric entity name -> identifier kinds (qa_service.text.identifiers); the entity name is the evidence label.
PII_ENTITIES: dict[str, tuple[str, ...]] = {
    "card_number": ("card_number",), "dni_nie": ("dni", "nie"), "iban": ("iban",), "us_ssn": ("us_ssn",),
    "curp": ("curp",), "rfc": ("rfc",), "clabe": ("clabe",), "cuit": ("cuit",), "cl_rut": ("cl_rut",),
    "ec_ci": ("ec_ci",), "pe_dni": ("pe_dni",), "ar_dni": ("ar_dni",), "co_cedula": ("co_cedula",),
}
# Entities that are requests for secrets (qa_service.text.credentials), not identifiers: asking for a card's
# security code, a PIN or a password (or saying one) is a violation whatever the number.
CREDENTIAL_ENTITIES = CREDENTIAL_KINDS
PII_ENTITY_NAMES = tuple(PII_ENTITIES) + CREDENTIAL_ENTITIES
_LABEL_OF_KIND = {kind: entity for entity, kinds in PII_ENTITIES.items() for kind in kinds}
# Tags left by PII redaction (qa_service/text/pii.py): in a stored, redacted transcript they stand for what was
# said, so reading a card out loud still counts.
_KIND_OF_TAG = {TAGS[entity][1:-1]: kind for entity, kind in IDENTIFIER_ENTITIES.items()}
_REDACTED = re.compile("<(" + "|".join(_KIND_OF_TAG) + ")>")
CONTEXT_TURNS = 2
"""How many turns before a turn may hold the word that says what a number is ("¿Me da su DNI?")."""


@lru_cache(maxsize=64)
def _kinds_of(entities: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(entities), frozenset(kind for entity in entities for kind in PII_ENTITIES.get(entity, ()))


def find_pii(text: str, entities: Iterable[str] = DEFAULT_PII_ENTITIES, *, context: str = "",
             language: str | None = None) -> list[tuple[int, int, str]]:
    """(start_char, end_char, entity) for every checksum-valid identifier in ``text`` (or its redaction tag), typed
    or read out loud, and every request for a secret among ``entities`` (``cvv``, ``pin``, ``password``).
    Overlapping identifiers are reduced to the strongest (:func:`~qa_service.text.identifiers.strongest`).

    ``context``: the turns before, where the word that says what a number is may be; ``language``: es/en for
    reading spoken numbers (None: both)."""
    ents, kinds = _kinds_of(tuple(entities))
    found = [(m.start(), m.end(), _LABEL_OF_KIND[_KIND_OF_TAG[m.group(1)]]) for m in _REDACTED.finditer(text)
             if _KIND_OF_TAG[m.group(1)] in kinds]
    if kinds:
        lang = language if language in ("es", "en") else None
        found += [(s, e, _LABEL_OF_KIND[kind])
                  for s, e, kind in strongest(find_identifiers(text, kinds, context=context, language=lang))]
    if ents & set(CREDENTIAL_ENTITIES):
        found += [(s, e, kind) for s, e, kind in find_credential_requests(text) if kind in ents]
    return sorted(found)


def pii_evidence(transcript: Transcript, turn_ids: Iterable[int], entities: Iterable[str]) -> list[Evidence]:
    """Evidence for every sensitive identifier or request for a secret (see :func:`find_pii`) in the given turns;
    the :data:`CONTEXT_TURNS` turns before each one are its context."""
    ents = list(entities)
    out = []
    for i in turn_ids:
        t = transcript.turns[i]
        context = " ".join(transcript.turns[k].text for k in range(max(0, i - CONTEXT_TURNS), i))
        for s, e, label in find_pii(t.text, ents, context=context, language=transcript.language):
            out.append(Evidence(turn=i, speaker=t.speaker, start_char=s, end_char=e, text=t.text[s:e],
                                detector="pii", label=label))
    return out


class PIIDetector:
    """``pii``: checksum-valid identifiers (cards, DNI/NIE, IBAN, SSN by default; Latin-American ids on request),
    typed or read out loud, or their redaction tags; and, when the rubric lists ``cvv``, ``pin`` or ``password``,
    requests for those secrets."""

    gives_evidence: ClassVar[bool] = True
    needs_sentences: ClassVar[bool] = False

    def detect(self, spec: DetectorSpec, ctx: DetectionContext) -> Finding:
        return Finding(pii_evidence(ctx.transcript, ctx.scope, spec.entities or DEFAULT_PII_ENTITIES), 0.95)


# ----------------------------------------------------------------------------- semantic
class SemanticDetector:
    """``semantic``: sentences in scope similar to the criterion's pass examples (``expect: absent``: its fail
    examples), cross-lingual through the multilingual encoder."""

    gives_evidence: ClassVar[bool] = True
    needs_sentences: ClassVar[bool] = True

    def detect(self, spec: DetectorSpec, ctx: DetectionContext) -> Finding:
        if ctx.sentences is None or ctx.example_vectors is None:
            return Finding(abstained=True)
        thr = ctx.calibrated_threshold
        if thr is None:
            thr = spec.threshold if spec.threshold is not None else DEFAULT_SEMANTIC_THRESHOLD
        pass_v, fail_v = ctx.example_vectors(ctx.criterion)
        targets = fail_v if spec.expect == "absent" else pass_v
        spans, sv = ctx.sentences
        in_scope = set(ctx.scope)
        rows = [k for k, (j, _a, _b) in enumerate(spans) if j in in_scope]
        if not rows or len(targets) == 0:
            return Finding([], 0.5)
        t = ctx.transcript

        def evidence(k: int) -> Evidence:
            j, a, b = spans[rows[k]]
            return Evidence(turn=j, speaker=t.turns[j].speaker, start_char=a, end_char=b, text=t.turns[j].text[a:b],
                            detector="semantic", similarity=round(float(best[k]), 4))

        best = (sv[rows] @ targets.T).max(axis=1)
        ev = []
        for k in np.argsort(-best):
            if best[k] < thr:
                break
            ev.append(evidence(k))
        margin = abs(float(best.max()) - thr)
        closest = None if ev else evidence(int(np.argmax(best)))
        return Finding(ev, min(0.99, 0.5 + 2.5 * margin), closest=closest)


# ----------------------------------------------------------------------------- bounds
class MetricDetector:
    """``metric``: a conversation metric within ``min``/``max``; undecided when the metric is unknown."""

    gives_evidence: ClassVar[bool] = False
    needs_sentences: ClassVar[bool] = False

    def detect(self, spec: DetectorSpec, ctx: DetectionContext) -> Finding:
        value = getattr(ctx.metrics, spec.metric or "", None)
        if value is None:
            return Finding()  # no timing data: the metric cannot decide
        failure = None
        if (spec.max is not None and value > spec.max) or (spec.min is not None and value < spec.min):
            failure = f"{spec.metric}={value}"
        return Finding(confidence=0.95, failure=failure)


_SENTIMENT_RANK = {"negative": 0, "neutral": 1, "positive": 2}


class SentimentDetector:
    """``sentiment``: the customer's mood must not end worse than it started."""

    gives_evidence: ClassVar[bool] = False
    needs_sentences: ClassVar[bool] = False

    def detect(self, spec: DetectorSpec, ctx: DetectionContext) -> Finding:
        labels = ctx.customer_labels
        if labels is None:
            return Finding(abstained=True)
        failure = None
        if len(labels) >= 2 and _SENTIMENT_RANK[labels[-1]] < _SENTIMENT_RANK[labels[0]]:
            failure = f"sentiment {labels[0]} -> {labels[-1]}"
        return Finding([], 0.7, failure)


# ----------------------------------------------------------------------------- registry
DETECTORS: dict[str, Detector] = {
    "pattern": PatternDetector(),
    "pii": PIIDetector(),
    "semantic": SemanticDetector(),
    "metric": MetricDetector(),
    "sentiment": SentimentDetector(),
}
"""Detector ``type`` name (as written in rubrics) -> implementation."""
