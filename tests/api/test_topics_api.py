"""Topic, complaint and report endpoints through the real app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from qa_service.api.app import create_app
from qa_service.config import Settings
from tests.conftest import auth, hotel_comments, needs_shared_data

pytestmark = needs_shared_data()


@pytest.fixture(scope="module")
def client(sentiment, tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), max_topic_texts=1000)
    with TestClient(create_app(settings), headers=auth(settings, "analyst")) as c:
        yield c


@pytest.fixture(scope="module")
def fitted(client):
    comments = hotel_comments(300)
    r = client.post("/v1/topics/fit", json={"comments": comments, "period": "month"})
    assert r.status_code == 201, r.text
    return comments, r.json()


def test_fit_returns_topics_documents_and_a_report(fitted, client):
    comments, body = fitted
    assert body["topics"] and all(t["label"] and t["keywords"] for t in body["topics"])
    assert [d["id"] for d in body["documents"]] == [c["id"] for c in comments]
    assert body["trends"] and body["summary"]["comments"] == len(comments)
    page = client.get(body["report_url"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="chart-share"' in page.text and "Plotly" in page.text
    listed = client.get("/v1/topics").json()
    assert body["model_id"] in [m["model_id"] for m in listed]
    topics = client.get(f"/v1/topics/{body['model_id']}").json()
    assert [t["id"] for t in topics] == [t["id"] for t in body["topics"]]


def test_tag_without_refit(fitted, client):
    comments, body = fitted
    texts = [c["text"] for c in comments[:20]]
    r = client.post(f"/v1/topics/{body['model_id']}/tag", json={"texts": texts, "ids": [c["id"] for c in comments[:20]]})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    fit = {d["id"]: d["topic"] for d in body["documents"]}
    assert sum(x["topic"] == fit[x["id"]] for x in res) >= 15
    assert all(-1 <= x["similarity"] <= 1 for x in res)


def test_refit_keeps_ids(fitted, client):
    comments, body = fitted
    r = client.post("/v1/topics/fit", json={"comments": comments, "refit": body["model_id"]})
    assert r.status_code == 201, r.text
    kept = r.json()["summary"]["refit"]["kept"]
    assert kept and set(kept) <= {str(t["id"]) for t in body["topics"]}


def test_complaints_endpoint(client):
    comments = hotel_comments(600)
    r = client.post("/v1/complaints", json={"comments": comments})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["complaints_found"] > 20 and body["recurring"]
    assert client.get(body["report_url"]).status_code == 200


@pytest.mark.parametrize("path,payload,status,field", [
    ("/v1/topics/fit", {"comments": []}, 422, "comments"),
    ("/v1/topics/fit", {"comments": [{"id": "a", "text": "hola"}] * 3}, 422, "comments"),
    ("/v1/topics/fit", {"comments": [{"id": str(i), "text": "x"} for i in range(1001)]}, 413, "comments"),
    ("/v1/topics/fit", {"comments": [{"id": "a", "text": "hola"}], "period": "year"}, 422, "period"),
    ("/v1/topics/fit", {"comments": [{"id": "a", "text": "hola"}], "refit": "../etc"}, 422, "model_id"),
    ("/v1/topics/fit", {"comments": [{"id": str(i), "text": "hola que tal"} for i in range(5)]}, 422, "texts"),
    ("/v1/topics/nope/tag", {"texts": ["hola"]}, 404, None),
    ("/v1/topics/nope/tag", {"texts": []}, 422, "texts"),
    ("/v1/complaints", {}, 422, "body"),
    # dates millennia apart: a clear 422 before any fit (was 34 s and 2 GB for a row per empty week; a 500
    # from an OverflowError when the last date was in the calendar's last week)
    ("/v1/topics/fit", {"comments": [{"id": "a", "text": "hola", "created_at": "0001-01-01"},
                                     {"id": "b", "text": "adios", "created_at": "9999-12-20"}]}, 422, "created_at"),
    ("/v1/topics/fit", {"comments": [{"id": "a", "text": "hola", "created_at": "0001-01-01"},
                                     {"id": "b", "text": "adios", "created_at": "9999-12-31"}]}, 422, "created_at"),
])
def test_errors_name_the_field(client, path, payload, status, field):
    r = client.post(path, json=payload)
    assert r.status_code == status, r.text
    if field:
        assert any(field in (d["field"] or "") for d in r.json()["detail"]), r.json()


def test_unknown_report_is_404(client):
    assert client.get("/v1/reports/nope").status_code == 404
    assert client.get("/v1/reports/..%2f..%2fetc").status_code in (404, 422)


def test_fit_on_stored_comments_stores_each_comments_topic(client):
    from sqlalchemy import func, select

    from qa_service.store import session_scope
    from qa_service.store.tables import ModelVersionRow, TopicAssignmentRow
    from qa_service.store.records import ingest_comments
    from qa_service.schemas import Comment

    settings = client.app.state.settings
    comments = [Comment(**{**c, "created_at": c["created_at"]}) for c in hotel_comments(250)]
    with session_scope(settings.db_url) as s:
        ingest_comments(s, "encuesta-hoteles", comments)
    r = client.post("/v1/topics/fit", json={"source": "encuesta-hoteles", "since": "2019-01-01T00:00:00Z",
                                            "period": "month"})
    assert r.status_code == 201, r.text
    body = r.json()
    n_2019 = sum(1 for c in comments if c.created_at.year == 2019)
    assert len(body["documents"]) == n_2019
    with session_scope(settings.db_url) as s:
        n = s.scalar(select(func.count()).select_from(TopicAssignmentRow)
                     .where(TopicAssignmentRow.model_id == body["model_id"]))
        assert n == n_2019
        assert s.scalar(select(func.count()).select_from(ModelVersionRow).where(ModelVersionRow.task == "sentiment"))
    r = client.post("/v1/topics/fit", json={"source": "nope"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "source"
    r = client.post("/v1/topics/fit", json={"source": "x", "comments": [{"id": "1", "text": "hola"}]})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "comments"


PLANTED = ["Ernesto", "Soyma", "Jennifer", "Walsh"]


def test_no_person_name_reaches_topic_outputs(sentiment, tmp_path):
    """Finding 8: staff names repeated in many comments must not become keywords, labels, quotes, report text
    or anything in the saved model, in Spanish or English (fit on text redacted per record)."""
    settings = Settings(data_dir=tmp_path / "data", max_topic_texts=1000)
    comments = hotel_comments(240)
    plants = [" La recepcionista Soyma fue muy amable con nosotros.", " Ernesto nos atendió fatal en el bar.",
              " Hablé con Jennifer Walsh en recepción y no lo resolvió.",
              " Ernesto el camarero fue muy atento.", " Preguntamos por Soyma y nos ayudó."]
    for i, c in enumerate(comments):
        c["text"] += plants[i % len(plants)]
    en = ["Jennifer Walsh at the front desk was rude to us about the {x}.",
          "Ernesto at the bar was great with the {x}, thanks Ernesto!", "Ask for Soyma at reception about the {x}."]
    things = ["room", "breakfast", "pool", "wifi", "towels", "air conditioning", "noise", "taxi"]
    comments += [{"id": f"en{i}", "text": en[i % 3].format(x=things[i % 8]), "created_at": "2019-03-01"}
                 for i in range(12)]
    with TestClient(create_app(settings), headers=auth(settings, "analyst")) as c:
        r = c.post("/v1/topics/fit", json={"comments": comments, "period": "month"})
        assert r.status_code == 201, r.text
        leaked = [(n, r.text[max(0, r.text.lower().find(n.lower()) - 80):r.text.lower().find(n.lower()) + 40]) for n in PLANTED if n.lower() in r.text.lower()]
        assert not leaked
    files = [f for f in (tmp_path / "data").rglob("*") if f.is_file() and f.suffix not in (".db", ".sqlite")]
    names = {f.name for f in files}
    assert {"topics.csv", "documents.csv", "summary.json", "report.html", "manifest.json"} <= names
    for f in files:
        text = f.read_bytes().decode("utf-8", errors="ignore").lower()
        for n in PLANTED:
            assert n.lower() not in text, (n, f)
