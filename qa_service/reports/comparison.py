"""The model comparison page and its Markdown twin: a candidate against the version it would replace, on the fixed
gate sets, per language, with paired bootstrap intervals and the gate's decision.

One self-contained HTML page (Plotly's JavaScript inline, no CDN, like the feedback report): the gate table, per-class
F1 (sentiment) or per-criterion kappa (rubric calibrations), confusion matrices and calibration curves. The charts
are Plotly figure specifications built here from the comparison (a dict, see ``usecases/models.compare``).
"""

from __future__ import annotations

import html
import re
from importlib import resources
from typing import Any

from qa_service.reports.feedback import REPORT_HEADERS, inline_json, plotly_js

__all__ = ["REPORT_HEADERS", "comparison_markdown", "render_comparison"]

A_COLOUR, B_COLOUR = "#9fb3c8", "#2f80ed"


def comparison_markdown(c: dict[str, Any]) -> str:
    """The comparison as Markdown: the gate's decision, then one table row per group and metric."""
    a, b = c["against"], c["candidate"]
    verdict = "**passes**" if c["gate"]["decision"] == "pass" else "**fails**"
    sets = ", ".join(f"{g['name']} ({g['language'] or '-'}, n={g['n']})" for g in c["gate_sets"])
    lines = [f"# {c['task']}: candidate {b} vs {a}", "",
             f"Gate sets: {sets}. "
             f"Tolerance {c['tolerance']} on every gate metric ({', '.join(c['gate']['metrics'])}); "
             f"{c['bootstrap_samples']} paired bootstrap resamples, 95% intervals. The candidate {verdict} the gate.",
             ""]
    for f in c["gate"]["failures"]:
        lines.append(f"- worse beyond tolerance: {f['group']} {f['metric']} {f['a']:.3f} -> {f['b']:.3f} "
                     f"({f['diff']:+.3f})")
    if c["gate"]["failures"]:
        lines.append("")
    lines += ["| group | n | metric | " + a + " | " + b + " | difference | 95% interval | gate |",
              "|---|---|---|---|---|---|---|---|"]
    for name, g in c["groups"].items():
        for metric, d in g["diff"].items():
            gated = (name, metric) in {(x["group"], x["metric"]) for x in c["gate"]["checks"]}
            failed = (name, metric) in {(x["group"], x["metric"]) for x in c["gate"]["failures"]}
            lines.append(f"| {name} | {g['n']} | {metric} | {g['a'][metric]:.3f} | {g['b'][metric]:.3f} | "
                         f"{d['value']:+.3f} | [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}] | "
                         f"{('fail' if failed else 'pass') if gated else '-'} |")
    lines.append("")
    if c["kind"] == "sentiment":
        lines += ["Per-class F1:", "", "| group | class | " + a + " | " + b + " |", "|---|---|---|---|"]
        for name, g in c["groups"].items():
            for cls in g["a"]["per_class"]:
                lines.append(f"| {name} | {cls} | {g['a']['per_class'][cls]['f1']:.3f} | "
                             f"{g['b']['per_class'][cls]['f1']:.3f} |")
    else:
        lines += ["Per-criterion kappa:", "", "| group | criterion | n | " + a + " | " + b + " |",
                  "|---|---|---|---|---|"]
        for name, g in c["groups"].items():
            for crit, v in g["a"]["criteria"].items():
                lines.append(f"| {name} | {crit} | {v['n']} | {v['kappa']:.3f} | "
                             f"{g['b']['criteria'][crit]['kappa']:.3f} |")
    lines += ["", f"Created {c['created']} by `{c.get('command', 'qa-service models compare')}`."]
    return "\n".join(lines) + "\n"


def _bars(g: dict[str, Any], a: str, b: str, kind: str) -> dict[str, Any]:
    if kind == "sentiment":
        cats = list(g["a"]["per_class"])
        ya = [g["a"]["per_class"][k]["f1"] for k in cats]
        yb = [g["b"]["per_class"][k]["f1"] for k in cats]
        title = "F1 per class"
    else:
        cats = list(g["a"]["criteria"])
        ya = [g["a"]["criteria"][k]["kappa"] for k in cats]
        yb = [g["b"]["criteria"][k]["kappa"] for k in cats]
        title = "Cohen's kappa per criterion"
    return {"data": [{"type": "bar", "name": a, "x": cats, "y": ya, "marker": {"color": A_COLOUR}},
                     {"type": "bar", "name": b, "x": cats, "y": yb, "marker": {"color": B_COLOUR}}],
            "layout": {"title": {"text": title}, "barmode": "group", "yaxis": {"range": [min(0, *ya, *yb), 1]},
                       "margin": {"t": 40, "b": 90}, "height": 360, "legend": {"orientation": "h", "y": -0.25}}}


