"""Bundles: manifests, checksums, versions, promotion; a corrupted artefact fails loudly, naming the file."""

from __future__ import annotations

import json

import pytest

from qa_service.errors import InvalidInputError, ModelLoadError
from qa_service.bundles import current_version, list_versions, read_manifest, resolve_bundle, set_current
from qa_service.pipelines.sentiment import load_sentiment
from tests.conftest import needs_shared_data


@pytest.mark.parametrize("version", ["1.0.0", "2.0.0", "3.0.0", "3.3.0", "3.9.0", "3.14.0", "3.15.0", "3.16.0", "3.17.0"])
def test_shipped_manifest_is_complete(settings, version):
    bundle = resolve_bundle(settings.models_dir, "sentiment", version)
    m = read_manifest(bundle, task="sentiment")
    assert m["labels"] == ["negative", "neutral", "positive"]
    enc = m["encoder"] if m["kind"] == "embedding-head" else m["base"]
    assert enc["fingerprint"].startswith("sha256:")
    assert all(d["licence"] and d["sha256"].startswith("sha256:") for d in m["training_data"])
    assert m["metrics"], "held-out metrics must be recorded in the manifest"
    for name, r in m["metrics"].items():
        assert 0 <= r["macro_f1"] <= 1, name
    assert "torch" in m["library_versions"] or "numpy" in m["library_versions"]


@needs_shared_data()
def test_served_model_records_its_protocol_calibration_and_quantisation(settings):
    from eval import datasets as ds

    m = read_manifest(resolve_bundle(settings.models_dir, "sentiment", "latest"), task="sentiment")
    assert m["kind"] == "transformer-onnx"
    p = m["evaluation_protocol"]
    assert set(p["chose_and_calibrated_on"]) == {s.name for s in ds.validation_sets()}
    assert not set(p["report_only"]) & (set(p["chose_and_calibrated_on"]) | set(p["trained_on"]))
    assert set(m["calibration"]["languages"]) == {"es", "en"}
    q = m["quantization"]
    assert q["served"] == "model.int8.onnx"
    assert all(0.85 <= a["label_agreement"] <= 1 for a in q["validation_agreement"].values())
    assert set(m["metrics"]) == {s.name for s in ds.report_sets()}


def _load(path, settings):
    return load_sentiment(path, base_dir=settings.e5_converted_dir, cache_dir=settings.cache_dir)


def test_corrupted_head_names_the_file(bundle_copy, settings):
    v = current_version(bundle_copy, "sentiment")
    head = bundle_copy / "sentiment" / v / "head.npz"
    data = bytearray(head.read_bytes())
    data[len(data) // 2] ^= 0xFF
    head.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError) as exc:
        _load(bundle_copy / "sentiment" / v, settings)
    assert "head.npz" in str(exc.value)
    assert "checksum" in str(exc.value)


