"""Customer-service messages written for the project from templates (es and en; negative complaints, neutral
requests, positive thanks): a small labelled set where the shipped sentiment model's known weak spot (plain requests
read as negative) shows, for the model-loop tests and the hot-swap benchmark. Not real customer text: it measures
the loop's mechanics, not the model's quality."""

from __future__ import annotations

import random

ES_MONTHS = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
             "noviembre", "diciembre"]
EN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]
ES_THINGS = ["la factura", "el pedido", "la tarjeta", "el contrato", "la tarifa", "el router", "la devolución",
             "el abono", "la línea móvil", "la cuenta"]
EN_THINGS = ["the invoice", "my order", "the card", "my contract", "the plan", "the router", "the return",
             "the refund", "my phone line", "my account"]
ES = {
    "neutral": ["¿Me pueden enviar una copia de {thing} de {month}?", "Quiero saber el estado de {thing} {num}.",
                "¿Cómo cambio la dirección de {thing}?", "Necesito información sobre {thing} de {month}, por favor.",
                "¿Qué horario tiene la oficina para consultar {thing}?", "Quería confirmar la fecha de {thing} {num}.",
                "¿Dónde puedo descargar {thing} de {month}?", "¿Se puede pagar {thing} {num} con transferencia?"],
    "negative": ["Me han cobrado dos veces {thing} de {month} y nadie me responde.",
                 "Llevo {num} días esperando {thing} y es una vergüenza.",
                 "Estoy harto, {thing} sigue sin funcionar después de {num} llamadas.",
                 "Pésimo servicio, {thing} llegó roto y no me devuelven el dinero.",
                 "Es la tercera vez que reclamo {thing} de {month} y me cuelgan."],
    "positive": ["Muchas gracias, me han resuelto lo de {thing} enseguida.",
                 "Todo perfecto con {thing} de {month}, un servicio excelente.",
                 "Qué rápido lo de {thing}, muy amables, gracias.",
                 "Encantado con la atención, {thing} ya está solucionado."],
}
EN = {
    "neutral": ["Can I get a copy of {thing} for {month}?", "I would like to know the status of {thing} {num}.",
                "How do I change the address on {thing}?", "I need some information about {thing} for {month}, please.",
                "What are your opening hours to ask about {thing}?", "I wanted to confirm the date of {thing} {num}.",
                "Where can I download {thing} for {month}?", "Can I pay {thing} {num} by bank transfer?"],
    "negative": ["I was charged twice for {thing} in {month} and nobody answers.",
                 "I have been waiting {num} days for {thing}, this is a disgrace.",
                 "I'm fed up, {thing} still doesn't work after {num} calls.",
                 "Terrible service, {thing} arrived broken and you won't refund me.",
                 "Third time I complain about {thing} from {month} and you hang up on me."],
    "positive": ["Thank you so much, you sorted out {thing} right away.",
                 "Everything went perfectly with {thing} in {month}, excellent service.",
                 "That was quick with {thing}, very kind, thanks.",
                 "Delighted with the support, {thing} is fixed now."],
}


def messages(n: int, seed: int, numbers: range) -> list[dict]:
    """``n`` distinct labelled messages, half es half en; ``numbers`` keeps two calls' texts apart."""
    rnd = random.Random(seed)
    out, seen = [], set()
    while len(out) < n:
        lang = "es" if len(out) % 2 == 0 else "en"
        tpl, months, things = (ES, ES_MONTHS, ES_THINGS) if lang == "es" else (EN, EN_MONTHS, EN_THINGS)
        label = rnd.choice(["negative", "neutral", "neutral", "positive"])
        text = rnd.choice(tpl[label]).format(thing=rnd.choice(things), month=rnd.choice(months),
                                             num=rnd.choice(numbers))
        if text not in seen:
            seen.add(text)
            out.append({"text": text, "label": label, "language": lang})
    return out
