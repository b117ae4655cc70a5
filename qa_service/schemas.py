"""Pydantic models: the API and file contracts."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

# Free-form metadata is stored as JSON and echoed back: bounded so a deeply nested or huge object is a 422
# naming the field, not a recursion error in a JSON encoder.
MAX_METADATA_DEPTH = 8
MAX_METADATA_ITEMS = 2000


def _bounded_metadata(value: dict[str, Any]) -> dict[str, Any]:
    stack: list[tuple[Any, int]] = [(value, 1)]
    items = 0
    while stack:  # iterative: the check itself must not recurse
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_METADATA_DEPTH:
                raise ValueError(f"metadata nested deeper than {MAX_METADATA_DEPTH} levels")
            children = list(node.values()) if isinstance(node, dict) else node
            items += len(children)
            if items > MAX_METADATA_ITEMS:
                raise ValueError(f"metadata has more than {MAX_METADATA_ITEMS} values")
            stack.extend((c, depth + 1) for c in children)
    return value


Metadata = Annotated[dict[str, Any], AfterValidator(_bounded_metadata)]

SentimentLabel = Literal["negative", "neutral", "positive"]
AutoFailPolicy = Literal["zero", "keep"]
LanguageCode = Literal["es", "en", "other"]


class Probabilities(BaseModel):
    """Calibrated class probabilities; they sum to 1."""

    negative: float = Field(ge=0, le=1)
    neutral: float = Field(ge=0, le=1)
    positive: float = Field(ge=0, le=1)


class SentimentResult(BaseModel):
    """Sentiment of one text."""

    id: str | None = Field(default=None, description="The input record's id (files) or null (API).")
    label: SentimentLabel
    score: float = Field(ge=-1, le=1, description="P(positive) - P(negative), in -1..1.")
    probabilities: Probabilities
    language: LanguageCode
    model_version: str | None = Field(default=None, description="The sentiment model version that produced it.")


class SentimentRequest(BaseModel):
    """Either ``text`` (one result back) or ``texts`` (``{"results": [...]}`` back), not both."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"text": "Me han cobrado dos veces la factura y nadie me responde."},
                     {"texts": ["Muy amable la agente, gracias.", "The app keeps crashing."]}]})

    text: str | None = Field(default=None, description="One message or comment.")
    texts: list[str] | None = Field(default=None, description="Several messages, at most QA_MAX_TEXTS.")


class SentimentBatchResponse(BaseModel):
    results: list[SentimentResult]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "loading", "failed"]
    models: dict[str, str] = Field(default_factory=dict, description="Loaded model versions by task.")
    detail: str | None = None


