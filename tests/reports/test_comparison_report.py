"""The model comparison page: self-contained, the data inlined safely, and every chart rendered by a real headless
Chromium (screenshot in .artifacts/model-comparison.png)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from qa_service.config import REPO_ROOT
from qa_service.pipelines.evaluation import classification_summary, paired_bootstrap, macro_f1
from qa_service.reports.comparison import comparison_markdown, render_comparison
from tests.reports.test_feedback_report import _chromium, _open

LABELS = ["negative", "neutral", "positive"]


def _comparison() -> dict:
    """A comparison of two classifiers on two gate sets, from their predictions (the shape models.compare writes)."""
    rng = np.random.default_rng(0)
    groups, checks, failures = {}, [], []
    for lang, n in (("es", 90), ("en", 60)):
        y = rng.integers(0, 3, n)
        pa = rng.dirichlet([1, 1, 1], n)
        pb = pa.copy()
        pb[np.arange(n), y] += 0.8  # the candidate is better
        pb /= pb.sum(1, keepdims=True)
        a, b = pa.argmax(1), pb.argmax(1)
        diff = {}
        for m, fn in (("macro_f1", macro_f1), ("accuracy", lambda y_, p_, k: float(np.mean(y_ == p_)))):
            lo, hi = paired_bootstrap(lambda i, fn=fn: fn(y[i], b[i], 3) - fn(y[i], a[i], 3), n, 200)
            diff[m] = {"value": fn(y, b, 3) - fn(y, a, 3), "ci": [lo, hi]}
        sa, sb = classification_summary(pa, y, LABELS), classification_summary(pb, y, LABELS)
        groups[lang] = {"n": n, "sets": [f"gate-{lang}"], "a": sa, "b": sb, "diff": diff}
        for m in diff:
            checks.append({"group": lang, "metric": m, "a": sa[m], "b": sb[m], "diff": diff[m]["value"],
                           "ci": diff[m]["ci"]})
    return {"task": "sentiment", "kind": "sentiment", "candidate": "20261202-101500-3fa2c1", "against": "1.0.0",
            "tolerance": 0.01, "bootstrap_samples": 200, "created": "2026-12-02T10:15:00+00:00",
            "gate_sets": [{"name": "gate-es </script><!--", "language": "es", "sha256": "sha256:0", "n": 90},
                          {"name": "gate-en", "language": "en", "sha256": "sha256:1", "n": 60}],
            "groups": groups, "gate": {"metrics": ["macro_f1", "accuracy"], "decision": "pass", "checks": checks,
                                       "failures": failures}, "report_id": "compare-x"}


def test_page_and_markdown_carry_the_gate_table():
    c = _comparison()
    page = render_comparison(c)
    assert not re.search(r'<script[^>]+src=|<link[^>]+href="https?:', page)
    assert page.count("</script>") == 3  # a gate set's name cannot close the data block
    data = json.loads(re.search(r'<script id="report-data" type="application/json">(.*?)</script>', page,
                                re.S).group(1))
    assert data["decision"] == "pass" and len(data["table"]) == 4 and data["gate_sets"][0]["name"].endswith("<!--")
    assert len(data["charts"]) == 1 + 4 * 2  # the differences, then per group: F1, two confusions, calibration
    md = comparison_markdown(c)
    assert "**passes**" in md and "| es | 90 | macro_f1 |" in md and "| en | negative |" in md


def test_every_chart_renders_in_headless_chromium(tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed")
    page = tmp_path / "report.html"
    page.write_text(render_comparison(_comparison()), encoding="utf-8")
    dom = _open(browser, page.as_uri(), "--dump-dom").stdout
    assert 'data-report-ready="1"' in dom, "the page's script did not finish"
    ids = re.findall(r'<div[^>]*\bid="(chart-[^"]+)"', dom)
    assert len(ids) == 9
    for chart in ids:
        tag = re.search(rf'<div[^>]*\bid="{chart}"[^>]*>', dom).group(0)
        assert 'data-rendered="1"' in tag, tag
    assert dom.count('class="main-svg"') >= 2 * len(ids)
    shots = Path(os.environ.get("QA_TEST_ARTIFACTS", REPO_ROOT / ".artifacts"))
    shots.mkdir(parents=True, exist_ok=True)
    png = shots / "model-comparison.png"
    png.unlink(missing_ok=True)
    _open(browser, page.as_uri(), "--window-size=1400,2600", f"--screenshot={png}")
    assert png.exists() and png.stat().st_size > 50_000 and png.read_bytes()[:4] == b"\x89PNG"
