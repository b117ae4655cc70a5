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
from qa_service.text.sentences import sentence_spans
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
        turn_vectors: one embedding per turn (zero rows for blank turns), for the conversation detectors.
        turn_sentiment: P(negative, neutral, positive) of every turn (NaN rows where not computed).
        findings: what the criterion's earlier detectors found, in rubric order (a ``learned`` detector reads
            them as features).
        classifiers: trained criterion classifiers by model name (``learned`` detectors abstain without).
        hold_seconds: a silence at least this long is a hold.
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
    turn_vectors: np.ndarray | None = None
    turn_sentiment: np.ndarray | None = None
    findings: list[tuple[DetectorSpec, "Finding"]] = field(default_factory=list)
    classifiers: Mapping[str, Any] | None = None
    hold_seconds: float = 30.0


@dataclass
class Finding:
    """What one detector found.

    Attributes:
        evidence: spans found (for ``expect: absent`` detectors, what must not appear).
        confidence: how sure the detector is; None when it could not decide (left out of the criterion's
            confidence).
        failure: set when a bound is crossed (a metric out of range, sentiment worsening): fails the criterion.
        abstained: the detector lacks what it needs (no encoder, no sentiment model).
        verdict: ``pass``/``fail`` decided by the detector itself (``learned``): overrides the scorer's rule of
            evidence, bounds and absences; its ``confidence`` is then a calibrated probability.
        features: numbers describing what the detector saw (read by ``learned`` detectors).
        closest: when nothing cleared the bar, the best candidate below it (with its ``similarity``), so a fail
            can point the analyst at the nearest miss.
    """

    evidence: list[Evidence] = field(default_factory=list)
    confidence: float | None = None
    failure: str | None = None
    abstained: bool = False
    verdict: str | None = None
    features: dict[str, float] = field(default_factory=dict)
    closest: Evidence | None = None


class Detector(Protocol):
    """One detector type of the rubric format."""

    gives_evidence: ClassVar[bool]
    """Whether a ``present`` detector of this type passes a criterion by finding evidence (pattern, pii,
    semantic); types that only check bounds (metric, sentiment) do not."""
    needs_sentences: ClassVar[bool]
    """Whether it reads ``DetectionContext.sentences`` (the scorer embeds every sentence only when one does)."""
    # Conversation detectors also set ``needs_turns``: they read ``turn_vectors`` / ``turn_sentiment``.

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


# ----------------------------------------------------------------------------- conversation structure
# Detectors below read the conversation, not phrases alone: who spoke before, timing gaps, where the call ends,
# what the customer felt. Their wording cues are named pattern lists in the rubric (``cues``), matched like
# ``pattern`` detectors (RE2, case-insensitive); a cue list the rubric leaves out is empty.

_WORD_RX = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset("""
a al algo algun alguna algunas alguno algunos ante antes aqui asi aun bien cada como con contra cual cuando de del
desde donde dos el ella ellas ello ellos en entonces entre era es esa esas ese eso esos esta estaba estamos estan
estar este esto estos estoy fue ha hace hacer han has hasta hay he la las le les lo los me mi mis mucho muy mas
nada ni no nos nosotros o os otra otro para pero poco por porque puede pues que quien se sea ser si sin sobre
solo son su sus tambien te tengo tiene tienen todo todos tu tus un una uno unos usted ustedes va vale vamos ya yo
vez bueno claro senor senora favor gracias hola mire oiga digame
about after again all also am an and any are as at be been before being but by can could did do does doing
done for from get got had has have he her here him his how i if in into is it its just know like me more my no
not now of off ok okay on one or our out over please right say see she so some than that the their them then
there these they this those to too up us very was we well were what when where which who will with would yes
you your yeah uh um hmm sure thanks thank hello hi oh mean really
""".split())
_ACCENTS = str.maketrans("áéíóúüàèìòù", "aeiouuaeiou")


def _words(text: str) -> list[str]:
    return [w.lower().translate(_ACCENTS) for w in _WORD_RX.findall(text)]


