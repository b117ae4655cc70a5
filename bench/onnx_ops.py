"""Where the sentiment transformer's time goes in ONNX Runtime, without tokenising or serving around it.

    python -m bench.onnx_ops [--texts 240] [--rounds 6] [--out bench/results/onnx_ops.json]

Three parts, on this machine's CPU execution provider:

1. **Kernels**: one layer norm of a 28 x 384 input (a short message's token states in the 6-layer student) as the
   fused graph computes it (``SkipLayerNormalization``), as a plain ``Add`` + ``LayerNormalization`` (ONNX
   Runtime's ``SkipLayerNormFusion`` disabled for that graph, or it would time the fused kernel again) and as the
   ``lean`` graph does (``Add`` + ``MeanVarianceNormalization`` + ``Mul`` + ``Add``), on two threads and one. The
   forms are timed in interleaved blocks of 500 runs, 6 blocks each; each figure is the median block's mean per
   run, run overhead included (an ``Add`` alone is given as that floor).
2. **Graphs**: the served bundle's graphs (built into the cache as ``qa-service models prepare`` does) on real
   short validation tweets, half from ``tass2019/val`` (Spanish) and half from ``tweeteval/val`` (English), at
   most 160 characters, one text per run: for a ``lean`` bundle its int8 and fp32 graphs, and the same weights'
   fused int8 graph and plain fp32 export. Timed in interleaved rounds (the order reversed each round), on the
   threads the service uses and on one thread.
3. **Operators** (a ``lean`` bundle): ONNX Runtime's own profile of the served int8 graph and of the fp32 graph it
   quantises (the same operators but for the weight products), on the service's threads, over the same texts in
   interleaved rounds: kernel time per operator type, split into weight products (``MatMul`` /
   ``DynamicQuantizeMatMul``: what int8 speeds up) and the rest (attention with its own small products, layer
   norms, GELU, adds, masks, embeddings: work both graphs do). From these: the products' own int8/fp32 ratio, the
   ratio of the kernel sums, how much time int8 may spend outside its products for a 2.5x ratio, and, if both
   graphs did the same work outside their products, how small that work would have to be for 2.5x. Profiling
   changes the timing (the kernel sums are not part 2's p50s), and the warm-up runs are left out. A fused (not
   ``lean``) bundle is not profiled: its int8 graph's ``QAttention`` holds weight and attention products
   together, and its fp32 graph is the unfused export, so the two would not split alike.

The int8/fp32 ratio here leaves out what serving adds to both (normalising, tokenising, calibrating, and the
texts differ); ``bench.sentiment`` measures it end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._host import loadavg, round_order
from eval.provenance import git_commit

RESULTS = Path(__file__).resolve().parent / "results" / "onnx_ops.json"
HIDDEN, TOKENS = 384, 28
# Operator types that multiply by a weight matrix (what dynamic int8 quantisation replaces) in a lean graph.
GEMMS = {"MatMul", "Gemm", "FusedMatMul", "MatMulInteger", "DynamicQuantizeMatMul", "MatMulIntegerToFloat"}


def _norm_graphs() -> dict[str, bytes]:
    """One normalisation of (x + skip), each way, with random scale and shift."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.uniform(0.5, 1.5, HIDDEN).astype(np.float32), "g"),
             numpy_helper.from_array(rng.normal(0, 0.1, HIDDEN).astype(np.float32), "b")]
    ops = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    io = ([helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, "s", HIDDEN]) for n in ("x", "skip")],
          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "s", HIDDEN])])
    forms = {
        "SkipLayerNormalization": [helper.make_node("SkipLayerNormalization", ["x", "skip", "g", "b"], ["y"],
                                                    domain="com.microsoft", epsilon=1e-12)],
        "Add + LayerNormalization": [helper.make_node("Add", ["x", "skip"], ["a"]),
                                     helper.make_node("LayerNormalization", ["a", "g", "b"], ["y"], axis=-1,
                                                      epsilon=1e-12)],
        "Add + MVN + Mul + Add (lean)": [helper.make_node("Add", ["x", "skip"], ["a"]),
                                         helper.make_node("MeanVarianceNormalization", ["a"], ["n"], axes=[-1]),
                                         helper.make_node("Mul", ["n", "g"], ["m"]),
                                         helper.make_node("Add", ["m", "b"], ["y"])],
        "Add alone (run overhead)": [helper.make_node("Add", ["x", "skip"], ["y"])],
    }
    out = {}
    for name, nodes in forms.items():
        used = {i for n in nodes for i in n.input}
        graph = helper.make_graph(nodes, "norm", io[0], io[1], [i for i in inits if i.name in used])
        out[name] = helper.make_model(graph, opset_imports=ops).SerializeToString()
    return out


