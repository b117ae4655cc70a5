"""Rubric patterns run on RE2: linear time whatever the pattern, compiled once per scorer, and the shipped rubrics
match exactly as they did under Python's ``re``."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from qa_service.config import REPO_ROOT
from qa_service.errors import InvalidInputError
from qa_service.io.rubrics import list_rubrics, parse_rubric
from qa_service.pipelines.rubric import RubricScorer
from qa_service.schemas import Transcript, compile_pattern


def _rubric(patterns: list[str]) -> dict:
    return {"id": "p", "version": "1", "language": "en", "sections": [{"id": "s", "name": "S", "weight": 1, "criteria": [
        {"id": "c", "question": "q?", "weight": 1, "detectors": [{"type": "pattern", "patterns": patterns}]}]}]}


def test_catastrophic_pattern_scores_in_linear_time():
    # Under Python's re, (a+)+$ on 35 a's and a '!' backtracks ~2^35 steps holding the GIL (the whole process
    # froze); a subprocess keeps a regression from hanging the test run.
    code = ("import time\n"
            "from qa_service.io.rubrics import parse_rubric\n"
            "from qa_service.pipelines.rubric import RubricScorer\n"
            "from qa_service.schemas import Transcript\n"
            f"r = parse_rubric({_rubric(['(a+)+$', '(x+x+)+y', '(.*a){20}'])!r})\n"
            "t = Transcript(id='t', turns=[{'speaker': 'agent', 'text': 'a' * 35 + '!'},\n"
            "                               {'speaker': 'agent', 'text': 'a' * 100_000 + '!'}])\n"
            "t0 = time.perf_counter(); res = RubricScorer(r).score(t)\n"
            "print(time.perf_counter() - t0, res.criteria[0].result)\n")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                             cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail("a backtracking pattern froze scoring")
    assert out.returncode == 0, out.stderr
    seconds, result = out.stdout.split()
    assert float(seconds) < 2.0 and result == "pass"  # '(.*a){20}' matches the 100,000 a's


def test_patterns_compile_once_per_scorer_with_re2():
    r = parse_rubric(_rubric([r"\bhello\b", "good (morning|day)"]))
    sc = RubricScorer(r)
    assert set(sc.patterns_) == {r"\bhello\b", "good (morning|day)"}
    assert all(type(p).__module__.startswith("re2") for p in sc.patterns_.values())
    res = sc.score(Transcript(id="t", turns=[{"speaker": "agent", "text": "Hello, GOOD day"}]))
    assert [e.text for e in res.criteria[0].evidence] == ["Hello", "GOOD day"]


@pytest.mark.parametrize("pattern", [r"(?=x)y", r"(a)\1", r"(?<!a)b", "a{1000}{1000}", "[unclosed"])
def test_patterns_re2_cannot_run_are_refused_with_their_path(pattern):
    with pytest.raises(InvalidInputError, match=re.escape("sections[0].criteria[0].detectors[0].patterns[1]: "
                                                          "not a valid regular expression")):
        parse_rubric(_rubric(["fine", pattern]))


def test_shipped_rubric_patterns_match_as_under_python_re(settings):
    """Every pattern (and cue) of every shipped rubric finds the same spans with RE2 as with ``re`` on the labelled
    transcripts (and on accented, upper-case and digit-laden variants of them)."""
    rows = [json.loads(x) for x in (REPO_ROOT / "eval/transcripts/labelled.jsonl").read_text("utf-8").splitlines()]
    texts = [t["text"] for r in rows for t in r["turns"]]
    texts += [t.upper() for t in texts] + ["Soy Ángela, le atiende Íñigo; su DNI. Último 4 dígitos: 1234, en 48 horas"]
    patterns = {p for r in list_rubrics(settings.rubrics_dir) for s in r.sections for c in s.criteria
                for d in c.detectors for p in [*d.patterns, *(q for cue in d.cues.values() for q in cue)]}
    assert len(patterns) > 20
    hits = 0
    for p in sorted(patterns):
        py, r2 = re.compile(p, re.IGNORECASE), compile_pattern(p)
        for text in texts:
            expected = [m.span() for m in py.finditer(text)]
            assert [m.span() for m in r2.finditer(text)] == expected, (p, text)
            hits += len(expected)
    assert hits > 50  # the comparison saw real matches, not only misses
