"""The blind evaluation set stays blind: no rubric wording in it, and the one split is fixed and balanced."""

from __future__ import annotations

import re

import pytest

from eval.blind import MIN_RUN, leaks, load_blind, load_split, make_split, words
from qa_service.io.rubrics import list_rubrics


@pytest.fixture(scope="module")
def rows():
    return load_blind()


def test_no_rubric_example_or_pattern_appears_in_an_evaluation_transcript(settings, rows):
    rubrics = list_rubrics(settings.rubrics_dir)
    assert {r.id for r in rubrics} >= {"default-es", "default-en"}
    assert leaks(rubrics, rows) == []


def _planted(rubric, example: str | None = None, pattern: str | None = None):
    r = rubric.model_copy(deep=True)
    c = r.sections[0].criteria[0]
    if example is not None:
        c.examples.pass_.append(example)
    if pattern is not None:
        c.detectors[0].patterns.append(pattern)
    return r


def test_the_leak_check_fails_on_planted_wording(settings, rows):
    """Each kind of leak is caught: a whole example sentence, a 6-word run inside a longer example, and a pattern
    whose match spans 6 words; a 5-word run is not a leak."""
    rubric = next(r for r in list_rubrics(settings.rubrics_dir) if r.id == "default-es")
    turn = next(t["text"] for r in rows for t in r["turns"] if len(words(t["text"])) >= 12)
    w = turn.split()
    whole = _planted(rubric, example=turn)
    assert any("example" in x and "in " in x for x in leaks([whole], rows))
    run = " ".join(words(turn)[:MIN_RUN])
    inside = _planted(rubric, example=f"Frase de relleno sin más, {run}, y otra cola distinta.")
    assert any(f"shares {MIN_RUN}+ words" in x for x in leaks([inside], rows))
    pat = r"\s+\W*".join(re.escape(x) for x in words(turn)[:MIN_RUN])
    assert any("pattern" in x and f"matches {MIN_RUN} words" in x for x in leaks([_planted(rubric, pattern=pat)], rows))
    short = " ".join(words(turn)[: MIN_RUN - 1]) + " zzzqx"
    assert leaks([_planted(rubric, example=f"Otra frase: {short}.")], rows) == []
    assert w  # the turn used has text


def test_split_is_the_committed_one_balanced_and_disjoint(rows):
    split = load_split()
    assert not set(split["tune"]) & set(split["report"])
    assert set(split["tune"]) | set(split["report"]) == {r["id"] for r in rows}
    # made once: re-deriving it with the recorded seed gives the committed split
    assert make_split(rows) == split
    for group in ("es-ES", "es-LA", "en"):
        n_t = sum(r["group"] == group and r["id"] in split["tune"] for r in rows)
        n_r = sum(r["group"] == group and r["id"] in split["report"] for r in rows)
        assert abs(n_t - n_r) <= 2, group


def test_every_criterion_has_15_informative_report_labels(rows):
    report = set(load_split()["report"])
    counts: dict[str, int] = {}
    for r in rows:
        if r["id"] in report:
            for c, lab in r["labels"].items():
                counts[c] = counts.get(c, 0) + (lab in ("pass", "fail"))
    assert len(counts) == 22 and min(counts.values()) >= 15, counts
