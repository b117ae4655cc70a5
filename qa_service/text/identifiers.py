"""Sensitive identifiers: what each one looks like in running text and how it is validated.

The one place that knows these shapes and checksums; the Presidio redactor (``text/pii.py``) and the rubric's
PII detector (``pipelines/rubric/detectors.py``) both find identifiers through :func:`find_identifiers`, so they
agree on what is a card number, an IBAN or a DNI.

Kinds (``KINDS``): ``card_number`` (13-19 digits, typed or spoken digit by digit, Luhn), ``iban`` (ISO 13616:
mod 97, the country's length and BBAN format), ``dni`` and ``nie`` (Spanish control letter), ``curp`` (Mexico:
shape, birth date, check digit), ``rfc`` (Mexico: shape and date), ``clabe`` (Mexican bank account, check digit),
``cuit`` (Argentine CUIT/CUIL, check digit), ``us_ssn`` (reserved ranges excluded), and the Latin-American ids a
Spanish-first product meets: ``cl_rut`` (Chile RUT/RUN, mod 11 with K), ``ec_ci`` (Ecuador cédula, check digit),
``pe_dni`` (Peru DNI/CUI, 8 digits and an optional check character), ``ar_dni`` (Argentina DNI, 7-8 digits) and
``co_cedula`` (Colombia cédula, 6-8 digits or 10 starting with 1).

Identifiers are found typed ("4539 1488 0343 6467", "17.936.482-4") and spoken, the way people read them out:
digit by digit, in groups ("cincuenta y tres, cuatrocientos diez..."), with letters by name or spelled ("letra
eme", "eme de Madrid"), through :mod:`qa_service.text.spoken_numbers`, which maps every character back to the words
that said it. Numbers without a check digit (Peru and Argentina DNI, Colombia cédula) and those whose check is weak
against random digits (SSN, CUIT, RUT said without their usual grouping) count only with a context word (DNI,
cédula, documento, RUT, CUIT, social security...) in the text or in the ``context`` given (the turns before), and
not when an amount, date or phone word is nearer.

Checksums come from python-stdnum; CLABE keeps its own check because stdnum has no CLABE module.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Iterator, NamedTuple

from stdnum import iban as _stdnum_iban
from stdnum import luhn as _stdnum_luhn
from stdnum.ar import cuit as _stdnum_cuit
from stdnum.ar import dni as _stdnum_ar_dni
from stdnum.cl import rut as _stdnum_rut
from stdnum.ec import ci as _stdnum_ec_ci
from stdnum.es import dni as _stdnum_dni
from stdnum.es import nie as _stdnum_nie
from stdnum.exceptions import ValidationError
from stdnum.mx import curp as _stdnum_curp
from stdnum.mx import rfc as _stdnum_rfc
from stdnum.pe import cui as _stdnum_pe_cui
from stdnum.us import ssn as _stdnum_ssn

from qa_service.text.spoken_numbers import NUMBER_WORD_RUN, Language, SpokenSequence, iter_windows, read_sequences

KINDS = ("card_number", "iban", "dni", "nie", "curp", "rfc", "clabe", "cuit", "us_ssn", "cl_rut", "ec_ci", "pe_dni",
         "ar_dni", "co_cedula")
# Kinds whose checksum makes a random run of digits unlikely to pass; the others need context or grouping.
CHECKSUM_KINDS = frozenset({"card_number", "iban", "dni", "nie", "curp", "rfc", "clabe", "cuit", "cl_rut", "ec_ci"})

# ----------------------------------------------------------------------------- spoken digits
SPOKEN_DIGITS = {
    "cero": "0", "uno": "1", "una": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5", "seis": "6",
    "siete": "7", "ocho": "8", "nueve": "9",
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9",
}
# Number words in a row ("cuatro cinco tres", "cincuenta y tres, cuatrocientos diez"): something worth checking
# (the redactor reads only such texts, or texts with a digit, for identifiers).
SPOKEN_DIGIT_RUN = NUMBER_WORD_RUN
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


def cl_rut_ok(value: str) -> bool:
    """Chile RUT/RUN: 7-8 digits and a mod-11 check character (0-9 or K); dots and dash ignored."""
    return _stdnum_rut.is_valid(value)


def ec_ci_ok(value: str) -> bool:
    """Ecuador cédula: 10 digits, a province code (01-24, 30, 50), third digit below 7 and the check digit."""
    return _stdnum_ec_ci.is_valid(value)


def pe_dni_ok(value: str) -> bool:
    """Peru DNI (CUI): 8 digits and, when given, its check character (a digit or a letter A-K)."""
    return _stdnum_pe_cui.is_valid(value)


def ar_dni_ok(value: str) -> bool:
    """Argentina DNI: 7 or 8 digits (dots and spaces ignored); it has no check digit, so context decides."""
    return _stdnum_ar_dni.is_valid(value)


def co_cedula_ok(value: str) -> bool:
    """Colombia cédula de ciudadanía: no check digit; issued as 6-8 digits, and since 2004 as 10 digits starting
    with 1 (9-digit numbers and other 10-digit ones are phone-shaped, so they are not taken)."""
    v = re.sub(r"[\s.]", "", value)
    return v.isdigit() and (6 <= len(v) <= 8 or (len(v) == 10 and v[0] == "1")) and len(set(v)) > 1


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
_ANY_DIGIT = re.compile(r"\d")
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
    CLABE is a bank account, not a card. (The first release's reader; :func:`find_identifiers` reads cards from
    :func:`~qa_service.text.spoken_numbers.read_sequences`, which also reads numbers said in groups.)"""
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