def test_missing_artefact_and_bad_manifest(bundle_copy):
    v = current_version(bundle_copy, "sentiment")
    b = bundle_copy / "sentiment" / v
    (b / "head.npz").unlink()
    with pytest.raises(ModelLoadError, match="head.npz"):
        read_manifest(b)
    (b / "manifest.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="manifest.json"):
        read_manifest(b)


@pytest.mark.parametrize("version", ["1.0.0", "2.0.0", "3.0.0", "3.3.0", "3.9.0", "3.14.0", "3.15.0", "3.16.0", "3.17.0"])
def test_wrong_encoder_fingerprint_is_refused(bundle_copy, settings, version):
    b = bundle_copy / "sentiment" / version
    m = json.loads((b / "manifest.json").read_text())
    m["encoder" if m["kind"] == "embedding-head" else "base"]["fingerprint"] = "sha256:0000"
    (b / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ModelLoadError, match="fingerprint|differs"):
        _load(b, settings)


def test_promote_and_rollback(bundle_copy):
    import shutil

    v = current_version(bundle_copy, "sentiment")
    shutil.copytree(bundle_copy / "sentiment" / v, bundle_copy / "sentiment" / "0.0.1")
    assert "0.0.1" in list_versions(bundle_copy, "sentiment")
    set_current(bundle_copy, "sentiment", "0.0.1")
    assert resolve_bundle(bundle_copy, "sentiment", "latest").name == "0.0.1"
    set_current(bundle_copy, "sentiment", v)
    assert resolve_bundle(bundle_copy, "sentiment", "latest").name == v
    with pytest.raises(ModelLoadError):
        set_current(bundle_copy, "sentiment", "9.9.9")
    with pytest.raises(ModelLoadError, match="not found"):
        resolve_bundle(bundle_copy, "sentiment", "9.9.9")


def test_transformer_bundle_kind_loads_and_predicts(tmp_path, settings):
    """A fine-tuned HF sequence classifier (e.g. brought from a hub) is served through a 'transformer' bundle."""
    import shutil

    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from qa_service.bundles import write_manifest

    model_dir = tmp_path / "b" / "model"
    tok = AutoTokenizer.from_pretrained(str(settings.e5_converted_dir))
    cfg = BertConfig(vocab_size=tok.vocab_size + 40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, num_labels=3)
    BertForSequenceClassification(cfg).save_pretrained(str(model_dir))
    tok.save_pretrained(str(model_dir))
    files = sorted(str(p.relative_to(tmp_path / "b")) for p in model_dir.rglob("*") if p.is_file())
    write_manifest(tmp_path / "b", {"task": "sentiment", "kind": "transformer", "version": "t", "prefix": "",
                                    "labels": ["negative", "neutral", "positive"], "artifacts": {f: "" for f in files},
                                    "training_data": [], "metrics": {}})
    pipe = load_sentiment(tmp_path / "b")
    out = pipe.predict(["hola", "adiós"], ids=["a", "b"])
    assert [r.id for r in out] == ["a", "b"]
    assert all(abs(sum(r.probabilities.model_dump().values()) - 1) < 1e-3 for r in out)
    with pytest.raises(InvalidInputError):
        pipe.predict("  ")
    shutil.rmtree(model_dir)
    with pytest.raises(ModelLoadError):
        load_sentiment(tmp_path / "b")


def test_models_prepare_runs_as_setup_runs_it(settings):
    """`qa-service models prepare` (what `make serve` / `make test` run on a fresh machine): the converted e5
    checkpoint and every shipped transformer-onnx bundle's ONNX files, verified and idempotent."""
    from typer.testing import CliRunner

    from qa_service.cli import app
    from qa_service.pipelines.sentiment_onnx import onnx_dir

    res = CliRunner().invoke(app, ["models", "prepare"])
    assert res.exit_code == 0, res.output
    for v in list_versions(settings.models_dir, "sentiment"):
        if read_manifest(settings.models_dir / "sentiment" / v).get("kind") == "transformer-onnx":
            d = onnx_dir(settings.models_dir / "sentiment" / v, settings.cache_dir)
            assert (d / "model.int8.onnx").exists() and (d / "model.onnx").exists()


def test_unknown_onnx_graph_spec_is_refused_naming_it():
    from qa_service.pipelines.sentiment_onnx import FUSED_GRAPH, LEAN_GRAPH, graph_spec

    assert graph_spec({}) == {"attention": "sdpa", "fusion": None, "int8_runs": "batched"}
    assert graph_spec({"onnx": FUSED_GRAPH}) == FUSED_GRAPH
    assert graph_spec({"onnx": LEAN_GRAPH}) == LEAN_GRAPH and LEAN_GRAPH["ops"] == "lean"
    for bad in ({"attention": "flash"}, {"fusion": "gpt2"}, {"int8_runs": "sometimes"}, {"ops": "fastest"},
                {"ops": "lean"}, {**FUSED_GRAPH, "opz": "lean"}):  # lean needs the fused graph; a typo is no default
        with pytest.raises(ModelLoadError) as exc:
            graph_spec({"onnx": bad})
        assert repr(bad) in str(exc.value)


def test_old_bundles_keep_their_cache_keys_and_the_lean_one_gets_its_own(settings):
    """The lean spec is an addition: every bundle before it builds (and finds) the graph it always had."""
    from qa_service.pipelines.sentiment_onnx import onnx_dir

    def key(v):
        return onnx_dir(resolve_bundle(settings.models_dir, "sentiment", v), settings.cache_dir).name

    assert key("3.0.0").count("-") == 1 and key("3.1.0") == key("3.0.0")  # first graph: checksums only
    assert key("3.2.0").endswith("-eager-bert") and key("3.15.0").endswith("-eager-bert")
    assert key("3.17.0") == key("3.15.0") + "-lean" == key("3.16.0")  # same weights, same head, another graph


def _fused_toy_graph(tmp_path):
    """A two-layer stand-in for a fused BERT graph: ``Attention`` (packed QKV, right-padding mask index) ->
    ``SkipLayerNormalization`` (with bias) -> ``LayerNormalization``, random weights, hidden 16, 2 heads."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    h = 16
    w = {"qkv_w": rng.normal(0, 0.5, (h, 3 * h)), "qkv_b": rng.normal(0, 0.1, 3 * h), "g1": rng.uniform(0.5, 1.5, h),
         "b1": rng.normal(0, 0.1, h), "bias": rng.normal(0, 0.1, h), "g2": rng.uniform(0.5, 1.5, h),
         "b2": rng.normal(0, 0.1, h)}
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in w.items()]
    nodes = [helper.make_node("Attention", ["x", "qkv_w", "qkv_b", "lengths"], ["att"], domain="com.microsoft",
                              num_heads=2),
             helper.make_node("SkipLayerNormalization", ["att", "x", "g1", "b1", "bias"], ["sln"],
                              domain="com.microsoft", epsilon=1e-12),
             helper.make_node("LayerNormalization", ["sln", "g2", "b2"], ["y"], axis=-1, epsilon=1e-12)]
    graph = helper.make_graph(nodes, "toy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "s", h]),
                                             helper.make_tensor_value_info("lengths", TensorProto.INT32, ["b"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", "s", h])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    path = tmp_path / "fused.onnx"
    onnx.save(model, str(path))
    return path


def test_lean_rewrite_computes_what_the_fused_graph_computes(tmp_path):
    """The lean graph's layer norms (MVN + scale + shift) and attention (MatMul + Split + MultiHeadAttention) give
    the fused kernels' outputs, padded rows included; no fused kernel is left."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    from qa_service.pipelines.sentiment_onnx import lean_ops

    src = _fused_toy_graph(tmp_path)
    out = lean_ops(src, tmp_path / "lean.onnx")
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert ops.count("MeanVarianceNormalization") == 2 and ops.count("MultiHeadAttention") == 1
    assert not {"Attention", "SkipLayerNormalization", "LayerNormalization"} & set(ops)
    x = np.random.default_rng(0).normal(0, 1, (3, 7, 16)).astype(np.float32)
    feeds = {"x": x, "lengths": np.array([7, 4, 1], np.int32)}
    a, b = (ort.InferenceSession(str(f), providers=["CPUExecutionProvider"]).run(["y"], feeds)[0] for f in (src, out))
    assert np.abs(a - b).max() < 1e-4
    # The mask is honoured: the second row's keys past 4 change nothing in it, in either graph.
    x2 = x.copy()
    x2[1, 4:] += 5.0
    for f in (src, out):
        y2 = ort.InferenceSession(str(f), providers=["CPUExecutionProvider"]).run(["y"], {**feeds, "x": x2})[0]
        assert np.abs(y2[1, :4] - b[1, :4]).max() < 1e-4


def test_lean_rewrite_covers_the_other_forms_of_its_nodes(tmp_path):
    """A skip norm whose sum is used and that has no shift, a layer norm with no bias, an attention with its own
    scale: each rewritten computes what it computed."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import helper

    from qa_service.pipelines.sentiment_onnx import lean_ops

    m = onnx.load(str(_fused_toy_graph(tmp_path)))
    att, sln, ln = m.graph.node
    att.attribute.append(helper.make_attribute("scale", 0.3))
    del sln.input[3]  # no beta ...
    sln.input.append("bias")  # ... (inputs: input, skip, gamma, "", bias)
    sln.input[3] = ""
    sln.output.extend(["", "", "sum"])
    del ln.input[2]
    m.graph.node.append(helper.make_node("Add", ["y0", "sum"], ["y"]))
    ln.output[0] = "y0"
    onnx.save(m, str(tmp_path / "forms.onnx"))
    out = lean_ops(tmp_path / "forms.onnx", tmp_path / "lean.onnx")
    assert "Identity" in {n.op_type for n in onnx.load(str(out)).graph.node}
    x = np.random.default_rng(1).normal(0, 1, (2, 5, 16)).astype(np.float32)
    feeds = {"x": x, "lengths": np.array([5, 3], np.int32)}
    a, b = (ort.InferenceSession(str(f), providers=["CPUExecutionProvider"]).run(["y"], feeds)[0]
            for f in (tmp_path / "forms.onnx", out))
    assert np.abs(a - b).max() < 1e-4


def test_lean_rewrite_refuses_a_graph_it_does_not_know(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from qa_service.pipelines.sentiment_onnx import lean_ops

    # No fused attention or layer norm: nothing to rewrite is an error, not a silent copy.
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "plain",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "plain.onnx"))
    with pytest.raises(ModelLoadError, match="nothing to rewrite"):
        lean_ops(tmp_path / "plain.onnx", tmp_path / "out.onnx")
    # An Attention with a causal mask is not what MultiHeadAttention computes here: refused, naming the node.
    m = onnx.load(str(_fused_toy_graph(tmp_path)))
    m.graph.node[0].attribute.append(helper.make_attribute("unidirectional", 1))
    onnx.save(m, str(tmp_path / "causal.onnx"))
    with pytest.raises(ModelLoadError, match="Attention.*unidirectional"):
        lean_ops(tmp_path / "causal.onnx", tmp_path / "out.onnx")
    # Rotary embeddings are not what the rewrite computes either.
    m = onnx.load(str(_fused_toy_graph(tmp_path)))
    m.graph.node[0].attribute.append(helper.make_attribute("do_rotary", 1))
    onnx.save(m, str(tmp_path / "rotary.onnx"))
    with pytest.raises(ModelLoadError, match="do_rotary"):
        lean_ops(tmp_path / "rotary.onnx", tmp_path / "out.onnx")
    # MVN adds no epsilon: a layer norm whose epsilon is not negligible is refused, naming it.
    m = onnx.load(str(_fused_toy_graph(tmp_path)))
    next(a for a in m.graph.node[2].attribute if a.name == "epsilon").f = 1e-5
    onnx.save(m, str(tmp_path / "eps.onnx"))
    with pytest.raises(ModelLoadError, match="LayerNormalization.*epsilon 1e-05"):
        lean_ops(tmp_path / "eps.onnx", tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


def test_new_version_links_weights_names_its_parent_and_drops_report_metrics(tmp_path, settings):
    """A sibling version (export --version, the decision rules): weights linked, not copied; the manifest names the
    parent and carries no report metrics of the source; an existing version is refused untouched."""
    import os
    import shutil

    from qa_service.bundles import new_version

    src = tmp_path / "3.9.0"
    shutil.copytree(resolve_bundle(settings.models_dir, "sentiment", "3.9.0"), src, symlinks=False)
    before = read_manifest(src, task="sentiment")
    assert before["metrics"]
    out, m = new_version(src, "3.9.1", task="sentiment")
    assert out == tmp_path / "3.9.1" and (out / "layers.safetensors").is_symlink()
    assert os.path.samefile(out / "layers.safetensors", src / "layers.safetensors")
    assert not (out / "head.npz").is_symlink() and (out / "head.npz").read_bytes() == (src / "head.npz").read_bytes()
    assert m["version"] == "3.9.1" and m["parent"] == "3.9.0" and m["metrics"] == {} and m["created"] != before["created"]
    assert m["decision"] == before["decision"]  # what makes it new is the caller's to change
    with pytest.raises(FileExistsError, match="3.9.1"):
        new_version(src, "3.9.1", task="sentiment")
