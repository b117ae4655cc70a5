"""Rubrics (QA scorecards): YAML files validated into :class:`~qa_service.schemas.Rubric`.

A rubric is addressed by NAME, looked up in the registry of shipped rubrics (``default-es`` ->
``<rubrics_dir>/default-es.yaml``): a name is never opened as a path, so a request cannot make the service read
another file. Only the command line loads a rubric from an explicit path (a :class:`~pathlib.Path`).
Validation errors name the path inside the file: ``sections[2].criteria[0].weight: must be > 0``; the number and
length of patterns are checked before any is compiled.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from pydantic import ValidationError

from qa_service.config import MAX_PATTERN_CHARS, MAX_RUBRIC_PATTERNS
from qa_service.errors import InvalidInputError
from qa_service.schemas import Rubric

RUBRIC_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
"""What a rubric name looks like (the file name of a shipped rubric without ``.yaml``)."""


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
    if err.get("type") == "literal_error" and ctx.get("expected"):
        return f"must be {ctx['expected']}, not {err.get('input')!r}"[:200]
    return msg.removeprefix("Value error, ")


def validation_messages(exc: ValidationError) -> list[str]:
    """One ``path: message`` line per problem."""
    return [f"{_loc(tuple(e.get('loc', ()))) or 'rubric'}: {_message(e)}" for e in exc.errors()]


def _items(value: Any, key: str) -> list:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, list) else []


def _patterns(data: dict) -> Iterator[tuple[str, Any]]:
    """(path, pattern) of every pattern in a parsed, not yet validated, rubric."""
    for i, section in enumerate(_items(data, "sections")):
        for j, criterion in enumerate(_items(section, "criteria")):
            for k, detector in enumerate(_items(criterion, "detectors")):
                for m, pattern in enumerate(_items(detector, "patterns")):
                    yield f"sections[{i}].criteria[{j}].detectors[{k}].patterns[{m}]", pattern
                cues = detector.get("cues") if isinstance(detector, dict) else None
                for name, patterns in (cues.items() if isinstance(cues, dict) else ()):
                    for m, pattern in enumerate(patterns if isinstance(patterns, list) else []):
                        yield f"sections[{i}].criteria[{j}].detectors[{k}].cues.{name}[{m}]", pattern


def pattern_limit_problems(data: dict, max_patterns: int = MAX_RUBRIC_PATTERNS,
                           max_pattern_chars: int = MAX_PATTERN_CHARS) -> list[str]:
    """``path: message`` for patterns beyond the per-rubric count or length limits (checked on the raw data,
    before validation compiles anything)."""
    problems = []
    for n, (path, pattern) in enumerate(_patterns(data), start=1):
        if n > max_patterns:
            problems.append(f"{path}: more than {max_patterns} patterns in one rubric (QA_MAX_RUBRIC_PATTERNS)")
            break
        if isinstance(pattern, str) and len(pattern) > max_pattern_chars:
            problems.append(f"{path}: longer than {max_pattern_chars} characters (QA_MAX_PATTERN_CHARS)")
    return problems


def _refuse(source: str, lines: list[str]) -> InvalidInputError:
    if len(lines) == 1:  # one problem: one line
        return InvalidInputError(f"{source}: {lines[0]}", "rubric")
    shown = lines[:20] + ([f"... and {len(lines) - 20} more"] if len(lines) > 20 else [])
    return InvalidInputError(f"{source}: {len(lines)} problem(s):\n  " + "\n  ".join(shown), "rubric")


def parse_rubric(data: object, source: str = "rubric", *, max_patterns: int = MAX_RUBRIC_PATTERNS,
                 max_pattern_chars: int = MAX_PATTERN_CHARS) -> Rubric:
    """Validate a parsed YAML/JSON object; InvalidInputError lists every problem with its path.

    Patterns beyond ``max_patterns`` per rubric or longer than ``max_pattern_chars`` are refused before any
    pattern is compiled; the others are compiled (RE2) and refused when invalid.
    """
    if not isinstance(data, dict):
        raise InvalidInputError(f"{source}: a rubric must be a mapping with id, version, language and sections",
                                "rubric")
    limits = pattern_limit_problems(data, max_patterns, max_pattern_chars)
    if limits:
        raise _refuse(source, limits)
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        raise _refuse(source, validation_messages(exc)) from exc


def rubric_names(rubrics_dir: Path) -> list[str]:
    """The registry: names of the shipped rubrics (``<name>.yaml`` files in ``rubrics_dir``)."""
    d = Path(rubrics_dir)
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.yaml") if p.is_file() and RUBRIC_NAME.match(p.stem))


def _read_yaml(path: Path, shown: str) -> object:
    import yaml

    if path.is_dir():
        raise InvalidInputError(f"rubric {shown}: is a directory, not a rubric YAML file", "rubric")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(f"rubric {shown}: not UTF-8 text", "rubric") from None
    except OSError as exc:
        raise InvalidInputError(f"rubric {shown}: cannot be read ({exc.strerror or type(exc).__name__})",
                                "rubric") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidInputError(f"{shown}: not valid YAML{where}: {getattr(exc, 'problem', exc)}",
                                "rubric") from None


def load_rubric(ref: str | Path, rubrics_dir: Path, *, max_patterns: int = MAX_RUBRIC_PATTERNS,
                max_pattern_chars: int = MAX_PATTERN_CHARS) -> Rubric:
    """A shipped rubric by name (``str``: looked up in the registry, never opened as a path), or a rubric file
    given explicitly as a :class:`~pathlib.Path` (the command line's ``--rubric my.yaml``)."""
    limits = {"max_patterns": max_patterns, "max_pattern_chars": max_pattern_chars}
    if isinstance(ref, Path):
        if not ref.exists():
            available = ", ".join(rubric_names(rubrics_dir)) or "none"
            raise InvalidInputError(f"rubric {ref} not found: neither a shipped rubric (available: {available}) "
                                    "nor a file", "rubric")
        return parse_rubric(_read_yaml(ref, str(ref)), str(ref), **limits)
    names = rubric_names(rubrics_dir)
    if not isinstance(ref, str) or ref not in names:
        shown = repr(ref[:80]) if isinstance(ref, str) else type(ref).__name__
        raise InvalidInputError(f"rubric {shown} not found: use a shipped rubric's name or a rubric object"
                                + (f" (available: {', '.join(names)})" if names else ""), "rubric")
    path = Path(rubrics_dir) / f"{names[names.index(ref)]}.yaml"
    return parse_rubric(_read_yaml(path, str(path)), str(path), **limits)


def rubric_ref(value: str, rubrics_dir: Path) -> str | Path:
    """The command line's ``--rubric`` value: a shipped rubric's name stays a name, anything else is a path."""
    return value if value in rubric_names(rubrics_dir) else Path(value)


def list_rubrics(rubrics_dir: Path) -> list[Rubric]:
    """Every shipped rubric in ``rubrics_dir``."""
    return [load_rubric(name, rubrics_dir) for name in rubric_names(rubrics_dir)]


def read_calibration(path: Path) -> dict:
    """A calibration file (thresholds, per-criterion kappa, the rubric id and version it was fitted for); ``{}``
    when it is missing or unreadable (with a warning)."""
    import json
    import logging

    f = Path(path)
    if not f.exists():
        return {}
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        logging.getLogger("qa_service").warning("ignoring unreadable calibration %s", f)
        return {}


def load_calibration(rubrics_dir: Path, rubric: Rubric) -> dict:
    """Thresholds and per-criterion kappa fitted by ``python -m eval.scoring`` for this rubric version, if any
    (``<rubrics_dir>/<id>.calibration.json``); an unreadable file or one for another version is ignored."""
    import logging

    f = Path(rubrics_dir) / f"{rubric.id}.calibration.json"
    cal = read_calibration(f)
    if not cal:
        return {}
    if cal.get("rubric", {}).get("version") != rubric.version:
        logging.getLogger("qa_service").warning("ignoring %s: it is for version %s, the rubric is %s", f,
                                                cal.get("rubric", {}).get("version"), rubric.version)
        return {}
    return cal
