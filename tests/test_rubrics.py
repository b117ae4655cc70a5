"""Rubric format: the shipped scorecards validate; every kind of mistake is reported with its path."""

from __future__ import annotations

import copy

import pytest
import yaml
from typer.testing import CliRunner

from qa_service.cli import app
from qa_service.errors import InvalidInputError
from qa_service.io.rubrics import list_rubrics, load_rubric, parse_rubric

EXPECTED_ES = {"saludo", "aviso_grabacion", "verificacion_identidad", "escucha_activa", "empatia", "espera",
               "escalado", "resolucion_proximos_pasos", "cierre", "tono_profesional", "sin_datos_sensibles"}


def test_shipped_rubrics_validate_and_mirror_each_other(settings):
    rubrics = {r.id: r for r in list_rubrics(settings.rubrics_dir)}
    assert set(rubrics) == {"default-es", "default-en"}
    es, en = rubrics["default-es"], rubrics["default-en"]
    assert es.language == "es" and en.language == "en"
    assert {c.id for s in es.sections for c in s.criteria} == EXPECTED_ES
    assert len([c for s in en.sections for c in s.criteria]) == len(EXPECTED_ES)
    for r in (es, en):
        crit = [c for s in r.sections for c in s.criteria if c.critical]
        assert len(crit) == 1 and crit[0].detectors[0].type == "pii"
        empathy = next(c for s in r.sections for c in s.criteria if c.id in ("empatia", "empathy"))
        assert empathy.na_when == ["customer_never_negative"]


def _base(settings) -> dict:
    return yaml.safe_load((settings.rubrics_dir / "default-es.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("mutate,expected", [
    (lambda d: d["sections"][2]["criteria"][0].__setitem__("weight", 0), "sections[2].criteria[0].weight: must be > 0"),
    (lambda d: d["sections"][0].__setitem__("weight", -1), "sections[0].weight: must be > 0"),
    (lambda d: d.pop("version"), "version: is required"),
    (lambda d: d.__setitem__("language", "fr"), "language:"),
    (lambda d: d["sections"][1]["criteria"][0].__setitem__("detectors", []),
     "sections[1].criteria[0].detectors: must not be empty"),
    (lambda d: d["sections"][1]["criteria"][0].__setitem__("detectors", [{"type": "telepathy"}]),
     "sections[1].criteria[0].detectors[0].type:"),
    (lambda d: d["sections"][1]["criteria"][0]["detectors"][0]["cues"].__setitem__("paraphrase", ["(oops"]),
     "sections[1].criteria[0].detectors[0].cues.paraphrase[0]: not a valid regular expression"),
    (lambda d: d["sections"][1]["criteria"][0]["detectors"][1].pop("model"),
     "sections[1].criteria[0].detectors[1]: a learned detector needs model"),
    (lambda d: d["sections"][0]["criteria"][1]["detectors"][0].__setitem__("patterns", ["(oops"]),
     "sections[0].criteria[1].detectors[0].patterns[0]: not a valid regular expression"),
    (lambda d: d["sections"][0]["criteria"][0].__setitem__("scope", {"speaker": "agent", "position": "first"}),
     "sections[0].criteria[0].scope: n is required"),
    (lambda d: d["sections"][1]["criteria"][1].__setitem__("na_when", ["full_moon"]),
     "sections[1].criteria[1].na_when[0]:"),
    (lambda d: (d["sections"][1]["criteria"][0].__setitem__("examples", {}),
                d["sections"][1]["criteria"][0]["detectors"].append({"type": "semantic"})),
     "sections[1].criteria[0]: a semantic detector needs pass or fail example phrases"),
    (lambda d: d["sections"][0]["criteria"][0].__setitem__("colour", "red"), "sections[0].criteria[0].colour: unknown field"),
    (lambda d: d["sections"][1]["criteria"][0].__setitem__("id", "saludo"), "criterion id 'saludo' is used twice"),
])
def test_validation_errors_name_the_path(settings, mutate, expected):
    data = copy.deepcopy(_base(settings))
    mutate(data)
    with pytest.raises(InvalidInputError) as exc:
        parse_rubric(data)
    assert expected in str(exc.value)


