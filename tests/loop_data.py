"""Labelled sets for the model-loop tests: customer-service messages (es and en, three classes) written for the
tests from templates, a sample of real Amazon reviews (es) as a base training set, and the labelled transcripts
of eval/transcripts as the rubric base (tune) and gate (report) sets; written as a catalogue (QA_DATASETS_DIR)."""
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


def amazon_sample(n: int = 80, seed: int = 5) -> list[dict]:
    """``n`` real Amazon reviews (es) from ../shared/data, stars mapped to labels."""
    import json

    from tests.conftest import SHARED_DATA

    rows = [json.loads(line) for line in open(SHARED_DATA / "amazon_reviews_multi_es" / "dataset_es_dev.json",
                                              encoding="utf-8") if line.strip()]
    rows = random.Random(seed).sample(rows, n)
    lab = lambda s: "negative" if s <= 2 else ("neutral" if s == 3 else "positive")  # noqa: E731
    return [{"text": " ".join(r["review_body"].split()), "label": lab(int(r["stars"])), "language": "es"}
            for r in rows]


def write_datasets(root, gate_messages: int = 160, amazon: int = 80) -> list[dict]:
    """Write base and gate sets and their catalogue into ``root``; returns the gate messages."""
    import json
    from pathlib import Path

    from qa_service.config import REPO_ROOT
    from qa_service.io.labelled import write_catalog, write_jsonl

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    gate = messages(gate_messages, seed=2, numbers=range(100, 400))
    write_jsonl(root / "gate-es.jsonl", [m for m in gate if m["language"] == "es"])
    write_jsonl(root / "gate-en.jsonl", [m for m in gate if m["language"] == "en"])
    write_jsonl(root / "amazon.jsonl", amazon_sample(amazon))
    labelled = [json.loads(line) for line in open(REPO_ROOT / "eval" / "transcripts" / "labelled.jsonl",
                                                  encoding="utf-8") if line.strip()]
    write_jsonl(root / "transcripts-tune.jsonl", [r for r in labelled if r["split"] == "tune"])
    write_jsonl(root / "transcripts-report.jsonl", [r for r in labelled if r["split"] == "report"])
    write_catalog(root, [
        {"name": "messages/gate-es", "task": "sentiment", "role": "gate", "language": "es", "file": "gate-es.jsonl",
         "source": "customer messages written for the tests", "licence": "project's own"},
        {"name": "messages/gate-en", "task": "sentiment", "role": "gate", "language": "en", "file": "gate-en.jsonl",
         "source": "customer messages written for the tests", "licence": "project's own"},
        {"name": "amazon_es/sample", "task": "sentiment", "role": "base", "language": "es", "file": "amazon.jsonl",
         "source": "amazon_reviews_multi (es)", "licence": "Amazon: academic research only"},
        {"name": "transcripts/tune", "task": "rubric", "role": "base", "language": None,
         "file": "transcripts-tune.jsonl", "source": "eval/transcripts/labelled.jsonl", "licence": "project's own"},
        {"name": "transcripts/report", "task": "rubric", "role": "gate", "language": None,
         "file": "transcripts-report.jsonl", "source": "eval/transcripts/labelled.jsonl", "licence": "project's own"},
    ])
    return gate