def _session(model: Any, threads: int, disabled: list[str] | None = None, profile: str | None = None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if profile:
        opts.enable_profiling, opts.profile_file_prefix = True, profile
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), opts,
                                providers=["CPUExecutionProvider"], disabled_optimizers=disabled or [])


def kernels(block: int = 500, blocks: int = 6) -> dict[str, dict[str, Any]]:
    rng = np.random.default_rng(1)
    feeds = {"x": rng.normal(0, 1, (1, TOKENS, HIDDEN)).astype(np.float32),
             "skip": rng.normal(0, 1, (1, TOKENS, HIDDEN)).astype(np.float32)}
    out: dict[str, dict[str, Any]] = {}
    graphs = _norm_graphs()
    for threads in (2, 1):
        sessions = {name: _session(model, threads, ["SkipLayerNormFusion"] if "LayerNormalization" in name
                                   and "Skip" not in name else None) for name, model in graphs.items()}
        for s in sessions.values():
            for _ in range(200):
                s.run(None, feeds)
        per_block: dict[str, list[float]] = {name: [] for name in sessions}
        for b in range(blocks):
            for name in round_order(list(sessions), b):
                t0 = time.perf_counter()
                for _ in range(block):
                    sessions[name].run(None, feeds)
                per_block[name].append((time.perf_counter() - t0) / block * 1e6)
        for name, v in per_block.items():
            out.setdefault(name, {})[f"{threads}_threads_us"] = round(float(np.median(v)), 1)
            out[name][f"{threads}_threads_blocks_us"] = [round(x, 1) for x in v]
    return out


