"""A labelled PII set: realistic Spanish and English customer-service sentences with synthetic identifiers.

Every identifier is generated (never a real person's): valid checksums where the format has one, phone numbers
that ``phonenumbers`` accepts as valid for their country. Sentences are templates written for this project from
the situations in ../shared/domain (verification, payment, refunds, contact updates). Negative sentences carry
look-alikes that must *not* be redacted: order and ticket numbers, amounts, dates, postcodes, card numbers
failing Luhn, DNIs with a wrong letter, last four digits. Labels are known by construction.

``build(seed)`` returns the same set for the same seed: a list of ``{"text", "language", "spans": [[start,
end, entity], ...]}``.
"""

from __future__ import annotations

import random
import string
from typing import Callable

from stdnum.mx import curp as stdnum_curp

SPOKEN = {"es": "cero uno dos tres cuatro cinco seis siete ocho nueve".split(),
          "en": "zero one two three four five six seven eight nine".split()}
FIRST = ["Lucía", "Martín", "Sofía", "Javier", "Camila", "Diego", "Valentina", "Andrés", "Emily", "Michael",
         "Sarah", "David", "Jessica", "Robert"]
LAST = ["García", "Fernández", "López", "Martínez", "Rodríguez", "Pérez", "Gómez", "Smith", "Johnson", "Brown",
        "Miller", "Davis", "Wilson", "Taylor"]


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for d in string.digits:
        from qa_service.text.identifiers import luhn_ok

        if luhn_ok(body + d):
            return body + d
    raise AssertionError


def card(rng: random.Random, lang: str) -> str:
    num = _luhn_complete(rng.choice(["4", "51", "53", "55"]), 16, rng)
    style = rng.random()
    if style < 0.2:
        return " ".join(SPOKEN[lang][int(c)] for c in num)
    if style < 0.6:
        return " ".join(num[i:i + 4] for i in range(0, 16, 4))
    if style < 0.8:
        return "-".join(num[i:i + 4] for i in range(0, 16, 4))
    return num


def email(rng: random.Random, lang: str) -> str:
    user = f"{rng.choice(FIRST)}.{rng.choice(LAST)}".lower()
    user = user.translate(str.maketrans("áéíóúñ", "aeioun"))
    return f"{user}{rng.randint(1, 99)}@{rng.choice(['gmail.com', 'hotmail.es', 'outlook.com', 'yahoo.com.mx', 'empresa.es'])}"


def phone(rng: random.Random, lang: str) -> str:
    import phonenumbers

    while True:
        kind = rng.choice(["es_m", "es_f", "mx", "ar", "us", "co"])
        if kind == "es_m":
            d = "6" + "".join(rng.choice(string.digits) for _ in range(8))
            s = rng.choice([f"{d[:3]} {d[3:6]} {d[6:]}", f"+34 {d[:3]} {d[3:5]} {d[5:7]} {d[7:]}", d])
            region = "ES"
        elif kind == "es_f":
            d = "91" + "".join(rng.choice(string.digits) for _ in range(7))
            s, region = f"{d[:3]} {d[3:5]} {d[5:7]} {d[7:]}", "ES"
        elif kind == "mx":
            d = "55" + "".join(rng.choice(string.digits) for _ in range(8))
            s, region = rng.choice([f"{d[:2]} {d[2:6]} {d[6:]}", f"+52 {d[:2]} {d[2:6]} {d[6:]}"]), "MX"
        elif kind == "ar":
            d = "".join(rng.choice(string.digits) for _ in range(8))
            s, region = f"+54 9 11 {d[:4]}-{d[4:]}", "AR"
        elif kind == "co":
            d = "3" + rng.choice("0125") + "".join(rng.choice(string.digits) for _ in range(8))
            s, region = f"+57 {d[:3]} {d[3:6]} {d[6:]}", "CO"
        else:
            a = rng.choice(["212", "312", "415", "617", "206"])
            d = str(rng.randint(200, 999)) + str(rng.randint(1000, 9999))
            s, region = f"({a}) {d[:3]}-{d[3:]}", "US"
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(s, region)):
                return s
        except phonenumbers.NumberParseException:
            pass


def iban(rng: random.Random, lang: str) -> str:
    bban = "".join(rng.choice(string.digits) for _ in range(20))
    check = 98 - int("".join(str(int(c, 36)) for c in bban + "ES00")) % 97
    v = f"ES{check:02d}{bban}"
    return " ".join(v[i:i + 4] for i in range(0, 24, 4)) if rng.random() < 0.6 else v