@lru_cache(maxsize=8192)
def content_words(text: str) -> frozenset[str]:
    """Lower-cased words of 3+ letters that carry content (accents folded; Spanish and English stop words out)."""
    return frozenset(w for w in _words(text) if len(w) >= 3 and w not in _STOP and not w.isdigit())


def _cues(spec: DetectorSpec, ctx: DetectionContext, name: str) -> list[Any]:
    """A cue list as one compiled alternation (one RE2 search per turn instead of one per pattern; the match
    found is still the leftmost)."""
    patterns = tuple(spec.cues.get(name, ()))
    return [_alternation(patterns)] if patterns else []


@lru_cache(maxsize=1024)
def _alternation(patterns: tuple[str, ...]) -> Any:
    return compile_pattern("|".join(f"(?:{p})" for p in patterns))


def _cue_span(rxs: list[Any], text: str) -> tuple[int, int] | None:
    """The first cue match in ``text`` (start, end), or None."""
    best = None
    for rx in rxs:
        m = rx.search(text)
        if m and m.end() > m.start() and (best is None or m.start() < best[0]):
            best = (m.start(), m.end())
    return best


def _is_question(text: str, question_cues: list[Any]) -> bool:
    return "?" in text or "¿" in text or _cue_span(question_cues, text) is not None


def _turn_evidence(ctx: DetectionContext, i: int, detector: str, span: tuple[int, int] | None = None,
                   score: float | None = None) -> Evidence:
    """Evidence in turn ``i``: the sentence around ``span`` (the whole turn without one)."""
    t = ctx.transcript.turns[i]
    a, b = 0, len(t.text)
    if span:
        a, b = next(((s, e) for s, e in sentence_spans(t.text) if s <= span[0] < e), span)
        b = max(b, span[1])
    return Evidence(turn=i, speaker=t.speaker, start_char=a, end_char=b, text=t.text[a:b], detector=detector,
                    similarity=None if score is None else round(float(score), 4))


def _cos(ctx: DetectionContext, i: int, js: list[int]) -> float:
    """Cosine between turn ``i`` and the mean of turns ``js`` (0 without vectors)."""
    v = ctx.turn_vectors
    if v is None or not js:
        return 0.0
    m = v[js].mean(axis=0)
    n = float(np.linalg.norm(m)) * float(np.linalg.norm(v[i]))
    return float(v[i] @ m / n) if n > 0 else 0.0


def _negativity(ctx: DetectionContext, i: int) -> float:
    """P(negative) of turn ``i`` by the sentiment model (0 when unknown)."""
    s = ctx.turn_sentiment
    if s is None or i >= len(s) or np.isnan(s[i, 0]):
        return 0.0
    return float(s[i, 0])


def _gap_before(turns: list, k: int) -> float | None:
    """Seconds between the end of turn k-1 and the start of turn k (``start``/``end`` or chat ``at``)."""
    if k == 0:
        return None
    prev, cur = turns[k - 1], turns[k]
    if cur.start is not None and prev.start is not None:
        return cur.start - (prev.end if prev.end is not None else prev.start)
    if cur.at is not None and prev.at is not None:
        return (cur.at - prev.at).total_seconds()
    return None


