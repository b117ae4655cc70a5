"""The feedback report: page structure on constructed data, and a real headless Chromium rendering every chart at a
desktop width (1,400 px) and a phone width (390 px), with a check that no axis title, tick label or legend falls
outside its chart, and screenshots of both widths in .artifacts/."""

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

CHARTS = ("chart-share", "chart-changes", "chart-sentiment", "chart-complaints", "chart-drivers")


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


# Injected into a copy of the page: once the charts are drawn, every axis title, tick label and legend of every chart
# must lie inside that chart's drawing (Plotly clips what falls outside its svg), the drawing inside its box, no
# mode bar, and nothing wider than the window. The result goes to the parent page (the page runs in an iframe of
# the width under test: headless Chromium's window is at least 500 px wide, a phone is 390).
LAYOUT_CHECK = """<script>
(function () {
  function box(el) { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }
  function inSvg(el) {  // the element's full extent in its svg's coordinates (the browser's own boxes are clipped)
    const b = el.getBBox(), m = el.getCTM();
    const xs = [], ys = [];
    for (const [x, y] of [[b.x, b.y], [b.x + b.width, b.y], [b.x, b.y + b.height], [b.x + b.width, b.y + b.height]]) {
      xs.push(m.a * x + m.c * y + m.e); ys.push(m.b * x + m.d * y + m.f);
    }
    return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  }
  function check() {
    if (document.body.getAttribute("data-report-ready") !== "1") { setTimeout(check, 100); return; }
    const out = {width: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth,
                 checked: 0, titles: 0, problems: [], modebars: document.querySelectorAll(".modebar").length};
    document.querySelectorAll(".chart").forEach(chart => {
      const svg = chart.querySelector("svg.main-svg");
      if (!svg) return;
      const w = svg.width.baseVal.value, h = svg.height.baseVal.value, b = box(svg), c = box(chart);
      if (b[0] < c[0] - 1 || b[2] > c[2] + 1) out.problems.push({chart: chart.id, what: "drawing wider than its box"});
      chart.querySelectorAll(".xtitle, .ytitle, .y2title, .legend, .xtick text, .ytick text, .y2tick text").forEach(t => {
        const r = inSvg(t);
        if (r[2] - r[0] <= 0 && r[3] - r[1] <= 0) return;
        out.checked++;
        if (/title/.test(t.getAttribute("class") || "") && t.textContent.trim()) out.titles++;
        if (r[0] < -1 || r[1] < -1 || r[2] > w + 1 || r[3] > h + 1)
          out.problems.push({chart: chart.id, what: t.getAttribute("class") || t.parentNode.getAttribute("class"),
                             text: t.textContent.slice(0, 40), box: r, svg: [w, h]});
      });
    });
    parent.postMessage({layoutCheck: out}, "*");
  }
  window.addEventListener("load", () => setTimeout(check, 300));
})();
</script>"""

FRAME = """<!DOCTYPE html><html><body style="margin:0;background:#d9e2ec">
<iframe src="{src}" style="width:{width}px;height:{height}px;border:0;display:block;background:#fff"></iframe>
<pre id="layout-check"></pre>
<script>window.addEventListener("message", e => {{ if (e.data && e.data.layoutCheck)
  document.getElementById("layout-check").textContent = JSON.stringify(e.data.layoutCheck); }});</script>
</body></html>"""


def _layout(browser: str, page: Path, width: int, shot: Path | None = None, height: int = 5200) -> dict:
    """Open ``page`` at ``width`` CSS pixels with the layout check; screenshot it when ``shot`` is given."""
    checked = page.with_name(page.stem + "-checked.html")
    checked.write_text(page.read_text(encoding="utf-8").replace("</body>", LAYOUT_CHECK + "</body>"), encoding="utf-8")
    frame = page.with_name(f"{page.stem}-{width}.html")
    frame.write_text(FRAME.format(src=checked.name, width=width, height=height), encoding="utf-8")
    window = f"--window-size={max(width, 500)},{height}"
    dom = _open(browser, frame.as_uri(), window, "--dump-dom").stdout
    m = re.search(r'<pre id="layout-check">(.*?)</pre>', dom, re.S)
    assert m and m.group(1).strip(), f"the layout check did not report at {width}px"
    if shot is not None:
        shot.unlink(missing_ok=True)
        _open(browser, frame.as_uri(), window, f"--screenshot={shot}")
        assert shot.exists() and shot.stat().st_size > 30_000 and shot.read_bytes()[:4] == b"\x89PNG"
    import html as _html

    return json.loads(_html.unescape(m.group(1)))