def served_bundle_and_texts(n_texts: int) -> tuple[Path, list[str]]:
    """The served transformer bundle and the texts to time it on; a one-line ``SystemExit`` when either is missing
    (checked before anything is timed)."""
    from eval import datasets as ds
    from qa_service.errors import QAServiceError
    from qa_service.runtime import get_runtime

    try:
        bundle = getattr(get_runtime().sentiment(None), "bundle_", None)  # QA_SENTIMENT_MODEL or the registry
    except QAServiceError as exc:
        raise SystemExit(f"error: cannot load the served sentiment model: {exc}") from None
    if bundle is None:
        raise SystemExit("error: the served sentiment model is not a transformer-onnx bundle: nothing to time")
    try:
        halves = [[t for t in ds.get(name).texts if len(t) <= 160] for name in ("tass2019/val", "tweeteval/val")]
    except (OSError, KeyError) as exc:
        raise SystemExit(f"error: the validation tweets are not readable ({exc}): run with ../shared/data") from None
    texts = halves[0][: n_texts // 2] + halves[1][: n_texts - n_texts // 2]
    return Path(bundle), texts


def run(session: Any, x: np.ndarray) -> np.ndarray:
    """Logits of one tokenised text (unpadded: the mask is all ones)."""
    return session.run(["logits"], {"input_ids": x, "attention_mask": np.ones_like(x)})[0]


def inputs(bundle: Path, texts: list[str]) -> tuple[dict[str, Any], dict[str, Path], list[np.ndarray]]:
    """What parts 2 and 3 time: a description of the bundle and texts, its graphs (built into the cache as
    ``qa-service models prepare`` does) and the texts tokenised as the service tokenises them."""
    from qa_service.bundles import read_manifest
    from qa_service.config import get_settings
    from qa_service.pipelines.sentiment_onnx import build, graph_spec
    from qa_service.text.normalize import normalise_for_sentiment
    from tokenizers import Tokenizer

    settings = get_settings()
    manifest = read_manifest(bundle, task="sentiment")
    spec = graph_spec(manifest)
    d = build(bundle, settings.e5_converted_dir, settings.cache_dir)
    files = {"int8 (served)": d / "model.int8.onnx", "fp32": d / "model.onnx"}
    if spec.get("ops"):
        d0 = build(bundle, settings.e5_converted_dir, settings.cache_dir,
                   graph={k: v for k, v in spec.items() if k != "ops"})
        files = {"int8 lean (served)": d / "model.int8.onnx", "int8 fused": d0 / "model.int8.onnx",
                 "fp32 lean": d / "model.onnx", "fp32 export": d0 / "model.onnx"}
    tok = Tokenizer.from_file(str(Path(settings.e5_converted_dir) / "tokenizer.json"))
    tok.enable_truncation(int(manifest.get("max_length", 96)))
    ids = [np.array([tok.encode(manifest.get("prefix", "query: ") + normalise_for_sentiment(t)).ids], np.int64)
           for t in texts]
    about = {"bundle": manifest["version"], "graph": spec, "texts": len(ids),
             "texts_from": "tass2019/val and tweeteval/val, half each, <= 160 characters",
             "mean_tokens": round(float(np.mean([x.shape[1] for x in ids])), 1),
             "files": {k: f"{v.parent.name}/{v.name}" for k, v in files.items()}}
    return about, files, ids


def graphs(about: dict[str, Any], files: dict[str, Path], ids: list[np.ndarray], rounds: int,
           threads: int) -> dict[str, Any]:
    """Part 2: each graph's p50 per text, on ``threads`` and on one thread."""
    result = dict(about)
    for n_threads in sorted({threads, 1}, reverse=True):
        sessions = {name: _session(f, n_threads) for name, f in files.items()}
        for s in sessions.values():
            for x in ids[:20]:
                run(s, x)
        lat: dict[str, list[float]] = {name: [] for name in sessions}
        for r in range(rounds):
            for name in round_order(list(sessions), r):
                for x in ids[r::rounds]:
                    t0 = time.perf_counter()
                    run(sessions[name], x)
                    lat[name].append(time.perf_counter() - t0)
        p50 = {name: round(float(np.median(v)) * 1000, 3) for name, v in lat.items()}
        fp32 = min((n for n in p50 if n.startswith("fp32")), key=p50.get)
        int8 = next(n for n in p50 if n.startswith("int8"))
        result[f"{n_threads}_threads"] = {"p50_ms": p50, "int8_vs_fastest_fp32": round(p50[fp32] / p50[int8], 2),
                                          "fastest_fp32": fp32}
        if "int8 fused" in p50:
            result[f"{n_threads}_threads"]["lean_int8_time_saved"] = round(1 - p50[int8] / p50["int8 fused"], 3)
    return result


def _profiles(files: dict[str, Path], threads: int, ids: list[np.ndarray], rounds: int = 6,
              warm: int = 20) -> dict[str, dict[str, Any]]:
    """Kernel time per operator type (mean per text) from ONNX Runtime's profile of each graph in ``files``, run
    on ``ids`` one at a time in interleaved rounds (the order reversed each round, so a slow spell of the shared
    CPU falls on every graph alike); each graph's first ``warm`` runs are left out."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        sessions = {name: _session(f, threads, profile=str(Path(tmp) / f"profile{i}"))
                    for i, (name, f) in enumerate(files.items())}
        for s in sessions.values():
            for x in ids[:warm]:
                run(s, x)
        for r in range(rounds):
            for name in round_order(list(sessions), r):
                for x in ids[r::rounds]:
                    run(sessions[name], x)
        events = {name: json.loads(Path(s.end_profiling()).read_text()) for name, s in sessions.items()}
    return {name: _by_operator(name, ev, warm, len(ids)) for name, ev in events.items()}


def _by_operator(name: str, events: list[dict[str, Any]], warm: int, n: int) -> dict[str, Any]:
    """One session's profile events summed per operator type over its runs after the first ``warm``."""
    from collections import defaultdict

    runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    if len(runs) != warm + n:
        raise RuntimeError(f"{name}: the profile holds {len(runs)} runs, not {warm + n}")
    start = runs[warm]["ts"]
    per_op: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time") and e["ts"] >= start:
            per_op[e["args"]["op_name"]][0] += e["dur"]
            per_op[e["args"]["op_name"]][1] += 1
    ops = {op: {"us_per_text": round(t / n, 1), "calls": c, "nodes": round(c / n), "us_per_node": round(t / c, 1)}
           for op, (t, c) in sorted(per_op.items(), key=lambda kv: -kv[1][0])}
    gemm = sum(v["us_per_text"] for op, v in ops.items() if op in GEMMS)
    total = sum(v["us_per_text"] for v in ops.values())
    return {"run_us": round(float(np.mean([e["dur"] for e in runs[warm:]])), 1), "kernels_us": round(total, 1),
            "products_us": round(gemm, 1), "other_us": round(total - gemm, 1), "by_operator": ops}


def operators(files: dict[str, Path], ids: list[np.ndarray], threads: int, rounds: int = 6) -> dict[str, Any]:
    """Part 3: the served int8 graph and the fp32 graph it quantises, profiled by operator (lean graphs only)."""
    if "int8 lean (served)" not in files:
        return {"skipped": "not a lean graph: its int8 and fp32 graphs do not split into the same operators"}
    prof = _profiles({k: files[k] for k in ("int8 lean (served)", "fp32 lean")}, threads, ids, rounds)
    a, b = prof["int8 lean (served)"], prof["fp32 lean"]
    pa, pb = a["products_us"], b["products_us"]
    return {"threads": threads, "graphs": prof, "timing": f"{rounds} interleaved rounds after 20 warm-up runs",
            "products_ratio": round(pb / pa, 2),
            "kernels_ratio": round(b["kernels_us"] / a["kernels_us"], 2),
            "int8_other_share": round(a["other_us"] / a["kernels_us"], 3),
            "int8_other_allowed_for_2_5x_us": round(b["kernels_us"] / 2.5 - pa, 1),
            # (pb + x) / (pa + x) = 2.5 with the same x in both graphs.
            "same_other_for_2_5x_us": round((pb - 2.5 * pa) / 1.5, 1),
            "note": "kernel times as ONNX Runtime's profiler records them; products: weight products ("
                    + ", ".join(sorted(GEMMS & (set(a["by_operator"]) | set(b["by_operator"])))) + ")"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.onnx_ops", description=__doc__.split("\n")[0])
    ap.add_argument("--texts", type=int, default=240)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.texts < 2 * args.rounds or args.rounds < 1:
        ap.error("--texts must be at least twice --rounds, and --rounds at least 1")
    if args.out.is_dir():
        ap.error(f"--out {args.out} is a directory: name a file")
    import onnxruntime

    from qa_service.config import get_settings

    # The code that measures, recorded before anything runs (result files do not count as changes).
    commit = git_commit(dirty_mark="+uncommitted", exclude=("bench/results",))
    bundle, texts = served_bundle_and_texts(args.texts)
    before = loadavg()
    about, files, ids = inputs(bundle, texts)
    threads = int(get_settings().threads)
    result = {"kernels_28x384": kernels(), "graphs_one_text_per_run": graphs(about, files, ids, args.rounds, threads),
              "operators": operators(files, ids, threads, args.rounds),
              "onnxruntime": onnxruntime.__version__, "cpu_count": os.cpu_count(),
              "loadavg_before": before, "loadavg_after": loadavg(),
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "command": "python -m bench.onnx_ops " + " ".join(argv if argv is not None else sys.argv[1:]),
              "commit": commit}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("| layer norm of 28 x 384 | 2 threads | 1 thread |\n|---|---|---|")
    for name, t in result["kernels_28x384"].items():
        print(f"| {name} | {t['2_threads_us']:.1f} us | {t['1_threads_us']:.1f} us |")
    g, ops = result["graphs_one_text_per_run"], result["operators"]
    for key in (k for k in g if k.endswith("_threads")):
        print(f"{key.replace('_', ' ')}: " + ", ".join(f"{n} {v:.3f} ms" for n, v in g[key]["p50_ms"].items())
              + f"; int8/fp32 {g[key]['int8_vs_fastest_fp32']:.2f}x")
    if "graphs" in ops:
        print(f"\n| operators, {ops['threads']} threads, us per text | " + " | ".join(ops["graphs"])
              + " |\n|---|---|---|")
        for key in ("products_us", "other_us", "kernels_us"):
            print(f"| {key[:-3]} | " + " | ".join(f"{v[key]:.0f}" for v in ops["graphs"].values()) + " |")
        print(f"products alone {ops['products_ratio']:.2f}x, all kernels {ops['kernels_ratio']:.2f}x; for 2.5x "
              f"int8 may spend {ops['int8_other_allowed_for_2_5x_us']:.0f} us outside its products (it spends "
              f"{ops['graphs']['int8 lean (served)']['other_us']:.0f} us), or both graphs "
              f"{ops['same_other_for_2_5x_us']:.0f} us each")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
