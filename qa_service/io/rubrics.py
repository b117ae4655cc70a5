"""Rubrics (QA scorecards): YAML files validated into :class:`~qa_service.schemas.Rubric`.

A rubric is addressed by name (``default-es`` -> ``models/rubrics/default-es.yaml``) or by path.
Validation errors name the path inside the file: ``sections[2].criteria[0].weight: must be > 0``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from qa_service.errors import InvalidInputError
from qa_service.schemas import Rubric


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: dict) -> str:
    msg = err.get("msg", "invalid")
    ctx = err.get("ctx") or {}
    if err.get("type") == "greater_than":
        gt = ctx.get("gt")
        return f"must be > {gt:g}" if isinstance(gt, (int, float)) else f"must be > {gt}"
    if err.get("type") == "too_short":
        return "must not be empty"
    if err.get("type") == "extra_forbidden":
        return "unknown field"
    if err.get("type") == "missing":
        return "is required"
    return msg.removeprefix("Value error, ")


def validation_messages(exc: ValidationError) -> list[str]:
    """One ``path: message`` line per problem."""
    return [f"{_loc(tuple(e.get('loc', ()))) or 'rubric'}: {_message(e)}" for e in exc.errors()]


def parse_rubric(data: object, source: str = "rubric") -> Rubric:
    """Validate a parsed YAML/JSON object; InvalidInputError lists every problem with its path."""
    if not isinstance(data, dict):
        raise InvalidInputError(f"{source}: a rubric must be a mapping with id, version, language and sections",
                                "rubric")
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        lines = validation_messages(exc)
        raise InvalidInputError(f"{source}: {len(lines)} problem(s):\n  " + "\n  ".join(lines), "rubric") from exc


def load_rubric(ref: str | Path, rubrics_dir: Path) -> Rubric:
    """A rubric by name (a file in ``rubrics_dir``) or by path to a YAML file."""
    import yaml

    p = Path(ref)
    if not p.suffix:
        p = Path(rubrics_dir) / f"{ref}.yaml"
    if not p.exists():
        available = sorted(x.stem for x in Path(rubrics_dir).glob("*.yaml")) if Path(rubrics_dir).is_dir() else []
        raise InvalidInputError(f"rubric {str(ref)!r} not found" + (f" (available: {', '.join(available)})"
                                                                     if available else ""), "rubric")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidInputError(f"{p}: not valid YAML{where}: {getattr(exc, 'problem', exc)}", "rubric") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{p}: not UTF-8 text", "rubric") from exc
    return parse_rubric(data, str(p))


def list_rubrics(rubrics_dir: Path) -> list[Rubric]:
    """Every valid rubric shipped in ``rubrics_dir``."""
    return [load_rubric(p, rubrics_dir) for p in sorted(Path(rubrics_dir).glob("*.yaml"))]


def load_calibration(rubrics_dir: Path, rubric: Rubric) -> dict:
    """Thresholds and per-criterion kappa fitted by ``python -m eval.scoring`` for this rubric version, if any
    (``<rubrics_dir>/<id>.calibration.json``); an unreadable file or one for another version is ignored."""
    import json
    import logging

    f = Path(rubrics_dir) / f"{rubric.id}.calibration.json"
    if not f.exists():
        return {}
    try:
        cal = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        logging.getLogger("qa_service").warning("ignoring unreadable calibration %s", f)
        return {}
    if cal.get("rubric", {}).get("version") != rubric.version:
        logging.getLogger("qa_service").warning("ignoring %s: it is for version %s, the rubric is %s", f,
                                                cal.get("rubric", {}).get("version"), rubric.version)
        return {}
    return cal