class ErrorDetail(BaseModel):
    field: str | None = None
    message: str


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body: what went wrong and, where it applies, which field."""

    error: str
    detail: list[ErrorDetail]


# --------------------------------------------------------------------------- transcripts
Speaker = Literal["agent", "customer", "system"]


class Turn(BaseModel):
    """One turn of a call or chat. ``start``/``end`` are seconds from the start (calls); chats may give ``at``."""

    speaker: Speaker
    text: str
    start: float | None = Field(default=None, ge=0)
    end: float | None = Field(default=None, ge=0)
    at: datetime | None = None

    @model_validator(mode="after")
    def _end_after_start(self) -> "Turn":
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


# Record ids and the fields stored in 200-character columns are bounded here, so an over-long one is a 422 naming
# the field, not a database error.
ID_CHARS = 200


class AgentInfo(BaseModel):
    id: str | None = Field(default=None, max_length=ID_CHARS)
    team: str | None = Field(default=None, max_length=ID_CHARS)


class Transcript(BaseModel):
    """A call or chat transcript (the JSON contract in ARCHITECTURE.md)."""

    id: str = Field(min_length=1, max_length=ID_CHARS)
    channel: Literal["call", "chat", "email", "other"] = "call"
    language: LanguageCode | None = None
    started_at: datetime | None = None
    agent: AgentInfo = Field(default_factory=AgentInfo)
    metadata: Metadata = Field(default_factory=dict)
    turns: list[Turn] = Field(min_length=1)


# --------------------------------------------------------------------------- rubrics
DetectorType = Literal["semantic", "pattern", "pii", "metric", "sentiment",
                       "listening", "hold", "closing", "commitment", "tone", "empathy", "escalation", "learned"]
NaCondition = Literal["customer_never_negative", "no_hold", "no_escalation_request", "chat_channel", "call_channel"]


class Scope(BaseModel):
    """Which turns a criterion looks at."""

    model_config = ConfigDict(extra="forbid")

    speaker: Literal["agent", "customer", "any"] = "agent"
    position: Literal["first", "last", "all"] = "all"
    n: int | None = Field(default=None, gt=0, description="with first/last: how many turns of that speaker")

    @model_validator(mode="after")
    def _n_needs_position(self) -> "Scope":
        if self.position != "all" and self.n is None:
            raise ValueError("n is required when position is first or last")
        return self


@lru_cache(maxsize=2048)
def compile_pattern(pattern: str) -> Any:
    """A rubric ``pattern`` compiled the one way rubrics are matched: RE2 (linear time in the text, so no pattern
    can backtrack for ever), case-insensitive, Unicode. RE2 syntax is Python's without look-around or
    backreferences; ``\\b``, ``\\w`` and ``\\d`` are ASCII. Cached, so validating a rubric and building its
    scorer compile each pattern once.

    Raises:
        ValueError: the pattern is not valid RE2 syntax, or it compiles to a program over RE2's memory budget.
    """
    import re2

    opts = re2.Options()
    opts.case_sensitive = False
    opts.log_errors = False
    opts.max_mem = PATTERN_MAX_MEM
    try:
        return re2.compile(pattern, opts)
    except re2.error as exc:
        why = exc.args[0] if exc.args else "invalid"
        why = why.decode("utf-8", "replace") if isinstance(why, bytes) else str(why)
        raise ValueError(f"not a valid regular expression (RE2 syntax: no look-around or backreferences): {why}") \
            from None


PATTERN_MAX_MEM = 1 << 20
"""RE2 memory budget of one compiled pattern (program and DFA cache; a pattern needing more is refused)."""


def _valid_pattern(pattern: str) -> str:
    compile_pattern(pattern)
    return pattern


RubricPattern = Annotated[str, AfterValidator(_valid_pattern)]


class Detector(BaseModel):
    """One way of finding evidence for a criterion; several may be combined."""

    model_config = ConfigDict(extra="forbid")

    type: DetectorType
    threshold: float | None = Field(default=None, description="semantic: similarity needed to count as a match")
    patterns: list[RubricPattern] = Field(default_factory=list,
                                          description="pattern: regular expressions (RE2 syntax, case-insensitive)")
    entities: list[str] = Field(default_factory=list, description="pii: entity types to look for")
    metric: str | None = Field(default=None, description="metric: which conversation metric")
    max: float | None = None
    min: float | None = None
    expect: Literal["present", "absent"] = Field(default="present",
                                                 description="pass when the evidence is present, or absent")
    cues: dict[Annotated[str, Field(pattern=r"^[a-z_]+$")], list[RubricPattern]] = Field(
        default_factory=dict, description="conversation detectors: named cue patterns (RE2, case-insensitive), "
                                          "e.g. hold: ask, thanks")
    model: str | None = Field(default=None, pattern=r"^[a-z0-9_]+$",
                              description="learned: which trained criterion classifier to use")

    @model_validator(mode="after")
    def _check(self) -> "Detector":
        if self.type == "pattern" and not self.patterns:
            raise ValueError("a pattern detector needs patterns")
        if self.type == "metric" and not self.metric:
            raise ValueError("a metric detector needs metric")
        if self.type == "learned" and not self.model:
            raise ValueError("a learned detector needs model")
        if self.threshold is not None and not -1 <= self.threshold <= 1:
            raise ValueError("threshold must be between -1 and 1")
        return self


class Examples(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    pass_: list[str] = Field(default_factory=list, alias="pass")
    fail: list[str] = Field(default_factory=list)


class Criterion(BaseModel):
    """One scorecard question."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_\-]+$")
    question: str = Field(min_length=1)
    description: str = ""
    weight: float = Field(gt=0)
    kind: Literal["binary", "scale"] = "binary"
    scope: Scope = Field(default_factory=Scope)
    detectors: list[Detector] = Field(min_length=1)
    critical: bool = Field(default=False, description="auto-fail the whole evaluation when this criterion fails")
    na_when: list[NaCondition] = Field(default_factory=list)
    examples: Examples = Field(default_factory=Examples)

    @model_validator(mode="after")
    def _semantic_needs_examples(self) -> "Criterion":
        if any(d.type == "semantic" for d in self.detectors) and not (self.examples.pass_ or self.examples.fail):
            raise ValueError("a semantic detector needs pass or fail example phrases")
        return self


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_\-]+$")
    name: str = Field(min_length=1)
    weight: float = Field(gt=0)
    criteria: list[Criterion] = Field(min_length=1)


