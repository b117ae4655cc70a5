"""The sensitive-data evaluation (eval/sensitive.py): the request reference it derives from the labels, its
statistics, and a run on a few real rows of the blind evaluation set."""

from __future__ import annotations

from eval.sensitive import criterion_agreement, detector_measures, kappa, load, request_turns, wilson


def _row(**kw) -> dict:
    row = {"id": "r", "language": "es", "channel": "call", "labels": {"sin_datos_sensibles": "fail"},
           "evidence": {"sin_datos_sensibles": [1, 3]}, "sensitive": [],
           "turns": [{"speaker": "customer", "text": "Hola."}, {"speaker": "agent", "text": "Dígame el PIN."},
                     {"speaker": "customer", "text": "Uno dos tres cuatro."},
                     {"speaker": "agent", "text": "Uno dos tres cuatro, vale."}]}
    row.update(kw)
    return row


def test_request_turns_are_cited_agent_turns_without_a_full_identifier():
    row = _row(sensitive=[{"turn": 2, "type": "pin", "spoken": True, "full": True},
                          {"turn": 3, "type": "card", "spoken": True, "full": True}])
    assert request_turns(row) == {1: "pin"}  # turn 3 is a read-back, not a request
    assert request_turns(_row()) == {1: "unanswered", 3: "unanswered"}
    assert request_turns(_row(labels={"sin_datos_sensibles": "pass"})) == {}


def test_statistics():
    assert kappa(["pass", "fail", "fail"], ["pass", "fail", "fail"]) == 1.0
    assert kappa(["pass", "fail"], ["fail", "pass"]) == -1.0
    lo, hi = wilson(9, 10)
    assert 0.5 < lo < 0.9 < hi <= 1.0 and wilson(0, 0) == (None, None)


def test_runs_on_real_rows():
    rows = [r for r in load() if r["id"] in ("es-es-002", "es-la-012", "en-001", "en-020")]
    assert len(rows) == 4
    crit = criterion_agreement(rows)
    assert crit["overall"]["n"] == 4 and 0 <= crit["overall"]["accuracy"] <= 1
    det = detector_measures(rows)
    assert det["identifiers"]["overall"]["n"] >= 2 and det["false_alarms"]["agent_turns"]["n"] > 20