# ----------------------------------------------------------------------------- read out loud
# What each kind looks like once read into digits and letters (see spoken_numbers.read_sequences).
_SHAPES: dict[str, tuple[re.Pattern[str], Callable[[str], bool]]] = {
    "card_number": (re.compile(r"\d{13,19}"), lambda v: luhn_ok(v) and not (len(v) == 18 and clabe_ok(v))),
    "iban": (re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}"), iban_ok),
    "dni": (re.compile(r"\d{8}[A-Z]"), dni_ok),
    "nie": (re.compile(r"[XYZ]\d{7}[A-Z]"), nie_ok),
    "curp": (re.compile(r"[A-Z]{4}\d{6}[HMX][A-Z]{5}[0-9A-Z]\d"), curp_ok),
    "rfc": (re.compile(r"[A-ZÑ&]{3,4}\d{6}[A-Z\d]{3}"), rfc_ok),
    "clabe": (re.compile(r"\d{18}"), clabe_ok),
    "cuit": (re.compile(r"\d{11}"), cuit_ok),
    "us_ssn": (re.compile(r"\d{9}"), ssn_ok),
    "cl_rut": (re.compile(r"\d{7,8}[0-9K]"), cl_rut_ok),
    "ec_ci": (re.compile(r"\d{10}"), ec_ci_ok),
    "pe_dni": (re.compile(r"\d{8}[0-9A-K]?"), pe_dni_ok),
    "ar_dni": (re.compile(r"\d{7,8}"), ar_dni_ok),
    "co_cedula": (re.compile(r"\d{6,8}|1\d{9}"), co_cedula_ok),
}
# The grouping people use when they say these out loud: 123-45-6789, 20-12345678-6.
_GROUPING = {"us_ssn": (3, 2, 4), "cuit": (2, 8, 1)}
# "DNI" as people and ASR write it when it is said letter by letter: "de ene i", "d n i".
_DNI_WORDS = r"\b(?:dni|d\.?\s?n\.?\s?i\b|de ene i\b|documento|identidad|identificaci[oó]n)"
# Context a kind needs when read without its grouping (checksum kinds with a weak check) or always (no check digit).
_CONTEXT: dict[str, re.Pattern[str]] = {
    "us_ssn": re.compile(r"\b(?:ssn|social security|social|seguro social|seguridad social)\b", re.I),
    "cuit": re.compile(r"\b(?:cuit|cuil|c\.u\.i\.[tl]\.?)", re.I),
    "cl_rut": re.compile(r"\b(?:rut|run|rol [uú]nico)\b", re.I),
    "ec_ci": re.compile(r"\b(?:c[eé]dula|c\.\s?i\.|identidad|identificaci[oó]n|documento)", re.I),
    "pe_dni": re.compile(_DNI_WORDS, re.I),
    "ar_dni": re.compile(_DNI_WORDS, re.I),
    "co_cedula": re.compile(r"\b(?:c[eé]dula|c\.\s?c\.|documento|identidad|identificaci[oó]n)", re.I),
}
# Checksums strong and numbers long enough to be taken out of a longer run read with pauses ("card, expiry").
_LONG_CHECKSUM_KINDS = frozenset({"card_number", "clabe", "iban"})
_NEEDS_CONTEXT = frozenset({"ec_ci", "pe_dni", "ar_dni", "co_cedula"})
# Nearer than the id word, these say the number is something else: an amount, a date, a phone, an order.
_OTHER_BEFORE = re.compile(
    r"(?:\$|€|£|s/\.?|us\$|importe|monto|saldo|total|precio|pago de|cargo de|cobro de|factura|pedido|orden|order|"
    r"ticket|incidencia|referencia|reference|tel[eé]fono|m[oó]vil|celular|whats ?app|l[ií]nea|phone|mobile|cell|"
    r"cuenta|account|routing|sort code|p[oó]liza|policy|contrato|expediente|tracking|seguimiento|c[oó]digo postal|"
    r"zip|fecha|date|nacimiento|birth)", re.I)
