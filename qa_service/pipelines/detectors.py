"""Deterministic rubric detectors: sensitive data (PII) with checksums, phrase patterns, conversation metrics.

Every finding is an :class:`~qa_service.schemas.Evidence` whose ``text`` is exactly
``transcript.turns[turn].text[start_char:end_char]``, so a reviewer can jump to it and the scorer can
verify it before returning a result.
"""

from __future__ import annotations

import re
from typing import Iterable

from qa_service.schemas import ConversationMetrics, Evidence, Transcript

# ----------------------------------------------------------------------------- PII
SPOKEN_DIGITS = {
    "cero": "0", "uno": "1", "una": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5", "seis": "6",
    "siete": "7", "ocho": "8", "nueve": "9",
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9",
}
_TOKEN = re.compile(r"[A-Za-zÀ-ÿ]+|\d|[-\s.,/]")


def luhn_ok(digits: str) -> bool:
    """Payment-card checksum."""
    total, alt = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if alt:
            d *= 2
            if d > 9:
                d -= 9
        total += d
        alt = not alt
    return total % 10 == 0


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni_nie_ok(value: str) -> bool:
    """Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter) with its control letter."""
    v = value.upper().replace("-", "").replace(" ", "")
    if re.fullmatch(r"[XYZ]\d{7}[A-Z]", v):
        v = str("XYZ".index(v[0])) + v[1:]
    if not re.fullmatch(r"\d{8}[A-Z]", v):
        return False
    return _DNI_LETTERS[int(v[:8]) % 23] == v[8]


