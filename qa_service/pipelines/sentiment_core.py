"""What every sentiment pipeline shares: labels, result records, the ``predict`` contract and calibration."""

from __future__ import annotations

from typing import Any, Sequence, overload

import numpy as np

from qa_service.errors import InvalidInputError
from qa_service.schemas import Probabilities, SentimentResult
from qa_service.text.normalize import is_blank, scrub

LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


RULES = ("negative-threshold", "offsets")


def decide(probs: np.ndarray, rule: dict[str, Any] | None, languages: Sequence[str] | None = None) -> np.ndarray:
    """Label indices from calibrated probabilities under a bundle's decision rule.

    ``None`` (or ``{"method": "argmax"}``): the most probable label. ``{"method": "negative-threshold",
    "thresholds": {"en": t, ...}}``: in a language with a threshold, negative whenever P(negative) >= t, else the most
    probable label; languages without one (or rows of unknown language) take the most probable label. An operating
    point for traffic where a complaint read as neutral costs most, chosen per language on that language's
    customer-message validation data (see the bundle's manifest). ``{"method": "offsets", "offsets": {"es": [0, a,
    b], ...}, "thresholds": {...}}``: per language, the label maximising log P + offset (class offsets chosen on
    that language's validation messages), then the negative threshold where the language has one. The
    probabilities are not changed: they stay calibrated; only the label moves.
    """
    probs = np.asarray(probs)
    pred = probs.argmax(axis=1)
    if not rule or rule.get("method") not in RULES:
        return pred
    langs = list(languages) if languages is not None else ["other"] * len(pred)
    if rule["method"] == "offsets":
        offsets = rule.get("offsets") or {}
        b = np.array([offsets.get(g, [0.0] * probs.shape[1]) for g in langs], dtype=float).reshape(probs.shape)
        pred = (np.log(np.clip(probs, 1e-12, None)) + b).argmax(axis=1)
    thresholds = rule.get("thresholds") or {}
    t = np.array([float(thresholds.get(g, np.inf)) for g in langs])
    return np.where(probs[:, 0] >= t, 0, pred)


def _result(p: np.ndarray, language: str, id_: str | None = None, version: str | None = None,
            label: int | None = None) -> SentimentResult:
    p = np.clip(p.astype(float), 0.0, 1.0)
    p = p / p.sum()
    return SentimentResult(
        id=id_,
        label=LABELS[int(np.argmax(p)) if label is None else int(label)],  # type: ignore[arg-type]
        score=round(float(p[2] - p[0]), 4),
        probabilities=Probabilities(negative=round(float(p[0]), 4), neutral=round(float(p[1]), 4),
                                    positive=round(float(p[2]), 4)),
        language=language,  # type: ignore[arg-type]
        model_version=version,
    )


