"""Sentiment: negative | neutral | positive, a score in -1..1 and calibrated probabilities.

Two kinds of bundle share one interface:

* ``embedding-head``: a sentence encoder (by name) + a small numpy head (linear or MLP) stored as
  ``head.npz`` (no pickle), with temperature calibration. Fast enough for the live path.
* ``transformer``: a fine-tuned ``AutoModelForSequenceClassification`` directory (``model/``).

The pipeline follows the scikit-learn contract: ``__init__`` stores parameters, ``fit`` returns self,
fitted attributes end in ``_``, ``predict`` takes one text or a list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence, overload

import numpy as np

from qa_service.errors import ModelLoadError
from qa_service.pipelines.sentiment_core import (LABELS, SentimentPredictor, apply_calibration,  # noqa: F401
                                                 fit_language_calibration, fit_temperature, softmax)
from qa_service.text.normalize import normalise_for_sentiment

class NumpyHead:
    """A linear or MLP (ReLU) classifier evaluated with numpy: logits = f(X)."""

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        if len(weights) != len(biases) or not weights:
            raise ValueError("weights and biases must be non-empty lists of equal length")
        self.weights = [np.asarray(w, dtype=np.float32) for w in weights]
        self.biases = [np.asarray(b, dtype=np.float32) for b in biases]

    @property
    def input_dim(self) -> int:
        return int(self.weights[0].shape[0])

    def logits(self, x: np.ndarray) -> np.ndarray:
        h = np.asarray(x, dtype=np.float32)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                np.maximum(h, 0, out=h)
        return h

    @classmethod
    def from_sklearn(cls, model: Any) -> "NumpyHead":
        """From a fitted ``LogisticRegression`` (multinomial) or ``MLPClassifier``."""
        if hasattr(model, "coefs_"):
            return cls(list(model.coefs_), list(model.intercepts_))
        return cls([model.coef_.T], [model.intercept_])

    def save(self, path: Path) -> None:
        arrays = {f"w{i}": w for i, w in enumerate(self.weights)} | {f"b{i}": b for i, b in enumerate(self.biases)}
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> "NumpyHead":
        try:
            with np.load(path, allow_pickle=False) as z:
                n = len([k for k in z.files if k.startswith("w")])
                return cls([z[f"w{i}"] for i in range(n)], [z[f"b{i}"] for i in range(n)])
        except Exception as exc:  # noqa: BLE001 - any unreadable head is the same user-facing problem
            raise ModelLoadError(f"{path}: cannot read head weights ({exc})", str(path)) from exc


class SentimentPipeline(SentimentPredictor):
    """Encoder + head sentiment classifier.

    Args:
        encoder: encoder name for :func:`qa_service.encoders.load_encoder`.
        head: ``logreg`` or ``mlp``.
        C: inverse regularisation for ``logreg``; ``alpha`` = 1/C for ``mlp``.
        hidden: hidden layer width for ``mlp``.
        calibrate: ``True``/``"temperature"``: one temperature fitted on the held-out data passed to ``fit``;
            ``"per-language"``: a temperature and class biases per language (``val_languages`` needed);
            ``False``: none.
        class_weight: ``"balanced"`` or ``None`` (logistic regression only).
        detect_language: attach es/en/other to each result.
    """

    def __init__(self, encoder: str = "use-multilingual", head: str = "logreg", C: float = 1.0,
                 hidden: int = 256, calibrate: bool | str = True, detect_language: bool = True,
                 random_state: int = 13, class_weight: str | None = "balanced") -> None:
        self.encoder = encoder
        self.head = head
        self.C = C
        self.hidden = hidden
        self.calibrate = calibrate
        self.detect_language = detect_language
        self.random_state = random_state
        self.class_weight = class_weight

    # ------------------------------------------------------------------ fitting
    def fit(self, texts: Sequence[str], labels: Sequence[str], sample_weight: Sequence[float] | None = None,
            val_texts: Sequence[str] | None = None, val_labels: Sequence[str] | None = None) -> "SentimentPipeline":
        """Encode ``texts`` and fit the head; calibrate on the validation texts when given."""
        enc = self._encoder()
        x = enc.encode([normalise_for_sentiment(t) for t in texts])
        xv = enc.encode([normalise_for_sentiment(t) for t in val_texts]) if val_texts is not None else None
        return self.fit_embeddings(x, labels, sample_weight, xv, val_labels)

    def fit_embeddings(self, x: np.ndarray, labels: Sequence[str], sample_weight: Sequence[float] | None = None,
                       x_val: np.ndarray | None = None, val_labels: Sequence[str] | None = None,
                       val_languages: Sequence[str] | None = None) -> "SentimentPipeline":
        """Fit the head on precomputed embeddings (training scripts cache them)."""
        y = np.array([LABELS.index(lab) for lab in labels])
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if self.head == "logreg":
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(C=self.C, max_iter=2000, class_weight=self.class_weight)
            model.fit(x, y, sample_weight=sw)
        elif self.head == "mlp":
            from sklearn.neural_network import MLPClassifier

            # Early stopping needs a validation slice worth the name; tiny sets train to convergence instead.
            model = MLPClassifier(hidden_layer_sizes=(self.hidden,), alpha=1.0 / self.C, max_iter=500,
                                  early_stopping=len(y) >= 2000, validation_fraction=0.1, n_iter_no_change=10,
                                  random_state=self.random_state)
            if sw is not None:
                model.fit(x, y, sample_weight=sw)
            else:
                model.fit(x, y)
        else:
            raise ValueError(f"unknown head {self.head!r}: use 'logreg' or 'mlp'")
        self.head_ = NumpyHead.from_sklearn(model)
        self.temperature_ = 1.0
        self.calibration_ = {"method": "temperature", "temperature": 1.0}
        if self.calibrate and x_val is not None and val_labels is not None:
            yv = np.array([LABELS.index(lab) for lab in val_labels])
            z = self.head_.logits(x_val)
            if self.calibrate == "per-language":
                if val_languages is None:
                    raise ValueError("per-language calibration needs val_languages")
                self.calibration_ = fit_language_calibration(z, yv, val_languages)
            else:
                self.temperature_ = fit_temperature(z, yv)
                self.calibration_ = {"method": "temperature", "temperature": self.temperature_}
        return self

    # --------------------------------------------------------------- inference
    def encoder_model(self):
        """The encoder object the head reads (built on first use); new heads trained on it fit this one."""
        return self._encoder()

    def _encoder(self):
        if getattr(self, "encoder_", None) is None:
            from qa_service.encoders import load_encoder

            self.encoder_ = load_encoder(self.encoder)
        return self.encoder_

    def predict_proba_embeddings(self, x: np.ndarray, languages: Sequence[str] | None = None) -> np.ndarray:
        cal = getattr(self, "calibration_", None) or {"method": "temperature", "temperature": self.temperature_}
        return apply_calibration(self.head_.logits(x), languages or ["other"] * len(x), cal)

    def predict_proba(self, texts: Sequence[str], languages: Sequence[str] | None = None) -> np.ndarray:
        """Calibrated probabilities, columns in :data:`LABELS` order."""
        texts = list(texts)
        x = self._encoder().encode([normalise_for_sentiment(t) for t in texts])
        return self.predict_proba_embeddings(x, self._calibration_languages(texts, languages))

    # ----------------------------------------------------------- persistence
    def save(self, bundle: Path, manifest_extra: dict[str, Any]) -> dict[str, Any]:
        """Write ``head.npz`` and ``manifest.json`` into ``bundle``; returns the manifest."""
        from qa_service.bundles import write_manifest

        bundle = Path(bundle)
        bundle.mkdir(parents=True, exist_ok=True)
        self.head_.save(bundle / "head.npz")
        enc = self._encoder()
        manifest = {
            "task": "sentiment",
            "kind": "embedding-head",
            "labels": list(LABELS),
            "encoder": {"name": self.encoder, "fingerprint": enc.fingerprint(), "dim": enc.dim},
            "head": {"type": self.head, "C": self.C, "hidden": self.hidden if self.head == "mlp" else None},
            "calibration": getattr(self, "calibration_", None) or {"method": "temperature",
                                                                    "temperature": self.temperature_},
            "preprocessing": "qa_service.text.normalize.normalise_for_sentiment",
            "artifacts": {"head.npz": ""},
            **manifest_extra,
        }
        self.manifest_ = write_manifest(bundle, manifest)
        return self.manifest_

    @classmethod
    def load(cls, bundle: Path, manifest: dict[str, Any] | None = None, verify_encoder: bool = True,
             encoder: Any = None, threads: int = 2) -> "SentimentPipeline":
        """Load an ``embedding-head`` bundle; checks the encoder fingerprint against the manifest.

        Args:
            encoder: the encoder the manifest names, already built (the Runtime shares one per name); built
                here when omitted.
            threads: CPU threads for an encoder shipped inside the bundle.
        """
        from qa_service.bundles import read_manifest

        bundle = Path(bundle)
        manifest = manifest or read_manifest(bundle, task="sentiment")
        enc_info = manifest.get("encoder") or {}
        pipe = cls(encoder=enc_info.get("name", "use-multilingual"), head=manifest.get("head", {}).get("type", "logreg"))
        pipe.head_ = NumpyHead.load(bundle / "head.npz")
        pipe.calibration_ = manifest.get("calibration") or {"method": "temperature", "temperature": 1.0}
        pipe.temperature_ = float(pipe.calibration_.get("temperature", 1.0))
        if enc_info.get("path"):
            # A fine-tuned encoder shipped inside the bundle (training.finetune_sentiment writes these).
            from qa_service.encoders.e5 import SentenceTransformerEncoder

            pipe.encoder_ = SentenceTransformerEncoder(bundle / enc_info["path"], name=pipe.encoder,
                                                       prefix=enc_info.get("prefix", ""), threads=threads)
        elif encoder is not None:
            pipe.encoder_ = encoder
        enc = pipe._encoder()
        if pipe.head_.input_dim != enc.dim:
            raise ModelLoadError(f"{bundle / 'head.npz'}: head expects {pipe.head_.input_dim}-d input, encoder "
                                 f"{enc.name} gives {enc.dim}-d", str(bundle / "head.npz"))
        if verify_encoder and enc_info.get("fingerprint") and enc.fingerprint() != enc_info["fingerprint"]:
            raise ModelLoadError(f"{bundle / 'manifest.json'}: encoder {enc.name} differs from the one the bundle was "
                                 "trained on (fingerprint mismatch)", str(bundle / "manifest.json"))
        pipe.manifest_ = manifest
        return pipe


class TransformerSentimentPipeline(SentimentPredictor):
    """A fine-tuned sequence classifier (``transformer`` bundles, and the fine-tuning comparison in eval/)."""

    def __init__(self, model_dir: Path, prefix: str = "query: ", max_length: int = 128, threads: int = 2,
                 temperature: float = 1.0, detect_language: bool = True) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        torch.set_num_threads(threads)
        self.model_dir = Path(model_dir)
        self.prefix = prefix
        self.max_length = max_length
        self.temperature_ = temperature
        self.detect_language = detect_language
        try:
            self.tokenizer_ = AutoTokenizer.from_pretrained(str(model_dir))
            self.model_ = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"{model_dir}: cannot load transformer classifier ({exc})", str(model_dir)) from exc

    def logits(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                batch = [self.prefix + normalise_for_sentiment(t) for t in texts[i : i + batch_size]]
                enc = self.tokenizer_(batch, padding=True, truncation=True, max_length=self.max_length,
                                      return_tensors="pt")
                out.append(self.model_(**enc).logits.float().numpy())
        return np.vstack(out) if out else np.zeros((0, 3), np.float32)

    def predict_proba(self, texts: Sequence[str], languages: Sequence[str] | None = None) -> np.ndarray:
        return softmax(self.logits(list(texts)) / self.temperature_)

    @classmethod
    def load(cls, bundle: Path, manifest: dict[str, Any], threads: int = 2) -> "TransformerSentimentPipeline":
        cal = manifest.get("calibration", {})
        return cls(Path(bundle) / "model", prefix=manifest.get("prefix", "query: "),
                   max_length=int(manifest.get("max_length", 128)), temperature=float(cal.get("temperature", 1.0)),
                   threads=threads)


def load_sentiment(bundle: Path, encoder_factory: Any = None, threads: int = 2, base_dir: Path | None = None,
                   cache_dir: Path | None = None) -> Any:
    """Load any sentiment bundle by its manifest ``kind``.

    Args:
        encoder_factory: ``name -> Encoder`` for the encoder an ``embedding-head`` bundle names (the Runtime's,
            so the process keeps one encoder per name); default: build it here.
        threads: CPU threads for models loaded here.
        base_dir: the converted base checkpoint a ``transformer-onnx`` bundle was fine-tuned from.
        cache_dir: where a ``transformer-onnx`` bundle's ONNX files are built.
    """
    from qa_service.bundles import read_manifest

    manifest = read_manifest(bundle, task="sentiment")
    kind = manifest.get("kind", "embedding-head")
    if kind == "embedding-head":
        enc_info = manifest.get("encoder") or {}
        encoder = None
        if encoder_factory is not None and not enc_info.get("path"):
            encoder = encoder_factory(enc_info.get("name", "use-multilingual"))
        return SentimentPipeline.load(bundle, manifest, encoder=encoder, threads=threads)
    if kind == "transformer-onnx":
        from qa_service.pipelines.sentiment_onnx import OnnxSentimentPipeline

        if base_dir is None or cache_dir is None:
            raise ModelLoadError(f"{bundle}: a transformer-onnx bundle needs the base checkpoint and cache "
                                 "directories", str(bundle))
        return OnnxSentimentPipeline.load(bundle, manifest, base_dir, cache_dir, threads=threads)
    if kind == "transformer":
        pipe = TransformerSentimentPipeline.load(bundle, manifest, threads=threads)
        pipe.manifest_ = manifest  # type: ignore[attr-defined]
        return pipe
    raise ModelLoadError(f"{Path(bundle) / 'manifest.json'}: unknown bundle kind {kind!r}", str(bundle))