def _browser() -> str:
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed")
    return browser


@needs_shared_data()
def test_report_renders_every_chart_in_headless_chromium_with_nothing_clipped(tmp_path, settings):
    browser = _browser()
    from qa_service.runtime import get_runtime
    from qa_service.schemas import Comment
    from qa_service.usecases.feedback import analyse_comments

    comments = [Comment(**{**r, "created_at": datetime.fromisoformat(r["created_at"])}) for r in hotel_comments(600)]
    rt = get_runtime(settings)  # the topic fit's own sentiment model, as fit_topics runs it
    analysis = analyse_comments(comments, rt.new_topic_model(), rt.topic_sentiment(), freq="month")
    report = analysis.write(tmp_path)["report"]
    dom = _open(browser, report.as_uri(), "--window-size=1400,3000", "--dump-dom").stdout
    assert 'data-report-ready="1"' in dom, "the page's script did not finish"
    for chart in CHARTS:
        tag = re.search(rf'<div[^>]*\bid="{chart}"[^>]*>', dom)
        assert tag, f"{chart} missing"
        assert 'data-rendered="1"' in tag.group(0), f"{chart} did not render a chart: {tag.group(0)}"
    assert dom.count('class="main-svg"') >= 2 * len(CHARTS)  # Plotly draws two svg layers per chart
    assert "<blockquote>" in dom  # quotes reached the page
    assert dom.count('class="read"') >= len(CHARTS)  # every chart says how to read it
    shots = Path(os.environ.get("QA_TEST_ARTIFACTS", REPO_ROOT / ".artifacts"))
    shots.mkdir(parents=True, exist_ok=True)
    for width, name in ((1400, "feedback-report-1400.png"), (390, "feedback-report-phone-390.png")):
        res = _layout(browser, report, width, shots / name)
        assert res["width"] == width and res["scroll"] <= width, res  # nothing wider than the window
        assert res["modebars"] == 0  # no toolbar over the bars
        assert res["titles"] >= 7 and res["checked"] > 50, res  # x titles of 5 charts, y and y2 of the first
        assert not res["problems"], f"clipped at {width}px: {res['problems'][:5]}"


def test_the_layout_check_fails_when_an_axis_title_is_clipped(tmp_path):
    """The check is not vacuous: a long axis title on a narrow chart (what the drivers chart did at a phone's width
    before its titles got a short form) runs past the drawing's edge, and is reported."""
    browser = _browser()
    page = render_feedback_report(_rows(), [ReportTopic(0, "cobro", ["cobro"]), ReportTopic(1, "envío", ["envío"]),
                                            ReportTopic(2, "app", ["app"])], freq="week")
    section = '<section class="wide"><div class="chart" id="chart-bad" style="width: 320px"></div></section>'
    script = """<script>Plotly.newPlot("chart-bad", [{type: "bar", orientation: "h", y: ["una categoría larga"], x: [3]}],
  {margin: {l: 10, r: 5, t: 5, b: 40}, yaxis: {automargin: true},
   xaxis: {title: {text: "diferencia de puntuación media frente al resto"}}}, {displayModeBar: false});
</script>"""
    f = tmp_path / "report.html"
    f.write_text(page.replace("</main>", section + "</main>").replace("</body>", script + "</body>"), encoding="utf-8")
    res = _layout(browser, f, 1400)
    assert {p["chart"] for p in res["problems"]} == {"chart-bad"}, res["problems"]
    assert any("xtitle" in (p["what"] or "") for p in res["problems"]), res["problems"]


HOSTILE = "<!--<script>"


def _hostile_page() -> str:
    rows = _rows()
    for r in rows[:30]:
        r.team = f"ventas {HOSTILE}"
    quote = f"No me funciona {HOSTILE} nada & nadie responde </script>"
    return render_feedback_report(rows, [ReportTopic(0, f"cobro {HOSTILE}", ["cobro", HOSTILE], [quote]),
                                         ReportTopic(1, "envío", ["envío"]), ReportTopic(2, "app", ["app"])],
                                  [ReportComplaint(0, "cobro doble", ["cobro"], [quote])], freq="week",
                                  min_period_count=5)  # 60 comments in a month: weeks of ~15 are enough here


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