class SentimentPredictor:
    """``predict`` on top of a subclass's ``predict_proba``: validation, language, result records."""

    detect_language: bool = True
    # The language identifier the process shares (set by the Runtime); built on first use otherwise.
    language_id_: Any = None
    # How labels follow from probabilities (the bundle's manifest ``decision``; None: the most probable label).
    decision_: dict[str, Any] | None = None

    def decide(self, probs: np.ndarray, languages: Sequence[str] | None = None) -> np.ndarray:
        """Label indices for ``probs`` (rows of :meth:`predict_proba`, texts in ``languages``) under this model's
        decision rule."""
        return decide(probs, self.decision_, languages)

    def predict_proba(self, texts: Sequence[str], languages: Sequence[str] | None = None
                      ) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def version(self) -> str | None:
        """The bundle's version (its manifest's), carried by every result; ``None`` before it is saved or loaded."""
        manifest = getattr(self, "manifest_", None) or {}
        return str(manifest["version"]) if manifest.get("version") is not None else None

    def _calibration_languages(self, texts: list[str], languages: Sequence[str] | None) -> list[str]:
        """The language each text is calibrated for: given, detected when calibration depends on it, else other."""
        if languages is not None:
            return list(languages)
        if (getattr(self, "calibration_", None) or {}).get("method") != "per-language" or not self.detect_language:
            return ["other"] * len(texts)
        return self._languages(texts)

    @property
    def reads_language(self) -> bool:
        """Whether a text's language can change its probabilities or label (a per-language calibration or
        decision rule); when it cannot, it only fills the results' ``language``."""
        per_language = (getattr(self, "calibration_", None) or {}).get("method") == "per-language"
        return self.detect_language and (per_language or (self.decision_ or {}).get("method") in RULES)

    @overload
    def predict(self, texts: str, ids: None = None, languages: Sequence[str] | None = None) -> SentimentResult: ...
    @overload
    def predict(self, texts: Sequence[str], ids: Sequence[str | None] | None = None,
                languages: Sequence[str] | None = None) -> list[SentimentResult]: ...

    def predict(self, texts, ids=None, languages=None):
        """One :class:`SentimentResult` for a string, a list for a list. Empty texts are rejected. ``languages``:
        each text's language when the caller has detected it already (else detected here)."""
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        for i, t in enumerate(batch):
            if not isinstance(t, str) or is_blank(t):
                raise InvalidInputError("text is empty", field="text" if single else f"texts[{i}]")
        batch = [scrub(t) for t in batch]  # lone surrogates from JSON escapes break tokenisers
        langs = list(languages) if languages is not None else self._languages(batch)
        if len(langs) != len(batch):
            raise ValueError("one language per text")
        probs = self.predict_proba(batch, languages=langs)
        ids = list(ids) if ids is not None else [None] * len(batch)
        version = self.version
        labels = self.decide(probs, langs)
        out = [_result(p, lang, i, version, k) for p, lang, i, k in zip(probs, langs, ids, labels)]
        return out[0] if single else out

    def languages(self, texts: Sequence[str]) -> list[str]:
        """The language of each text (es / en / other), or ``other`` throughout when detection is off."""
        return self._languages(list(texts))

    def _languages(self, texts: list[str]) -> list[str]:
        if not self.detect_language:
            return ["other"] * len(texts)
        if self.language_id_ is None:
            from qa_service.text.language import LanguageIdentifier

            self.language_id_ = LanguageIdentifier()
        return self.language_id_.detect_many(texts)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimising validation log-loss of softmax(logits / T) (grid + refine)."""
    def nll(t: float) -> float:
        p = softmax(logits / t)
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))))

    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 200))
    best = min(grid, key=nll)
    fine = np.linspace(best * 0.9, best * 1.1, 41)
    return float(min(fine, key=nll))


def fit_language_calibration(logits: np.ndarray, y: np.ndarray, languages: Sequence[str],
                             min_rows: int = 100) -> dict[str, Any]:
    """Vector scaling per language: a temperature and per-class biases minimising validation log-loss.

    Languages with fewer than ``min_rows`` validation rows use the ``default`` fitted on all rows.
    """
    languages = np.asarray(list(languages))
    table = {}
    for lang in sorted(set(languages.tolist())):
        m = languages == lang
        if m.sum() >= min_rows:
            table[str(lang)] = _fit_vector_scaling(logits[m], y[m])
    return {"method": "per-language", "languages": table, "default": _fit_vector_scaling(logits, y),
            "fitted_rows": {str(k): int((languages == k).sum()) for k in sorted(set(languages.tolist()))}}


def _fit_vector_scaling(z: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    from scipy.optimize import minimize

    z = np.asarray(z, dtype=np.float64)

    def nll(theta: np.ndarray) -> float:
        t = np.exp(theta[0])
        b = np.array([0.0, theta[1], theta[2]])
        q = z / t + b
        q = q - q.max(axis=1, keepdims=True)
        return float(-np.mean(q[np.arange(len(y)), y] - np.log(np.exp(q).sum(axis=1))))

    res = minimize(nll, np.zeros(3), method="L-BFGS-B", bounds=[(-3, 3), (-5, 5), (-5, 5)])
    return {"temperature": round(float(np.exp(res.x[0])), 5),
            "bias": [0.0, round(float(res.x[1]), 5), round(float(res.x[2]), 5)], "rows": int(len(y))}


def apply_calibration(z: np.ndarray, languages: Sequence[str], calibration: dict[str, Any]) -> np.ndarray:
    """Probabilities from logits under a bundle's calibration (one temperature, or one scaling per language)."""
    if calibration.get("method") != "per-language":
        return softmax(z / float(calibration.get("temperature", 1.0)))
    out = np.zeros(z.shape, dtype=np.float64)
    table = calibration.get("languages", {})
    langs = list(languages)
    for lang in set(langs):
        rows = np.array([i for i, g in enumerate(langs) if g == lang])
        c = table.get(lang) or calibration["default"]
        out[rows] = softmax(z[rows] / float(c["temperature"]) + np.asarray(c.get("bias", [0, 0, 0]), np.float64))
    return out
