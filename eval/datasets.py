"""Loaders for the real data in ``../shared/data`` with fixed, documented splits.

Every split used for training, model selection and reporting is defined here, once, so that
training never sees a test row. Labels are mapped to ``negative | neutral | positive``:

* star ratings (Amazon-es, Cuba hotels, Rest-Mex): 1-2 negative, 3 neutral, 4-5 positive;
* TASS 2019: N negative, P positive, NEU (mixed) and NONE (no opinion) neutral: for a helpdesk,
  a message with no clear polarity, or with both, should not be routed as a complaint or a compliment.

Splits:

========================  ==========================================  =====================
set                       rows used                                   role
========================  ==========================================  =====================
amazon_es/train           dataset_es_dev.json minus test dupes, 90%   training (body; title as extra short text)
amazon_es/val             10% of dataset_es_dev.json (seeded)         model selection, calibration
amazon_es/test            dataset_es_test.json (5,000)                report only (in-domain reviews)
tass2019/train            df_train_8ene.csv + ES XML, deduplicated    training (short informal text)
tass2019/val              10% of those (seeded)                       model selection, calibration
tass2019/test             df_dev_8ene.csv deduplicated (1,884)        report only (tweets; TASS test is unlabelled)
cuba_hotels/test          3,000 seeded rows of cuba_hotels_sentiment  report only (cross-domain: hotels)
restmex/test              3,000 seeded rows of Rest-Mex 2021          report only (cross-domain: tourism, MX)
cfpb/test                 complaint narratives (English)              report only (one-class check: share negative)
========================  ==========================================  =====================
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

LABELS = ("negative", "neutral", "positive")
SEED = 13


def data_root() -> Path:
    """``../shared/data`` next to the checkout, or ``QA_SHARED_DATA``."""
    env = os.environ.get("QA_SHARED_DATA")  # tooling outside the service may read the environment
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@dataclass
class LabelledSet:
    """Texts with sentiment labels and where they came from."""

    name: str
    language: str
    texts: list[str]
    labels: list[str]
    source: str
    licence: str
    files: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, n: int, seed: int = SEED) -> "LabelledSet":
        """A seeded random subset of at most ``n`` rows (same order every time)."""
        if n >= len(self):
            return self
        idx = sorted(random.Random(seed).sample(range(len(self)), n))
        return LabelledSet(self.name, self.language, [self.texts[i] for i in idx], [self.labels[i] for i in idx],
                           self.source, self.licence, self.files)

    def sha256(self) -> str:
        """Checksum of the source files this set was read from."""
        h = hashlib.sha256()
        for f in self.files:
            h.update(f.read_bytes())
        return "sha256:" + h.hexdigest()


def stars_to_label(stars: int) -> str:
    return "negative" if stars <= 2 else ("neutral" if stars == 3 else "positive")


def _split(n: int, frac: float, seed: int = SEED) -> tuple[list[int], list[int]]:
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    k = int(round(n * frac))
    return sorted(idx[k:]), sorted(idx[:k])


def _pick(rows: list, idx: list[int]) -> list:
    return [rows[i] for i in idx]


def _clean(t: object) -> str:
    return " ".join(str(t).split()) if t is not None else ""


def amazon_es(split: str, with_titles: bool = False) -> LabelledSet:
    """Amazon reviews (es). ``with_titles`` adds each review title as an extra short example (train only)."""
    root = data_root() / "amazon_reviews_multi_es"
    f = root / ("dataset_es_test.json" if split == "test" else "dataset_es_dev.json")
    rows = [json.loads(line) for line in f.open(encoding="utf-8") if line.strip()]
    if split in ("train", "val"):
        test_file = root / "dataset_es_test.json"
        held_out = {json.loads(line)["review_body"].lower() for line in test_file.open(encoding="utf-8") if line.strip()}
        rows = [r for r in rows if r["review_body"].lower() not in held_out]  # 12 bodies also appear in test
        tr, va = _split(len(rows), 0.1)
        rows = _pick(rows, tr if split == "train" else va)
    texts, labels = [], []
    for r in rows:
        lab = stars_to_label(int(r["stars"]))
        texts.append(_clean(r["review_body"]))
        labels.append(lab)
        if with_titles and _clean(r["review_title"]):
            texts.append(_clean(r["review_title"]))
            labels.append(lab)
    return LabelledSet(f"amazon_es/{split}", "es", texts, labels, "amazon_reviews_multi (es)",
                       "Amazon: academic research only", [f])


_TASS = {"N": "negative", "P": "positive", "NEU": "neutral", "NONE": "neutral"}


def _tass_csv(f: Path) -> list[dict]:
    with f.open(encoding="utf-8", newline="") as fh:
        return [{"text": _clean(r["content"]), "label": _TASS[r["polarity"]]}
                for r in csv.DictReader(fh) if r.get("polarity") in _TASS]


def _tass_xml(f: Path) -> list[dict]:
    import xml.etree.ElementTree as ET

    rows = []
    for tweet in ET.parse(f).getroot().iter("tweet"):
        pol = (tweet.findtext("polarity") or "").strip()
        if pol in _TASS:
            rows.append({"text": _clean(tweet.findtext("content")), "label": _TASS[pol]})
    return rows


def tass2019(split: str) -> LabelledSet:
    """TASS 2019 tweets (es; Spain, Mexico, Costa Rica, Peru, Uruguay).

    train/val: ``df_train_8ene.csv`` plus the Spain-only ``TASS2019_country_ES_train.xml`` (no shared ids),
    minus any text that also appears in the test split; test: ``df_dev_8ene.csv``.
    """
    root = data_root() / "tass2019_es"
    test_file = root / "df_dev_8ene.csv"
    if split == "test":
        files, rows, seen = [test_file], [], set()
        for r in _tass_csv(test_file):  # the file repeats ~500 tweets; each counts once
            if r["text"] and r["text"].lower() not in seen:
                seen.add(r["text"].lower())
                rows.append(r)
    else:
        files = [root / "df_train_8ene.csv", root / "TASS2019_country_ES_train.xml"]
        held_out = {r["text"].lower() for r in _tass_csv(test_file)}
        seen: set[str] = set()
        rows = []
        for r in _tass_csv(files[0]) + _tass_xml(files[1]):
            key = r["text"].lower()
            if r["text"] and key not in held_out and key not in seen:
                seen.add(key)
                rows.append(r)
        tr, va = _split(len(rows), 0.1)
        rows = _pick(rows, tr if split == "train" else va)
    return LabelledSet(f"tass2019/{split}", "es", [r["text"] for r in rows], [r["label"] for r in rows],
                       "TASS 2019", "research only", files)


def cuba_hotels(n: int = 3000) -> LabelledSet:
    """Cuban hotel reviews (es): cross-domain test set."""
    import openpyxl

    f = data_root() / "cuba_hotels" / "cuba_hotels_sentiment.xlsx"
    wb = openpyxl.load_workbook(f, read_only=True)
    ws = wb.active
    it = ws.iter_rows(values_only=True)
    header = [str(h) for h in next(it)]
    i_op, i_cl = header.index("Opinion"), header.index("Class")
    texts, labels = [], []
    for row in it:
        t, c = _clean(row[i_op]), row[i_cl]
        if t and c is not None:
            texts.append(t)
            labels.append(stars_to_label(int(c)))
    s = LabelledSet("cuba_hotels/test", "es", texts, labels, "Cuba hotels reviews (TripAdvisor)", "none stated", [f])
    return s.subset(n)


def restmex(n: int = 3000) -> LabelledSet:
    """Rest-Mex 2021 tourist-attraction reviews (es, Mexico): cross-domain test set."""
    f = data_root() / "restmex2021" / "rest-mex_2021_Sentiment_data_train.csv"
    with f.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    texts, labels = [], []
    for r in rows:
        t = _clean(r["Opinion"]).strip('"')
        if t and r["Label"].strip().isdigit():
            texts.append(t)
            labels.append(stars_to_label(int(r["Label"])))
    return LabelledSet("restmex/test", "es", texts, labels, "Rest-Mex 2021", "research only", [f]).subset(n)


def cfpb_complaints(n: int = 1000) -> LabelledSet:
    """English consumer-complaint narratives: all labelled negative (a one-class check)."""
    f = data_root() / "cfpb_sample" / "complaints_sample.csv"
    with f.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh)]
    col = next(c for c in rows[0] if "narrative" in c.lower())
    texts = [_clean(r[col]) for r in rows if _clean(r[col])]
    return LabelledSet("cfpb/test", "en", texts, ["negative"] * len(texts), "CFPB complaints", "public domain",
                       [f]).subset(n)


def training_sets() -> list[LabelledSet]:
    return [amazon_es("train", with_titles=True), tass2019("train")]


def validation_sets() -> list[LabelledSet]:
    return [amazon_es("val"), tass2019("val")]


def test_sets() -> list[LabelledSet]:
    return [amazon_es("test"), tass2019("test"), cuba_hotels(), restmex(), cfpb_complaints()]