def iban_ok(value: str) -> bool:
    """IBAN mod-97 check."""
    v = re.sub(r"\s", "", value).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", v):
        return False
    moved = v[4:] + v[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def ssn_ok(value: str) -> bool:
    """US SSN shape with the reserved ranges excluded."""
    m = re.fullmatch(r"(\d{3})-?(\d{2})-?(\d{4})", value)
    if not m:
        return False
    a, g, s = m.groups()
    return a not in ("000", "666") and not a.startswith("9") and g != "00" and s != "0000"


def _digit_runs(text: str) -> Iterable[tuple[int, int, str]]:
    """Runs of digits, typed or spoken ("cuatro cinco uno..."), allowing spaces, dashes and dots between them.

    Yields (start_char, end_char, digits); offsets point into ``text``.
    """
    start = end = None
    digits = ""
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        low = tok.lower()
        if tok.isdigit() or low in SPOKEN_DIGITS:
            if start is None:
                start = m.start()
            digits += tok if tok.isdigit() else SPOKEN_DIGITS[low]
            end = m.end()
        elif tok.strip(" -./,") == "" and start is not None:
            continue  # separator inside a run
        else:
            if start is not None and digits:
                yield start, end, digits
            start, end, digits = None, None, ""
    if start is not None and digits:
        yield start, end, digits


_DNI_RE = re.compile(r"\b(?:[XYZxyz][-\s]?\d{7}|\d{8})[-\s]?[A-Za-z]\b")
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")
_SSN_RE = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")


# Tags left by PII redaction (qa_service/text/pii.py): in a stored, redacted transcript they stand for what was
# said, so reading a card out loud still counts.
_REDACTED = re.compile(r"<(TARJETA|DNI|NIE|IBAN|SSN)>")
_TAG_ENTITY = {"TARJETA": "card_number", "DNI": "dni_nie", "NIE": "dni_nie", "IBAN": "iban", "SSN": "us_ssn"}


def find_pii(text: str, entities: Iterable[str] = ("card_number", "dni_nie", "iban", "us_ssn")
             ) -> list[tuple[int, int, str]]:
    """(start_char, end_char, entity) for every checksum-valid identifier in ``text`` (or its redaction tag)."""
    want = set(entities)
    found: list[tuple[int, int, str]] = [(m.start(), m.end(), _TAG_ENTITY[m.group(1)]) for m in _REDACTED.finditer(text)
                                         if _TAG_ENTITY[m.group(1)] in want]
    if "card_number" in want:
        for s, e, digits in _digit_runs(text):
            if 13 <= len(digits) <= 19 and luhn_ok(digits):
                found.append((s, e, "card_number"))
    if "dni_nie" in want:
        found += [(m.start(), m.end(), "dni_nie") for m in _DNI_RE.finditer(text) if dni_nie_ok(m.group(0))]
    if "iban" in want:
        found += [(m.start(), m.end(), "iban") for m in _IBAN_RE.finditer(text) if iban_ok(m.group(0))]
    if "us_ssn" in want:
        found += [(m.start(), m.end(), "us_ssn") for m in _SSN_RE.finditer(text) if ssn_ok(m.group(0))]
    return sorted(found)


def pii_evidence(transcript: Transcript, turn_ids: Iterable[int], entities: Iterable[str]) -> list[Evidence]:
    ents = list(entities)
    out = []
    for i in turn_ids:
        t = transcript.turns[i]
        for s, e, label in find_pii(t.text, ents):
            out.append(Evidence(turn=i, speaker=t.speaker, start_char=s, end_char=e, text=t.text[s:e],
                                detector="pii", label=label))
    return out


# ------------------------------------------------------------------------- patterns
def pattern_evidence(transcript: Transcript, turn_ids: Iterable[int], patterns: Iterable[str]) -> list[Evidence]:
    """Case-insensitive regular-expression matches in the given turns."""
    compiled = [re.compile(p, re.IGNORECASE) for p in patterns]
    out = []
    for i in turn_ids:
        t = transcript.turns[i]
        for rx in compiled:
            for m in rx.finditer(t.text):
                if m.end() > m.start():
                    out.append(Evidence(turn=i, speaker=t.speaker, start_char=m.start(), end_char=m.end(),
                                        text=m.group(0), detector="pattern", label=rx.pattern))
    return out


# -------------------------------------------------------------------------- metrics
def conversation_metrics(transcript: Transcript, hold_seconds: float = 30.0) -> ConversationMetrics:
    """Talk ratio, silences, holds and overlaps from start/end; response gaps from chat ``at`` times."""
    turns = transcript.turns
    m = ConversationMetrics(turns=len(turns), agent_turns=sum(t.speaker == "agent" for t in turns),
                            customer_turns=sum(t.speaker == "customer" for t in turns))
    timed = [t for t in turns if t.start is not None]
    if timed and len(timed) == len(turns):
        ends = [t.end if t.end is not None else t.start for t in turns]
        m.handle_time_seconds = round(max(ends) - turns[0].start, 2)
        speech = {"agent": 0.0, "customer": 0.0, "system": 0.0}
        for t, e in zip(turns, ends):
            speech[t.speaker] += max(0.0, e - t.start)
        total = speech["agent"] + speech["customer"]
        m.agent_talk_ratio = round(speech["agent"] / total, 3) if total > 0 else None
        gaps, overlaps = [], 0
        for prev_end, (prev, cur) in zip(ends, zip(turns, turns[1:])):
            gap = cur.start - prev_end
            if gap < 0 and cur.speaker != prev.speaker:
                overlaps += 1
            gaps.append(max(0.0, gap))
        m.longest_silence_seconds = round(max(gaps), 2) if gaps else 0.0
        m.holds = sum(g >= hold_seconds for g in gaps)
        m.overlaps = overlaps
    stamped = [t for t in turns if t.at is not None]
    if stamped and len(stamped) == len(turns):
        m.handle_time_seconds = round((turns[-1].at - turns[0].at).total_seconds(), 2)
        waits, waiting_since = [], None
        for t in turns:
            if t.speaker == "customer" and waiting_since is None:
                waiting_since = t.at
            elif t.speaker == "agent" and waiting_since is not None:
                waits.append((t.at - waiting_since).total_seconds())
                waiting_since = None
        if waits:
            m.first_response_seconds = round(waits[0], 2)
            m.longest_agent_gap_seconds = round(max(waits), 2)
    return m
