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
calibration data needed). The result lives in the cache directory, keyed by the bundle's checksums and graph, and is
built at setup (``qa-service models prepare``) or on first load.

How the graph is built is the bundle's choice (manifest ``onnx``; absent: the first way, kept so older bundles
serve exactly what their manifests measured):

* ``{"attention": "eager", "fusion": "bert", "int8_runs": "per-text"}`` (3.2.0 on): attention exported as plain
  matrix products, which ONNX Runtime's transformer optimizer fuses (one ``Attention`` node per layer, fused
  embedding and skip layer norms) before quantisation turns them into ``QAttention`` and friends; the fused fp32
  graph is checked against the unfused one at build time. The int8 graph runs one text per run: dynamic
  quantisation scales activations per run, so in a padded batch a text's score would move with its neighbours
  (for 3.1.0, 7% of labels among 500 tweets); alone it is always the same, in a batch call or a single one.
* ``{..., "ops": "lean"}`` (3.16.0 on): the fused graph with two kinds of node rewritten before quantisation,
  because ONNX Runtime's fused CPU kernels for them are slow on one short text (``SkipLayerNormalization``, which
  ORT also builds by itself from ``Add`` + ``LayerNormalization``; MVN is a form it leaves alone). Each
  (Skip)LayerNormalization becomes an ``Add`` of the skip (and bias), ``MeanVarianceNormalization`` and a scale
  and shift (``bench.onnx_ops`` times both on a 28 x 384 input). Each ``Attention`` becomes its QKV ``MatMul`` +
  bias, a ``Split`` and ``MultiHeadAttention``, so quantisation makes the QKV product one more int8
  ``MatMul`` instead of a ``QAttention``. ``bench.sentiment`` times the int8 graph against the fused one and
  the fp32 graph against the plain export, and ``bench.onnx_ops`` the kernels and operators alone. Here the fp32
  graph that is kept (``model.onnx``) is this rewritten graph, checked against the plain export at build time on
  padded and unpadded input; the int8 graph is its dynamic quantisation, whose agreement with fp32
  ``export_sentiment`` measures on the validation sets.
* legacy: PyTorch's default attention, unfused, int8 in runs of 32 texts.

``OnnxSentimentPipeline`` serves it through the same interface as the other sentiment pipelines.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
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
        def from_base(cls, base: Path, n_labels: int = 3, layers: int | None = None,
                      attention: str | None = None) -> "MeanPoolClassifier":
            """The base checkpoint with a new head; ``layers``: keep only its lowest N transformer layers (a
            distilled student's shape); ``attention``: transformers' attention implementation (``eager`` exports
            a graph ONNX Runtime can fuse; None: the library's default)."""
            from transformers import AutoModel

            kw = {"attn_implementation": attention} if attention else {}
            encoder = AutoModel.from_pretrained(str(base), **kw)
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


def graph_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    """How a bundle's ONNX graph is built and run (see the module docstring); legacy when the manifest is silent."""
    spec = manifest.get("onnx") or {}
    attention, fusion = spec.get("attention", "sdpa"), spec.get("fusion")
    runs, ops = spec.get("int8_runs", "batched"), spec.get("ops")
    if (attention not in ("sdpa", "eager") or fusion not in (None, "bert") or runs not in ("batched", "per-text")
            or ops not in (None, "lean") or (ops and fusion != "bert") or set(spec) - GRAPH_KEYS):
        raise ModelLoadError(f"unknown ONNX graph spec {spec!r} (attention sdpa|eager, fusion bert|none, "
                             "int8_runs batched|per-text, ops lean|none, lean only with fusion bert)", "onnx")
    out = {"attention": attention, "fusion": fusion, "int8_runs": runs}
    if ops:  # absent for the graphs before it, so their specs (and cache keys) read as they always did
        out["ops"] = ops
    return out


GRAPH_KEYS = {"attention", "fusion", "int8_runs", "ops"}
FUSED_GRAPH = {"attention": "eager", "fusion": "bert", "int8_runs": "per-text"}
LEAN_GRAPH = {**FUSED_GRAPH, "ops": "lean"}


