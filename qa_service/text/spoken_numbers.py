"""Numbers and letters as people say them, turned into digit/letter strings that map back to the text.

Agents and customers read identifiers out loud in many ways, and speech recognition writes them down without
punctuation, with fillers between the groups:

* digit by digit: "cuatro cinco dos uno", "five five five", "oh", "double four", "triple cinco";
* in groups, composed as numbers: "cincuenta y tres, cuatrocientos diez, seiscientos veintiocho" (``53410628``),
  "veintiocho millones cuatrocientos sesenta y un mil" , "twelve", "forty-five thirty-nine";
* letters by name or spelled: "eme", "letra jota", "eme de Madrid", "i griega", "uve doble", "M as in Mike", or a
  single letter as ASR writes it ("j t four ...");
* typed digits ("4539 1488", "17.936.482-4", "X9120475D"), mixed with the spoken ones.

:func:`read_sequences` returns each run of such pieces (a :class:`SpokenSequence`): its characters in order,
where in the text each came from, whether it was spoken or typed, and how the speaker grouped it (commas, dashes,
"guion": ``chunk``). Deciding what a sequence *is* (a card, a DNI...) is the identifier validators' job
(:mod:`qa_service.text.identifiers`); this module only reads.

Words that are also ordinary words ("a", "de", "e", "o", "ese", "te" in Spanish; "a", "i", "see", "you" in
English; "un", "una") are kept as *weak* pieces: a validator may use them inside an identifier, and leaves them
out at its edges.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator, Literal

# ----------------------------------------------------------------------------- lexicons
# Number words: (class, value). Classes: Z zero (always a digit of its own), U unit 1-9, T complete 10-29 (es) /
# 10-19 (en), D tens that may take a unit, H hundreds (es), HM "hundred" (en: multiplies what precedes), M 10^3/10^6.
_ES_NUMBERS: dict[str, tuple[str, int]] = {
    "cero": ("Z", 0), "uno": ("U", 1), "un": ("U", 1), "una": ("U", 1), "dos": ("U", 2), "tres": ("U", 3),
    "cuatro": ("U", 4), "cinco": ("U", 5), "seis": ("U", 6), "siete": ("U", 7), "ocho": ("U", 8), "nueve": ("U", 9),
    "diez": ("T", 10), "once": ("T", 11), "doce": ("T", 12), "trece": ("T", 13), "catorce": ("T", 14),
    "quince": ("T", 15), "dieciseis": ("T", 16), "diecisiete": ("T", 17), "dieciocho": ("T", 18),
    "diecinueve": ("T", 19), "veinte": ("T", 20), "veintiuno": ("T", 21), "veintiun": ("T", 21),
    "veintiuna": ("T", 21), "veintidos": ("T", 22), "veintitres": ("T", 23), "veinticuatro": ("T", 24),
    "veinticinco": ("T", 25), "veintiseis": ("T", 26), "veintisiete": ("T", 27), "veintiocho": ("T", 28),
    "veintinueve": ("T", 29),
    "treinta": ("D", 30), "cuarenta": ("D", 40), "cincuenta": ("D", 50), "sesenta": ("D", 60), "setenta": ("D", 70),
    "ochenta": ("D", 80), "noventa": ("D", 90),
    "cien": ("H", 100), "ciento": ("H", 100), "doscientos": ("H", 200), "doscientas": ("H", 200),
    "trescientos": ("H", 300), "trescientas": ("H", 300), "cuatrocientos": ("H", 400), "cuatrocientas": ("H", 400),
    "quinientos": ("H", 500), "quinientas": ("H", 500), "seiscientos": ("H", 600), "seiscientas": ("H", 600),
    "setecientos": ("H", 700), "setecientas": ("H", 700), "ochocientos": ("H", 800), "ochocientas": ("H", 800),
    "novecientos": ("H", 900), "novecientas": ("H", 900),
    "mil": ("M", 1000), "millon": ("M", 1_000_000), "millones": ("M", 1_000_000),
}
_EN_NUMBERS: dict[str, tuple[str, int]] = {
    "zero": ("Z", 0), "oh": ("Z", 0), "o": ("Z", 0), "nought": ("Z", 0), "one": ("U", 1), "two": ("U", 2),
    "three": ("U", 3), "four": ("U", 4), "five": ("U", 5), "six": ("U", 6), "seven": ("U", 7), "eight": ("U", 8),
    "nine": ("U", 9),
    "ten": ("T", 10), "eleven": ("T", 11), "twelve": ("T", 12), "thirteen": ("T", 13), "fourteen": ("T", 14),
    "fifteen": ("T", 15), "sixteen": ("T", 16), "seventeen": ("T", 17), "eighteen": ("T", 18), "nineteen": ("T", 19),
    "twenty": ("D", 20), "thirty": ("D", 30), "forty": ("D", 40), "fourty": ("D", 40), "fifty": ("D", 50),
    "sixty": ("D", 60), "seventy": ("D", 70), "eighty": ("D", 80), "ninety": ("D", 90),
    "hundred": ("HM", 100), "thousand": ("M", 1000), "million": ("M", 1_000_000),
}
# Number words that are more often ordinary words: read as numbers only next to other numbers.
_WEAK_NUMBERS = {"un", "una", "o"}

# Letter names -> (letter, weak). Weak: also an ordinary word of the language.
_ES_LETTERS: dict[str, tuple[str, bool]] = {
    "a": ("A", True), "be": ("B", False), "ce": ("C", False), "de": ("D", True), "e": ("E", True),
    "efe": ("F", False), "ge": ("G", False), "hache": ("H", False), "i": ("I", False), "jota": ("J", False),
    "ka": ("K", False), "ele": ("L", False), "eme": ("M", False), "ene": ("N", False), "eñe": ("Ñ", False),
    "o": ("O", True), "pe": ("P", False), "cu": ("Q", False), "ere": ("R", False), "erre": ("R", False),
    "ese": ("S", True), "te": ("T", True), "u": ("U", True), "uve": ("V", False), "ve": ("V", True),
    "equis": ("X", False), "ye": ("Y", False), "zeta": ("Z", False), "zeda": ("Z", False), "ceta": ("Z", False),
}
_EN_LETTERS: dict[str, tuple[str, bool]] = {
    "a": ("A", True), "bee": ("B", False), "see": ("C", True), "sea": ("C", True), "dee": ("D", False),
    "e": ("E", False), "ef": ("F", False), "eff": ("F", False), "gee": ("G", False), "aitch": ("H", False),
    "haitch": ("H", False), "i": ("I", True), "jay": ("J", True), "kay": ("K", True), "el": ("L", True),
    "em": ("M", False), "en": ("N", False), "pee": ("P", False), "cue": ("Q", True), "queue": ("Q", True),
    "ar": ("R", False), "are": ("R", True), "ess": ("S", False), "tee": ("T", False), "you": ("U", True),
    "vee": ("V", False), "ex": ("X", True), "why": ("Y", True), "zed": ("Z", False), "zee": ("Z", False),
}
# Two-word letter names.
_ES_LETTER_PAIRS = {("i", "griega"): "Y", ("i", "latina"): "I", ("uve", "doble"): "W", ("doble", "uve"): "W",
                    ("doble", "ve"): "W", ("doble", "u"): "W", ("ve", "doble"): "W", ("be", "larga"): "B",
                    ("be", "grande"): "B", ("ve", "corta"): "V", ("ve", "chica"): "V", ("ve", "baja"): "V",
                    ("ve", "pequena"): "V"}
_EN_NAMES_THAT_ARE_SPANISH = {"el", "en", "ar", "ex", "see", "sea", "you", "why", "are", "cue", "jay", "kay"}
_EN_LETTER_PAIRS = {("double", "u"): "W", ("double", "you"): "W"}
# Single letters that are ordinary words when written alone (conjunctions, articles, pronouns).
_ES_WEAK_SINGLE = {"a", "e", "o", "u", "y"}
_EN_WEAK_SINGLE = {"a", "i"}

# "eme de Madrid", "M as in Mike", "M for Mother": the word after the connector starts with the letter.
_ES_SPELL = ("de", "como")
_EN_SPELL = ("as in", "for", "like")

_LETTER_MARKERS = {"letra", "letter"}
_REPEAT = {"double": 2, "triple": 3, "doble": 2}
_DASH_WORDS = {"guion", "dash", "hyphen", "raya"}
_ES_FILLERS = {"eh", "ehh", "ehm", "em", "emm", "mm", "mmm", "hmm", "este", "pues", "bueno", "y"}
_EN_FILLERS = {"uh", "um", "umm", "uhm", "er", "erm", "ah", "ahh", "hmm", "mm", "and", "so", "like"}
_FILLER_PAIRS = {("o", "sea"), ("a", "ver")}
_MAX_FILLERS = 2  # more fillers in a row than this end a sequence

Language = Literal["es", "en"] | None


@lru_cache(maxsize=8192)
def _fold(word: str) -> str:
    """Lower case without accents (ASR and typists drop them), keeping ñ."""
    w = word.lower().replace("ñ", "\0")
    w = "".join(c for c in unicodedata.normalize("NFD", w) if unicodedata.category(c) != "Mn")
    return w.replace("\0", "ñ")


@lru_cache(maxsize=4)
def _interesting(language: Language) -> frozenset[str]:
    """Words the reader does something with (numbers, letters, fillers, markers, connectors); every other word
    of two letters or more ends a sequence."""
    numbers, letters, letter_pairs, _weak, spell, fillers = _lexicons(language)
    words = set(numbers) | set(letters) | set(fillers) | _LETTER_MARKERS | set(_REPEAT) | _DASH_WORDS
    words |= {w for pair in letter_pairs for w in pair} | {w for pair in _FILLER_PAIRS for w in pair}
    words |= {w for conn in spell for w in conn.split()} | {"y", "and"}
    return frozenset(words)


@lru_cache(maxsize=4)
def _lexicons(language: Language):
    if language == "en":
        return _EN_NUMBERS, _EN_LETTERS, _EN_LETTER_PAIRS, _EN_WEAK_SINGLE, _EN_SPELL, _EN_FILLERS
    if language == "es":
        return _ES_NUMBERS, _ES_LETTERS, _ES_LETTER_PAIRS, _ES_WEAK_SINGLE, _ES_SPELL, _ES_FILLERS
    # Unknown language: Spanish first, English words that are not Spanish words too ("once" stays Spanish 11,
    # "o" stays a Spanish letter).
    numbers = {**{k: v for k, v in _EN_NUMBERS.items() if k != "o"}, **_ES_NUMBERS}
    letters = {**{k: (c, True) for k, (c, _w) in _EN_LETTERS.items() if k not in _EN_NAMES_THAT_ARE_SPANISH},
               **_ES_LETTERS}
    return (numbers, letters, {**_EN_LETTER_PAIRS, **_ES_LETTER_PAIRS}, _ES_WEAK_SINGLE | _EN_WEAK_SINGLE,
            _ES_SPELL + _EN_SPELL, _ES_FILLERS | _EN_FILLERS)


_ALL_NUMBER_WORDS = set(_ES_NUMBERS) | set(_EN_NUMBERS)
_STRONG_NUMBER_WORDS = sorted(_ALL_NUMBER_WORDS - _WEAK_NUMBERS - {"once", "ten"}, key=len, reverse=True)
# With their usual accents too, so the cheap test needs no accent folding.
_STRONG_SET = frozenset(_STRONG_NUMBER_WORDS) | {"dieciséis", "veintidós", "veintitrés", "veintiséis", "veintiún",
                                                 "millón"}
_WORDS = re.compile(r"[^\W\d_]+")
_DIGIT = re.compile(r"\d")
_THREE_DIGITS = re.compile(r"\d(?:\D*\d){2}")
_MIN_NUMERIC = 3  # typed digits plus number words: fewer than this cannot hold an identifier or a code
NUMBER_WORD_RUN = re.compile(r"(?:\b(?:" + "|".join(_STRONG_NUMBER_WORDS) + r")\b(?:[\s,.-]+(?:y|and)\b)?[\s,.-]*){3,}",
                             re.IGNORECASE)
"""Three or more number words in a row ("cuatro cinco tres", "cincuenta y tres, cuatrocientos diez"): text
worth reading for a spoken identifier."""


def may_hold_numbers(text: str) -> bool:
    """A cheap test: at least three typed digits and number words ("cuatro", "twelve", "millones") in all. Texts
    with fewer hold no identifier and no code, typed or spoken."""
    if _THREE_DIGITS.search(text):
        return True
    n = len(_DIGIT.findall(text))
    for w in _WORDS.findall(text.lower()):
        if w in _STRONG_SET:
            n += 1
            if n >= _MIN_NUMERIC:
                return True
    return False


# ----------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Piece:
    """Characters said or typed together: a digit group ("53" from "cincuenta y tres"), one typed character, or
    one letter.

    Attributes:
        chars: the digits or the (upper-case) letter.
        start, end: where in the text it was said (the words, connectors included: "eme de Madrid").
        kind: ``digit`` or ``letter``.
        weak: also an ordinary word ("a", "de", "un"): identifiers leave it out at their edges.
        spoken: said in words (False: typed characters).
        chunk: how the speaker grouped the sequence: pieces with the same number were said without a comma, dash
            or "guion" between them (typed digits: without a space either).
        sep: the separator before this piece: ``""`` (typed, adjacent), ``" "``, ``","``, ``"-"`` or ``"."``.
    """

    chars: str
    start: int
    end: int
    kind: Literal["digit", "letter"]
    weak: bool = False
    spoken: bool = True
    chunk: int = 0
    sep: str = " "


@dataclass(frozen=True)
class SpokenSequence:
    """A run of digits and letters read together, with no other word between them (fillers aside)."""

    pieces: tuple[Piece, ...]

    @property
    def start(self) -> int:
        return self.pieces[0].start

    @property
    def end(self) -> int:
        return self.pieces[-1].end

    @property
    def value(self) -> str:
        return "".join(p.chars for p in self.pieces)

    @property
    def spoken(self) -> bool:
        """Whether any piece was said in words."""
        return any(p.spoken for p in self.pieces)


# ----------------------------------------------------------------------------- reading
_TOKEN = re.compile(r"\d+|[^\W\d_]+(?:['’][^\W\d_]+)?|\S")
_BREAK_PUNCT = set("?!¿¡;:/()[]{}\"«»<>|=+*#@&%$€£")


class _Tok:
    __slots__ = ("text", "low", "start", "end", "space_before")

    def __init__(self, text: str, start: int, end: int, space_before: bool) -> None:
        low = text.lower() if text.isascii() else _fold(text)
        self.text, self.low, self.start, self.end, self.space_before = text, low, start, end, space_before


def _tokens(text: str, start: int = 0, end: int | None = None) -> list[_Tok]:
    out: list[_Tok] = []
    prev_end = start
    for m in _TOKEN.finditer(text, start, len(text) if end is None else end):
        out.append(_Tok(m.group(0), m.start(), m.end(), m.start() > prev_end))
        prev_end = m.end()
    return out


class _Group:
    """A cardinal number being composed from number words ("cincuenta y tres", "dos mil veinticuatro")."""

    def __init__(self) -> None:
        self.total = 0  # value of completed thousands/millions
        self.cur = 0  # below the last multiplier
        self.stage = ""  # "" empty, U unit done, D tens (may take a unit), H hundreds, M after a multiplier
        self.last_mult = 10 ** 12
        self.start = self.end = -1
        self.weak_only = True
        self.pending_and = False

    @property
    def empty(self) -> bool:
        return self.start < 0

    def value(self) -> int:
        return self.total + self.cur

    def can_take(self, cls: str, val: int, en: bool) -> bool:
        st = self.stage
        if self.empty:
            return cls != "HM"
        if self.pending_and and cls not in ("U", "T", "D"):
            return False
        if cls == "Z":
            return False
        if cls == "U":
            return st in ("H", "M") or (st == "D" and (en or self.pending_and))
        if cls in ("T", "D"):
            return st in ("H", "M")
        if cls == "H":
            return st == "M"
        if cls == "HM":  # English "five hundred", "nineteen hundred"
            return st in ("U", "D") and 0 < self.cur < 100
        if cls == "M":
            return st in ("U", "D", "H") and val < self.last_mult and self.cur > 0
        return False

    def take(self, cls: str, val: int, start: int, end: int, weak: bool) -> None:
        if self.empty:
            self.start = start
        self.end = end
        self.weak_only = self.weak_only and weak
        self.pending_and = False
        if cls == "M":
            self.total += max(self.cur, 1) * val
            self.cur = 0
            self.last_mult = val
            self.stage = "M"
        elif cls == "HM":
            self.cur *= val
            self.stage = "H"
        elif cls == "H":
            self.cur += val
            self.stage = "H"
        elif cls == "D":
            self.cur += val
            self.stage = "D"
        else:  # Z, U, T
            self.cur += val
            self.stage = "U"
        if cls == "Z":
            self.stage = "Z"


@lru_cache(maxsize=512)
def read_sequences(text: str, language: Language = None, min_digits: int = 3) -> tuple[SpokenSequence, ...]:
    """Every run of digits and letters in ``text``, typed or spoken, with where each piece came from.

    Args:
        text: one turn of a transcript (or any text).
        language: ``es`` or ``en`` picks the number and letter words; None reads both (Spanish first).
        min_digits: parts of the text that cannot yield this many digits (counting what each number word can
            add: "mil" 3, "millones" 6) are not read; identifiers need 6, a security code 3.

    Returns:
        The sequences holding at least one digit, in text order. Cached: the detector and the masker read the
        same turns.
    """
    if not text or not may_hold_numbers(text):
        return ()
    out: list[SpokenSequence] = []
    for zs, ze, mass in _zones(text):
        if mass >= min_digits:
            out += _read(text, language, zs, ze)
    return tuple(out)


_ZONE_PAD = 48  # characters read around numbers: spelled letters and markers ("e ese", "letra", "guion")
_ZONE_GAP = 96  # numbers closer than this are read together (a CURP's letters between its digit groups)
_WORD_OR_DIGITS = re.compile(r"\d+|[^\W\d_]+")
# The most digits a number word can add to what is read ("mil" turns "treinta y cinco" into 5 digits).
_MASS = {"Z": 1, "U": 1, "T": 2, "D": 2, "H": 3, "HM": 2}
_WORD_MASS = {w: (6 if v >= 1_000_000 else 3) if c == "M" else _MASS[c]
              for lex in (_EN_NUMBERS, _ES_NUMBERS) for w, (c, v) in lex.items()}
_WORD_MASS.update({"dieciséis": 2, "veintidós": 2, "veintitrés": 2, "veintiséis": 2, "veintiún": 2, "millón": 6,
                   "double": 1, "doble": 1, "triple": 2})


def _zones(text: str) -> list[tuple[int, int, int]]:
    """Parts of ``text`` around its numbers (typed digits, number words), cut at spaces, with the most digits
    each could yield; most of a turn is read no further."""
    spans: list[list[int]] = []
    for m in _WORD_OR_DIGITS.finditer(text):
        w = m.group(0)
        if w[0].isdigit():
            mass = len(w)
        else:
            low = w.lower()
            if low not in _STRONG_SET and low not in _REPEAT:
                continue
            mass = _WORD_MASS.get(low, 1)
        if spans and m.start() - spans[-1][1] <= _ZONE_GAP:
            spans[-1][1] = m.end()
            spans[-1][2] += mass
        else:
            spans.append([m.start(), m.end(), mass])
    zones: list[tuple[int, int, int]] = []
    for s, e, mass in spans:
        zs = text.rfind(" ", 0, max(0, s - _ZONE_PAD)) + 1 if s > _ZONE_PAD else 0
        ze = text.find(" ", e + _ZONE_PAD) if e + _ZONE_PAD < len(text) else -1
        ze = len(text) if ze < 0 else ze
        if zones and zs <= zones[-1][1]:
            zones[-1] = (zones[-1][0], ze, zones[-1][2] + mass)
        else:
            zones.append((zs, ze, mass))
    return zones


def _read(text: str, language: Language, zs: int, ze: int) -> list[SpokenSequence]:
    """:func:`read_sequences` on one zone, ``text[zs:ze]``."""
    numbers, letters, letter_pairs, weak_single, spell, fillers = _lexicons(language)
    interesting = _interesting(language)
    en = language == "en"
    toks = _tokens(text, zs, ze)
    sequences: list[SpokenSequence] = []
    pieces: list[Piece] = []
    group = _Group()
    chunk = 0
    sep = " "
    fillers_run = 0
    letter_next = False

    def flush_group() -> None:
        nonlocal group, sep
        if not group.empty:
            if group.stage == "Z":
                chars = "0"
            else:
                chars = str(group.value())
            pieces.append(Piece(chars, group.start, group.end, "digit", weak=group.weak_only, spoken=True,
                                chunk=chunk, sep=sep))
            sep = " "
        group = _Group()

    def end_sequence() -> None:
        nonlocal pieces, chunk, sep, fillers_run, letter_next
        if not pieces and group.empty:
            fillers_run, letter_next = 0, False
            return
        flush_group()
        if any(p.kind == "digit" for p in pieces):
            sequences.append(SpokenSequence(tuple(pieces)))
        pieces, chunk, sep, fillers_run, letter_next = [], 0, " ", 0, False

    def add(piece_chars: str, start: int, end: int, kind: str, weak: bool, spoken: bool) -> None:
        nonlocal sep, fillers_run
        pieces.append(Piece(piece_chars, start, end, kind, weak=weak, spoken=spoken, chunk=chunk, sep=sep))  # type: ignore[arg-type]
        sep = " "
        fillers_run = 0

    def new_chunk(s: str) -> None:
        nonlocal chunk, sep
        flush_group()
        if pieces:
            chunk += 1
        sep = s

    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        w = t.low
        nxt = toks[i + 1] if i + 1 < n else None
        prv = toks[i - 1] if i > 0 else None
        # ---- typed digits
        if t.text.isdigit():
            flush_group()
            if pieces and t.space_before and sep == " " and pieces[-1].kind == "digit" and not pieces[-1].spoken:
                new_chunk(" ")  # "4539 1488": typed groups
            elif not t.space_before and pieces and sep == " ":
                sep = ""
            for k, c in enumerate(t.text):
                add(c, t.start + k, t.start + k + 1, "digit", False, False)
                sep = ""
            sep = " "
            i += 1
            continue
        # ---- punctuation
        if not t.text[0].isalnum():
            c = t.text
            between_typed = (prv is not None and nxt is not None and prv.text.isdigit() and nxt.text.isdigit()
                             and not t.space_before and not nxt.space_before)
            if c == "." and between_typed:  # "35.118.904": thousands separator
                sep = "."
            elif c == "-" and not t.space_before and nxt is not None and not nxt.space_before \
                    and group.stage == "D" and numbers.get(nxt.low, ("",))[0] == "U":
                pass  # "twenty-one"
            elif c in ",-–—" or (c == "." and pieces and nxt is not None and not _sentence_start(nxt)):
                # a pause or a dash between groups; "E. S. 7" spelled with dots too
                new_chunk("-" if c in "-–—" else ",")
            else:
                end_sequence()
            i += 1
            continue
        # ---- words: typed letters glued to digits ("X9120475D", "GB82")
        glued = (prv is not None and prv.text.isdigit() and not t.space_before) or \
                (nxt is not None and nxt.text.isdigit() and not nxt.space_before)
        if not glued and len(w) > 1 and w not in interesting and not letter_next:
            end_sequence()  # an ordinary word (most of them): ends whatever was being read
            i += 1
            continue
        if glued and len(t.text) <= 4:
            flush_group()
            if not t.space_before and pieces and sep == " ":
                sep = ""
            for k, c in enumerate(t.text):
                add(c.upper(), t.start + k, t.start + k + 1, "letter", False, False)
                sep = ""
            sep = " "
            i += 1
            continue
        # ---- two-word fillers and letters
        pair = (w, nxt.low) if nxt is not None else None
        if pair in _FILLER_PAIRS:
            fillers_run += 1
            if fillers_run > _MAX_FILLERS:
                end_sequence()
            i += 2
            continue
        if pair in letter_pairs:
            flush_group()
            add(letter_pairs[pair], t.start, nxt.end, "letter", False, True)  # type: ignore[union-attr]
            i += 2
            continue
        if w in _LETTER_MARKERS:
            flush_group()
            letter_next = True
            i += 1
            continue
        if letter_next and (w in letters or len(t.text) == 1):
            letter_next = False
            ch = letters[w][0] if w in letters else t.text.upper()
            end, i = _spelled(toks, i, ch, spell)
            add(ch, t.start, end, "letter", False, True)
            continue
        letter_next = False
        # ---- number words
        if w in numbers:
            cls, val = numbers[w]
            weak = w in _WEAK_NUMBERS
            if group.can_take(cls, val, en):
                group.take(cls, val, t.start, t.end, weak)
            else:
                flush_group()
                if cls == "HM":  # "hundred" alone: not a number we can read
                    end_sequence()
                    i += 1
                    continue
                group.take(cls, val, t.start, t.end, weak)
            fillers_run = 0
            i += 1
            continue
        if w in _REPEAT and nxt is not None and nxt.low in numbers and numbers[nxt.low][0] in ("Z", "U"):
            flush_group()
            cls, val = numbers[nxt.low]
            add(str(val) * _REPEAT[w], t.start, nxt.end, "digit", False, True)
            i += 2
            continue
        if w in _DASH_WORDS:
            new_chunk("-")
            i += 1
            continue
        # English "and" / Spanish "y" inside a number: "five hundred and twelve", "treinta y tres"
        if (w == "y" and not en and group.stage == "D") or (w == "and" and group.stage in ("H", "M")):
            group.pending_and = True
            i += 1
            continue
        # ---- letters
        if w in letters or (len(t.text) == 1 and t.text.isalpha()):
            if w in letters:
                ch, weak = letters[w]
            else:
                ch, weak = t.text.upper(), w in weak_single
            if len(t.text) == 1 and t.text.isupper() and prv is not None and not _after_sentence_end(text, t):
                weak = False  # "E, S, siete": a capital letter inside a sentence is a letter
            if w == "y" and language != "en" and len(t.text) == 1 and not t.text.isupper():
                pass  # Spanish "y" is "and"; the letter is "i griega"
            else:
                flush_group()
                end, i = _spelled(toks, i, ch, spell)
                add(ch, t.start, end, "letter", weak, True)
                continue
        # ---- fillers
        if w in fillers:
            fillers_run += 1
            if fillers_run > _MAX_FILLERS:
                end_sequence()
            i += 1
            continue
        end_sequence()
        i += 1
    end_sequence()
    return sequences


def _sentence_start(tok: _Tok) -> bool:
    return tok.text[:1].isupper()


def _after_sentence_end(text: str, tok: _Tok) -> bool:
    before = text[:tok.start].rstrip()
    return not before or before[-1] in ".?!¿¡:"


def _spelled(toks: list[_Tok], i: int, letter: str, spell: tuple[str, ...]) -> tuple[int, int]:
    """End of the letter said at ``toks[i]``, taking in "de Madrid" / "as in Mike" when the word after the
    connector starts with that letter; and the index of the next token to read."""
    t = toks[i]
    for conn in spell:
        parts = conn.split()
        j = i + 1
        if all(j + k < len(toks) and toks[j + k].low == p for k, p in enumerate(parts)):
            k = j + len(parts)
            if k < len(toks) and toks[k].text.isalpha() and len(toks[k].text) > 2 \
                    and toks[k].low[0] == _fold(letter)[0]:
                return toks[k].end, k + 1
    return t.end, i + 1


def normalise(text: str, language: Language = None) -> str:
    """The digits and letters of every sequence in ``text``, one sequence per space-separated word
    ("cincuenta y tres, cuatrocientos diez, letra eme" -> "53410M")."""
    return " ".join(s.value for s in read_sequences(text, language))


def iter_windows(seq: SpokenSequence, min_digits: int = 6, at_pauses: bool = False) -> Iterator[tuple[int, int]]:
    """Candidate identifier windows ``(i, j)`` over ``seq.pieces[i:j]``: a window never cuts a typed word
    ("GODE561231GR8" is taken whole or not at all) nor a run of digits, except, with ``at_pauses``, where the
    speaker paused with a comma or a dash ("5402 5314 2796 9099, 09/28": the card, then the expiry date); spoken
    letters may be left out at the edges; at least ``min_digits`` digits."""
    ps = seq.pieces
    n = len(ps)
    chunk_size: dict[int, int] = {}
    for p in ps:
        chunk_size[p.chunk] = chunk_size.get(p.chunk, 0) + len(p.chars)

    def cut_ok(k: int) -> bool:  # may a window begin at piece k / end before piece k?
        if k == 0 or k == n:
            return True
        a, b = ps[k - 1], ps[k]
        if a.kind == "digit" and b.kind == "digit":
            # a pause between groups, not between the digits of a number read one by one ("cero, cero, dos")
            return at_pauses and b.sep in (",", "-") and a.chunk != b.chunk and chunk_size[a.chunk] >= 2 \
                and chunk_size[b.chunk] >= 2
        return not (not a.spoken and not b.spoken and b.sep == "")

    cuts = [k for k in range(n + 1) if cut_ok(k)]
    digits_before = [0]
    for p in ps:
        digits_before.append(digits_before[-1] + (len(p.chars) if p.kind == "digit" else 0))
    for x, i in enumerate(cuts):
        for j in cuts[x + 1:]:
            if digits_before[j] - digits_before[i] >= min_digits:
                yield i, j
