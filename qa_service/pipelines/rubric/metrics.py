"""Conversation metrics for rubric scoring: talk ratio, silences, holds, overlaps and chat response gaps."""

from __future__ import annotations

from qa_service.schemas import ConversationMetrics, Transcript


def conversation_metrics(transcript: Transcript, hold_seconds: float = 30.0) -> ConversationMetrics:
    """Talk ratio, silences, holds and overlaps from start/end; response gaps from chat ``at`` times."""
    turns = transcript.turns
    m = ConversationMetrics(turns=len(turns), agent_turns=sum(t.speaker == "agent" for t in turns),
                            customer_turns=sum(t.speaker == "customer" for t in turns))
    timed = [t for t in turns if t.start is not None]
    if timed and len(timed) == len(turns):
        ends = [t.end if t.end is not None else t.start for t in turns]
        m.handle_time_seconds = round(max(ends) - turns[0].start, 2)
        speech = {"agent": 0.0, "customer": 0.0, "system": 0.0}
        for t, e in zip(turns, ends):
            speech[t.speaker] += max(0.0, e - t.start)
        total = speech["agent"] + speech["customer"]
        m.agent_talk_ratio = round(speech["agent"] / total, 3) if total > 0 else None
        gaps, overlaps = [], 0
        for prev_end, (prev, cur) in zip(ends, zip(turns, turns[1:])):
            gap = cur.start - prev_end
            if gap < 0 and cur.speaker != prev.speaker:
                overlaps += 1
            gaps.append(max(0.0, gap))
        m.longest_silence_seconds = round(max(gaps), 2) if gaps else 0.0
        m.holds = sum(g >= hold_seconds for g in gaps)
        m.overlaps = overlaps
    stamped = [t for t in turns if t.at is not None]
    if stamped and len(stamped) == len(turns):
        m.handle_time_seconds = round((turns[-1].at - turns[0].at).total_seconds(), 2)
        waits, waiting_since = [], None
        for t in turns:
            if t.speaker == "customer" and waiting_since is None:
                waiting_since = t.at
            elif t.speaker == "agent" and waiting_since is not None:
                waits.append((t.at - waiting_since).total_seconds())
                waiting_since = None
        if waits:
            m.first_response_seconds = round(waits[0], 2)
            m.longest_agent_gap_seconds = round(max(waits), 2)
    return m