def rebuild_torch(bundle: Path, base: Path, attention: str | None = None) -> Any:
    """The fp32 torch classifier of a bundle: base word embeddings + the bundle's layers and head."""
    import torch
    from safetensors.torch import load_file

    from qa_service.bundles import read_manifest

    cls = _torch_module()
    n_layers = (read_manifest(Path(bundle), task="sentiment").get("architecture") or {}).get("num_hidden_layers")
    model = cls.from_base(base, len(LABELS), layers=int(n_layers) if n_layers else None, attention=attention)
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


def _spec(manifest: dict[str, Any], graph: dict[str, Any] | None) -> dict[str, Any]:
    """The graph spec to build: ``graph`` when given (comparisons), else the manifest's."""
    return graph_spec({"onnx": graph} if graph is not None else manifest)


def onnx_dir(bundle: Path, cache_dir: Path, graph: dict[str, Any] | None = None,
             manifest: dict[str, Any] | None = None) -> Path:
    """Where the built ONNX files of ``bundle`` live: keyed by the bundle's layer and head checksums and its graph
    spec (``graph``: another spec than the manifest's, for comparisons such as ``bench.sentiment``'s).
    ``manifest``: the bundle's, already read and verified (else it is read here, hashing the layers again)."""
    from qa_service.bundles import read_manifest

    m = manifest if manifest is not None else read_manifest(Path(bundle), task="sentiment")
    key = (m["artifacts"]["layers.safetensors"].split(":")[-1][:12] + "-"
           + m["artifacts"]["head.npz"].split(":")[-1][:8])
    spec = _spec(m, graph)
    if spec["attention"] != "sdpa" or spec["fusion"]:
        key += f"-{spec['attention']}-{spec['fusion'] or 'unfused'}"
    if spec.get("ops"):
        key += f"-{spec['ops']}"
    return Path(cache_dir) / "sentiment-onnx" / key


