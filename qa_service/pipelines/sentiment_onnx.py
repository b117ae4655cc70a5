"""The fine-tuned transformer sentiment model, served as int8 ONNX (``transformer-onnx`` bundles).

A bundle carries what training changed and nothing it can rebuild:

* ``layers.safetensors``: every encoder weight except the word embeddings (frozen during fine-tuning), fp16;
* ``head.npz``: the linear head over mean-pooled, L2-normalised token states;
* a student distilled from such a model keeps the base's lowest N layers only: the manifest's
  ``architecture.num_hidden_layers`` says how many (absent: all of the base's);
* ``manifest.json`` with the base checkpoint's fingerprint, calibration per language
  and the quantisation's measured cost.

``build()`` puts the base checkpoint's word embeddings back, exports the whole classifier (encoder, pooling,
normalisation, head) to ONNX and quantises its weights to int8 with ONNX Runtime's dynamic quantisation (no
calibration data needed). The result lives in the cache directory, keyed by the bundle's checksums, and is
built at setup (``qa-service models prepare``) or on first load.

``OnnxSentimentPipeline`` serves it through the same interface as the other sentiment pipelines. Dynamic
quantisation scales activations per run of texts, so a text's score moves with its batch neighbours: for 3.1.0 a
median of ~0.03 and a few label changes in a hundred among borderline texts (``bench.sentiment`` measures it as
``batch_vs_single``; labels of clear cases do not change: tested).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qa_service.errors import ModelLoadError
from qa_service.pipelines.sentiment_core import LABELS, SentimentPredictor, apply_calibration
from qa_service.text.normalize import normalise_for_sentiment

WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


def _torch_module():
    import torch
    import torch.nn.functional as F  # noqa: N812

    class MeanPoolClassifier(torch.nn.Module):
        """Encoder -> attention-masked mean pooling -> L2 normalisation -> linear head (logits)."""

        def __init__(self, encoder: Any, n_labels: int) -> None:
            super().__init__()
            self.encoder = encoder
            self.classifier = torch.nn.Linear(encoder.config.hidden_size, n_labels)

        @classmethod
        def from_base(cls, base: Path, n_labels: int = 3, layers: int | None = None) -> "MeanPoolClassifier":
            """The base checkpoint with a new head; ``layers``: keep only its lowest N transformer layers (a
            distilled student's shape)."""
            from transformers import AutoModel

            encoder = AutoModel.from_pretrained(str(base))
            if layers is not None and layers < encoder.config.num_hidden_layers:
                encoder.encoder.layer = encoder.encoder.layer[:layers]
                encoder.config.num_hidden_layers = layers
            return cls(encoder, n_labels)

        def pooled(self, input_ids, attention_mask):
            h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            return F.normalize((h * m).sum(1) / m.sum(1).clamp(min=1.0), dim=-1)

        def forward(self, input_ids, attention_mask, labels=None, **_):
            logits = self.classifier(self.pooled(input_ids, attention_mask))
            if labels is None:
                return logits if not self.training else {"logits": logits}
            return {"loss": F.cross_entropy(logits, labels), "logits": logits}

    return MeanPoolClassifier


def __getattr__(name: str):  # MeanPoolClassifier is built lazily so importing this module needs no torch
    if name == "MeanPoolClassifier":
        return _torch_module()
    raise AttributeError(name)


def save_layers(model: Any, out: Path, base: Path, manifest_extra: dict[str, Any]) -> dict[str, Any]:
    """Write a ``transformer-onnx`` bundle from a trained :class:`MeanPoolClassifier` (no ONNX yet)."""
    from safetensors.torch import save_file

    from qa_service.bundles import files_sha256, write_manifest

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").half().contiguous() for k, v in model.encoder.state_dict().items()
             if k != WORD_EMBEDDINGS}
    n_layers = int(model.encoder.config.num_hidden_layers)
    save_file(state, str(out / "layers.safetensors"))
    w = model.classifier.weight.detach().numpy().T.astype(np.float32)
    b = model.classifier.bias.detach().numpy().astype(np.float32)
    np.savez(out / "head.npz", w0=w, b0=b)
    weights = sorted(Path(base).glob("*.safetensors"))
    manifest = {
        "task": "sentiment",
        "kind": "transformer-onnx",
        "labels": list(LABELS),
        "base": {"name": "e5-small", "fingerprint": files_sha256(weights), "frozen": [WORD_EMBEDDINGS],
                 "tokenizer": files_sha256([Path(base) / "tokenizer.json"])},
        "head": {"type": "linear-on-mean-pooled"},
        "metrics": {},
        "calibration": {"method": "temperature", "temperature": 1.0},
        "preprocessing": "qa_service.text.normalize.normalise_for_sentiment",
        "artifacts": {"layers.safetensors": "", "head.npz": ""},
        "architecture": {"num_hidden_layers": n_layers},
        **manifest_extra,
    }
    return write_manifest(out, manifest)


def rebuild_torch(bundle: Path, base: Path) -> Any:
    """The fp32 torch classifier of a bundle: base word embeddings + the bundle's layers and head."""
    import torch
    from safetensors.torch import load_file

    from qa_service.bundles import read_manifest

    cls = _torch_module()
    n_layers = (read_manifest(Path(bundle), task="sentiment").get("architecture") or {}).get("num_hidden_layers")
    model = cls.from_base(base, len(LABELS), layers=int(n_layers) if n_layers else None)
    layers = {k: v.float() for k, v in load_file(str(Path(bundle) / "layers.safetensors")).items()}
    missing, unexpected = model.encoder.load_state_dict(layers, strict=False)
    if unexpected or [k for k in missing if k != WORD_EMBEDDINGS]:
        raise ModelLoadError(f"{bundle}: layers do not fit the base checkpoint (missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]})", str(bundle))
    with np.load(Path(bundle) / "head.npz", allow_pickle=False) as z:
        with torch.no_grad():
            model.classifier.weight.copy_(torch.from_numpy(z["w0"].T.copy()))
            model.classifier.bias.copy_(torch.from_numpy(z["b0"].copy()))
    return model.eval()