_OTHER_AFTER = re.compile(
    r"^\W{0,3}(?:euros?|pesos?|soles?|d[oó]lares|dollars?|bucks|bol[ií]vares|quetzales|colones|lempiras|guaran[ií]es|"
    r"lucas|mil pesos|€|\$|por ciento|percent|%|minutos?|minutes?|horas?|hours?|d[ií]as|days|meses|months|a[ñn]os|"
    r"years|de (?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|"
    r"diciembre))\b", re.I)
_MIN_DIGITS = 6  # the shortest identifier here (a cédula) has 6 digits
_CONTEXT_BEFORE = 120  # characters before a number where its context word is looked for
_CONTEXT_AFTER = 40


def _grouping(seq: SpokenSequence, i: int, j: int) -> tuple[int, ...]:
    sizes: list[int] = []
    last = None
    for p in seq.pieces[i:j]:
        if p.chunk != last:
            sizes.append(0)
            last = p.chunk
        sizes[-1] += len(p.chars)
    return tuple(sizes)


def _context_ok(kind: str, text: str, start: int, end: int, context: str) -> bool:
    """Whether a context word for ``kind`` is near the number (or in ``context``), and no amount, date or phone
    word is nearer to it."""
    rx = _CONTEXT[kind]
    before = text[max(0, start - _CONTEXT_BEFORE):start]
    after = text[end:end + _CONTEXT_AFTER]
    if _OTHER_AFTER.search(after):
        return False
    near = [m.end() for m in rx.finditer(before)]
    other = [m.end() for m in _OTHER_BEFORE.finditer(before)]
    if near:
        return not other or max(near) > max(other)
    if other:
        return False
    return bool(rx.search(after) or rx.search(context))


def _spoken_identifiers(text: str, kinds: set[str], context: str, language: Language
                        ) -> list[tuple[Identifier, list[tuple[int, int, int]]]]:
    """Identifiers in the digit/letter sequences of ``text`` (typed or spoken), each with its pieces as
    (start, end, number of characters) for masking."""
    out = []
    shapes = [(k, _SHAPES[k]) for k in KINDS if k in kinds]
    for seq in read_sequences(text, language, _MIN_DIGITS):
        ps = seq.pieces
        n = len(ps)
        for i, j in iter_windows(seq, at_pauses=True):
            cuts_digits = (i > 0 and ps[i - 1].kind == ps[i].kind == "digit") or \
                (j < n and ps[j - 1].kind == ps[j].kind == "digit")
            # A letter read with it just outside the window: the window is part of a longer code (a plate, a
            # reference: "T U dos dos nueve..."), not an identifier of its own.
            if (i > 0 and ps[i - 1].kind == "letter" and not ps[i - 1].weak) or \
                    (j < n and ps[j].kind == "letter" and not ps[j].weak):
                continue
            value = "".join(p.chars for p in ps[i:j])
            for kind, (shape, valid) in shapes:
                if not shape.fullmatch(value) or not valid(value):
                    continue
                start, end = ps[i].start, ps[j - 1].end
                if kind in _NEEDS_CONTEXT:
                    if cuts_digits or ps[i].kind != "digit" or not _context_ok(kind, text, start, end, context):
                        continue
                elif cuts_digits and kind not in _LONG_CHECKSUM_KINDS:
                    # part of a longer number: only with the word that says what it is ("RUT 17.936.482-4, 30")
                    if not _context_ok(kind, text, start, end, context):
                        continue
                elif kind in _GROUPING:
                    if _grouping(seq, i, j) != _GROUPING[kind] and not _context_ok(kind, text, start, end, context):
                        continue
                elif kind == "cl_rut":
                    grouped = j - i >= 2 and ps[j - 1].sep == "-" and ps[j - 1].chunk != ps[j - 2].chunk
                    if not grouped and not _context_ok(kind, text, start, end, context):
                        continue
                if (ps[i].weak and ps[i].kind == "digit") or (ps[j - 1].weak and ps[j - 1].kind == "digit"):
                    continue  # "una", "o" at an edge: an ordinary word, not part of the number
                out.append((Identifier(start, end, kind), [(p.start, p.end, len(p.chars)) for p in ps[i:j]]))
    return out