def test_unknown_name_lists_available_and_bad_yaml(tmp_path, settings):
    with pytest.raises(InvalidInputError, match="available: default-en, default-es"):
        load_rubric("nope", settings.rubrics_dir)
    f = tmp_path / "r.yaml"
    f.write_text("id: x\n  version: [\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="not valid YAML at line"):
        load_rubric(f, settings.rubrics_dir)
    f.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="must be a mapping"):
        load_rubric(f, settings.rubrics_dir)


def test_cli_rubric_validate_and_list(tmp_path, settings):
    runner = CliRunner()
    res = runner.invoke(app, ["rubric", "validate", "default-en"])
    assert res.exit_code == 0 and "ok: default-en 1.3.0 (en): 5 sections, 11 criteria" in res.stdout
    data = _base(settings)
    data["sections"][2]["criteria"][0]["weight"] = 0
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    res = runner.invoke(app, ["rubric", "validate", str(f)])
    assert res.exit_code == 2
    assert "sections[2].criteria[0].weight: must be > 0" in res.stderr
    res = runner.invoke(app, ["rubric", "list"])
    assert res.exit_code == 0 and "default-es" in res.stdout and "default-en" in res.stdout


def _with_patterns(settings, patterns: list[str]) -> dict:
    data = copy.deepcopy(_base(settings))
    data["sections"][0]["criteria"][1]["detectors"] = [{"type": "pattern", "patterns": patterns}]
    return data


def test_pattern_count_and_length_limits_name_the_pattern(settings):
    with pytest.raises(InvalidInputError) as exc:
        parse_rubric(_with_patterns(settings, ["ok", "x" * 501]))
    assert "sections[0].criteria[1].detectors[0].patterns[1]: longer than 500 characters (QA_MAX_PATTERN_CHARS)" \
        in str(exc.value)
    with pytest.raises(InvalidInputError) as exc:
        parse_rubric(_with_patterns(settings, ["ok"] * 3), max_patterns=2)
    assert "patterns[2]: more than 2 patterns in one rubric (QA_MAX_RUBRIC_PATTERNS)" in str(exc.value)
    parse_rubric(_with_patterns(settings, ["ok"] * 3), max_patterns=500, max_pattern_chars=200)


def test_sixty_thousand_patterns_are_refused_before_compiling(settings):
    import time

    data = _with_patterns(settings, [f"(p{i})+x" for i in range(60_000)])
    t0 = time.perf_counter()
    with pytest.raises(InvalidInputError, match=r"patterns\[\d+\]: more than 500 patterns"):
        parse_rubric(data)
    assert time.perf_counter() - t0 < 0.5


@pytest.mark.parametrize("name", ["README.md", "pyproject.toml", "models", "rubrics", "../models/rubrics/default-es",
                                  "default-es.yaml", "/etc/passwd", ".importlinter", "default-es.calibration", ""])
def test_a_rubric_name_is_looked_up_in_the_registry_never_opened(settings, name):
    from qa_service.io.rubrics import rubric_names

    assert rubric_names(settings.rubrics_dir) == ["default-en", "default-es"]
    with pytest.raises(InvalidInputError) as exc:
        load_rubric(name, settings.rubrics_dir)
    msg = str(exc.value)
    assert "not found" in msg and "available: default-en, default-es" in msg
    assert "qa-service" not in msg and "unknown field" not in msg and "YAML" not in msg


def test_a_rubric_path_is_only_the_command_lines_and_fails_in_one_line(tmp_path, settings):
    from pathlib import Path

    from qa_service.io.rubrics import rubric_ref

    assert rubric_ref("default-es", settings.rubrics_dir) == "default-es"
    assert rubric_ref("my.yaml", settings.rubrics_dir) == Path("my.yaml")
    with pytest.raises(InvalidInputError, match="is a directory"):
        load_rubric(tmp_path, settings.rubrics_dir)
    runner = CliRunner()
    for bad, why in ((str(tmp_path), "is a directory"), (str(tmp_path / "nope.yaml"), "not found")):
        for args in (["rubric", "validate", bad], ["score", "eval/transcripts/labelled.jsonl", "--rubric", bad]):
            res = runner.invoke(app, args)
            assert res.exit_code != 0 and not isinstance(res.exception, (IsADirectoryError, OSError)), res.output
            assert why in res.stderr and "Traceback" not in res.output
            assert len(res.stderr.strip().splitlines()) == 1, res.stderr