def dni(rng: random.Random, lang: str) -> str:
    n = rng.randint(10_000_000, 99_999_999)
    return f"{n}{'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23]}"


def nie(rng: random.Random, lang: str) -> str:
    p = rng.choice("XYZ")
    n = rng.randint(1_000_000, 9_999_999)
    return f"{p}{n}{'TRWAGMYFPDXBNJZSQVHLCKE'[int(str('XYZ'.index(p)) + str(n)) % 23]}"


def curp(rng: random.Random, lang: str) -> str:
    letters = string.ascii_uppercase
    consonants = "BCDFGHJKLMNPQRSTVWXYZ"
    head = rng.choice(letters) + rng.choice("AEIOU") + rng.choice(letters) + rng.choice(letters)
    date = f"{rng.randint(50, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = head + date + rng.choice("HM") + rng.choice(["DF", "JC", "NL", "PL", "GT", "MC"]) + \
        "".join(rng.choice(consonants) for _ in range(3)) + rng.choice("0A")
    return body + stdnum_curp.calc_check_digit(body)


def rfc(rng: random.Random, lang: str) -> str:
    head = "".join(rng.choice(string.ascii_uppercase) for _ in range(4))
    date = f"{rng.randint(50, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    return head + date + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(2)) + \
        rng.choice("A" + string.digits)


def clabe(rng: random.Random, lang: str) -> str:
    body = rng.choice(["002", "012", "014", "021", "072"]) + "".join(rng.choice(string.digits) for _ in range(14))
    total = sum((int(c) * (3, 7, 1)[i % 3]) % 10 for i, c in enumerate(body))
    return body + str((10 - total % 10) % 10)


def cuit(rng: random.Random, lang: str) -> str:
    while True:
        v = rng.choice(["20", "23", "27", "30"]) + "".join(rng.choice(string.digits) for _ in range(8))
        total = sum(int(c) * w for c, w in zip(v, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)))
        check = 11 - total % 11
        if check < 10:
            check = 0 if check == 11 else check
            return f"{v[:2]}-{v[2:]}-{check}" if rng.random() < 0.7 else f"{v}{check}"


def ssn(rng: random.Random, lang: str) -> str:
    return f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"


def person(rng: random.Random, lang: str) -> str:
    """A full name drawn from mimesis's name lists (MIT): a different source from the detector's gazetteer
    (Faker's lists, qa_service/text/names.py), so recall is not measured on the detector's own list."""
    from mimesis import Person
    from mimesis.locales import Locale

    locale = rng.choice([Locale.ES, Locale.ES_MX]) if lang == "es" else rng.choice([Locale.EN, Locale.EN_GB])
    gen = Person(locale, seed=rng.randint(0, 2**31))
    parts = []
    for make in (gen.first_name, gen.last_name):
        while True:
            w = make()
            if w[:1].isupper() and w.replace("-", "").isalpha():
                parts.append(w)
                break
    return " ".join(parts)


GENERATORS: dict[str, Callable[[random.Random, str], str]] = {
    "CREDIT_CARD": card, "EMAIL_ADDRESS": email, "PHONE_NUMBER": phone, "IBAN_CODE": iban, "ES_NIF": dni,
    "ES_NIE": nie, "MX_CURP": curp, "MX_RFC": rfc, "MX_CLABE": clabe, "AR_CUIT": cuit, "US_SSN": ssn,
    "PERSON": person,
}