class Rubric(BaseModel):
    """A versioned QA scorecard."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_\-]+$")
    version: str = Field(min_length=1)
    language: Literal["es", "en"]
    name: str = ""
    description: str = ""
    on_auto_fail: AutoFailPolicy = Field(
        default="zero", description="a failed critical criterion: 'zero' sets the total to 0 (default), 'keep' "
                                    "keeps the computed total; auto_fail is reported either way")
    sections: list[Section] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> "Rubric":
        seen: set[str] = set()
        for s in self.sections:
            for c in s.criteria:
                if c.id in seen:
                    raise ValueError(f"criterion id {c.id!r} is used twice")
                seen.add(c.id)
        return self


class Evidence(BaseModel):
    """Where in the transcript a criterion's result comes from; ``text == turns[turn].text[start_char:end_char]``."""

    turn: int = Field(ge=0)
    speaker: Speaker
    start_char: int = Field(ge=0)
    end_char: int = Field(ge=0)
    text: str
    detector: DetectorType
    similarity: float | None = None
    label: str | None = Field(default=None, description="what was found, e.g. card_number")


class ConversationMetrics(BaseModel):
    """Timing metrics from turn timestamps (calls: seconds; chats: ``at``); None where the input lacks times."""

    turns: int
    agent_turns: int
    customer_turns: int
    handle_time_seconds: float | None = None
    agent_talk_ratio: float | None = Field(default=None, description="agent speech time / all speech time")
    longest_silence_seconds: float | None = None
    holds: int | None = Field(default=None, description="gaps of at least the hold threshold")
    overlaps: int | None = Field(default=None, description="turns that start before the previous speaker ended")
    first_response_seconds: float | None = Field(default=None, description="chat: first customer -> first agent reply")
    longest_agent_gap_seconds: float | None = Field(default=None,
                                                    description="chat: longest wait for an agent reply")


class CriterionResult(BaseModel):
    id: str
    section: str
    result: Literal["pass", "fail", "na"]
    score: float | None = Field(default=None, ge=0, le=1, description="1 pass, 0 fail (scale: 0..1); null when na")
    scale_score: int | None = Field(default=None, ge=1, le=5, description="scale criteria: 1-5")
    confidence: float = Field(ge=0, le=1)
    needs_review: bool = False
    review_reasons: list[str] = Field(default_factory=list,
                                      description="why needs_review is set (evidence that did not verify, low "
                                                  "confidence, low measured agreement)")
    critical: bool = False
    evidence: list[Evidence] = Field(default_factory=list)
    closest: Evidence | None = Field(default=None, description="on a fail without evidence: the nearest candidate "
                                                               "below the threshold, with its similarity")
    rationale: str


class SectionScore(BaseModel):
    id: str
    name: str
    score: float | None = Field(default=None, description="0-100, N/A criteria excluded; null if all N/A")
    weight: float


class SentimentTrajectory(BaseModel):
    """The customer's sentiment over every customer turn (scores in -1..1, see ``scorer.sentiment_trajectory``
    for the rule behind ``trend``)."""

    start: SentimentLabel | None = None
    end: SentimentLabel | None = None
    start_score: float | None = None
    end_score: float | None = None
    trajectory: Literal["improved", "worsened", "unchanged", "unknown"] = Field(
        default="unknown", description="trend in the original vocabulary: a 'recovered' call is 'unchanged'")
    customer_turns: int = Field(default=0, description="customer turns with a sentiment score")
    worst: SentimentLabel | None = None
    worst_score: float | None = Field(default=None, description="the lowest customer score")
    worst_turn: int | None = Field(default=None, description="index in turns of the lowest customer score")
    slope: float | None = Field(default=None, description="least-squares change in score per customer turn")
    trend: Literal["improved", "worsened", "recovered", "unchanged", "unknown"] = Field(
        default="unknown", description="recovered: a negative low point mid-call, markedly below both ends")


class RubricRef(BaseModel):
    id: str
    version: str


class ScoreResult(BaseModel):
    """One scored transcript."""

    id: str
    rubric: RubricRef
    total: float | None = Field(description="0-100: weighted, N/A excluded from the denominator")
    auto_fail: bool
    auto_fail_reasons: list[str] = Field(default_factory=list)
    needs_review: bool
    sections: list[SectionScore]
    criteria: list[CriterionResult]
    metrics: ConversationMetrics
    sentiment: SentimentTrajectory
    language: LanguageCode
    model_versions: dict[str, str] = Field(
        default_factory=dict, description="The model versions that produced it: the rubric's calibration "
        "(rubric:<id>) and the customer-sentiment model (sentiment).")


class Comment(BaseModel):
    """A survey comment (CSAT/NPS verbatim) or message; other input columns are kept in ``metadata``."""

    id: str = Field(max_length=ID_CHARS)
    text: str
    created_at: datetime | None = None
    score: float | None = Field(default=None, ge=0, le=10, description="CSAT 1-5 or NPS 0-10")
    channel: str | None = Field(default=None, max_length=100)
    agent_id: str | None = Field(default=None, max_length=ID_CHARS)
    team: str | None = Field(default=None, max_length=ID_CHARS)
    metadata: Metadata = Field(default_factory=dict)