class ListeningDetector:
    """``listening``: active listening. An agent turn that takes up what the customer has just said: close to
    the customer's preceding turns (embedding similarity, shared content words: a paraphrase or summary), or a
    clarifying question about them. Cues: ``paraphrase`` (summary openers), ``question`` (question words, for
    transcripts without punctuation). ``threshold``: similarity to the customer's turns that counts alone."""

    gives_evidence: ClassVar[bool] = True
    needs_sentences: ClassVar[bool] = False
    needs_turns: ClassVar[bool] = True

    def detect(self, spec: DetectorSpec, ctx: DetectionContext) -> Finding:
        turns = ctx.transcript.turns
        thr = spec.threshold if spec.threshold is not None else 0.6
        para, quest = _cues(spec, ctx, "paraphrase"), _cues(spec, ctx, "question")
        best: list[tuple[float, int, tuple[int, int] | None]] = []
        f = {"max_similarity": 0.0, "max_overlap": 0.0, "paraphrase_cues": 0.0, "clarifying_questions": 0.0,
             "echo_turns": 0.0}
        for i in ctx.scope:
            if turns[i].speaker != "agent":
                continue
            # what the customer said lately: the last two customer turns with some content, six turns back at most
            prev = [j for j in range(i - 1, max(-1, i - 7), -1)
                    if turns[j].speaker == "customer" and len(content_words(turns[j].text)) >= 2][:2]
            if not prev:
                continue
            said = set().union(*(content_words(turns[j].text) for j in prev))
            mine = content_words(turns[i].text)
            shared = len(said & mine)
            sim = _cos(ctx, i, prev)
            cue = _cue_span(para, turns[i].text)
            question = _is_question(turns[i].text, quest)
            f["max_similarity"] = max(f["max_similarity"], sim)
            f["max_overlap"] = max(f["max_overlap"], float(shared))
            f["paraphrase_cues"] += cue is not None and (shared >= 1 or sim >= thr - 0.2)
            f["clarifying_questions"] += question and shared >= 2
            f["echo_turns"] += shared >= 3 and sim >= thr - 0.1
            score = sim + 0.05 * min(shared, 4) + (0.2 if cue else 0.0) + (0.1 if question and shared else 0.0)
            ok = ((cue is not None and (shared >= 1 or sim >= thr - 0.2)) or (sim >= thr and shared >= 1)
                  or (question and shared >= 2 and sim >= thr - 0.15) or (shared >= 3 and sim >= thr - 0.1))
            if ok:
                best.append((score, i, cue))
        best.sort(reverse=True)
        ev = [_turn_evidence(ctx, i, "listening", None, score) for score, i, _cue in best[:3]]
        margin = abs(f["max_similarity"] - thr)
        return Finding(ev, min(0.95, 0.55 + margin) if ev else 0.55, features=f)


def hold_events(ctx: DetectionContext, announce: list[Any]) -> list[tuple[int | None, int, float | None]]:
    """Holds in the conversation: (the agent turn announcing it or None, the agent's return turn, the gap in
    seconds or None). A hold is a silence of at least ``ctx.hold_seconds`` in a call (from ``start``/``end``),
    whoever speaks next; in a chat (``at`` times, where replies take a while to type) a gap of three times that,
    or of ``hold_seconds`` after an announcement; without timings, an agent turn announcing a wait followed by
    the agent's return. The announcement is looked for in the agent's turns of the five turns before the gap."""
    turns = ctx.transcript.turns
    events: list[tuple[int | None, int, float | None]] = []
    timed = all(t.start is not None or t.at is not None for t in turns)
    returns = set()
    for k in range(1, len(turns)):
        gap = _gap_before(turns, k)
        if gap is None or gap < ctx.hold_seconds:
            continue
        a = next((j for j in range(k - 1, max(-1, k - 6), -1)
                  if turns[j].speaker == "agent" and _cue_span(announce, turns[j].text)), None)
        chat = turns[k].start is None
        if chat and a is None and gap < 3 * ctx.hold_seconds:
            continue
        r = next((j for j in range(k, len(turns)) if turns[j].speaker == "agent"), None)
        if r is None or r in returns:
            continue
        events.append((a, r, gap))
        returns.add(r)
    if not timed:
        for a, t in enumerate(turns):
            if t.speaker != "agent" or not _cue_span(announce, t.text):
                continue
            r = next((j for j in range(a + 1, len(turns)) if turns[j].speaker == "agent"), None)
            if r is not None and r not in returns:
                events.append((a, r, None))
                returns.add(r)
    return sorted(events, key=lambda e: e[1])


