"""Which code a result was measured with: the git commit of this checkout (one helper for every eval and bench)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent


def git_commit(short: bool = True, dirty_mark: str | None = None, exclude: Sequence[str] = ()) -> str:
    """HEAD's commit id (short or full); with ``dirty_mark``, appended when tracked files (outside ``exclude``,
    pathspecs relative to the repository) differ from HEAD. ``unknown`` outside a git checkout."""
    try:
        sha = subprocess.run(["git", "rev-parse", *(["--short"] if short else []), "HEAD"], capture_output=True,
                             text=True, cwd=ROOT, check=True).stdout.strip()
        if dirty_mark is None:
            return sha
        spec = ["--", ".", *(f":(exclude){p}" for p in exclude)] if exclude else []
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", *spec], capture_output=True,
                               text=True, cwd=ROOT, check=True).stdout.strip()
        return sha + (dirty_mark if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
