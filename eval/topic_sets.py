"""Gold-labelled clustering sets for the topic model, from ``../shared/data``, with fixed tune / report splits.

========================  ==========================================  ======  ====================
set                       rows                                        lang    gold label
========================  ==========================================  ======  ====================
banking77/tune            3,000 seeded rows of the train file         en      77 intents
banking77/report          the test file (3,080)                       en      77 intents
amazon_es/tune            3,000 seeded rows of the dev file           es      30 product categories
amazon_es/report          3,000 seeded rows of the test file          es      30 product categories
restmex/tune, /report     seeded halves of Rest-Mex 2021 (2,598 each) es      10 attractions
multidogo/tune            3,000 seeded customer turns, dev files      en      domain:intent
multidogo/report          3,000 seeded customer turns, test files     en      domain:intent
cfpb/report               all 1,532 complaint narratives              en      13 products
========================  ==========================================  ======  ====================

Parameters are chosen on the ``tune`` sets only; ``report`` sets are read once per configuration for the report.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass

from eval.datasets import data_root

SEED = 13
N = 3000


@dataclass
class ClusterSet:
    name: str
    language: str
    texts: list[str]
    labels: list[str]
    licence: str

    def __len__(self) -> int:
        return len(self.texts)


def _sample(rows: list, n: int, seed: int = SEED) -> list:
    if len(rows) <= n:
        return rows
    idx = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in idx]


def _norm(t: str) -> str:
    return " ".join(str(t).split()).strip('"')


def banking77(split: str) -> ClusterSet:
    f = data_root() / "banking77" / ("banking_data_train.csv" if split == "tune" else "banking_data_test.csv")
    with f.open(encoding="utf-8", newline="") as fh:
        rows = [(_norm(r["text"]), r["category"]) for r in csv.DictReader(fh) if _norm(r["text"])]
    if split == "tune":
        rows = _sample(rows, N)
    return ClusterSet(f"banking77/{split}", "en", [t for t, _ in rows], [c for _, c in rows], "CC BY 4.0")


def amazon_es(split: str) -> ClusterSet:
    f = data_root() / "amazon_reviews_multi_es" / ("dataset_es_dev.json" if split == "tune" else "dataset_es_test.json")
    rows = []
    with f.open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            t = _norm(r["review_body"])
            if t:
                rows.append((t, r["product_category"]))
    rows = _sample(rows, N, SEED + (0 if split == "tune" else 1))
    return ClusterSet(f"amazon_es/{split}", "es", [t for t, _ in rows], [c for _, c in rows],
                      "Amazon: academic research only")


def restmex(split: str) -> ClusterSet:
    f = data_root() / "restmex2021" / "rest-mex_2021_Sentiment_data_train.csv"
    with f.open(encoding="utf-8", newline="") as fh:
        rows = [(_norm(r["Opinion"]), r["Place"].strip()) for r in csv.DictReader(fh) if _norm(r["Opinion"])]
    idx = list(range(len(rows)))
    random.Random(SEED).shuffle(idx)
    half = idx[: len(idx) // 2] if split == "tune" else idx[len(idx) // 2:]
    rows = [rows[i] for i in sorted(half)]
    return ClusterSet(f"restmex/{split}", "es", [t for t, _ in rows], [c for _, c in rows], "research only")


# Dialogue acts that say nothing about the service domain's topic.
_GENERIC = {"openinggreeting", "closinggreeting", "thankyou", "confirmation", "rejection", "contentonly",
            "outofdomain", "goodbye", "acknowledgement"}


def multidogo(split: str) -> ClusterSet:
    root = data_root() / "multidogo" / "turn_level"
    rows = []
    for dom in sorted(p.name for p in root.iterdir() if p.is_dir()):
        f = root / dom / ("dev.tsv" if split == "tune" else "test.tsv")
        with f.open(encoding="utf-8", errors="replace") as fh:
            next(fh, None)
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 6:
                    continue  # the ~1% malformed lines
                text, intent = _norm(parts[3]), parts[5].strip().lower()
                if len(text.split()) >= 3 and intent and intent not in _GENERIC:
                    rows.append((text, f"{dom}:{intent}"))
    rows = _sample(rows, N)
    return ClusterSet(f"multidogo/{split}", "en", [t for t, _ in rows], [c for _, c in rows], "CDLA-Permissive 1.0")


def cfpb(split: str = "report") -> ClusterSet:
    f = data_root() / "cfpb_sample" / "complaints_sample.csv"
    with f.open(encoding="utf-8", newline="") as fh:
        rows = [(_norm(r["Consumer complaint narrative"]), r["Product"]) for r in csv.DictReader(fh)]
    rows = [(t, p) for t, p in rows if t]
    return ClusterSet("cfpb/report", "en", [t for t, _ in rows], [p for _, p in rows], "public domain")


def tune_sets() -> list[ClusterSet]:
    return [banking77("tune"), amazon_es("tune"), restmex("tune"), multidogo("tune")]


def report_sets() -> list[ClusterSet]:
    return [banking77("report"), amazon_es("report"), restmex("report"), multidogo("report"), cfpb()]