def _find(text: str, kinds: Iterable[str], context: str, language: Language
          ) -> list[tuple[Identifier, list[tuple[int, int, int]] | None]]:
    want = set(kinds)
    found: dict[Identifier, list[tuple[int, int, int]] | None] = {}
    # Cards come from the sequences alone (typed or spoken): they know where a pause or a spelled letter ends a
    # number, which digit_runs does not. The typed patterns all need digits.
    typed = _ANY_DIGIT.search(text) is not None
    if "iban" in want and typed:
        for ident in ibans(text):
            found[ident] = None
    for kind, (rx, valid) in _PATTERNS.items() if typed else ():
        if kind in want:
            for m in rx.finditer(text):
                if m.end() > m.start() and valid(m.group(0)):
                    found[Identifier(m.start(), m.end(), kind)] = None
    for ident, units in _spoken_identifiers(text, want, context, language):
        found[ident] = units
    return sorted(found.items())


def find_identifiers(text: str, kinds: Iterable[str] = KINDS, *, context: str = "",
                     language: Language = None) -> list[Identifier]:
    """Every validated identifier of the given kinds in ``text``, typed or read out loud, sorted by position.

    Args:
        text: the text (one turn).
        kinds: which kinds to look for (unknown kinds are ignored).
        context: text around it that may hold the context word a number needs (the turns before: "¿me da su
            DNI?" ... "cuarenta y cinco millones...").
        language: ``es``/``en`` for reading spoken numbers and letters; None reads both.

    Spans of different kinds may overlap (a 9-digit SSN inside a longer run, an 8-digit DNI number without its
    letter); :func:`strongest` keeps one of each overlapping set.
    """
    return [ident for ident, _ in _find(text, kinds, context, language)]


def strongest(identifiers: Iterable[Identifier]) -> list[Identifier]:
    """Non-overlapping identifiers: checksum kinds before context-only ones, then the longer, then the earlier."""
    ranked = sorted(identifiers, key=lambda x: (x.kind not in CHECKSUM_KINDS, -(x.end - x.start), x.start))
    kept: list[Identifier] = []
    for x in ranked:
        if all(x.end <= k.start or x.start >= k.end for k in kept):
            kept.append(x)
    return sorted(kept)


_UNIT_CHAR = re.compile(r"[A-Za-z0-9]")
_UNIT_WORD = re.compile(r"[^\W_]+")


def _typed_units(text: str, ident: Identifier) -> list[tuple[int, int, int]]:
    span = text[ident.start:ident.end]
    unit = _UNIT_CHAR if any(c.isdigit() for c in span) else _UNIT_WORD
    return [(ident.start + m.start(), ident.start + m.end(), 1) for m in unit.finditer(span)]


def mask_identifiers(text: str, keep: int = 4, *, context: str = "", language: Language = None) -> str:
    """``text`` with every sensitive identifier masked but its last ``keep`` characters at most
    ("4539 1488 0343 6467" -> "**** **** **** 6467"; "cincuenta y tres, cuatrocientos diez, seiscientos veintiocho,
    letra eme" -> "********* * ****, ************ ****, seiscientos veintiocho, letra eme": a word that said
    digits before the last ``keep`` is masked whole). Letters and digits become ``*``; the length, separators and
    offsets stay, so ``mask_identifiers(text)[a:b]`` is the masked ``text[a:b]``."""
    found = _find(text, KINDS, context, language)
    units_of = dict(found)
    out = list(text)
    for ident in strongest(units_of):
        units = units_of[ident] or _typed_units(text, ident)
        kept = 0
        keep_from = len(units)
        for k in range(len(units) - 1, -1, -1):
            if kept + units[k][2] > keep:
                break
            kept += units[k][2]
            keep_from = k
        for s, e, _n in units[:keep_from]:
            for c in range(s, e):
                if out[c].isalnum():
                    out[c] = "*"
    return "".join(out)