class HoldDetector:
    """``hold``: every hold (a timing gap, or an announced wait and the agent's return) is asked for before and
    thanked for after. Cues: ``announce`` (the agent says it will put the customer on hold / check something),
    ``ask`` (asks permission), ``thanks`` (thanks or apologises for the wait on return)."""

    gives_evidence: ClassVar[bool] = True
    needs_sentences: ClassVar[bool] = False
    needs_turns: ClassVar[bool] = False

    def applies(self, spec: DetectorSpec, ctx: DetectionContext) -> bool:
        """Whether there is a hold at all (the criterion's ``no_hold`` N/A condition)."""
        return bool(hold_events(ctx, _cues(spec, ctx, "announce")))

    def detect(self, spec: DetectorSpec, ctx: DetectionContext) -> Finding:
        turns = ctx.transcript.turns
        announce, ask, thanks = _cues(spec, ctx, "announce"), _cues(spec, ctx, "ask"), _cues(spec, ctx, "thanks")
        events = hold_events(ctx, announce)
        f = {"holds": float(len(events)), "asked": 0.0, "thanked": 0.0, "unannounced": 0.0, "longest_gap": 0.0}
        ev: list[Evidence] = []
        missing = []
        for a, r, gap in events:
            f["longest_gap"] = max(f["longest_gap"], float(np.log1p(gap or 0.0)))
            before = [j for j in range((a if a is not None else r) - 4, r) if j >= 0 and turns[j].speaker == "agent"]
            asking = next((j for j in reversed(before) if _cue_span(ask, turns[j].text)), None)
            if asking is None and a is not None and ("?" in turns[a].text or "¿" in turns[a].text):
                asking = a
            asked = asking is not None
            back = [j for j in range(r, min(len(turns), r + 3)) if turns[j].speaker == "agent"][:2]
            thanked = next(((j, sp) for j in back if (sp := _cue_span(thanks, turns[j].text))), None)
            f["asked"] += asked
            f["thanked"] += thanked is not None
            f["unannounced"] += a is None
            if asking is not None:
                ev.append(_turn_evidence(ctx, asking, "hold", _cue_span(ask, turns[asking].text)))
            if thanked:
                ev.append(_turn_evidence(ctx, thanked[0], "hold", thanked[1]))
            if not asked:
                missing.append(f"hold before turn {r} not asked for")
            if not thanked:
                missing.append(f"no thanks after the hold at turn {r}")
        if events:
            f["asked"] /= len(events)
            f["thanked"] /= len(events)
        if not events:
            return Finding([], 0.5, features=f)
        return Finding(ev if not missing else [], 0.8, failure="; ".join(missing) or None, features=f)


def _final_phase(ctx: DetectionContext, request: list[Any], done: list[Any], min_words: int = 5) -> int:
    """Index of the first turn of the call's final phase: after the customer's last request (a question, a
    request cue, or a turn with ``min_words`` content words that is not a thanks or goodbye)."""
    turns = ctx.transcript.turns
    for j in range(len(turns) - 1, -1, -1):
        t = turns[j]
        if t.speaker != "customer":
            continue
        if _cue_span(done, t.text) and len(content_words(t.text)) < 2 * min_words:
            continue
        if "?" in t.text or _cue_span(request, t.text) or len(content_words(t.text)) >= min_words:
            return j + 1
    return 0


