"""The feedback report: page structure on constructed data, and a real headless Chromium rendering every chart."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from qa_service.config import REPO_ROOT
from qa_service.reports.feedback import ReportComplaint, ReportRow, ReportTopic, render_feedback_report
from tests.conftest import hotel_comments, needs_shared_data

CHARTS = ("chart-share", "chart-emerging", "chart-complaints", "chart-drivers")


def _data(page: str) -> dict:
    m = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', page, re.S)
    assert m, "report data block missing"
    return json.loads(m.group(1))


def _rows() -> list[ReportRow]:
    rows = []
    for i in range(60):
        rows.append(ReportRow(source=f"c{i}", topic=i % 3 if i % 10 else -1, created_at=datetime(2026, 10, 1 + i % 28),
                              channel=("chat", "email")[i % 2], team="facturacion" if i < 30 else None,
                              score=float(1 + i % 5), complaint=0 if i % 3 == 0 else None, negative=i % 3 == 0))
    return rows


def test_page_is_self_contained_and_carries_the_data():
    quote = 'Me cobraron dos veces </script><script>alert(1)</script> & "nadie" responde'
    page = render_feedback_report(_rows(), [ReportTopic(0, "cobro · factura", ["cobro", "factura"], [quote]),
                                            ReportTopic(1, "envío", ["envío"]), ReportTopic(2, "app", ["app"])],
                                  [ReportComplaint(0, "cobro doble", ["cobro"], [quote])],
                                  title="Informe <octubre>", freq="week")
    # No CDN, no external script or stylesheet: works offline.
    assert not re.search(r'<script[^>]+src=|<link[^>]+href="https?:', page)
    assert "Plotly" in page and len(page) > 3_000_000  # plotly.min.js inline
    assert "Informe &lt;octubre&gt;" in page
    data = _data(page)
    assert data["channels"] == ["chat", "email"] and data["teams"] == ["facturacion"]
    assert len(data["docs"]["topic"]) == 60 and data["docs"]["topic"][0] == -1
    assert data["docs"]["team"][45] is None and data["docs"]["date"][0] == "2026-10-01"
    assert data["has_scores"] and data["topics"][0]["quotes"] == [quote]  # the quote survives, escaped in HTML
    assert page.count("</script>") == 3  # the quote's </script> cannot close the data block


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _open(browser: str, url: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--disable-background-networking", "--no-first-run", "--disable-extensions",
                           "--hide-scrollbars", "--virtual-time-budget=15000", *extra, url],
                          capture_output=True, text=True, timeout=120)


@needs_shared_data()
def test_report_renders_every_chart_in_headless_chromium(tmp_path, sentiment, settings):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed")
    from qa_service.runtime import get_runtime
    from qa_service.schemas import Comment
    from qa_service.usecases.feedback import analyse_comments

    comments = [Comment(**{**r, "created_at": datetime.fromisoformat(r["created_at"])}) for r in hotel_comments(600)]
    analysis = analyse_comments(comments, get_runtime(settings).new_topic_model(), sentiment, freq="month")
    report = analysis.write(tmp_path)["report"]
    dom = _open(browser, report.as_uri(), "--dump-dom").stdout
    assert 'data-report-ready="1"' in dom, "the page's script did not finish"
    for chart in CHARTS:
        tag = re.search(rf'<div[^>]*\bid="{chart}"[^>]*>', dom)
        assert tag, f"{chart} missing"
        assert 'data-rendered="1"' in tag.group(0), f"{chart} did not render a chart: {tag.group(0)}"
    assert dom.count('class="main-svg"') >= 2 * len(CHARTS)  # Plotly draws two svg layers per chart
    assert "<blockquote>" in dom  # quotes reached the page
    shots = Path(os.environ.get("QA_TEST_ARTIFACTS", REPO_ROOT / ".artifacts"))
    shots.mkdir(parents=True, exist_ok=True)
    png = shots / "feedback-report.png"
    png.unlink(missing_ok=True)
    _open(browser, report.as_uri(), "--window-size=1400,2600", f"--screenshot={png}")
    assert png.exists() and png.stat().st_size > 50_000 and png.read_bytes()[:4] == b"\x89PNG"


HOSTILE = "<!--<script>"


def _hostile_page() -> str:
    rows = _rows()
    for r in rows[:30]:
        r.team = f"ventas {HOSTILE}"
    quote = f"No me funciona {HOSTILE} nada & nadie responde </script>"
    return render_feedback_report(rows, [ReportTopic(0, f"cobro {HOSTILE}", ["cobro", HOSTILE], [quote]),
                                         ReportTopic(1, "envío", ["envío"]), ReportTopic(2, "app", ["app"])],
                                  [ReportComplaint(0, "cobro doble", ["cobro"], [quote])], freq="week")


def test_inline_data_carries_no_raw_markup_characters():
    page = _hostile_page()
    m = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', page, re.S)
    assert m and not set("<>&") & set(m.group(1)), "raw <, > or & in the inline data"
    data = json.loads(m.group(1))
    assert data["teams"] == [f"ventas {HOSTILE}"] and HOSTILE in data["topics"][0]["quotes"][0]
    assert page.count("<script") == 3 and page.count("</script>") == 3
    assert HOSTILE not in page


def test_hostile_comment_and_team_still_render_every_chart_under_the_served_csp(tmp_path):
    """``<!--<script>`` in a comment or team name swallowed the page's main script (no charts) when only ``</``
    was escaped. The page is opened with the Content-Security-Policy the API serves it with (as a meta tag: a
    file has no headers), so the policy is shown not to block the page's own inline script, style or Plotly."""
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed")
    from qa_service.reports.feedback import REPORT_HEADERS

    csp = REPORT_HEADERS["Content-Security-Policy"].replace("; frame-ancestors 'none'", "")  # not allowed in meta
    page = _hostile_page().replace("<head>", f'<head><meta http-equiv="Content-Security-Policy" content="{csp}">', 1)
    assert 'http-equiv="Content-Security-Policy"' in page
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    res = _open(browser, report.as_uri(), "--dump-dom")
    dom = res.stdout
    assert 'data-report-ready="1"' in dom, "the page's script did not finish"
    for chart in CHARTS:
        tag = re.search(rf'<div[^>]*\bid="{chart}"[^>]*>', dom)
        assert tag and 'data-rendered="1"' in tag.group(0), f"{chart} did not render a chart"
    assert "Content Security Policy" not in res.stderr, res.stderr[-2000:]
