"""Plain-text transcripts uploaded to a score job follow the readers' rules: an unmapped speaker is never glued
onto the previous turn, a ``speaker`` form field maps it, and an empty or wholly rejected file is a 422 naming
the ``file`` field."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from qa_service.api.app import create_app
from qa_service.config import Settings
from tests.conftest import auth

CALL = ("[00:00:01] Laura: Buenos días, le atiende Laura, ¿en qué puedo ayudarle?\n"
        "[00:00:06] Pedro: Hola, llamo por un cargo que no reconozco.\n"
        "[00:00:12] Laura: ¿Me confirma su DNI, por favor?\n"
        "[00:00:18] Pedro: 12345678Z.\n")


@pytest.fixture(scope="module")
def client(sentiment, tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("upload"))
    with TestClient(create_app(settings), headers=auth(settings, "analyst")) as c:
        yield c


def _fields(r) -> dict:
    return {d["field"]: d["message"] for d in r.json()["detail"]}


@pytest.mark.parametrize("content,speakers,expected", [
    (CALL, ["Laura=agent"], "unknown speaker: 'Pedro' on line 2 (and 1 more line(s))"),
    ("", [], "empty file"),
    ("hola\n¿me oye?\n", [], "no speaker"),
])
def test_a_file_with_no_usable_transcript_is_a_422_naming_file(client, content, speakers, expected):
    r = client.post("/v1/jobs/score", files={"file": ("llamada.txt", content.encode())},
                    data={"speaker": speakers} if speakers else None)
    assert r.status_code == 422, r.text
    msg = _fields(r)["file"]
    assert expected in msg
    if speakers:
        assert msg.endswith("send the form field speaker=Pedro=customer")


def test_speaker_form_fields_map_labels_and_the_call_is_scored(client):
    r = client.post("/v1/jobs/score", files={"file": ("llamada.txt", CALL.encode())},
                    data={"speaker": ["Laura=agent", "Pedro=customer"]})
    assert r.status_code == 202, r.text
    acc = r.json()
    assert (acc["total"], acc["failed"]) == (1, 0)
    deadline = time.time() + 120
    while client.get(f"/v1/jobs/{acc['job_id']}").json()["status"] not in ("done", "failed"):
        assert time.time() < deadline
        time.sleep(0.2)
    [line] = [json.loads(x) for x in client.get(acc["results_url"]).text.splitlines()]
    assert line["status"] == "done" and line["result"]["metrics"]["customer_turns"] == 2
    assert line["result"]["metrics"]["agent_turns"] == 2