class ClosingDetector:
    """``closing``: in the final phase of the call (from the customer's last request to the end, wherever that
    is, not the last N turns) the agent offers more help and says goodbye. Cues: ``offer``, ``farewell``,
    ``request`` (a customer asks for something), ``done`` (a customer's thanks / goodbye / "that's all")."""

    gives_evidence: ClassVar[bool] = True
    needs_sentences: ClassVar[bool] = False
    needs_turns: ClassVar[bool] = False

    def detect(self, spec: DetectorSpec, ctx: DetectionContext) -> Finding:
        turns = ctx.transcript.turns
        offer, farewell = _cues(spec, ctx, "offer"), _cues(spec, ctx, "farewell")
        start = _final_phase(ctx, _cues(spec, ctx, "request"), _cues(spec, ctx, "done"))
        agent = [i for i in range(len(turns)) if turns[i].speaker == "agent"]
        phase = [i for i in agent if i >= start] or agent[-2:]
        tail = agent[-max(3, len(phase)):]  # an offer just before the last request still shows intent
        f = {"phase_turns": float(len(phase)), "offer": 0.0, "farewell": 0.0, "offer_near_end": 0.0,
             "farewell_last": 0.0}
        ev = []
        for i in phase:
            if (sp := _cue_span(offer, turns[i].text)) and not f["offer"]:
                f["offer"] = 1.0
                ev.append(_turn_evidence(ctx, i, "closing", sp))
            if (sp := _cue_span(farewell, turns[i].text)) and not f["farewell"]:
                f["farewell"] = 1.0
                ev.append(_turn_evidence(ctx, i, "closing", sp))
        f["offer_near_end"] = float(any(_cue_span(offer, turns[i].text) for i in tail))
        f["farewell_last"] = float(bool(agent) and _cue_span(farewell, turns[agent[-1]].text) is not None)
        ok = f["offer"] and f["farewell"]
        return Finding(ev if ok else [], 0.8 if ok else 0.65, features=f)


class CommitmentDetector:
    """``commitment``: next steps the customer can hold the agent to: a commitment (``commit`` cues: "you will
    receive", "we will call") with a time or date (``time`` cues) or a reference number (``reference`` cues, or
    a code of 4+ digits that is not a sensitive identifier), or a stated resolution (``resolved`` cues)."""

    gives_evidence: ClassVar[bool] = True
    needs_sentences: ClassVar[bool] = False
    needs_turns: ClassVar[bool] = False

    _CODE = re.compile(r"\b[A-Za-z]{0,4}[-/]?\d[\d-]{3,}\d\b|\b[A-Za-z]{1,4}\d{3,}\b")

    def detect(self, spec: DetectorSpec, ctx: DetectionContext) -> Finding:
        turns = ctx.transcript.turns
        commit, time_, ref, resolved = (_cues(spec, ctx, n) for n in ("commit", "time", "reference", "resolved"))
        f = {"commitments": 0.0, "timed": 0.0, "references": 0.0, "resolved": 0.0, "last_position": 0.0}
        ev = []
        n = max(1, len(turns) - 1)
        for i in ctx.scope:
            t = turns[i]
            if t.speaker != "agent":
                continue
            c, tm, rs = _cue_span(commit, t.text), _cue_span(time_, t.text), _cue_span(resolved, t.text)
            r = _cue_span(ref, t.text)
            if r is None:  # a code of 4+ digits that is not itself a sensitive identifier
                code = next((m for m in self._CODE.finditer(t.text)  # identifiers have 8+ digits
                             if sum(ch.isdigit() for ch in m.group(0)) < 8
                             or not find_pii(m.group(0), tuple(PII_ENTITIES))), None)
                r = (code.start(), code.end()) if code else None
            f["commitments"] += c is not None
            f["timed"] += c is not None and tm is not None
            f["references"] += r is not None
            f["resolved"] += rs is not None
            hit = (c is not None and (tm is not None or r is not None)) or rs is not None or (
                r is not None and tm is not None)
            if hit:
                f["last_position"] = i / n
                ev.append(_turn_evidence(ctx, i, "commitment", rs or c or r))
        return Finding(ev, 0.8 if ev else 0.6, features=f)


