"""Labelled data on disk: the catalogue of base training sets and gate sets, and immutable training snapshots.

Catalogue (``QA_DATASETS_DIR/catalog.json``; ``python -m training.export_sets`` writes one from ../shared/data)::

    {"sets": [{"name": "xlmt/test-es", "task": "sentiment", "role": "gate", "language": "es",
               "file": "xlmt-test-es.jsonl", "source": "XLM-T tweets", "licence": "research use",
               "sha256": "sha256:..."}, ...]}

``role`` is ``base`` (trained on) or ``gate`` (fixed evaluation sets that decide promotions, never trained on).
A sentiment row is ``{"text", "label", "language"}``; a rubric row is a transcript (the JSON contract) with
``"rubric"`` and ``"labels"`` (criterion id -> pass | fail | na).

Snapshot (``QA_DATA_DIR/snapshots/<id>/``): ``rows.jsonl`` and ``snapshot.json`` (rows, label counts, sources with
licences, the sha256 of ``rows.jsonl``, the gate sets it was checked against). The id ends with the first 12 hex
digits of that sha256, the files are written once and made read-only, and reading re-checks the hash.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from qa_service.bundles import files_sha256
from qa_service.errors import InvalidInputError, NotFoundError

CATALOG = "catalog.json"
ROLES = ("base", "gate")
TASKS = ("sentiment", "rubric")
SNAPSHOT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,120}$")


@dataclass(frozen=True)
class LabelledSet:
    """One labelled set of the catalogue."""

    name: str
    task: str
    role: str
    language: str | None
    file: Path
    source: str
    licence: str
    sha256: str

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "role": self.role, "language": self.language,
                "source": self.source, "licence": self.licence, "sha256": self.sha256}


def read_catalog(root: Path) -> list[LabelledSet]:
    """The sets listed in ``root/catalog.json`` (checksums verified); InvalidInputError naming what is wrong."""
    f = Path(root) / CATALOG
    if not f.exists():
        raise InvalidInputError(f"no labelled sets: {f} does not exist (write one with `python -m training.export_sets`"
                                " from a checkout, or point QA_DATASETS_DIR at yours)", "datasets")
    try:
        entries = json.loads(f.read_text(encoding="utf-8"))["sets"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"{f}: not a catalogue ({exc})", "datasets") from None
    out = []
    for i, e in enumerate(entries):
        where = f"{f}: sets[{i}]"
        missing = [k for k in ("name", "task", "role", "file", "licence") if not e.get(k)]
        if missing:
            raise InvalidInputError(f"{where}: missing {', '.join(missing)}", "datasets")
        if e["task"] not in TASKS or e["role"] not in ROLES:
            raise InvalidInputError(f"{where}: task must be one of {TASKS}, role one of {ROLES}", "datasets")
        path = (Path(root) / e["file"]).resolve()
        if not path.is_relative_to(Path(root).resolve()) or not path.exists():
            raise InvalidInputError(f"{where}: file {e['file']!r} is not in {root}", "datasets")
        sha = files_sha256([path])
        if e.get("sha256") and e["sha256"] != sha:
            raise InvalidInputError(f"{where}: {path.name} changed since the catalogue was written (checksum)",
                                    "datasets")
        out.append(LabelledSet(e["name"], e["task"], e["role"], e.get("language"), path, e.get("source", ""),
                               e["licence"], sha))
    return out


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file (one per non-empty line); InvalidInputError naming a broken line."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InvalidInputError(f"{path}: line {n} is not JSON ({exc.msg})", "datasets") from None
    return rows


def write_catalog(root: Path, sets: Iterable[dict[str, Any]]) -> Path:
    """Write ``root/catalog.json`` for ``sets`` (their files already in ``root``), with checksums."""
    root = Path(root)
    entries = [{**s, "sha256": files_sha256([root / s["file"]])} for s in sets]
    (root / CATALOG).write_text(json.dumps({"sets": entries}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return root / CATALOG


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
    return n


# --------------------------------------------------------------------------- snapshots
def check_snapshot_id(value: str) -> str:
    if not SNAPSHOT_ID.match(value or ""):
        raise InvalidInputError(f"{value!r} is not a snapshot id", "snapshot")
    return value


def write_snapshot(root: Path, prefix: str, meta: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Freeze ``rows`` as snapshot ``<prefix>-<sha12>`` under ``root``; the same rows give the same id (and the
    existing snapshot is returned). Returns the metadata with ``id`` and ``sha256``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".snapshot-", dir=root))
    try:
        write_jsonl(tmp / "rows.jsonl", rows)
        sha = files_sha256([tmp / "rows.jsonl"])
        sid = f"{prefix}-{sha.split(':', 1)[1][:12]}"
        final = root / sid
        if (final / "snapshot.json").exists():
            return read_snapshot(root, sid, with_rows=False)[0]
        meta = {"id": sid, **meta, "rows": len(rows), "sha256": sha}
        (tmp / "snapshot.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for f in ("rows.jsonl", "snapshot.json"):
            os.chmod(tmp / f, 0o444)
        os.replace(tmp, final)  # atomic: readers see a whole snapshot or none
        return meta
    finally:
        if tmp.exists():
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()


def read_snapshot(root: Path, snapshot_id: str, with_rows: bool = True
                  ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(metadata, rows) of a snapshot, its rows checked against the recorded sha256."""
    d = Path(root) / check_snapshot_id(snapshot_id)
    if not (d / "snapshot.json").exists():
        raise NotFoundError(f"snapshot {snapshot_id!r} not found in {root}")
    meta = json.loads((d / "snapshot.json").read_text(encoding="utf-8"))
    if files_sha256([d / "rows.jsonl"]) != meta.get("sha256"):
        raise InvalidInputError(f"snapshot {snapshot_id}: rows.jsonl was changed after the snapshot was taken "
                                "(checksum mismatch)", "snapshot")
    return meta, (read_rows(d / "rows.jsonl") if with_rows else [])


def list_snapshots(root: Path) -> list[dict[str, Any]]:
    """Metadata of every snapshot under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    out = []
    for f in root.glob("*/snapshot.json"):
        try:
            out.append(json.loads(f.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return sorted(out, key=lambda m: (m.get("created", ""), m.get("id", "")))
