"""Average the weights of sentiment transformers trained from the same start (a "model soup").

    python -m training.soup_sentiment models/sentiment/3.0.0 /work/cands/3.4.0 --out /work/cands/soup
    python -m training.export_sentiment /work/cands/soup --graph fused     # then as any trained bundle

Two students distilled from the same teacher's layers with different data (or seeds) land in the same basin;
their average is often as good as the better one on what each learnt and less noisy where they disagree by chance.
Every tensor of ``layers.safetensors`` and the head is averaged (uniformly, or with ``--weights``); the bundles
must share the base checkpoint, the architecture and the tensor names, or nothing is written (exit 2).

The new bundle's manifest names its ingredients (version, layer checksums, weights), unions their training data
and licences, and carries no calibration, quantisation or metrics yet: ``training.export_sentiment`` calibrates it
on validation and ``eval.compare_sentiment`` measures it, as for any trained bundle.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def soup(bundles: list[Path], out: Path, weights: list[float] | None = None, version: str = "soup-dev") -> dict:
    """Write the averaged bundle to ``out``; returns its manifest. Raises ValueError when the bundles differ in
    base, architecture or tensors."""
    import torch
    from safetensors.torch import load_file, save_file

    from qa_service.bundles import read_manifest, write_manifest

    ms = [read_manifest(b, task="sentiment") for b in bundles]
    if len(bundles) < 2:
        raise ValueError("give at least two bundles")
    w = np.array(weights if weights else [1.0] * len(bundles), dtype=float)
    if len(w) != len(bundles) or (w <= 0).any():
        raise ValueError("--weights: one positive weight per bundle")
    w = w / w.sum()
    for b, m in zip(bundles, ms):
        if m.get("kind") != "transformer-onnx":
            raise ValueError(f"{b}: not a transformer-onnx bundle")
        for key in ("base", "architecture", "prefix", "max_length"):
            if m.get(key) != ms[0].get(key):
                raise ValueError(f"{b}: its {key} differs from {bundles[0]}'s")
    try:
        layers = [load_file(str(Path(b) / "layers.safetensors")) for b in bundles]
        heads = []
        for b in bundles:
            with np.load(Path(b) / "head.npz", allow_pickle=False) as z:
                heads.append({k: z[k].astype(np.float64) for k in z.files})
    except OSError as exc:
        raise ValueError(f"cannot read a bundle's weights: {exc}") from exc
    if any(set(x) != set(layers[0]) for x in layers):
        raise ValueError("the bundles' layers have different tensors")
    if any(set(h) != set(heads[0]) or any(h[k].shape != heads[0][k].shape for k in h) for h in heads):
        raise ValueError("the bundles' heads differ in shape")
    avg = {k: sum(float(wi) * x[k].float() for wi, x in zip(w, layers)).half().contiguous() for k in layers[0]}
    head = {k: sum(wi * h[k] for wi, h in zip(w, heads)).astype(np.float32) for k in heads[0]}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=False)
    try:
        save_file(avg, str(out / "layers.safetensors"))
        np.savez(out / "head.npz", **head)
    except OSError:
        shutil.rmtree(out, ignore_errors=True)
        raise
    data: dict[str, Any] = {}
    for m in ms:
        for d in m.get("training_data", []):
            data.setdefault(d["name"], d)
    m0 = ms[0]
    manifest = {k: m0[k] for k in ("task", "kind", "labels", "base", "head", "preprocessing", "architecture", "prefix",
                                   "max_length") if k in m0}
    manifest.update(
        version=version, metrics={}, calibration={"method": "temperature", "temperature": 1.0},
        artifacts={"layers.safetensors": "", "head.npz": ""}, training_data=list(data.values()),
        soup={"of": [{"bundle": str(b), "version": m.get("version"),
                      "layers_sha256": m["artifacts"]["layers.safetensors"], "weight": round(float(wi), 4)}
                     for b, m, wi in zip(bundles, ms, w)],
              "method": "uniform average of every layer tensor and of the head" if not weights
              else "weighted average of every layer tensor and of the head"},
        training={"command": "python -m training.soup_sentiment " + " ".join(str(b) for b in bundles),
                  "ingredients": {m.get("version"): m.get("training") for m in ms}},
        created=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()))
    for key in ("distillation",):
        if all(key in m for m in ms):
            manifest[key] = {m.get("version"): m[key] for m in ms}
    return write_manifest(out, manifest)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.soup_sentiment", description=__doc__.split("\n")[0])
    ap.add_argument("bundles", type=Path, nargs="+", help="transformer-onnx bundles trained from the same start")
    ap.add_argument("--out", type=Path, required=True, help="the new bundle's directory (must not exist)")
    ap.add_argument("--version", default="soup-dev")
    ap.add_argument("--weights", type=float, nargs="+", default=None, help="one per bundle (default: equal)")
    args = ap.parse_args(argv)
    if args.out.exists():
        print(f"error: {args.out} exists", file=sys.stderr)
        return 2
    for b in args.bundles:
        if not (b / "manifest.json").exists():
            print(f"error: {b}: no manifest.json (not a bundle)", file=sys.stderr)
            return 2
    try:
        m = soup(args.bundles, args.out, args.weights, args.version)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({len(args.bundles)} ingredients); next: python -m training.export_sentiment "
          f"{args.out} --graph fused", file=sys.stderr)
    return 0 if m else 1


if __name__ == "__main__":
    raise SystemExit(main())