class ToneDetector:
    """``tone`` (use with ``expect: absent``): agent turns that are negative (the sentiment model applied to agent
    turns, P(negative) >= ``threshold``, default 0.8, unless the turn apologises or empathises: ``softeners``
    cues), dismissive (``dismissive`` cues), curt (a reply of at most 3 words to a customer's question) or an
    interruption (the agent starts more than a second before the customer has finished, from the timings)."""

    gives_evidence: ClassVar[bool] = True
    needs_sentences: ClassVar[bool] = False
    needs_turns: ClassVar[bool] = True

    def detect(self, spec: DetectorSpec, ctx: DetectionContext) -> Finding:
        turns = ctx.transcript.turns
        thr = spec.threshold if spec.threshold is not None else 0.8
        dismissive, soft, quest = (_cues(spec, ctx, n) for n in ("dismissive", "softeners", "question"))
        f = {"max_negativity": 0.0, "mean_negativity": 0.0, "negative_turns": 0.0, "dismissive": 0.0,
             "curt": 0.0, "interruptions": 0.0}
        ev, negs = [], []
        for i in ctx.scope:
            t = turns[i]
            if t.speaker != "agent":
                continue
            neg = _negativity(ctx, i)
            softened = _cue_span(soft, t.text) is not None
            negs.append(0.0 if softened else neg)
            prev = turns[i - 1] if i else None
            d = _cue_span(dismissive, t.text)
            curt = (prev is not None and prev.speaker == "customer" and _is_question(prev.text, quest)
                    and len(_words(t.text)) <= 3)
            interrupt = (prev is not None and prev.speaker == "customer" and t.start is not None
                         and prev.end is not None and t.start < prev.end - 1.0)
            f["dismissive"] += d is not None
            f["curt"] += curt
            f["interruptions"] += interrupt
            f["negative_turns"] += (neg >= thr and not softened)
            if d is not None:
                ev.append(_turn_evidence(ctx, i, "tone", d, neg))
            elif neg >= thr and not softened:
                ev.append(_turn_evidence(ctx, i, "tone", None, neg))
        if negs:
            f["max_negativity"], f["mean_negativity"] = max(negs), float(np.mean(negs))
        return Finding(ev, 0.75 if ev else 0.65, features=f)


class EmpathyDetector:
    """``empathy``: empathy that responds to the customer's negativity: an agent turn with an empathy cue
    (``empathy``) or close to the criterion's pass examples, within the agent's next two turns after a negative
    customer turn (sentiment model P(negative) >= ``threshold``, default 0.5, or ``complaint`` cues). Empathy
    with no upset customer before it does not count."""

    gives_evidence: ClassVar[bool] = True
    needs_sentences: ClassVar[bool] = False
    needs_turns: ClassVar[bool] = True

    def upset_turns(self, spec: DetectorSpec, ctx: DetectionContext) -> list[int]:
        """Customer turns that are negative (sentiment model) or complain (``complaint`` cues)."""
        thr = spec.threshold if spec.threshold is not None else 0.5
        complaint = _cues(spec, ctx, "complaint")
        return [i for i, t in enumerate(ctx.transcript.turns) if t.speaker == "customer"
                and (_negativity(ctx, i) >= thr or _cue_span(complaint, t.text) is not None)]

    def applies(self, spec: DetectorSpec, ctx: DetectionContext) -> bool:
        """Whether the customer is upset at some point (the ``customer_never_negative`` N/A condition)."""
        return bool(self.upset_turns(spec, ctx))

    def detect(self, spec: DetectorSpec, ctx: DetectionContext) -> Finding:
        turns = ctx.transcript.turns
        thr = spec.threshold if spec.threshold is not None else 0.5
        empathy, complaint = _cues(spec, ctx, "empathy"), _cues(spec, ctx, "complaint")
        examples = None
        if ctx.example_vectors is not None and ctx.turn_vectors is not None:
            examples = ctx.example_vectors(ctx.criterion)[0]
        f = {"negative_customer_turns": 0.0, "max_customer_negativity": 0.0, "responding": 0.0,
             "empathy_anywhere": 0.0, "best_similarity": 0.0}
        ev = []
        for i, t in enumerate(turns):
            if t.speaker == "agent" and _cue_span(empathy, t.text):
                f["empathy_anywhere"] += 1
            if t.speaker != "customer":
                continue
            neg = _negativity(ctx, i)
            f["max_customer_negativity"] = max(f["max_customer_negativity"], neg)
            if neg < thr and not _cue_span(complaint, t.text):
                continue
            f["negative_customer_turns"] += 1
            nxt = [j for j in range(i + 1, len(turns)) if turns[j].speaker == "agent"][:2]
            for j in nxt:
                sp = _cue_span(empathy, turns[j].text)
                sim = float((ctx.turn_vectors[j] @ examples.T).max()) if examples is not None and len(examples) \
                    else 0.0
                f["best_similarity"] = max(f["best_similarity"], sim)
                if sp or sim >= 0.6:
                    if not any(e.turn == j for e in ev):
                        f["responding"] += 1
                        ev.append(_turn_evidence(ctx, j, "empathy", sp, sim))
                    break
        return Finding(ev, 0.8 if ev else 0.6, features=f)


