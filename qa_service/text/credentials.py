"""Requests for secrets that no agent may ask for: card security codes, PINs and passwords (Spanish and English).

A card's CVV/CVC, a PIN or a password is never needed by a contact-centre agent: asking for one, or saying one
out loud, is a sensitive-data violation however it is worded. :func:`find_credential_requests` finds, in one
turn, a *request cue* ("dígame", "me da", "necesito", "¿cuál es...?", "what's", "can you give me", "I need")
followed in the same sentence by a *secret*:

* ``cvv``: "CVV", "CVC", "código de seguridad", "los tres números de atrás de la tarjeta", "el código de tres
  cifras del reverso", "security code", "the three digits on the back";
* ``pin``: "PIN", "número secreto", "clave de la tarjeta / del cajero";
* ``password``: "contraseña", "password", "passcode", "clave de acceso", "su clave", "usuario y contraseña".

A short question or fragment naming the secret ("¿Y el CVV?", "Expiry and the security code.") counts too, and so
does the secret followed by its digits ("el CVV 417, ¿correcto?": read back). It does not count when the sentence
is negated ("nunca le pediremos su PIN", "don't share your password"), is about changing or resetting it
("para cambiar la contraseña..."), sends the customer to a keypad or an ATM ("marque su PIN en el teclado"), or
explains ("the CVV is the code on the back"). Rules follow how people ask, not a list of sentences.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from qa_service.text.spoken_numbers import read_sequences

CREDENTIAL_KINDS = ("cvv", "pin", "password")

_B = r"(?<![\w])"  # a word boundary that works before accented letters
_E = r"(?![\w])"
_DIGITS = r"(?:tres|3|cuatro|4)"
_BACK = r"(?:atr[aá]s|detr[aá]s|reverso|dorso|la parte de atr[aá]s|la parte trasera)"
_TARGETS: dict[str, re.Pattern[str]] = {
    "cvv": re.compile(
        _B + r"(?:c\.?\s?v\.?\s?v\.?\s?2?|c\.?\s?v\.?\s?c\.?\s?2?|cvn|ce uve uve|ce uve ce|"
        r"c[oó]digo (?:de )?(?:seguridad|cvv|cvc)|c[oó]digo de verificaci[oó]n de la tarjeta|"
        r"(?:los |las )?" + _DIGITS + r" (?:n[uú]meros|numeritos|d[ií]gitos|cifras)(?: de| del)? (?:de )?" + _BACK + r"|"
        r"(?:c[oó]digo|n[uú]mero|numerito|n[uú]meros|d[ií]gitos|el|los) (?:de|del) " + _BACK + r"|"
        r"c[oó]digo de " + _DIGITS + r" (?:cifras|d[ií]gitos|n[uú]meros)|"
        r"security code|card security|card verification(?: code| value| number)?|"
        r"(?:three|3)[- ]digit(?:s)?(?: security)?(?: code| number)|"
        r"(?:three |3 )?(?:digits|numbers|number|code) on the back)" + _E, re.I),
    "pin": re.compile(
        _B + r"(?:pin|p\.i\.n\.?|n[uú]mero secreto|clave (?:de|del) (?:la )?(?:tarjeta|cajero))" + _E, re.I),
    "password": re.compile(
        _B + r"(?:contrase[ñn]as?|password|pass word|passcode|passwords|log-?in details|credenciales|"
        r"clave (?:de acceso|secreta|personal|de (?:la )?(?:banca|app|aplicaci[oó]n|web|internet|usuario|seguridad|"
        r"acceso)|del (?:app|banco|portal|sitio|usuario|correo))|(?:su|tu|la|vuestra) clave)" + _E, re.I),
}
# Something is being asked for: imperatives, "can you", "I need", "what is".
_CUE = re.compile(
    _B + r"(?:d[ií]game|d[ií]ganme|dime|decime|decirme|d[ée]me|dame|d[ée]nme|p[áa]seme|p[áa]same|pasame|pasadme|"
    r"me (?:lo |la )?(?:pasa|pasas|da|das|dice|dices|dec[ií]s|diga|digas|confirma|confirmas|indica|indicas|"
    r"facilita|facilitas|proporciona|dicta|dictas|lee|lees|deletrea|env[ií]a|mandas|manda|escribe|escribes)|"
    r"me (?:podr[ií]a|podr[ií]as|puede|puedes|pod[ée]s) (?:dar|decir|facilitar|indicar|confirmar|proporcionar|pasar|"
    r"dictar|leer|enviar|mandar|escribir|compartir)|"
    r"(?:puede|puedes|podr[ií]a|podr[ií]as|pod[ée]s) (?:darme|decirme|facilitarme|indicarme|confirmarme|pasarme|"
    r"dictarme|leerme|enviarme|mandarme|escribirme|compartirme|proporcionarme)|"
    r"necesito|necesitar[ií]a|necesitamos|requiero|requerimos|hace falta|tiene que darme|tienes que darme|"
    r"fac[ií]l[ií]teme|facil[ií]tame|ind[ií]queme|ind[ií]came|conf[ií]rmeme|conf[ií]rmame|proporci[oó]neme|"
    r"d[ií]cteme|d[ií]ctame|l[ée]ame|l[ée]eme|comp[áa]rtame|comp[áa]rteme|env[ií]eme|m[áa]ndeme|m[áa]ndame|"
    r"escr[ií]bame|escr[ií]beme|cu[áa]l es|cu[áa]les son|qu[ée] (?:pin|clave|contrase[ñn]a|c[oó]digo)|"
    r"what'?s|what is|what are|whats|"
    r"(?:can|could|would|will) you (?:please )?(?:give|tell|read|share|provide|confirm|send|spell|type)|"
    r"give me|tell me|read me|send me|read out|read it|share|provide|i need|i'?ll need|i will need|i'?d need|"
    r"i would need|we need|we'?ll need|need (?:your|the)|may i have|can i have|can i get|could i get|could i have|"
    r"let me have|let me get|confirm)" + _E, re.I)
_NEGATION = re.compile(
    _B + r"(?:no|nunca|jam[aá]s|ni|never|not|don'?t|do not|won'?t|will not|shouldn'?t|should not|cannot|can'?t)" + _E,
    re.I)
_NEGATED = re.compile(_NEGATION.pattern + r"\s+(?:\w+\s+){0,2}$", re.I)  # "no me diga", "I do not need"
# Not a disclosure: changing or resetting the secret, typing it where only the customer sees it.
_GUARD_BEFORE = re.compile(
    r"(?:olvid|forg[oe]t|restablec|reset|cambiar|cambie|change|recuper|recover|nuev[oa]|new|temporal|temporary|"
    r"marque|teclee|introduzca|ingrese|enter|type|le hemos enviado|le enviamos|te enviamos|we sent|we've sent|"
    r"we just sent|sent you)\w*\W+(?:\w+\W+){0,4}$", re.I)
_GUARD_AFTER = re.compile(
    r"^\W*(?:\w+\W+){0,5}(?:teclado|keypad|keyboard|cajero|atm|sms|mensaje|text message|texted|que le lleg|"
    r"que te lleg|en la app|in the app|on screen|en pantalla|nuev[oa]|new|temporal|temporary)", re.I)
_GUARD_REACH = 50
# Indian English "PIN code" is the postal code: "billing address pin code", "area PIN".
_POSTAL_PIN = re.compile(r"(?:address|postal|area|delivery|billing)\s+pin(?:\s*code)?|pin\s*code\s+(?:of|for) "
                         r"(?:the |your )?(?:address|area|city)", re.I)
# "the CVV is the code on the back", "¿dónde está el PIN?": about the secret, not asking for it.
_COPULA = re.compile(_B + r"(?:es|est[áa]|son|va|sirve|is|are|goes|sits|where)" + _E, re.I)
# A fragment naming the secret after "and": "Expiry and the security code.", "¿Y el CVV?"
_AND_BEFORE = re.compile(_B + r"(?:y|e|and|plus|also|tambi[eé]n|adem[aá]s)(?:\s+(?:el|la|los|las|su|tu|the|your|"
                         r"its|and|me))*\s*$", re.I)
_SENTENCE_END = re.compile(r"[.?!;¿¡]")
_MAX_REACH = 160  # characters between a cue and its secret
_FRAGMENT_WORDS = 10


class CredentialRequest(NamedTuple):
    """A request for (or a reading of) a secret: ``text[start:end]`` runs from the cue to the secret."""

    start: int
    end: int
    kind: str


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    s = 0
    for m in _SENTENCE_END.finditer(text, 0, start):
        s = m.end()
    m = _SENTENCE_END.search(text, end)
    e = m.end() if m else len(text)
    return s, e


def _read_back(text: str, end: int) -> int | None:
    """End of a 3-6 digit code said right after a secret's name ("el CVV 417", "PIN cero siete uno cuatro")."""
    window = text[end:end + 60]
    for seq in read_sequences(window):
        if seq.start > 12:
            break
        digits = "".join(p.chars for p in seq.pieces if p.kind == "digit")
        if 3 <= len(digits) <= 6 and all(p.kind == "digit" for p in seq.pieces):
            return end + seq.end
        break
    return None


