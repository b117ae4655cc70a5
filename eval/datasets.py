"""Loaders for the real data in ``../shared/data`` with fixed, documented splits and roles.

Every split used for training, model selection/calibration and reporting is defined here, once. Labels are
mapped to ``negative | neutral | positive``:

* star ratings (Amazon-es, Cuba hotels, Rest-Mex): 1-2 negative, 3 neutral, 4-5 positive;
* TASS 2019: N negative, P positive, NEU (mixed) and NONE (no opinion) neutral;
* TweetEval / XLM-T: 0 negative, 1 neutral, 2 positive;
* TWCS customer messages: labelled by reading (``eval/sentiment_labels/``, two passes, disagreements resolved).

Roles (``ROLE``): ``train`` sets fit models; ``val`` sets choose models, settings and thresholds and
calibrate; ``report`` sets are only measured, once per candidate, and never choose anything.

=====================  =========================================================  ======  ====
set                    rows used                                                  role    lang
=====================  =========================================================  ======  ====
tass2019/train         df_train_8ene.csv + ES XML, 90% (seeded)                   train   es
tass2019/val           10% of those                                               val     es
tass2019/test          df_dev_8ene.csv                                            report  es
xlmt_es/train|val      XLM-T Spanish train / val                                  train / val  es
xlmt_es/test           XLM-T Spanish test                                         report  es
amazon_es/train        dataset_es_dev.json 90% (body; title as extra short text)  train   es
amazon_es/val          10% of dataset_es_dev.json                                 val     es
amazon_es/test         dataset_es_test.json                                       report  es
cuba_hotels/test       3,000 seeded hotel reviews                                 report  es
restmex/test           3,000 seeded Rest-Mex reviews                              report  es
tweeteval/train        50% (seeded) of TweetEval's test file                      train   en
tweeteval/val          TweetEval's validation file                                val     en
tweeteval/test         the other 50% of TweetEval's test file                     report  en
xlmt_en/val            XLM-T English val                                          val     en
xlmt_en/test           XLM-T English test                                         report  en
twcs/val               40% (seeded) of the labelled TWCS customer messages        val     en
twcs/test              the other 60%                                              report  en
cfpb/test              complaint narratives, all negative (one-class check)       report  en
=====================  =========================================================  ======  ====

Deduplication (``dedup_key``) compares texts after Unicode normalisation, lower-casing, accent folding and
removing URLs, @mentions, ``RT``, HTML entities, punctuation and letter runs, so near-duplicates that differ
in whitespace, links, mentions or emphasis are the same text. It runs across all sets at once: a training row
whose key is in any validation or report set is dropped, a validation row whose key is in any report set is
dropped, and each set keeps one copy of a key (training rows also one copy across training sets). Amazon titles
go through the same check. Report sets larger than ``REPORT_CAP`` (2,000) keep a seeded 2,000 rows, so that
every candidate, including the slow fp32 transformer, is measured on the same rows in reasonable time on two
cores. ``split_summary()`` says how many rows each rule removed.

XLM-T's English train split is not used: 1,424 of its 1,831 tweets are TweetEval validation tweets, and the
407 left are all negative, which would skew any model trained on them.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import html
import json
import os
import random
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

LABELS = ("negative", "neutral", "positive")
SEED = 13
LABELS_DIR = Path(__file__).resolve().parent / "sentiment_labels"


def data_root() -> Path:
    """``../shared/data`` next to the checkout, or ``QA_SHARED_DATA``."""
    env = os.environ.get("QA_SHARED_DATA")  # tooling outside the service may read the environment
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@dataclass
class LabelledSet:
    """Texts with sentiment labels, where they came from and what they are for."""

    name: str
    language: str
    texts: list[str]
    labels: list[str]
    source: str
    licence: str
    files: list[Path] = field(default_factory=list)
    kind: str = "tweets"  # tweets | reviews | customer-messages | complaints
    role: str = "report"  # train | val | report

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, n: int, seed: int = SEED) -> "LabelledSet":
        """A seeded random subset of at most ``n`` rows (same order every time)."""
        if n >= len(self):
            return self
        idx = sorted(random.Random(seed).sample(range(len(self)), n))
        return self._take(idx)

    def _take(self, idx: list[int]) -> "LabelledSet":
        return LabelledSet(self.name, self.language, [self.texts[i] for i in idx], [self.labels[i] for i in idx],
                           self.source, self.licence, self.files, self.kind, self.role)

    def sha256(self) -> str:
        """Checksum of the source files this set was read from."""
        h = hashlib.sha256()
        for f in self.files:
            h.update(f.read_bytes())
        return "sha256:" + h.hexdigest()

    def rows_sha256(self) -> str:
        """Checksum of the rows actually used (texts and labels, in order)."""
        h = hashlib.sha256()
        for t, lab in zip(self.texts, self.labels):
            h.update(t.encode("utf-8", "surrogatepass") + b"\t" + lab.encode() + b"\n")
        return "sha256:" + h.hexdigest()

    def describe(self) -> dict:
        from collections import Counter

        return {"name": self.name, "language": self.language, "kind": self.kind, "role": self.role,
                "source": self.source, "licence": self.licence, "rows": len(self),
                "label_counts": dict(sorted(Counter(self.labels).items())),
                "files": [str(f.relative_to(data_root())) if f.is_relative_to(data_root()) else str(f)
                          for f in self.files],
                "rows_sha256": self.rows_sha256()}


_URL = re.compile(r"(https?://|www\.)\S+")
_MENTION = re.compile(r"(?<!\w)[@＠]\w+")
_RT = re.compile(r"^\s*rt\b")
_NONWORD = re.compile(r"[\W_]+")
_RUN = re.compile(r"(\w)\1{2,}")


def dedup_key(text: str) -> str:
    """The text as compared for duplicates: see the module docstring."""
    t = unicodedata.normalize("NFKD", html.unescape(str(text)))
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    t = _URL.sub(" ", t)
    t = _MENTION.sub(" ", t)
    t = _RT.sub(" ", t)
    t = _NONWORD.sub(" ", t)
    t = _RUN.sub(r"\1\1", t)
    return " ".join(t.split())


def stars_to_label(stars: int) -> str:
    return "negative" if stars <= 2 else ("neutral" if stars == 3 else "positive")


def _split(n: int, frac: float, seed: int = SEED) -> tuple[list[int], list[int]]:
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    k = int(round(n * frac))
    return sorted(idx[k:]), sorted(idx[:k])


def _clean(t: object) -> str:
    return " ".join(str(t).split()) if t is not None else ""


def _set(name: str, language: str, rows: list[tuple[str, str]], source: str, licence: str, files: list[Path],
         kind: str) -> LabelledSet:
    role = {"train": "train", "val": "val"}.get(name.rsplit("/", 1)[1], "report")
    rows = [(t, lab) for t, lab in rows if t]
    return LabelledSet(name, language, [t for t, _ in rows], [lab for _, lab in rows], source, licence, files,
                       kind, role)


# ------------------------------------------------------------------------------------------ raw loaders
def _amazon_raw() -> list[LabelledSet]:
    root = data_root() / "amazon_reviews_multi_es"
    dev, test = root / "dataset_es_dev.json", root / "dataset_es_test.json"
    rows = [json.loads(line) for line in dev.open(encoding="utf-8") if line.strip()]
    tr, va = _split(len(rows), 0.1)
    src, lic = "amazon_reviews_multi (es)", "Amazon: academic research only"
    train = []
    for i in tr:
        lab = stars_to_label(int(rows[i]["stars"]))
        train.append((_clean(rows[i]["review_body"]), lab))
        train.append((_clean(rows[i]["review_title"]), lab))  # titles: extra short texts, deduplicated like any row
    val = [(_clean(rows[i]["review_body"]), stars_to_label(int(rows[i]["stars"]))) for i in va]
    tst = [(_clean(r["review_body"]), stars_to_label(int(r["stars"])))
           for r in (json.loads(line) for line in test.open(encoding="utf-8") if line.strip())]
    return [_set("amazon_es/train", "es", train, src, lic, [dev], "reviews"),
            _set("amazon_es/val", "es", val, src, lic, [dev], "reviews"),
            _set("amazon_es/test", "es", tst, src, lic, [test], "reviews")]


_TASS = {"N": "negative", "P": "positive", "NEU": "neutral", "NONE": "neutral"}


def _tass_csv(f: Path) -> list[tuple[str, str]]:
    with f.open(encoding="utf-8", newline="") as fh:
        return [(_clean(r["content"]), _TASS[r["polarity"]]) for r in csv.DictReader(fh) if r.get("polarity") in _TASS]


def _tass_xml(f: Path) -> list[tuple[str, str]]:
    import xml.etree.ElementTree as ET

    rows = []
    for tweet in ET.parse(f).getroot().iter("tweet"):
        pol = (tweet.findtext("polarity") or "").strip()
        if pol in _TASS:
            rows.append((_clean(tweet.findtext("content")), _TASS[pol]))
    return rows


def _tass_raw() -> list[LabelledSet]:
    root = data_root() / "tass2019_es"
    files = [root / "df_train_8ene.csv", root / "TASS2019_country_ES_train.xml"]
    rows = _tass_csv(files[0]) + _tass_xml(files[1])
    tr, va = _split(len(rows), 0.1)
    test = root / "df_dev_8ene.csv"
    return [_set("tass2019/train", "es", [rows[i] for i in tr], "TASS 2019", "research only", files, "tweets"),
            _set("tass2019/val", "es", [rows[i] for i in va], "TASS 2019", "research only", files, "tweets"),
            _set("tass2019/test", "es", _tass_csv(test), "TASS 2019", "research only", [test], "tweets")]


_NUM_LABEL = {"0": "negative", "1": "neutral", "2": "positive"}


def _xlmt_raw() -> list[LabelledSet]:
    f = data_root() / "xlmt_sentiment" / "xlmt_sentiment.csv"
    with f.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for lang in ("es", "en"):
        for split in ("train", "val", "test") if lang == "es" else ("val", "test"):
            sel = [(_clean(r["text"]), _NUM_LABEL.get(r["label"].strip(), r["label"].strip()))
                   for r in rows if r["language"] == lang and r["split"] == split]
            out.append(_set(f"xlmt_{lang}/{split}", lang, sel, "XLM-T tweet_sentiment_multilingual",
                            "research use (tweets from shared tasks); code Apache-2.0", [f], "tweets"))
    return out


def _tweeteval_raw() -> list[LabelledSet]:
    f = data_root() / "tweeteval_sentiment_en" / "tweeteval_sentiment.csv"
    with f.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    lab = lambda r: _NUM_LABEL.get(r["label"].strip(), r["label"].strip())  # noqa: E731
    val = [(_clean(r["text"]), lab(r)) for r in rows if r["split"] == "val"]
    test = [(_clean(r["text"]), lab(r)) for r in rows if r["split"] == "test"]
    rep, tr = _split(len(test), 0.5)
    src, lic = "TweetEval sentiment (SemEval-2017 4A)", "research use (see SOURCE.txt)"
    return [_set("tweeteval/train", "en", [test[i] for i in tr], src, lic, [f], "tweets"),
            _set("tweeteval/val", "en", val, src, lic, [f], "tweets"),
            _set("tweeteval/test", "en", [test[i] for i in rep], src, lic, [f], "tweets")]


def twcs_labels() -> dict[str, str]:
    """Resolved reading labels of TWCS customer messages (tweet id -> label), empty until labelled."""
    f = LABELS_DIR / "twcs-labels.csv"
    if not f.exists():
        return {}
    with f.open(encoding="utf-8", newline="") as fh:
        return {r["tweet_id"]: r["label"] for r in csv.DictReader(fh) if r["label"] in LABELS}


def _twcs_raw() -> list[LabelledSet]:
    labels = twcs_labels()
    if not labels:
        print("eval.datasets: eval/sentiment_labels/twcs-labels.csv missing: no customer-message sets",
              file=sys.stderr)
        return []
    f = data_root() / "twcs_head" / "twcs_head.csv"
    with f.open(encoding="utf-8", newline="") as fh:
        text = {r["tweet_id"]: _clean(r["text"]) for r in csv.DictReader(fh)}
    ids = [i for i in (LABELS_DIR / "twcs-ids.txt").read_text().split() if i in labels]
    val, rep = _split(len(ids), 0.6)  # 40% val, 60% report
    src, lic = "Customer Support on Twitter (TWCS), labelled by reading", "CC BY-NC-SA 4.0"
    files = [f, LABELS_DIR / "twcs-labels.csv"]
    return [_set("twcs/val", "en", [(text[ids[i]], labels[ids[i]]) for i in val], src, lic, files,
                 "customer-messages"),
            _set("twcs/test", "en", [(text[ids[i]], labels[ids[i]]) for i in rep], src, lic, files,
                 "customer-messages")]


def _cuba_raw(n: int = 3000) -> LabelledSet:
    import openpyxl

    f = data_root() / "cuba_hotels" / "cuba_hotels_sentiment.xlsx"
    wb = openpyxl.load_workbook(f, read_only=True)
    it = wb.active.iter_rows(values_only=True)
    header = [str(h) for h in next(it)]
    i_op, i_cl = header.index("Opinion"), header.index("Class")
    rows = [(_clean(r[i_op]), stars_to_label(int(r[i_cl]))) for r in it if _clean(r[i_op]) and r[i_cl] is not None]
    return _set("cuba_hotels/test", "es", rows, "Cuba hotels reviews (TripAdvisor)", "none stated", [f],
                "reviews").subset(n)


def _restmex_raw(n: int = 3000) -> LabelledSet:
    f = data_root() / "restmex2021" / "rest-mex_2021_Sentiment_data_train.csv"
    with f.open(encoding="utf-8", newline="") as fh:
        rows = [(_clean(r["Opinion"]).strip('"'), stars_to_label(int(r["Label"])))
                for r in csv.DictReader(fh) if r["Label"].strip().isdigit()]
    return _set("restmex/test", "es", rows, "Rest-Mex 2021", "research only", [f], "reviews").subset(n)


def _cfpb_raw(n: int = 1000) -> LabelledSet:
    f = data_root() / "cfpb_sample" / "complaints_sample.csv"
    with f.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    col = next(c for c in rows[0] if "narrative" in c.lower())
    return _set("cfpb/test", "en", [(_clean(r[col]), "negative") for r in rows], "CFPB complaints", "public domain",
                [f], "complaints").subset(n)


# ------------------------------------------------------------------------------------------ the protocol
REPORT_CAP = 2000  # report sets above this keep a seeded 2,000 rows (every candidate is measured on the same)


@functools.lru_cache(maxsize=1)
def _protocol() -> tuple[tuple[LabelledSet, ...], dict[str, dict[str, int]]]:
    raw = (_tass_raw() + _xlmt_raw() + _amazon_raw() + [_cuba_raw(), _restmex_raw()]
           + _tweeteval_raw() + _twcs_raw() + [_cfpb_raw()])
    report_keys = {dedup_key(t) for s in raw if s.role == "report" for t in s.texts}
    val_keys = {dedup_key(t) for s in raw if s.role == "val" for t in s.texts}
    seen_train: set[str] = set()
    out, removed = [], {}
    for s in raw:
        seen: set[str] = set()
        keep, why = [], {"empty": 0, "in_report": 0, "in_val": 0, "duplicate": 0}
        for i, t in enumerate(s.texts):
            k = dedup_key(t)
            if not k:
                why["empty"] += 1
            elif s.role != "report" and k in report_keys:
                why["in_report"] += 1
            elif s.role == "train" and k in val_keys:
                why["in_val"] += 1
            elif k in seen or (s.role == "train" and k in seen_train):
                why["duplicate"] += 1
            else:
                seen.add(k)
                keep.append(i)
        if s.role == "train":
            seen_train |= seen
        kept = s._take(keep)
        if s.role == "report" and len(kept) > REPORT_CAP:
            kept = kept.subset(REPORT_CAP)
        out.append(kept)
        removed[s.name] = {"raw": len(s), "kept": len(kept), **why,
                           "capped": len(keep) - len(kept)}
    return tuple(out), removed


def all_sets() -> list[LabelledSet]:
    return list(_protocol()[0])


def split_summary() -> dict[str, dict[str, int]]:
    """Per set: raw rows, kept rows and how many each deduplication rule removed."""
    return dict(_protocol()[1])


def get(name: str) -> LabelledSet:
    for s in all_sets():
        if s.name == name:
            return s
    raise KeyError(name)


def training_sets(languages: tuple[str, ...] = ("es", "en")) -> list[LabelledSet]:
    return [s for s in all_sets() if s.role == "train" and s.language in languages]


def validation_sets(languages: tuple[str, ...] = ("es", "en")) -> list[LabelledSet]:
    return [s for s in all_sets() if s.role == "val" and s.language in languages]


def report_sets(languages: tuple[str, ...] = ("es", "en")) -> list[LabelledSet]:
    return [s for s in all_sets() if s.role == "report" and s.language in languages]


test_sets = report_sets  # the older name


# Target share of the total training weight per group (language-balanced, tweet-heavy). Within a group each
# set weighs in proportion to its size.
MIX = {("es", "tweets"): 0.35, ("es", "reviews"): 0.15, ("en", "tweets"): 0.50}


def mix_weights(sets: list[LabelledSet]) -> "list[float]":
    """Per-row sample weights giving each (language, kind) group its ``MIX`` share (mean weight 1)."""
    import numpy as np

    groups: dict[tuple[str, str], int] = {}
    for s in sets:
        groups[(s.language, s.kind)] = groups.get((s.language, s.kind), 0) + len(s)
    share = {g: MIX.get(g, 0.0) for g in groups}
    if sum(share.values()) <= 0:
        share = {g: 1.0 for g in groups}
    total = sum(share.values())
    w = np.concatenate([np.full(len(s), share[(s.language, s.kind)] / total / groups[(s.language, s.kind)])
                        for s in sets]) if sets else np.zeros(0)
    return w / w.mean() if len(w) else w


# Loaders kept for callers outside the sentiment protocol (benchmarks, topic sets).
def tass2019(split: str) -> LabelledSet:
    return get(f"tass2019/{split}")


def amazon_es(split: str, with_titles: bool = False) -> LabelledSet:
    return get(f"amazon_es/{split}")


def cuba_hotels(n: int = 3000) -> LabelledSet:
    return _cuba_raw(n)


def restmex(n: int = 3000) -> LabelledSet:
    return _restmex_raw(n)


def cfpb_complaints(n: int = 1000) -> LabelledSet:
    return _cfpb_raw(n)