def build(bundle: Path, base: Path, cache_dir: Path, force: bool = False,
          graph: dict[str, Any] | None = None, manifest: dict[str, Any] | None = None) -> Path:
    """Export the bundle's classifier to ONNX (fp32) and quantise it to int8; returns the directory. ``graph``:
    build another graph spec than the manifest's (comparisons; what is served is always the manifest's);
    ``manifest``: the bundle's, already read and verified."""
    from qa_service.bundles import read_manifest

    m = manifest if manifest is not None else read_manifest(Path(bundle), task="sentiment")
    target = onnx_dir(bundle, cache_dir, graph, m)
    if not force and (target / "model.int8.onnx").exists() and (target / "model.onnx").exists():
        return target
    spec = _spec(m, graph)
    # Built in a directory of this process and thread, moved into place whole; removed whatever happens (a
    # failed fusion or rewrite leaves nothing behind), and a graph another builder finished first is kept.
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _build_into(tmp, bundle, base, spec)
        if force or not ((target / "model.int8.onnx").exists() and (target / "model.onnx").exists()):
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _build_into(tmp: Path, bundle: Path, base: Path, spec: dict[str, Any]) -> None:
    """The ONNX files of ``bundle`` built as ``spec`` says, written into ``tmp``."""
    import torch  # only to build: a service loading a built graph never imports torch for it

    model = rebuild_torch(bundle, base, attention=None if spec["attention"] == "sdpa" else spec["attention"])
    ids = torch.tensor([[0, 1000, 2000, 2]], dtype=torch.long)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), str(tmp / "model.onnx"), input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                        "logits": {0: "batch"}})
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source = tmp / "model.onnx"
    if spec["fusion"] == "bert":
        cfg = model.encoder.config
        source = _fuse(tmp / "model.onnx", tmp / "fused.onnx", int(cfg.num_attention_heads), int(cfg.hidden_size))
    if spec.get("ops") == "lean":
        fused, source = source, _check_same(tmp / "model.onnx", lean_ops(source, tmp / "lean.onnx"))
        fused.unlink()
    # The fused graph's contrib ops defeat shape inference: name the default tensor type. Legacy graphs are
    # quantised exactly as before (their cache key did not change).
    extra = {"DefaultTensorType": onnx.TensorProto.FLOAT} if spec["fusion"] else {}
    quantize_dynamic(str(source), str(tmp / "model.int8.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                     extra_options=extra)
    if spec.get("ops") == "lean":
        source.replace(tmp / "model.onnx")  # fp32 is the graph int8 quantised (bench.sentiment times the export too)
    elif source != tmp / "model.onnx":
        source.unlink()  # the fused fp32 graph is not served: fp32 runs the unfused export (as fast, measured)
    (tmp / "built.json").write_text(json.dumps({"bundle": str(bundle), "base": str(base), "graph": spec}) + "\n")


def _fuse(src: Path, out: Path, heads: int, hidden: int) -> Path:
    """ONNX Runtime's BERT fusions on ``src`` (attention, embedding and skip layer norms, bias GELU), checked to
    compute what ``src`` computes on padded and unpadded input; a fusion that changes the outputs is an error."""
    from onnxruntime.transformers.optimizer import optimize_model

    fused = optimize_model(str(src), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
    stats = fused.get_fused_operator_statistics()
    if not stats.get("Attention"):
        raise ModelLoadError(f"{src}: ONNX Runtime could not fuse the attention layers ({stats})", str(src))
    fused.save_model_to_file(str(out))
    return _check_same(src, out)


def _check_same(src: Path, out: Path) -> Path:
    """``out``, after checking that it computes what ``src`` computes on padded and unpadded input (a rewrite
    that changes the outputs is an error)."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    ids = rng.integers(5, 30000, size=(3, 17)).astype(np.int64)
    ids[:, 0], mask = 0, np.ones_like(ids)
    mask[1, 9:], mask[2, 4:] = 0, 0
    ids[mask == 0] = 1
    feeds = {"input_ids": ids, "attention_mask": mask}
    a, b = (ort.InferenceSession(str(f), providers=["CPUExecutionProvider"]).run(["logits"], feeds)[0]
            for f in (src, out))
    if not np.allclose(a, b, atol=1e-3):
        raise ModelLoadError(f"{src}: the {out.stem} graph disagrees with the export (max |diff| "
                             f"{float(np.abs(a - b).max()):.4f})", str(src))
    return out


# The attributes each rewritten op may carry, and the largest layer-norm epsilon the rewrite accepts (see lean_ops).
_LEAN_ATTRS = {"SkipLayerNormalization": {"epsilon"}, "LayerNormalization": {"axis", "epsilon", "stash_type"},
               "Attention": {"num_heads", "scale", "mask_filter_value"}}
_LEAN_MAX_EPSILON = 1e-6


def lean_ops(src: Path, out: Path) -> Path:
    """Rewrite a fused fp32 graph's slow kernels into ops that are fast on one short text (the ``lean`` spec):

    * ``SkipLayerNormalization`` (and plain ``LayerNormalization`` over the last axis) -> ``Add`` of the bias and
      the skip, ``MeanVarianceNormalization`` over the last axis, ``Mul`` by the scale, ``Add`` of the shift.
      ONNX Runtime's MVN adds no epsilon: it equals the layer norm when the layer's epsilon is negligible next to
      the variance of every row (e5's is 1e-12; a larger one than 1e-6 is refused). On a row whose values are all
      equal MVN gives NaN where the layer norm gives the shift; a trained encoder's residual stream has no such
      row (each token's row sums its own embedding, its position's and the layers' outputs);
    * ``Attention`` (packed QKV weight, bias, a mask index) -> ``MatMul`` + ``Add`` bias, ``Split`` into Q, K and
      V, ``MultiHeadAttention`` with the same heads, scale, mask value and mask index.

    Other nodes are kept. Raises ``ModelLoadError`` on a node whose form it does not know (an attribute outside
    ``_LEAN_ATTRS``, extra inputs or used extra outputs, another axis, a larger epsilon) rather than computing
    something else."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    init = {i.name: i for i in graph.initializer}
    nodes, counts = [], {"layer_norm": 0, "attention": 0}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)

    def refuse(node: Any, why: str) -> None:
        raise ModelLoadError(f"{src}: cannot rewrite {node.op_type} node {node.name!r}: {why}", str(src))

    for n in graph.node:
        is_ln = n.op_type == "LayerNormalization" and n.domain in ("", "ai.onnx")
        is_sln = n.op_type == "SkipLayerNormalization" and n.domain == "com.microsoft"
        is_att = n.op_type == "Attention" and n.domain == "com.microsoft"
        if not (is_ln or is_sln or is_att):
            nodes.append(n)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        unknown = sorted(set(attrs) - _LEAN_ATTRS[n.op_type])
        if unknown:
            refuse(n, f"attributes {unknown} are not rewritten")
        if opset < 13:
            refuse(n, f"the graph's opset {opset} has no Split with sizes as an input (13 or later)")
        p = f"lean{len(nodes)}_"
        if is_ln or is_sln:
            eps = float(attrs.get("epsilon", 1e-5))
            if eps > _LEAN_MAX_EPSILON:
                refuse(n, f"epsilon {eps:g} is not negligible (MVN adds none)")
            if is_sln:
                if any(n.output[1:3]):
                    refuse(n, "its mean or inverse deviation is used")
                x = n.input[0]
                if len(n.input) > 4 and n.input[4]:
                    nodes.append(helper.make_node("Add", [x, n.input[4]], [p + "biased"]))
                    x = p + "biased"
                nodes.append(helper.make_node("Add", [x, n.input[1]], [p + "sum"]))
                x = p + "sum"
                if len(n.output) > 3 and n.output[3]:
                    nodes.append(helper.make_node("Identity", [x], [n.output[3]]))
                scale, shift = n.input[2], (n.input[3] if len(n.input) > 3 else "")
            else:
                if attrs.get("axis", -1) != -1 or any(n.output[1:]):
                    refuse(n, "not over the last axis, or its statistics are used")
                x, scale, shift = n.input[0], n.input[1], (n.input[2] if len(n.input) > 2 else "")
            nodes.append(helper.make_node("MeanVarianceNormalization", [x], [p + "norm"], axes=[-1]))
            if shift:
                nodes += [helper.make_node("Mul", [p + "norm", scale], [p + "scaled"]),
                          helper.make_node("Add", [p + "scaled", shift], [n.output[0]])]
            else:
                nodes.append(helper.make_node("Mul", [p + "norm", scale], [n.output[0]]))
            counts["layer_norm"] += 1
        else:
            ins = list(n.input) + [""] * 4
            x, weight, bias, mask = ins[:4]
            if any(ins[4:]) or weight not in init or not bias:
                refuse(n, "past state, an attention bias, or a weight that is not a constant")
            if any(n.output[1:]):
                refuse(n, "its present state is used")
            d = int(init[weight].dims[1]) // 3
            graph.initializer.append(numpy_helper.from_array(np.array([d, d, d], np.int64), p + "sizes"))
            nodes += [helper.make_node("MatMul", [x, weight], [p + "qkv0"]),
                      helper.make_node("Add", [p + "qkv0", bias], [p + "qkv"]),
                      helper.make_node("Split", [p + "qkv", p + "sizes"], [p + "q", p + "k", p + "v"], axis=-1),
                      helper.make_node("MultiHeadAttention", [p + "q", p + "k", p + "v", "", mask], list(n.output[:1]),
                                       domain="com.microsoft", **attrs)]
            counts["attention"] += 1
    if not counts["layer_norm"] or not counts["attention"]:
        raise ModelLoadError(f"{src}: nothing to rewrite ({counts}): not a fused BERT graph", str(src))
    del graph.node[:]
    graph.node.extend(nodes)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(out))
    return out


class OnnxSentimentPipeline(SentimentPredictor):
    """int8 (or fp32) ONNX classifier + tokenizer, calibrated per language.

    Args:
        model_file: the ``.onnx`` file.
        tokenizer_dir: directory with ``tokenizer.json``.
        calibration: ``{"method": "temperature", "temperature": T}`` or
            ``{"method": "per-language", "languages": {"es": {"temperature": T, "bias": [..]}, ...}, "default": {..}}``.
    """

    def __init__(self, model_file: Path, tokenizer_dir: Path, prefix: str = "query: ", max_length: int = 96,
                 calibration: dict[str, Any] | None = None, threads: int = 2, detect_language: bool = True,
                 per_text: bool = False) -> None:
        from tokenizers import Tokenizer

        self.prefix = prefix
        self.max_length = max_length
        self.calibration_ = calibration or {"method": "temperature", "temperature": 1.0}
        self.detect_language = detect_language
        # One text per run (a dynamically quantised graph: the same text, the same result in any batch).
        self.per_text = per_text
        self.threads = max(int(threads or 1), 1)
        self.model_file = str(model_file)
        self.bulk_session_: Any = None
        self.pool_: Any = None
        self.lock_ = threading.Lock()
        try:
            self.session_ = self._session(self.threads)
            self.tokenizer_ = Tokenizer.from_file(str(Path(tokenizer_dir) / "tokenizer.json"))
        except Exception as exc:  # noqa: BLE001 - any unreadable model is the same user-facing problem
            raise ModelLoadError(f"{model_file}: cannot load ONNX sentiment model ({exc})", str(model_file)) from exc
        self.tokenizer_.enable_truncation(max_length)
        self.pad_id_ = self.tokenizer_.token_to_id("<pad>") or 1

    def logits(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Uncalibrated logits; batches are formed by length so padding stays small (32 per run: less padding
        than 64 on chunks of a few hundred short texts, ~10-20% more texts/s with the 6-layer student), or one
        text per run (``per_text``: unpadded, independent of its neighbours)."""
        texts = [self.prefix + normalise_for_sentiment(t) for t in texts]
        if not texts:
            return np.zeros((0, len(LABELS)), np.float32)
        encs = self.tokenizer_.encode_batch(texts)
        if self.per_text:
            return self._per_text(encs)
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

    def _per_text(self, encs: list[Any]) -> np.ndarray:
        """Logits of each encoded text run alone. A single text (or a few) runs on the session's threads; more
        run side by side, one text per thread, on a second session with one thread each (~35% more texts/s than
        one text at a time on two threads: measured on the 6-layer student, 2 cores). Built on the first batch;
        the same graph gives the same result either way (tested)."""
        def run(session: Any, e: Any) -> np.ndarray:
            ids = np.array([e.ids], np.int64)
            return session.run(["logits"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]

        out = np.zeros((len(encs), len(LABELS)), np.float32)
        if len(encs) < 4 * self.threads or self.threads < 2:
            for i, e in enumerate(encs):
                out[i] = run(self.session_, e)
            return out
        session, pool = self._bulk()

        def chunk(k: int) -> None:
            for i in range(k, len(encs), self.threads):
                out[i] = run(session, encs[i])

        # One pool of ``threads`` workers per pipeline: concurrent batches queue on it instead of oversubscribing.
        list(pool.map(chunk, range(self.threads)))
        return out

    def _session(self, threads: int) -> Any:
        """An ONNX Runtime session of this model on ``threads`` intra-op threads (CPU, all graph optimisations)."""
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(self.model_file, opts, providers=["CPUExecutionProvider"])

    def _bulk(self) -> tuple[Any, Any]:
        """The one-thread session and the worker pool for batches, built once (under a lock: concurrent first
        batches must not each load a session)."""
        with self.lock_:
            if self.bulk_session_ is None:
                from concurrent.futures import ThreadPoolExecutor

                self.bulk_session_ = self._session(1)
                self.pool_ = ThreadPoolExecutor(self.threads, thread_name_prefix="sentiment-onnx")
            return self.bulk_session_, self.pool_

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
        d = build(bundle, base, cache_dir, manifest=manifest)
        pipe = cls(d / ("model.int8.onnx" if precision == "int8" else "model.onnx"), Path(base),
                   prefix=manifest.get("prefix", "query: "), max_length=int(manifest.get("max_length", 96)),
                   calibration=manifest.get("calibration"), threads=threads,
                   per_text=precision == "int8" and graph_spec(manifest)["int8_runs"] == "per-text")
        pipe.manifest_ = manifest
        pipe.bundle_ = Path(bundle)
        return pipe
