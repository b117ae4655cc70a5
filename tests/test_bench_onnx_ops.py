"""bench.onnx_ops' operator profile: kernel time per operator type from ONNX Runtime's own profile, matrix products
apart, warm-up runs left out, and the fp32 graph it is compared with is the one int8 quantises."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")


def _tiny_graph(path: Path) -> Path:
    """input_ids, attention_mask -> logits through one MatMul and a few other operators."""
    from onnx import TensorProto, helper, numpy_helper, save

    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(1, 12) / 10, "w")
    nodes = [helper.make_node("Cast", ["input_ids"], ["x"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["x", "m"], ["xm"]),
             helper.make_node("Unsqueeze", ["xm", "axis"], ["x3"]),
             helper.make_node("MatMul", ["x3", "w"], ["h"]),
             helper.make_node("ReduceMean", ["h"], ["pooled"], axes=[1], keepdims=0),
             helper.make_node("Slice", ["pooled", "s0", "s3", "s1"], ["logits"])]
    consts = [numpy_helper.from_array(np.array(v, np.int64), n)
              for n, v in (("axis", [-1]), ("s0", [0]), ("s3", [3]), ("s1", [1]))]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info(n, TensorProto.INT64, [1, "s"]) for n in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])], [w, *consts])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def test_profile_counts_each_operator_once_per_text_and_keeps_products_apart(tmp_path):
    from bench.onnx_ops import _profiles

    ids = [np.array([[5, 6, 7, 8][: 2 + i % 3]], np.int64) for i in range(10)]
    tiny = _tiny_graph(tmp_path / "tiny.onnx")
    both = _profiles({"a": tiny, "b": tiny}, 1, ids, rounds=3, warm=5)
    assert list(both) == ["a", "b"]
    p = both["b"]
    ops = p["by_operator"]
    # Ten timed runs after five warm-up runs: one MatMul call each, not one more or one less.
    assert ops["MatMul"]["calls"] == 10 and ops["MatMul"]["nodes"] == 1
    assert all(v["calls"] % 10 == 0 for v in ops.values())
    assert p["products_us"] == pytest.approx(ops["MatMul"]["us_per_text"])
    others = [v["us_per_text"] for op, v in ops.items() if op != "MatMul"]
    assert others and p["other_us"] == pytest.approx(sum(others), abs=0.2)
    assert p["kernels_us"] == pytest.approx(p["products_us"] + p["other_us"], abs=0.2)
    assert p["run_us"] > 0


def test_operators_compares_the_served_int8_graph_with_the_fp32_graph_it_quantises(monkeypatch):
    from bench import onnx_ops

    seen = []

    def fake(files, threads, ids, rounds=6, warm=20):
        seen.extend(files.values())
        return {name: {"run_us": 0.0, "kernels_us": p + 50, "products_us": p, "other_us": 50.0, "by_operator": {}}
                for name, p in ((name, 100.0 if f.name.startswith("int8") else 300.0) for name, f in files.items())}

    monkeypatch.setattr(onnx_ops, "_profiles", fake)
    files = {name: Path(name.split(" (")[0].replace(" ", "-")) for name in
             ("int8 lean (served)", "int8 fused", "fp32 lean", "fp32 export")}
    out = onnx_ops.operators(files, [], 2)
    assert seen == [Path("int8-lean"), Path("fp32-lean")]
    assert out["products_ratio"] == 3.0 and out["kernels_ratio"] == round(350 / 150, 2)
    assert out["int8_other_allowed_for_2_5x_us"] == 350 / 2.5 - 100
    # The same x outside the products in both graphs: (300 + x) / (100 + x) = 2.5.
    x = out["same_other_for_2_5x_us"]
    assert (300 + x) / (100 + x) == pytest.approx(2.5, abs=1e-3)


def test_a_fused_bundle_is_not_profiled(monkeypatch):
    from bench import onnx_ops

    monkeypatch.setattr(onnx_ops, "_profiles", lambda *a, **k: pytest.fail("profiled a fused graph"))
    out = onnx_ops.operators({"int8 (served)": Path("a"), "fp32": Path("b")}, [], 2)
    assert "not a lean graph" in out["skipped"]
