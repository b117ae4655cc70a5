"""Sensitive identifiers: what each one looks like in running text and how it is validated.

The one place that knows these shapes and checksums; the Presidio redactor (``text/pii.py``) and the rubric's
PII detector (``pipelines/rubric/detectors.py``) both find identifiers through :func:`find_identifiers`, so they
agree on what is a card number, an IBAN or a DNI.

Kinds (``KINDS``): ``card_number`` (13-19 digits, typed or spoken digit by digit, Luhn), ``iban`` (ISO 13616:
mod 97, the country's length and BBAN format), ``dni`` and ``nie`` (Spanish control letter), ``curp`` (Mexico:
shape, birth date, check digit), ``rfc`` (Mexico: shape and date), ``clabe`` (Mexican bank account, check digit),
``cuit`` (Argentine CUIT/CUIL, check digit) and ``us_ssn`` (reserved ranges excluded).

Checksums come from python-stdnum; CLABE keeps its own check because stdnum has no CLABE module.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Iterator, NamedTuple

from stdnum import iban as _stdnum_iban
from stdnum import luhn as _stdnum_luhn
from stdnum.ar import cuit as _stdnum_cuit
from stdnum.es import dni as _stdnum_dni
from stdnum.es import nie as _stdnum_nie
from stdnum.exceptions import ValidationError
from stdnum.mx import curp as _stdnum_curp
from stdnum.mx import rfc as _stdnum_rfc
from stdnum.us import ssn as _stdnum_ssn

KINDS = ("card_number", "iban", "dni", "nie", "curp", "rfc", "clabe", "cuit", "us_ssn")

# ----------------------------------------------------------------------------- spoken digits
SPOKEN_DIGITS = {
    "cero": "0", "uno": "1", "una": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5", "seis": "6",
    "siete": "7", "ocho": "8", "nueve": "9",
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9",
}
# Four or more digit words in a row ("cuatro cinco tres nueve..."): something worth checking.
SPOKEN_DIGIT_RUN = re.compile(r"(?:\b(?:" + "|".join(SPOKEN_DIGITS) + r")\b[\s,.-]*){4,}", re.I)
_TOKEN = re.compile(r"[A-Za-zÀ-ÿ]+|\d|[-\s.,/]")


def digit_runs(text: str) -> Iterator[tuple[int, int, str]]:
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


# ----------------------------------------------------------------------------- validation
def luhn_ok(digits: str) -> bool:
    """Payment-card checksum (Luhn) over a string of ASCII digits."""
    return _stdnum_luhn.is_valid(digits)


def iban_ok(value: str) -> bool:
    """IBAN: mod-97 check digits, a known country, that country's length and BBAN format (whitespace ignored).

    National check digits inside the BBAN (the Spanish CCC's, for instance) are not required: an IBAN that
    passes ISO 13616 is treated as one.
    """
    return _stdnum_iban.is_valid(re.sub(r"\s", "", value), check_country=False)


def dni_ok(value: str) -> bool:
    """Spanish DNI/NIF: 8 digits and the control letter (spaces and dashes ignored)."""
    return _stdnum_dni.is_valid(value)


def nie_ok(value: str) -> bool:
    """Spanish NIE: X, Y or Z, 7 digits and the control letter (spaces and dashes ignored)."""
    return _stdnum_nie.is_valid(value)


def dni_nie_ok(value: str) -> bool:
    """A Spanish DNI or NIE with its control letter."""
    return dni_ok(value) or nie_ok(value)


_CURP_SHAPE = re.compile(r"[A-Z][AEIOUX][A-Z]{2}\d{6}[HMX](AS|B[CS]|C[CLMSH]|D[FG]|G[TR]|HG|JC|M[CNS]|N[ETL]|OC|PL|"
                         r"Q[TR]|S[PLR]|T[CSL]|VZ|YN|ZS|NE)[B-DF-HJ-NP-TV-Z]{3}[0-9A-Z]\d")


def curp_ok(value: str) -> bool:
    """Mexican CURP: shape (state, consonants), a real birth date and the check digit.

    stdnum knows only the H and M sex markers; a CURP with X (non-binary) gets stdnum's date and check-digit
    tests without its sex test.
    """
    v = value.upper()
    if not _CURP_SHAPE.fullmatch(v):
        return False
    if v[10] != "X":
        return _stdnum_curp.is_valid(v)
    try:
        _stdnum_curp.get_birth_date(v)
    except ValidationError:
        return False
    return _stdnum_curp.calc_check_digit(v) == v[17]


_RFC_SHAPE = re.compile(r"[A-ZÑ&]{3,4}\d{6}[A-Z\d]{2}[A\d]")


def rfc_ok(value: str) -> bool:
    """Mexican RFC: 4 letters (persons) or 3 (companies), a real date, a 3-character homoclave."""
    v = value.upper()
    return bool(_RFC_SHAPE.fullmatch(v)) and _stdnum_rfc.is_valid(v)


def clabe_ok(value: str) -> bool:
    """Mexican CLABE: 18 digits, weights 3-7-1, check digit (python-stdnum has no CLABE module)."""
    v = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"\d{18}", v):
        return False
    total = sum((int(c) * (3, 7, 1)[i % 3]) % 10 for i, c in enumerate(v[:17]))
    return (10 - total % 10) % 10 == int(v[17])


def cuit_ok(value: str) -> bool:
    """Argentine CUIT/CUIL: 11 digits, a known type prefix, mod-11 check digit (spaces, dots, dashes ignored)."""
    return _stdnum_cuit.is_valid(re.sub(r"[\s.-]", "", value))


def ssn_ok(value: str) -> bool:
    """US SSN, with or without dashes: reserved ranges (000, 666, 9xx areas; 00 group; 0000 serial) and the
    numbers known to have been misused publicly excluded."""
    return _stdnum_ssn.is_valid(value)


# ----------------------------------------------------------------------------- finding
class Identifier(NamedTuple):
    """One validated identifier in a text: ``text[start:end]`` is what was said or typed."""

    start: int
    end: int
    kind: str


# Case-insensitive, as Presidio's pattern recognisers were (these patterns came from the redactor).
_FLAGS = re.IGNORECASE | re.DOTALL | re.MULTILINE
# IBAN: 2 letters, 2 digits, then groups of up to 4 characters, spaced or not. The pattern is greedy (it may take in
# the next short word: "ES91 ... 1332 para"), so an invalid match is cut back, group by group, to the longest valid
# IBAN.
_IBAN = re.compile(r"\b[A-Za-z]{2}\d{2}(?:\s?[A-Za-z0-9]{4}){2,7}(?:\s?[A-Za-z0-9]{1,4})?\b", _FLAGS)
_WORD_CHAR = re.compile(r"\w")
_PATTERNS: dict[str, tuple[re.Pattern[str], Callable[[str], bool]]] = {
    "dni": (re.compile(r"\b\d{8}[-\s]?[A-Za-z]\b", _FLAGS), dni_ok),
    "nie": (re.compile(r"\b[XYZxyz][-\s]?\d{7}[-\s]?[A-Za-z]\b", _FLAGS), nie_ok),
    "curp": (re.compile(r"\b[A-Za-z]{4}\d{6}[HMXhmx][A-Za-z]{5}[0-9A-Za-z]\d\b", _FLAGS), curp_ok),
    "rfc": (re.compile(r"\b[A-Za-zÑñ&]{3,4}\d{6}[A-Za-z\d]{3}\b", _FLAGS), rfc_ok),
    "clabe": (re.compile(r"\b\d{3}[\s-]?\d{3}[\s-]?\d{11}[\s-]?\d\b", _FLAGS), clabe_ok),
    "cuit": (re.compile(r"\b(?:20|23|24|27|30|33|34)[-\s.]?\d{8}[-\s.]?\d\b", _FLAGS), cuit_ok),
    "us_ssn": (re.compile(r"\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b", _FLAGS),
               lambda v: ssn_ok(v.replace(" ", "-"))),
}


def card_numbers(text: str) -> Iterator[Identifier]:
    """Payment cards typed or spoken digit by digit: 13-19 digits passing Luhn. An 18-digit run that is a valid
    CLABE is a bank account, not a card."""
    for s, e, d in digit_runs(text):
        if 13 <= len(d) <= 19 and luhn_ok(d) and not (len(d) == 18 and clabe_ok(d)):
            yield Identifier(s, e, "card_number")


def ibans(text: str) -> Iterator[Identifier]:
    """IBANs, spaced in groups or not, in any letter case."""
    pos = 0
    while m := _IBAN.search(text, pos):
        s, found = m.start(), None
        for e in range(m.end(), s, -1):
            if (e == len(text) or not _WORD_CHAR.match(text, e)) and _IBAN.fullmatch(text, s, e) \
                    and iban_ok(text[s:e]):
                found = Identifier(s, e, "iban")
                break
        if found:
            yield found
            pos = found.end
        else:
            pos = s + 1


def find_identifiers(text: str, kinds: Iterable[str] = KINDS) -> list[Identifier]:
    """Every validated identifier of the given kinds in ``text``, sorted by position.

    Spans of different kinds may overlap (a 9-digit SSN inside a longer run, say); callers decide which wins.
    Unknown kinds are ignored.
    """
    want = set(kinds)
    found: list[Identifier] = list(card_numbers(text)) if "card_number" in want else []
    if "iban" in want:
        found += ibans(text)
    for kind, (rx, valid) in _PATTERNS.items():
        if kind in want:
            found += [Identifier(m.start(), m.end(), kind) for m in rx.finditer(text)
                      if m.end() > m.start() and valid(m.group(0))]
    return sorted(found)


_UNIT_CHAR = re.compile(r"[A-Za-z0-9]")
_UNIT_WORD = re.compile(r"[^\W_]+")


def mask_identifiers(text: str, keep: int = 4) -> str:
    """``text`` with every sensitive identifier masked but its last ``keep`` characters ("4111 1111 1111 1111"
    -> "**** **** **** 1111"); spoken digits keep their last ``keep`` words. Same length as typed, so offsets
    into the text stay valid; separators stay."""
    out = list(text)
    for ident in find_identifiers(text):
        span = text[ident.start:ident.end]
        unit = _UNIT_CHAR if any(c.isdigit() for c in span) else _UNIT_WORD
        units = list(unit.finditer(span))
        for m in units[:max(0, len(units) - keep)]:
            for k in range(ident.start + m.start(), ident.start + m.end()):
                out[k] = "*"
    return "".join(out)
