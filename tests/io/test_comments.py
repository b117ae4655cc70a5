from __future__ import annotations

from collections import Counter
from datetime import datetime

from qa_service.io.comments import read_comments
from qa_service.io.records import BadRecord, ReadStats
from qa_service.schemas import Comment


def test_comments_keep_text_when_date_or_score_is_unreadable(tmp_path):
    f = tmp_path / "nps.csv"
    f.write_text("id,text,created_at,score,team,region\n"
                 "1,Muy rápido el envío,2026-11-02,9,logistica,norte\n"
                 "2,Tardaron tres semanas,ayer,2,logistica,sur\n"
                 "3,La app falla,2026-11-03T10:00:00Z,once,app,\n"
                 "4,,2026-11-03,5,app,\n"
                 "5,Atención excelente,03/11/2026,\"4,5\",soporte,norte\n", encoding="utf-8")
    warnings: Counter = Counter()
    stats = ReadStats()
    recs = list(read_comments(f, stats=stats, warnings=warnings))
    good = [r for r in recs if isinstance(r, Comment)]
    assert [c.id for c in good] == ["1", "2", "3", "5"]
    assert good[0].created_at == datetime(2026, 11, 2) and good[0].score == 9 and good[0].team == "logistica"
    assert good[0].metadata == {"region": "norte"}
    assert good[1].created_at is None and good[1].score == 2
    assert good[2].score is None and good[3].score == 4.5
    assert warnings == Counter({"unreadable created_at": 1, "score not a number from 0 to 10": 1})
    assert [b.line for b in recs if isinstance(b, BadRecord)] == [5]