# Every secret's name holds one of these: a turn without any is skipped before the patterns run.
_KEYS = ("cv", "pin", "p.i.n", "clave", "contrase", "pass", "log", "credencial", "secret", "segur", "secur",
         "verif", "atr", "detr", "revers", "dorso", "back", "uve")


def find_credential_requests(text: str) -> list[CredentialRequest]:
    """Requests for a card security code, a PIN or a password in one turn (see the module doc), sorted."""
    low = text.lower()
    if not any(k in low for k in _KEYS):
        return []
    out: list[CredentialRequest] = []
    for kind, rx in _TARGETS.items():
        for m in rx.finditer(text):
            ts, te = m.start(), m.end()
            ss, se = _sentence(text, ts, te)
            sentence = text[ss:se]
            if kind == "pin" and _POSTAL_PIN.search(text, max(ss, ts - 20), min(se, te + 10)):
                continue
            if _GUARD_BEFORE.search(text[max(ss, ts - _GUARD_REACH):ts]) or \
                    _GUARD_AFTER.search(text[te:min(se, te + _GUARD_REACH)]):
                continue
            back = _read_back(text, te) if kind in ("cvv", "pin") else None
            if back is not None:
                out.append(CredentialRequest(ts, back, kind))
                continue
            cues = list(_CUE.finditer(text, max(ss, ts - _MAX_REACH), ts))
            if cues:
                cue = cues[-1]
                if _NEGATED.search(text[max(ss, cue.start() - 30):cue.start()]) or \
                        _NEGATION.search(text, cue.end(), ts):
                    continue
                out.append(CredentialRequest(cue.start(), te, kind))
                continue
            # "¿Y el CVV?", "Expiry and the security code on the back.": a short fragment asking for the secret
            if len(sentence.split()) <= _FRAGMENT_WORDS and not _NEGATION.search(sentence) \
                    and not _COPULA.search(sentence) and ("?" in sentence or _AND_BEFORE.search(text, ss, ts)):
                out.append(CredentialRequest(ts, te, kind))
    return _dedupe(out)


def _dedupe(found: list[CredentialRequest]) -> list[CredentialRequest]:
    """One request per span: overlapping finds keep the longer (a PIN inside "clave de la tarjeta" is one)."""
    kept: list[CredentialRequest] = []
    for r in sorted(found, key=lambda r: (-(r.end - r.start), r.start)):
        if all(r.end <= k.start or r.start >= k.end for k in kept):
            kept.append(r)
    return sorted(kept)