class EscalationDetector:
    """``escalation``: the customer asks for someone above the agent (``request`` cues, customer turns) and the
    agent handles it in its next three turns: transfers, escalates or arranges a call back (``handle`` cues), not
    a refusal (``refuse`` cues, which fail the criterion when nothing handles the request)."""

    gives_evidence: ClassVar[bool] = True
    needs_sentences: ClassVar[bool] = False
    needs_turns: ClassVar[bool] = False

    def requests(self, spec: DetectorSpec, ctx: DetectionContext) -> list[int]:
        """Customer turns asking to escalate."""
        request = _cues(spec, ctx, "request")
        return [i for i, t in enumerate(ctx.transcript.turns)
                if t.speaker == "customer" and _cue_span(request, t.text) is not None]

    def applies(self, spec: DetectorSpec, ctx: DetectionContext) -> bool:
        """Whether the customer asks for escalation (the ``no_escalation_request`` N/A condition)."""
        return bool(self.requests(spec, ctx))

    def detect(self, spec: DetectorSpec, ctx: DetectionContext) -> Finding:
        turns = ctx.transcript.turns
        handle, refuse = _cues(spec, ctx, "handle"), _cues(spec, ctx, "refuse")
        asked = self.requests(spec, ctx)
        f = {"requests": float(len(asked)), "handled": 0.0, "refused": 0.0, "handled_anywhere": 0.0}
        ev: list[Evidence] = []
        refusals = []
        for i in ctx.scope:
            if turns[i].speaker == "agent" and _cue_span(handle, turns[i].text):
                f["handled_anywhere"] += 1
        for q in asked:
            nxt = [j for j in range(q + 1, len(turns)) if turns[j].speaker == "agent"][:3]
            hit = next(((j, sp) for j in nxt if (sp := _cue_span(handle, turns[j].text))), None)
            no = next(((j, sp) for j in nxt if (sp := _cue_span(refuse, turns[j].text))), None)
            if hit:
                f["handled"] += 1
                if not any(e.turn == hit[0] for e in ev):
                    ev.append(_turn_evidence(ctx, hit[0], "escalation", hit[1]))
            elif no:
                f["refused"] += 1
                refusals.append(f"escalation refused at turn {no[0]}")
        if not asked:
            return Finding([], 0.5, features=f)
        if refusals and not ev:
            return Finding([], 0.75, failure="; ".join(refusals), features=f)
        return Finding(ev, 0.8 if ev else 0.6, features=f)