TEMPLATES = {
    "es": {
        "CREDIT_CARD": ["El número de la tarjeta es {x}, caduca en marzo.", "Sí, le leo la tarjeta: {x}.",
                        "Cobradme con la tarjeta {x} por favor.", "Agente: confirmo la tarjeta {x}, ¿correcto?"],
        "EMAIL_ADDRESS": ["Mi correo es {x}, mándenme ahí la factura.", "Puede escribirme a {x} cuando lo tenga.",
                          "Le he enviado el justificante a {x}."],
        "PHONE_NUMBER": ["Llámeme al {x} por la tarde.", "Mi móvil es el {x}.", "El teléfono de contacto es {x}, gracias."],
        "IBAN_CODE": ["Hagan la devolución a la cuenta {x}.", "El IBAN para el abono es {x}."],
        "ES_NIF": ["Mi DNI es {x}.", "Le doy el documento: {x}.", "Para verificar su identidad: el DNI {x}, correcto."],
        "ES_NIE": ["Tengo NIE, es el {x}.", "Mi número de extranjero es {x}."],
        "MX_CURP": ["Mi CURP es {x}.", "Le dicto la CURP: {x}."],
        "MX_RFC": ["La factura a nombre del RFC {x}, por favor.", "Mi RFC es {x}."],
        "MX_CLABE": ["Depositen a la CLABE {x}.", "La cuenta CLABE es {x} del banco."],
        "AR_CUIT": ["Mi CUIT es {x}.", "Facturá con el CUIL {x}."],
        "US_SSN": ["Mi número de seguro social es {x}."],
        "PERSON": ["Buenos días, le atiende {x}, ¿en qué puedo ayudarle?", "Me llamo {x} y llamo por la factura.",
                   "¿Me pasa con {x}, por favor?", "{x} me atendió la última vez.",
                   "La reserva está a nombre de {x}."],
    },
    "en": {
        "CREDIT_CARD": ["My card number is {x}, expiring in May.", "Sure, the card is {x}.",
                        "Agent: I'll read it back, {x}, is that right?", "Please charge card {x}."],
        "EMAIL_ADDRESS": ["You can email me at {x}.", "My email address is {x}, send the receipt there."],
        "PHONE_NUMBER": ["Call me back on {x} after five.", "My phone number is {x}.", "Best number to reach me: {x}."],
        "IBAN_CODE": ["Please refund to account {x}.", "My IBAN is {x}."],
        "ES_NIF": ["My Spanish ID is {x}."],
        "ES_NIE": ["My NIE number is {x}."],
        "MX_CURP": ["My CURP is {x}."],
        "MX_RFC": ["Invoice it to tax id {x}."],
        "MX_CLABE": ["Wire it to CLABE {x}."],
        "AR_CUIT": ["Our CUIT is {x}."],
        "US_SSN": ["My social security number is {x}.", "The SSN on file should be {x}.", "It's {x}, my SSN."],
        "PERSON": ["Hi, this is {x} calling about my bill.", "My name is {x} and I have a problem with my order.",
                   "Could you put me through to {x}?", "{x} helped me last time."],
    },
}

NEGATIVES = {
    "es": ["Mi número de pedido es {order} y llegó el {date}.", "La factura es de {amount} euros.",
           "El ticket de la incidencia es el {ticket}.", "Vivo en el código postal {cp}.",
           "Los últimos cuatro dígitos de la tarjeta son {last4}.", "Le he puesto el DNI {baddni}, ¿está bien?",
           "La tarjeta {badcard} me da error.", "Llamé el {date} a las {time} y nadie contestó.",
           "Son {amount} euros al mes desde el {date}."],
    "en": ["My order number is {order}, placed on {date}.", "The bill was {amount} dollars.",
           "Ticket {ticket} is still open.", "The last four digits are {last4}.", "I called at {time} on {date}.",
           "Card {badcard} keeps getting declined."],
}


def _negative_values(rng: random.Random) -> dict[str, str]:
    from qa_service.text.identifiers import luhn_ok

    while True:
        badcard = "".join(rng.choice(string.digits) for _ in range(16))
        if not luhn_ok(badcard):
            break
    n = rng.randint(10_000_000, 99_999_999)
    letters = "TRWAGMYFPDXBNJZSQVHLCKE"
    wrong = letters[(n % 23 + 1) % 23]
    return {"order": str(rng.randint(10**9, 10**10 - 1)), "date": f"{rng.randint(1, 28)}/{rng.randint(1, 12)}/2026",
            "amount": f"{rng.randint(10, 999)},{rng.randint(10, 99)}", "ticket": f"INC-{rng.randint(100000, 999999)}",
            "cp": f"{rng.randint(1000, 52999):05d}", "last4": str(rng.randint(1000, 9999)), "baddni": f"{n}{wrong}",
            "badcard": " ".join(badcard[i:i + 4] for i in range(0, 16, 4)),
            "time": f"{rng.randint(8, 20)}:{rng.choice(['00', '15', '30', '45'])}"}


def build(seed: int = 2026, per_template: int = 6) -> list[dict]:
    """The labelled set: each template filled ``per_template`` times, plus negatives."""
    rng = random.Random(seed)
    rows: list[dict] = []
    for lang, by_entity in TEMPLATES.items():
        for entity, templates in by_entity.items():
            for tpl in templates:
                for _ in range(per_template):
                    x = GENERATORS[entity](rng, lang)
                    start = tpl.index("{x}")
                    rows.append({"text": tpl.replace("{x}", x), "language": lang,
                                 "spans": [[start, start + len(x), entity]]})
        for tpl in NEGATIVES[lang]:
            for _ in range(per_template):
                rows.append({"text": tpl.format(**_negative_values(rng)), "language": lang, "spans": []})
    return rows