def onnx_dir(bundle: Path, cache_dir: Path) -> Path:
    """Where the built ONNX files of ``bundle`` live: keyed by the bundle's layer and head checksums."""
    from qa_service.bundles import read_manifest

    m = read_manifest(Path(bundle), task="sentiment")
    key = (m["artifacts"]["layers.safetensors"].split(":")[-1][:12] + "-"
           + m["artifacts"]["head.npz"].split(":")[-1][:8])
    return Path(cache_dir) / "sentiment-onnx" / key


def build(bundle: Path, base: Path, cache_dir: Path, force: bool = False) -> Path:
    """Export the bundle's classifier to ONNX (fp32) and quantise it to int8; returns the directory."""
    import torch

    target = onnx_dir(bundle, cache_dir)
    if not force and (target / "model.int8.onnx").exists() and (target / "model.onnx").exists():
        return target
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model = rebuild_torch(bundle, base)
    ids = torch.tensor([[0, 1000, 2000, 2]], dtype=torch.long)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), str(tmp / "model.onnx"), input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                        "logits": {0: "batch"}})
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(tmp / "model.onnx"), str(tmp / "model.int8.onnx"), weight_type=QuantType.QInt8,
                     per_channel=True)
    (tmp / "built.json").write_text(json.dumps({"bundle": str(bundle), "base": str(base)}) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


class OnnxSentimentPipeline(SentimentPredictor):
    """int8 (or fp32) ONNX classifier + tokenizer, calibrated per language.

    Args:
        model_file: the ``.onnx`` file.
        tokenizer_dir: directory with ``tokenizer.json``.
        calibration: ``{"method": "temperature", "temperature": T}`` or
            ``{"method": "per-language", "languages": {"es": {"temperature": T, "bias": [..]}, ...}, "default": {..}}``.
    """

    def __init__(self, model_file: Path, tokenizer_dir: Path, prefix: str = "query: ", max_length: int = 96,
                 calibration: dict[str, Any] | None = None, threads: int = 2, detect_language: bool = True) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.prefix = prefix
        self.max_length = max_length
        self.calibration_ = calibration or {"method": "temperature", "temperature": 1.0}
        self.detect_language = detect_language
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session_ = ort.InferenceSession(str(model_file), opts, providers=["CPUExecutionProvider"])
            self.tokenizer_ = Tokenizer.from_file(str(Path(tokenizer_dir) / "tokenizer.json"))
        except Exception as exc:  # noqa: BLE001 - any unreadable model is the same user-facing problem
            raise ModelLoadError(f"{model_file}: cannot load ONNX sentiment model ({exc})", str(model_file)) from exc
        self.tokenizer_.enable_truncation(max_length)
        self.pad_id_ = self.tokenizer_.token_to_id("<pad>") or 1

    def logits(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Uncalibrated logits; batches are formed by length so padding stays small (32 per run: less padding
        than 64 on chunks of a few hundred short texts, ~10-20% more texts/s with the 6-layer student)."""
        texts = [self.prefix + normalise_for_sentiment(t) for t in texts]
        if not texts:
            return np.zeros((0, len(LABELS)), np.float32)
        encs = self.tokenizer_.encode_batch(texts)
        order = np.argsort([len(e.ids) for e in encs], kind="stable")
        out = np.zeros((len(texts), len(LABELS)), np.float32)
        for i in range(0, len(order), batch_size):
            sel = order[i : i + batch_size]
            width = max(len(encs[j].ids) for j in sel)
            ids = np.full((len(sel), width), self.pad_id_, np.int64)
            mask = np.zeros((len(sel), width), np.int64)
            for r, j in enumerate(sel):
                n = len(encs[j].ids)
                ids[r, :n] = encs[j].ids
                mask[r, :n] = 1
            out[sel] = self.session_.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
        return out

    def predict_proba(self, texts: Sequence[str], languages: Sequence[str] | None = None) -> np.ndarray:
        texts = list(texts)
        langs = self._calibration_languages(texts, languages)
        return apply_calibration(self.logits(texts), langs, self.calibration_)

    @classmethod
    def load(cls, bundle: Path, manifest: dict[str, Any], base: Path, cache_dir: Path, threads: int = 2,
             precision: str = "int8") -> "OnnxSentimentPipeline":
        """Load a ``transformer-onnx`` bundle, building its ONNX files into the cache first if needed."""
        from qa_service.bundles import files_sha256

        want = (manifest.get("base") or {}).get("fingerprint")
        have = files_sha256(sorted(Path(base).glob("*.safetensors"))) if Path(base).exists() else None
        if want and have != want:
            raise ModelLoadError(f"{Path(bundle) / 'manifest.json'}: the base checkpoint at {base} is missing or "
                                 "differs from the one the bundle was trained on: run `qa-service models prepare`",
                                 str(base))
        d = build(bundle, base, cache_dir)
        pipe = cls(d / ("model.int8.onnx" if precision == "int8" else "model.onnx"), Path(base),
                   prefix=manifest.get("prefix", "query: "), max_length=int(manifest.get("max_length", 96)),
                   calibration=manifest.get("calibration"), threads=threads)
        pipe.manifest_ = manifest
        pipe.bundle_ = Path(bundle)
        return pipe
