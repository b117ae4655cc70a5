"""Readable topic labels and keywords: short phrases customers wrote, chosen KeyBERT-style on the model's encoder.

For each topic:

* **Candidates** are word sequences of one to three words that at least two of the topic's comments contain
  (``min_df``), taken within a clause (never across punctuation), neither starting nor ending with a stop word,
  unigrams of three letters or more. Only comments in the topic's own language count, so a Spanish topic gets no
  English words (and the reverse) unless the topic is in that language.
* **Scores**: ``coverage`` (the share of the topic's comments that contain the phrase) times the log of its
  ``lift`` (how much more often the topic uses it than all comments do: generic words such as "hotel" score ~0),
  plus, KeyBERT-style, the phrase's cosine similarity to the topic's centroid on the model's encoder and its
  ``margin`` over the closest *other* topic (what sets the topic apart). A phrase must contain one of the topic's
  distinctive c-TF-IDF words. Without an encoder (embeddings passed in, e.g. evaluation) coverage and lift decide.
* **The label** is the best phrase not already taken by a larger topic (labels are unique, compared without case
  or accents; first letter capitalised), a two- or three-word phrase preferred over a single word that scores
  about as well.
* **Keywords** are the distinctive c-TF-IDF words, without accent variants ("cócteles" / "cocteles") and, as in
  maximal marginal relevance, without one whose embedding nearly repeats a better one.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Callable, Sequence

import numpy as np

_CLAUSE = re.compile(r"[.,;:!?¡¿()\[\]{}\"«»…\n\r\t/|]+|\s[-–—]\s")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def fold(text: str) -> str:
    """Lower case without accents: how labels and keywords are compared for duplicates."""
    return "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")


def phrase_candidates(docs: Sequence[str], stop: set[str], max_words: int = 3, min_df: int = 2) -> dict[str, int]:
    """Phrases (lower case, as written) of one to ``max_words`` words and how many of ``docs`` contain them.

    A phrase lies within a clause, does not start or end with a stop word, a three-word phrase has a stop word in the
    middle ("tiempo de espera"), and a single word has at least three letters. Phrases contained in fewer than
    ``min_df`` documents are left out.
    """
    df: dict[str, int] = {}
    for doc in docs:
        seen: set[str] = set()
        for clause in _CLAUSE.split(doc.lower()):
            words = _WORD.findall(clause)
            for i in range(len(words)):
                for n in range(1, max_words + 1):
                    gram = words[i:i + n]
                    if len(gram) < n or gram[0] in stop or gram[-1] in stop:
                        continue
                    if n == 1 and len(gram[0]) < 3:
                        continue
                    if n == 3 and gram[1] not in stop:  # "tiempo de espera", not "relaciones públicas espero"
                        continue
                    if any(len(w) < 2 for w in gram):
                        continue
                    seen.add(" ".join(gram))
        for p in seen:
            df[p] = df.get(p, 0) + 1
    return {p: c for p, c in df.items() if c >= min_df}


def _dedupe_folded(words: Sequence[str]) -> list[str]:
    """Keep the first of words that differ only in accents or case; drop a word inside an earlier phrase and a
    phrase made of earlier words."""
    out: list[str] = []
    keys: list[str] = []
    for w in words:
        k = fold(w)
        if k in keys:
            continue
        toks = set(k.split())
        if any(toks <= set(p.split()) or set(p.split()) <= toks for p in keys):
            continue
        keys.append(k)
        out.append(w)
    return out


def choose_labels(topic_docs: dict[int, list[str]], keywords: dict[int, list[str]], centroids: dict[int, np.ndarray],
                  order: Sequence[int], stop: set[str], embed: Callable[[list[str]], np.ndarray] | None,
                  top_n_words: int = 10, reserved: Sequence[str] = ()) -> dict[int, tuple[str, list[str]]]:
    """A unique readable label and keywords for each topic.

    Args:
        topic_docs: topic id -> the comments to draw phrases from (the topic's members in its language, most typical
            first).
        keywords: topic id -> its distinctive c-TF-IDF words and bigrams, best first.
        centroids: topic id -> L2-normalised centroid in the encoder's space (the space ``embed`` returns).
        order: topic ids, the ones that choose their label first (largest topics) first.
        embed: texts -> L2-normalised rows with the model's encoder; ``None`` ranks without embeddings.
        reserved: labels already in use (custom labels of other topics), never chosen again.

    Returns:
        topic id -> (label, keywords).
    """
    ids = list(order)
    ranked, vecs = score_phrases(topic_docs, keywords, centroids, ids, stop, embed, top_n_words)
    used = {fold(r) for r in reserved if r}
    out: dict[int, tuple[str, list[str]]] = {}
    for t in ids:
        kw = keywords.get(t, [])
        label = next((p for _, p in ranked[t] if fold(p) not in used), None)
        if label is None:  # no phrase two comments share: the best keyword, then keywords joined
            label = next((k for k in kw if fold(k) not in used), None) or \
                next((f"{a} · {b}" for a in kw for b in kw if a != b and fold(f"{a} · {b}") not in used), None) or \
                f"tema {t}"
        used.add(fold(label))
        label = label[:1].upper() + label[1:]
        words = _dedupe_folded(kw)
        if vecs and words:
            words = _drop_redundant(words, vecs)
        out[t] = (label, words[:top_n_words])
    return out


def score_phrases(topic_docs: dict[int, list[str]], keywords: dict[int, list[str]], centroids: dict[int, np.ndarray],
                  ids: Sequence[int], stop: set[str], embed: Callable[[list[str]], np.ndarray] | None,
                  top_n_words: int = 10, max_candidates: int = 40
                  ) -> tuple[dict[int, list[tuple[float, str]]], dict[str, np.ndarray]]:
    """Candidate label phrases of each topic, best first, with their scores (see the module's docstring), and the
    phrase vectors used (empty without an encoder)."""
    counts = {t: phrase_candidates(topic_docs.get(t, []), stop, min_df=1) for t in ids}
    n_all = max(sum(len(topic_docs.get(t, [])) for t in ids), 1)
    df_all: dict[str, int] = {}
    for t in ids:
        for p, c in counts[t].items():
            df_all[p] = df_all.get(p, 0) + c
    cands: dict[int, list[tuple[str, float, float]]] = {}
    for t in ids:
        n_t = max(len(topic_docs.get(t, [])), 1)
        min_df = max(2, round(0.02 * n_t)) if n_t >= 6 else 1
        distinct = {w for k in keywords.get(t, [])[:top_n_words] for w in k.split()}
        pool = []
        for p, c in counts[t].items():
            if c < min_df or not set(p.split()) & distinct:
                continue
            coverage = c / n_t
            lift = coverage / (df_all[p] / n_all)  # generic words ("hotel") ~1, the topic's own words >> 1
            pool.append((p, coverage, math.sqrt(coverage) * math.log(max(lift, 1e-6))))
        pool.sort(key=lambda x: (-x[2], x[0]))
        cands[t] = pool[:max_candidates]
    vocab = sorted({p for pool in cands.values() for p, *_ in pool} | {k for t in ids for k in keywords.get(t, [])})
    vecs: dict[str, np.ndarray] = {}
    if embed is not None and vocab:
        vecs = dict(zip(vocab, np.asarray(embed(vocab), dtype=np.float32)))
    cent_ids = [t for t in ids if t in centroids]
    cent = np.vstack([centroids[t] for t in cent_ids]) if cent_ids else np.zeros((0, 1), np.float32)
    ranked: dict[int, list[tuple[float, str]]] = {}
    for t in ids:
        scored = []
        for p, coverage, distinct_score in cands[t]:
            score = distinct_score
            if vecs and t in centroids:
                sims = cent @ vecs[p]
                k = cent_ids.index(t)
                own = float(sims[k])
                other = float(np.delete(sims, k).max()) if len(cent_ids) > 1 else 0.0
                score += 0.5 * own + 0.5 * (own - other)
            words = len(p.split())
            if words > 1:  # a phrase says more than a word ("aire acondicionado", not "agua")
                score += 0.3 if words == 2 else 0.2
            scored.append((round(score, 4), p))
        ranked[t] = sorted(scored, key=lambda sp: (-sp[0], sp[1]))
    return ranked, vecs


def _drop_redundant(words: list[str], vecs: dict[str, np.ndarray], max_similarity: float = 0.8) -> list[str]:
    """Keywords in their (c-TF-IDF) order, without one that means nearly the same as a better one (MMR's redundancy
    test on the encoder's vectors: "cóctel" after "cócteles", "comida rica" after "comida deliciosa")."""
    kept: list[str] = []
    for w in words:
        v = vecs.get(w)
        if v is not None and any(float(vecs[k] @ v) >= max_similarity for k in kept if k in vecs):
            continue
        kept.append(w)
    return kept
