"""Sentiment corrections over HTTP: a text or a stored comment, one or many; the label the model gave and its
version are recorded; the text and the comment are stored redacted; bad input names its field."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from qa_service.api.app import create_app
from qa_service.config import Settings
from tests.conftest import auth


def _served() -> str:
    from qa_service.bundles import current_version

    return current_version(Settings().models_dir, "sentiment")


@pytest.fixture(scope="module")
def client(sentiment, tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("corrections"))
    with TestClient(create_app(settings), headers=auth(settings, "helpdesk")) as c:
        c.settings = settings
        yield c


def _stored(settings, correction_id: int):
    from qa_service.runtime import get_runtime
    from qa_service.store.tables import SentimentCorrectionRow

    with get_runtime(settings).session() as s:
        return s.get(SentimentCorrectionRow, correction_id)


def test_a_correction_is_stored_redacted_with_the_models_label(client):
    text = "Soy Carmen Rodríguez, mi teléfono es 612 345 678 y todavía no me han devuelto el dinero"
    r = client.post("/v1/sentiment/feedback", json={"text": text, "label": "negative",
                                                    "comment": "llamó Carmen Rodríguez desde el 612 345 678"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["label"] == "negative" and body["model_version"] == _served() and body["language"] == "es"
    assert body["predicted"] in ("negative", "neutral", "positive")
    row = _stored(client.settings, body["id"])
    assert "612 345 678" not in row.text and "<TELEFONO>" in row.text and "Carmen" not in row.text
    assert "612 345 678" not in row.comment and "Carmen" not in row.comment
    assert row.redacted and row.author and len(row.text_hash) == 64
    from qa_service.text.normalize import text_fingerprint

    assert row.text_hash == text_fingerprint(text)  # of the text as sent: gate sets are compared with it


def test_lone_surrogates_are_stored_replaced(client):
    r = client.post("/v1/sentiment/feedback", content=b'{"text": "hola \\ud800 mundo", "label": "neutral", '
                    b'"comment": "mal \\udfff"}', headers={"content-type": "application/json"})
    assert r.status_code == 201, r.text
    row = _stored(client.settings, r.json()["id"])
    assert row.text == "hola \ufffd mundo" and row.comment == "mal \ufffd"


def test_several_corrections_at_once(client):
    r = client.post("/v1/sentiment/feedback", json={"corrections": [
        {"text": "¿Me envían la factura de marzo?", "label": "neutral"},
        {"text": "Thanks, all sorted", "label": "positive", "comment": "ok"}]})
    assert r.status_code == 201, r.text
    out = r.json()["corrections"]
    assert [c["label"] for c in out] == ["neutral", "positive"] and out[1]["language"] == "en"


@pytest.mark.parametrize("body,field", [
    ({"text": "hola", "label": "angry"}, "label"),
    ({"label": "neutral"}, "text"),
    ({"text": "hola", "id": "c1", "source": "s", "label": "neutral"}, "text"),
    ({"text": "   ", "label": "neutral"}, "text"),
    ({"id": "c1", "label": "neutral"}, "source"),
    ({"corrections": [{"text": "hola", "label": "neutral"}, {"text": "", "label": "neutral"}]},
     "corrections[1].text"),
    ({"corrections": [], "label": "neutral"}, "label"),
    ({"text": "hola", "label": "neutral", "extra": 1}, "extra"),
])
def test_bad_corrections_name_the_field(client, body, field):
    r = client.post("/v1/sentiment/feedback", json=body)
    assert r.status_code == 422, r.text
    assert any(d["field"] == field for d in r.json()["detail"]), r.json()


def test_a_stored_comment_is_corrected_by_source_and_id(client):
    settings = client.settings
    analyst = auth(settings, "analyst")
    r = client.post("/v1/jobs/sentiment", headers=analyst, json={"source": "encuesta", "comments": [
        {"id": "c-1", "text": "El envío llegó tarde y roto"}]})
    job = r.json()["job_id"]
    deadline = time.time() + 60
    while client.get(f"/v1/jobs/{job}", headers=analyst).json()["status"] != "done":
        assert time.time() < deadline
        time.sleep(0.2)
    r = client.post("/v1/sentiment/feedback", headers=analyst,
                    json={"source": "encuesta", "id": "c-1", "label": "negative"})
    assert r.status_code == 201, r.text
    assert r.json()["model_version"] == _served() and r.json()["predicted"]
    assert _stored(settings, r.json()["id"]).comment_id is not None
    # another analyst's comment (its job is not theirs), or one that does not exist: 404
    other = auth(settings, "analyst")
    for key, cid in ((other, "c-1"), (analyst, "nope")):
        r = client.post("/v1/sentiment/feedback", headers=key, json={"source": "encuesta", "id": cid,
                                                                     "label": "neutral"})
        assert r.status_code == 404, r.text
