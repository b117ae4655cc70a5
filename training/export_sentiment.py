"""Export a fine-tuned sentiment bundle to int8 ONNX, calibrate it per language, measure what int8 costs.

    python -m training.export_sentiment models/sentiment/2.0.0
    python -m training.export_sentiment /tmp/ft-tiny --limit 50          # smoke run (CI)
    python -m training.export_sentiment models/sentiment/3.0.0 --graph fused --version 3.2.0
    python -m training.export_sentiment models/sentiment/3.14.0 --graph lean --version 3.16.0

Steps, all on the ``val`` sets of ``eval/datasets.py`` (report sets are never read here):

1. build ``model.onnx`` (fp32) and ``model.int8.onnx`` (ONNX Runtime dynamic quantisation, per-channel int8
   weights, no calibration data) into the cache directory;
2. fit the calibration per language (temperature + class biases, log-loss) on the int8 model's validation
   logits, the model that is served;
3. measure the quantisation's cost: label agreement and macro-F1 difference int8 vs fp32 on the validation
   sets, and single-message latency (p50/p99) and batch throughput of both on this machine;
4. rewrite the bundle's manifest with the calibration, the quantisation record and which sets chose what.

``--graph fused`` builds the graph ONNX Runtime fuses (attention, layer norms; int8 run one text per run: see
``qa_service.pipelines.sentiment_onnx``); ``--graph lean`` the fused graph with its layer norms and attention
rewritten into ops that are faster on one short text (3.16.0 on); with ``--version`` the result is a new sibling version of the bundle (same
weights, linked) instead of a rewrite of the bundle itself.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from eval import datasets as ds


def speed(predict, texts: list[str], n_single: int = 200) -> dict[str, float]:
    """Single-text latency (ms, p50/p99) over short real messages and batch throughput (texts/s)."""
    short = [t for t in texts if len(t) <= 160][:n_single]
    for t in short[:10]:
        predict([t])
    lat = []
    for t in short:
        t0 = time.perf_counter()
        predict([t])
        lat.append((time.perf_counter() - t0) * 1000)
    batch = texts[:1000]
    t0 = time.perf_counter()
    predict(batch)
    return {"single_p50_ms": round(float(np.percentile(lat, 50)), 2),
            "single_p99_ms": round(float(np.percentile(lat, 99)), 2),
            "batch_texts_per_s": round(len(batch) / (time.perf_counter() - t0), 1), "single_n": len(lat),
            "batch_n": len(batch)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.export_sentiment", description=__doc__.split("\n")[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--limit", type=int, default=None, help="at most N rows per validation set (smoke runs)")
    ap.add_argument("--force", action="store_true", help="rebuild the ONNX files")
    ap.add_argument("--graph", choices=("lean", "fused", "legacy"), default=None,
                    help="how the ONNX graph is built (default: what the manifest says; absent: legacy)")
    ap.add_argument("--version", default=None, help="write a new sibling version instead of rewriting the bundle")
    args = ap.parse_args(argv)
    if not (args.bundle / "manifest.json").exists():
        print(f"error: {args.bundle}: no manifest.json (not a bundle)", file=sys.stderr)
        return 2

    from eval.metrics import classification_report
    from qa_service.bundles import new_version, read_manifest, write_manifest
    from qa_service.config import get_settings
    from qa_service.pipelines.sentiment import fit_language_calibration
    from qa_service.pipelines.sentiment_onnx import (FUSED_GRAPH, LEAN_GRAPH, OnnxSentimentPipeline, build,
                                                     graph_spec)

    settings = get_settings()
    original, out = None, None
    if args.version:
        try:
            out, manifest = new_version(args.bundle, args.version, task="sentiment")
        except FileExistsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        manifest.pop("decision", None)
        args.bundle = out
    else:
        manifest = read_manifest(args.bundle, task="sentiment")
        original = dict(manifest)
    if args.graph:
        before = graph_spec(manifest)
        manifest.pop("onnx", None)
        if args.graph in ("fused", "lean"):
            manifest["onnx"] = dict(FUSED_GRAPH if args.graph == "fused" else LEAN_GRAPH)
        if graph_spec(manifest) != before and out is None:
            # A decision rule and report metrics measured on another graph do not describe this one.
            manifest.pop("decision", None)
            manifest.update(metrics={}, metrics_source=None)
        write_manifest(args.bundle, manifest)
    spec = graph_spec(manifest)
    t0 = time.time()
    try:
        d = build(args.bundle, settings.e5_converted_dir, settings.cache_dir, force=args.force)
    except Exception as exc:  # noqa: BLE001 - any failed build is one line, and the bundle is left as it was
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)
        elif original is not None and args.graph:
            write_manifest(args.bundle, original)
        print(f"error: cannot build the ONNX graph of {args.bundle}: {exc}", file=sys.stderr)
        return 3
    build_s = time.time() - t0
    print(f"built {d} in {build_s:.0f}s", file=sys.stderr)
    kw = dict(prefix=manifest.get("prefix", "query: "), max_length=int(manifest.get("max_length", 96)),
              threads=settings.threads, detect_language=False)
    int8 = OnnxSentimentPipeline(d / "model.int8.onnx", settings.e5_converted_dir, per_text=spec["int8_runs"] == "per-text",
                                 **kw)
    fp32 = OnnxSentimentPipeline(d / "model.onnx", settings.e5_converted_dir, **kw)

    val = [s.subset(args.limit) if args.limit else s for s in ds.validation_sets()]
    z8 = {s.name: int8.logits(s.texts) for s in val}
    z32 = {s.name: fp32.logits(s.texts) for s in val}
    y = {s.name: np.array([ds.LABELS.index(lab) for lab in s.labels]) for s in val}
    calibration = fit_language_calibration(np.vstack([z8[s.name] for s in val]), np.concatenate([y[s.name] for s in val]),
                                           sum(([s.language] * len(s) for s in val), []))
    agreement = {}
    for s in val:
        f8 = classification_report(z8[s.name], y[s.name], ds.LABELS)["macro_f1"]
        f32 = classification_report(z32[s.name], y[s.name], ds.LABELS)["macro_f1"]
        agreement[s.name] = {"label_agreement": round(float((z8[s.name].argmax(1) == z32[s.name].argmax(1)).mean()), 4),
                             "macro_f1_int8": f8, "macro_f1_fp32": f32, "macro_f1_delta": round(f8 - f32, 4)}
    texts = ds.get("tass2019/val").texts + ds.get("tweeteval/val").texts
    if args.limit:
        texts = texts[: args.limit]
    sp8, sp32 = speed(int8.logits, texts), speed(fp32.logits, texts)
    manifest["calibration"] = calibration
    manifest["quantization"] = {
        "method": "onnxruntime.quantization.quantize_dynamic, QInt8 weights, per-channel; activations quantised "
                  "dynamically at run time; no calibration data",
        "graph": spec,
        "served": "model.int8.onnx", "build_seconds": round(build_s),
        "validation_agreement": agreement,
        "speed": {"int8": sp8, "fp32": sp32,
                  "single_p50_ratio": round(sp32["single_p50_ms"] / max(sp8["single_p50_ms"], 1e-9), 2),
                  "batch_ratio": round(sp8["batch_texts_per_s"] / max(sp32["batch_texts_per_s"], 1e-9), 2),
                  "threads": settings.threads, "measured_on": "the build machine (see README for the bench)"},
    }
    manifest["evaluation_protocol"] = {
        "trained_on": [s["name"] for s in manifest.get("training_data", [])],
        "chose_and_calibrated_on": [s.name for s in val],
        "report_only": [s.name for s in ds.report_sets()],
        "defined_in": "eval/datasets.py", "limit": args.limit,
    }
    manifest.setdefault("training", {})["export_command"] = (
        "python -m training.export_sentiment " + " ".join(argv if argv is not None else sys.argv[1:]))
    manifest.pop("library_versions", None)
    write_manifest(args.bundle, manifest)
    for name, a in agreement.items():
        print(f"  {name:16s} agreement {a['label_agreement']:.4f}  F1 int8 {a['macro_f1_int8']:.3f} "
              f"fp32 {a['macro_f1_fp32']:.3f}", file=sys.stderr)
    print(f"  int8 {sp8}\n  fp32 {sp32}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
