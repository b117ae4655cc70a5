"""Conversation metrics from call timestamps and chat times."""

from __future__ import annotations

from qa_service.pipelines.rubric.metrics import conversation_metrics
from qa_service.schemas import Transcript


def _t(turns, **kw) -> Transcript:
    return Transcript(id="t", turns=turns, **kw)


def test_call_metrics_from_timestamps():
    t = _t([{"speaker": "agent", "text": "Buenos días", "start": 0, "end": 4},
            {"speaker": "customer", "text": "Hola, tengo un problema", "start": 3.5, "end": 10},  # overlap
            {"speaker": "agent", "text": "Le pongo en espera un momento", "start": 11, "end": 14},
            {"speaker": "agent", "text": "Gracias por esperar", "start": 74, "end": 78},  # 60 s hold
            {"speaker": "customer", "text": "Vale", "start": 79, "end": 80}])
    m = conversation_metrics(t)
    assert m.handle_time_seconds == 80
    assert m.longest_silence_seconds == 60 and m.holds == 1 and m.overlaps == 1
    assert m.agent_talk_ratio == round(11 / (11 + 7.5), 3)
    assert (m.turns, m.agent_turns, m.customer_turns) == (5, 3, 2)
    assert m.first_response_seconds is None


def test_chat_metrics_from_at():
    t = _t([{"speaker": "customer", "text": "Hi, my order never arrived", "at": "2026-11-02T10:00:00Z"},
            {"speaker": "customer", "text": "Hello??", "at": "2026-11-02T10:02:00Z"},
            {"speaker": "agent", "text": "Sorry for the wait, let me check", "at": "2026-11-02T10:03:00Z"},
            {"speaker": "customer", "text": "Thanks", "at": "2026-11-02T10:03:30Z"},
            {"speaker": "agent", "text": "It ships today", "at": "2026-11-02T10:10:30Z"}], channel="chat")
    m = conversation_metrics(t)
    assert m.first_response_seconds == 180 and m.longest_agent_gap_seconds == 420
    assert m.handle_time_seconds == 630 and m.agent_talk_ratio is None


def test_metrics_without_times_are_none():
    m = conversation_metrics(_t([{"speaker": "agent", "text": "hola"}]))
    assert m.handle_time_seconds is None and m.holds is None and m.turns == 1
