"""The rubric's auto-fail policy (``on_auto_fail: zero | keep``): the total it reports, its validation, and the
shipped rubrics' default."""

from __future__ import annotations

import copy

import pytest
import yaml
from typer.testing import CliRunner

from qa_service.cli import app
from qa_service.errors import InvalidInputError
from qa_service.io.rubrics import load_rubric, parse_rubric
from qa_service.pipelines.rubric import RubricScorer, policy_total
from qa_service.schemas import Transcript
from tests.pipelines.rubric.test_scorer import ARITH, _t

CARD_CALL = _t("Hello, my name is Sam.", "Let me read it back: 4539 1488 0343 6467.")


def test_zero_sets_the_total_to_0_and_keep_keeps_the_computed_total():
    assert ARITH.on_auto_fail == "zero"  # the default
    zero = RubricScorer(ARITH).score(CARD_CALL)
    keep = RubricScorer(ARITH.model_copy(update={"on_auto_fail": "keep"})).score(CARD_CALL)
    for r in (zero, keep):
        assert r.auto_fail and r.auto_fail_reasons[0].startswith("pii:")
        # section a: hello + name pass = 100; section b: hold N/A, pii failed = 0 (sections are computed either way)
        assert [s.score for s in r.sections] == [100.0, 0.0]
    assert zero.total == 0.0
    assert keep.total == pytest.approx(100 * (3 * 1.0 + 1 * 0.0) / 4)


def test_the_policy_only_acts_on_an_auto_fail():
    ok = _t("Hello, my name is Sam.")
    zero = RubricScorer(ARITH).score(ok)
    keep = RubricScorer(ARITH.model_copy(update={"on_auto_fail": "keep"})).score(ok)
    assert not zero.auto_fail and zero.total == keep.total == 100.0
    assert policy_total(ARITH, None, False) is None and policy_total(ARITH, 80.0, True) == 0.0


@pytest.mark.parametrize("name,card", [
    ("default-es", "Le leo la tarjeta: 4539 1488 0343 6467, ¿es correcto?"),
    ("default-en", "Let me read your card back: 4539 1488 0343 6467, is that right?")])
def test_shipped_rubrics_zero_the_total_on_a_card_read_back(settings, name, card):
    rubric = load_rubric(name, settings.rubrics_dir)
    assert rubric.on_auto_fail == "zero"
    t = Transcript(id="c", channel="call", turns=[
        {"speaker": "agent", "text": "Buenos días, le atiende Laura, mi nombre es Laura." if name == "default-es"
         else "Good morning, my name is Laura, how can I help?"},
        {"speaker": "customer", "text": "Hola." if name == "default-es" else "Hi."},
        {"speaker": "agent", "text": card}])
    zero = RubricScorer(rubric).score(t)
    keep = RubricScorer(rubric.model_copy(update={"on_auto_fail": "keep"})).score(t)
    assert zero.auto_fail and keep.auto_fail
    assert zero.total == 0.0 and keep.total > 0.0
    assert [c.result for c in zero.criteria] == [c.result for c in keep.criteria]


def _data(settings, value) -> dict:
    data = yaml.safe_load((settings.rubrics_dir / "default-en.yaml").read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["on_auto_fail"] = value
    return data


@pytest.mark.parametrize("value", ["half", "ZERO", "", 0, None, ["zero"]])
def test_other_values_are_refused_in_one_line_naming_the_field(settings, value):
    with pytest.raises(InvalidInputError) as exc:
        parse_rubric(_data(settings, value), "mine.yaml")
    msg = str(exc.value)
    assert msg.startswith("mine.yaml: on_auto_fail: must be 'zero' or 'keep'"), msg
    assert "\n" not in msg and exc.value.field == "rubric"


def test_keep_is_accepted_and_shown_by_rubric_validate(settings, tmp_path):
    assert parse_rubric(_data(settings, "keep")).on_auto_fail == "keep"
    runner = CliRunner()
    res = runner.invoke(app, ["rubric", "validate", "default-es"])
    assert res.exit_code == 0 and "on_auto_fail: zero" in res.stdout
    f = tmp_path / "keep.yaml"
    f.write_text(yaml.safe_dump(_data(settings, "keep"), allow_unicode=True), encoding="utf-8")
    res = runner.invoke(app, ["rubric", "validate", str(f)])
    assert res.exit_code == 0 and "on_auto_fail: keep" in res.stdout
    f.write_text(yaml.safe_dump(_data(settings, "sometimes"), allow_unicode=True), encoding="utf-8")
    res = runner.invoke(app, ["rubric", "validate", str(f)])
    assert res.exit_code == 2
    assert res.stderr.strip() == f"error: {f}: on_auto_fail: must be 'zero' or 'keep', not 'sometimes'"