def _confusion(summary: dict[str, Any], name: str) -> dict[str, Any]:
    labels = summary["confusion"]["labels"]
    m = summary["confusion"]["matrix"]
    return {"data": [{"type": "heatmap", "z": m, "x": labels, "y": labels, "showscale": False,
                      "colorscale": [[0, "#f0f4f8"], [1, "#2f80ed"]],
                      "text": m, "texttemplate": "%{text}", "hovertemplate": "gold %{y}, predicted %{x}: %{z}"}],
            "layout": {"title": {"text": f"{name}: confusion (rows gold)"}, "yaxis": {"autorange": "reversed"},
                       "xaxis": {"title": {"text": "predicted"}}, "margin": {"t": 40}, "height": 300}}


def _reliability(g: dict[str, Any], a: str, b: str) -> dict[str, Any]:
    def trace(s: dict[str, Any], name: str, colour: str) -> dict[str, Any]:
        pts = s.get("reliability", [])
        return {"type": "scatter", "mode": "lines+markers", "name": f"{name} (ECE {s.get('ece', 0):.3f})",
                "x": [p["confidence"] for p in pts], "y": [p["accuracy"] for p in pts],
                "text": [f"n={p['n']}" for p in pts], "line": {"color": colour}}

    return {"data": [{"type": "scatter", "mode": "lines", "name": "perfect", "x": [0, 1], "y": [0, 1],
                      "line": {"dash": "dot", "color": "#bcccdc"}},
                     trace(g["a"], a, A_COLOUR), trace(g["b"], b, B_COLOUR)],
            "layout": {"title": {"text": "Calibration: confidence vs accuracy"}, "height": 360,
                       "xaxis": {"range": [0, 1], "title": {"text": "confidence"}},
                       "yaxis": {"range": [0, 1.02], "title": {"text": "accuracy"}}, "margin": {"t": 40, "b": 110},
                       "legend": {"orientation": "h", "y": -0.3}}}


def _diffs(c: dict[str, Any]) -> dict[str, Any]:
    names, values, lo, hi, colours = [], [], [], [], []
    failed = {(x["group"], x["metric"]) for x in c["gate"]["failures"]}
    for gname, g in c["groups"].items():
        for metric, d in g["diff"].items():
            names.append(f"{gname} · {metric}")
            values.append(d["value"])
            lo.append(d["value"] - d["ci"][0])
            hi.append(d["ci"][1] - d["value"])
            colours.append("#d64545" if (gname, metric) in failed else B_COLOUR)
    return {"data": [{"type": "scatter", "mode": "markers", "x": values, "y": names, "marker": {"color": colours,
                                                                                           "size": 10},
                      "error_x": {"type": "data", "symmetric": False, "array": hi, "arrayminus": lo}}],
            "layout": {"title": {"text": "Candidate minus current, 95% paired bootstrap interval"},
                       "height": 120 + 28 * len(names), "margin": {"l": 180, "t": 40},
                       "shapes": [{"type": "line", "x0": -c["tolerance"], "x1": -c["tolerance"], "yref": "paper",
                                   "y0": 0, "y1": 1, "line": {"dash": "dash", "color": "#d64545"}},
                                  {"type": "line", "x0": 0, "x1": 0, "yref": "paper", "y0": 0, "y1": 1,
                                   "line": {"color": "#829ab1"}}]}}


def render_comparison(c: dict[str, Any]) -> str:
    """The comparison page as an HTML string."""
    a, b = c["against"], c["candidate"]
    charts: list[dict[str, Any]] = [{"id": "chart-diff", "section": "Gate metrics", "spec": _diffs(c)}]
    for gname, g in c["groups"].items():
        charts.append({"id": f"chart-{len(charts)}", "section": gname, "spec": _bars(g, a, b, c["kind"])})
        charts.append({"id": f"chart-{len(charts)}", "section": gname, "spec": _confusion(g["a"], a)})
        charts.append({"id": f"chart-{len(charts)}", "section": gname, "spec": _confusion(g["b"], b)})
        charts.append({"id": f"chart-{len(charts)}", "section": gname, "spec": _reliability(g, a, b)})
    table = [{"group": gname, "n": g["n"], "metric": metric, "a": g["a"][metric], "b": g["b"][metric],
              "diff": d["value"], "ci": d["ci"],
              "gate": ("fail" if (gname, metric) in {(x["group"], x["metric"]) for x in c["gate"]["failures"]}
                       else "pass") if (gname, metric) in {(x["group"], x["metric"]) for x in c["gate"]["checks"]}
              else "-"}
             for gname, g in c["groups"].items() for metric, d in g["diff"].items()]
    payload = {"task": c["task"], "candidate": b, "against": a, "decision": c["gate"]["decision"],
               "tolerance": c["tolerance"], "created": c["created"], "gate_sets": c["gate_sets"], "table": table,
               "charts": charts, "samples": c["bootstrap_samples"]}
    title = f"{c['task']}: {b} vs {a}"
    parts = {"__TITLE__": html.escape(title), "__DATA__": inline_json(payload),
             "<script>__PLOTLY__</script>": "<script>" + plotly_js().replace("</script", "<\\/script") + "</script>"}
    template = resources.files("qa_service.reports").joinpath("templates/comparison.html").read_text(encoding="utf-8")
    return re.sub("|".join(re.escape(k) for k in parts), lambda m: parts[m.group(0)], template)