class LearnedDetector:
    """``learned``: a classifier trained on labelled transcripts (``model`` names it) over turn windows (turn
    embeddings with the other speaker's preceding turn) and the findings of the criterion's other detectors.
    Its calibrated probability of a pass is the confidence, and it decides the criterion (``verdict``); the
    evidence is the window it found most telling. Abstains when the model or the turn embeddings are missing."""

    gives_evidence: ClassVar[bool] = True
    needs_sentences: ClassVar[bool] = False
    needs_turns: ClassVar[bool] = True
    defers: ClassVar[bool] = True
    """When it abstains, the criterion is decided by its other detectors as if it were not there."""

    def detect(self, spec: DetectorSpec, ctx: DetectionContext) -> Finding:
        model = (ctx.classifiers or {}).get(spec.model or "")
        if model is None or ctx.turn_vectors is None:
            return Finding(abstained=True)
        p_pass, window, window_score = model.predict(ctx.transcript, ctx.turn_vectors, ctx.scope,
                                                     finding_features(ctx.findings), example_similarity(ctx))
        thr = spec.threshold if spec.threshold is not None else model.threshold
        verdict = "pass" if p_pass >= thr else "fail"
        decisive = [e for d, fnd in ctx.findings if d.type in DECISIVE and d.expect == "absent" for e in fnd.evidence]
        if decisive:  # a checksum-valid identifier read out is a violation whatever the model thinks
            return Finding(decisive, max(0.95, 1 - p_pass), verdict="fail", features={"p_pass": float(p_pass)})
        # Evidence: the other detectors' evidence that agrees with the verdict, else the telling window (on a fail
        # of a criterion that passes by presence, that window is the closest candidate, not evidence).
        agree = [e for d, fnd in ctx.findings for e in fnd.evidence
                 if (d.expect == "absent") == (verdict == "fail")]
        telling = _turn_evidence(ctx, window, "learned", None, window_score) if window is not None else None
        if agree or telling is None:
            return Finding(agree, float(max(p_pass, 1 - p_pass)), verdict=verdict, features={"p_pass": float(p_pass)})
        if verdict == "fail" and not spec_absent(ctx):
            return Finding([], float(1 - p_pass), verdict=verdict, features={"p_pass": float(p_pass)},
                           closest=telling)
        return Finding([telling], float(max(p_pass, 1 - p_pass)), verdict=verdict,
                       features={"p_pass": float(p_pass)})


def spec_absent(ctx: DetectionContext) -> bool:
    """Whether the criterion fails by presence (its detectors look for what must not appear)."""
    return any(d.expect == "absent" for d in ctx.criterion.detectors)


DECISIVE = ("pii",)
"""Detector types whose ``expect: absent`` evidence fails a criterion even when a ``learned`` detector decides."""


def finding_features(findings: list[tuple[DetectorSpec, Finding]]) -> dict[str, float]:
    """What the criterion's other detectors saw, as numbers: for each (in rubric order) whether it found
    evidence, how much, whether a bound failed, and its own ``features``."""
    out: dict[str, float] = {}
    for k, (spec, f) in enumerate(findings):
        key = f"{k}.{spec.type}"
        out[f"{key}.found"] = float(bool(f.evidence))
        out[f"{key}.n"] = float(np.log1p(len(f.evidence)))
        out[f"{key}.failure"] = float(f.failure is not None)
        out[f"{key}.abstained"] = float(f.abstained)
        best = max((e.similarity for e in f.evidence if e.similarity is not None), default=0.0)
        out[f"{key}.best"] = float(best)
        for name, v in f.features.items():
            out[f"{key}.{name}"] = float(v)
    return out


def example_similarity(ctx: DetectionContext) -> dict[str, float]:
    """Best turn-level similarity between the turns in scope and the criterion's pass and fail examples."""
    out = {"example.pass": 0.0, "example.fail": 0.0}
    if ctx.example_vectors is None or ctx.turn_vectors is None or not ctx.scope:
        return out
    p, f = ctx.example_vectors(ctx.criterion)
    v = ctx.turn_vectors[ctx.scope]
    if len(p):
        out["example.pass"] = float((v @ p.T).max())
    if len(f):
        out["example.fail"] = float((v @ f.T).max())
    return out


# ----------------------------------------------------------------------------- registry
DETECTORS: dict[str, Detector] = {
    "pattern": PatternDetector(),
    "pii": PIIDetector(),
    "semantic": SemanticDetector(),
    "metric": MetricDetector(),
    "sentiment": SentimentDetector(),
    "listening": ListeningDetector(),
    "hold": HoldDetector(),
    "closing": ClosingDetector(),
    "commitment": CommitmentDetector(),
    "tone": ToneDetector(),
    "empathy": EmpathyDetector(),
    "escalation": EscalationDetector(),
    "learned": LearnedDetector(),
}
"""Detector ``type`` name (as written in rubrics) -> implementation."""
