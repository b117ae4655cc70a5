"""The customer's sentiment trajectory over every customer turn: start, worst point, end, slope and the trend
rule; a mid-call complaint that ends neutral is "recovered", never "improved"."""

from __future__ import annotations

import pytest

from qa_service.pipelines.rubric import RubricScorer, sentiment_trajectory
from qa_service.schemas import SentimentResult, Transcript
from tests.pipelines.rubric.test_scorer import ARITH


def _r(score: float) -> SentimentResult:
    label = "negative" if score < -0.3 else ("positive" if score > 0.4 else "neutral")
    p_pos, p_neg = max(score, 0.0), max(-score, 0.0)
    return SentimentResult(label=label, score=score, language="es",
                           probabilities={"negative": p_neg, "neutral": 1 - p_pos - p_neg, "positive": p_pos})


def _traj(*scores: float):
    return sentiment_trajectory([(2 * i + 1, _r(s)) for i, s in enumerate(scores)])  # customer on odd turns


def test_dip_to_a_complaint_mid_call_ending_neutral_is_recovered_not_improved():
    # The call: neutral start, "esto es una vergüenza ... me estoy planteando irme", neutral end a little
    # higher than the start: first vs last alone said "neutral -> neutral, improved".
    t = _traj(-0.1, -0.12, -0.9, 0.2)
    assert (t.start, t.end, t.worst) == ("neutral", "neutral", "negative")
    assert t.worst_score == -0.9 and t.worst_turn == 5 and t.customer_turns == 4
    assert t.trend == "recovered" and t.trajectory == "unchanged"
    # least squares over the 4 customer turns: x = 0..3, mean 1.5; y mean -0.23
    assert t.slope == pytest.approx(((-1.5) * 0.13 + (-0.5) * 0.11 + 0.5 * -0.67 + 1.5 * 0.43) / 5, abs=1e-4)


@pytest.mark.parametrize("scores,trend,trajectory", [
    ((-0.1, -0.9, -0.1), "recovered", "unchanged"),       # equal ends hide the dip
    ((-0.8, -0.2, 0.3, 0.7), "improved", "improved"),     # steady rise
    ((-0.5, -0.9, 0.6), "recovered", "unchanged"),        # the low point is below both ends
    ((0.6, 0.1, -0.7), "worsened", "worsened"),
    ((0.6, -0.9, 0.2), "worsened", "worsened"),           # ends markedly lower: worsened before recovered
    ((0.0, -0.25, 0.0), "unchanged", "unchanged"),        # a dip, but neutral, not a complaint
    ((-0.25, -0.4, -0.2), "unchanged", "unchanged"),      # negative low point, but not 0.2 below both ends
    ((-0.1, 0.9, 0.9, 0.9, 0.2), "improved", "improved"),
    ((-0.3, 0.5, -0.3, -0.3, -0.3, 0.0), "unchanged", "unchanged"),  # ends +0.3, fitted trend flat: not improved
    ((0.2,), "unchanged", "unchanged"),
    ((-0.5, 0.5), "improved", "improved"),                # two turns: the fit is the change
])
def test_trend_rule(scores, trend, trajectory):
    t = _traj(*scores)
    assert (t.trend, t.trajectory) == (trend, trajectory), t
    assert t.worst_score == min(scores) and t.worst_turn == 2 * scores.index(min(scores)) + 1
    assert (t.slope is None) == (len(scores) == 1)


def test_no_customer_turn_is_unknown_and_old_keys_keep_their_meaning():
    t = sentiment_trajectory([])
    assert t.trend == t.trajectory == "unknown" and t.customer_turns == 0 and t.worst_turn is None
    t = _traj(-0.6, 0.7)
    assert (t.start, t.end, t.start_score, t.end_score) == ("negative", "positive", -0.6, 0.7)


SPANISH_DIP = {"id": "dip", "channel": "call", "turns": [
    {"speaker": "agent", "text": "Buenas tardes, le atiende Marta, ¿en qué puedo ayudarle?"},
    {"speaker": "customer", "text": "Hola, llamo por una consulta sobre mi factura de este mes."},
    {"speaker": "agent", "text": "Claro, ¿me da su número de cliente?"},
    {"speaker": "customer", "text": "Sí, el número de cliente es el 44120."},
    {"speaker": "agent", "text": "Veo que la incidencia sigue abierta."},
    {"speaker": "customer", "text": "Esto es una vergüenza, llevo tres semanas esperando, nadie me soluciona nada "
                                    "y me estoy planteando irme a otra compañía."},
    {"speaker": "agent", "text": "Lo tramito ahora y mañana le llega el abono."},
    {"speaker": "customer", "text": "Vale, entendido."}]}


def test_real_sentiment_model_on_a_dip_and_recover_call(sentiment):
    r = RubricScorer(ARITH, sentiment=sentiment).score(Transcript.model_validate(SPANISH_DIP))
    s = r.sentiment
    assert s.customer_turns == 4
    assert s.start == "neutral" and s.worst == "negative" and s.worst_turn == 5
    assert s.worst_score < -0.5 and s.end != "negative"
    assert s.trend == "recovered" and s.trajectory != "improved"
    # first vs last alone would have called it improved: the end is more than 0.2 above the start
    assert s.end_score - s.start_score > 0.2
