"""The model loop end to end through a real server (``qa-service serve`` in a subprocess, its embedded job worker):
corrections -> snapshot -> training job -> comparison on the gate sets -> gated promotion -> hot swap -> rollback,
and a hot swap under concurrent load. SQLite here; CI runs it again on PostgreSQL (QA_TEST_DATABASE_URL).

Data: ``tests/loop_data.py``. The gate sets and the corrections are customer-service messages (es, en) where the
shipped model's known weak spot (plain requests read as negative) leaves room to improve; a candidate trained on
the corrections is better on them, one trained on 80 Amazon reviews alone (no corrections) is deliberately worse.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import needs_shared_data
from tests.loop_data import messages, write_datasets

pytestmark = needs_shared_data()
SEED_VERSION = "1.0.0"  # the loop retrains embedding heads: the seed it starts from is the shipped USE head


def _rubric_seed() -> str:
    """The shipped calibration's rubric version (the seed version of ``rubric:default-es``)."""
    from qa_service.config import Settings
    from qa_service.io.rubrics import read_calibration

    return str(read_calibration(Settings().rubrics_dir / "default-es.calibration.json")["rubric"]["version"])


def _models_with_seed(dst: Path) -> Path:
    """The shipped models/ (linked, not copied) with ``SEED_VERSION`` as the sentiment default."""
    from qa_service.config import Settings

    src = Settings().models_dir
    dst.mkdir(parents=True)
    for entry in src.iterdir():
        if entry.name != "sentiment":
            (dst / entry.name).symlink_to(entry)
    (dst / "sentiment").mkdir()
    for entry in (src / "sentiment").iterdir():
        if entry.name != "CURRENT":
            (dst / "sentiment" / entry.name).symlink_to(entry)
    (dst / "sentiment" / "CURRENT").write_text(SEED_VERSION + "\n", encoding="utf-8")
    return dst


def _wait(predicate, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from bench._server import free_port, start_server, wait_ready
    from qa_service.config import Settings
    from qa_service.runtime import get_runtime
    from qa_service.usecases.admin import create_key

    root = tmp_path_factory.mktemp("loop")
    write_datasets(root / "datasets")
    models = _models_with_seed(root / "models")
    env = {**os.environ, "QA_DATA_DIR": str(root / "data"), "QA_DATASETS_DIR": str(root / "datasets"),
           "QA_MODELS_DIR": str(models),
           "QA_MODEL_POLL_SECONDS": "0.5", "QA_BOOTSTRAP_SAMPLES": "200", "QA_LOG_LEVEL": "warning",
           "QA_JOB_LEASE_SECONDS": "30"}
    if os.environ.get("QA_TEST_DATABASE_URL"):
        env["QA_DATABASE_URL"] = os.environ["QA_TEST_DATABASE_URL"]
    else:
        env.pop("QA_DATABASE_URL", None)
    settings = Settings(data_dir=root / "data", datasets_dir=root / "datasets", models_dir=models,
                        database_url=env.get("QA_DATABASE_URL"), embedded_worker=False)
    rt = get_runtime(settings)
    keys = {role: {"Authorization": f"Bearer {create_key(rt, role, name='loop test')[1]}"}
            for role in ("admin", "analyst", "helpdesk")}
    _start_from_seed(rt)
    port = free_port()
    proc, log = start_server([sys.executable, "-m", "qa_service.cli", "serve", "--port", str(port)], env)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        wait_ready(client, proc, log)
        yield {"client": client, "keys": keys, "root": root, "settings": settings, "log": log}
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except Exception:  # noqa: BLE001
            proc.kill()
        _reset_current(rt)


def _start_from_seed(rt) -> None:
    """A shared database (CI's PostgreSQL pass) may already hold a registry seeded from the shipped models/ by earlier
    tests, with another current version: the loop starts from ``SEED_VERSION`` either way."""
    from qa_service.store import models as registry
    from qa_service.usecases.models import sync_registry

    sync_registry(rt, force=True)
    with rt.session() as s:
        if registry.current(s, "sentiment") != SEED_VERSION:
            registry.set_current(s, "sentiment", SEED_VERSION, "promote", "tests", reason="test setup")


def _reset_current(rt) -> None:
    """A shared database (CI's PostgreSQL pass) must not keep a candidate of a deleted directory as current."""
    from qa_service.store import models as registry

    with rt.session() as s:
        for task, version in registry.current_aliases(s).items():
            seed = {"sentiment": SEED_VERSION}.get(task, _rubric_seed())
            if version != seed:
                registry.set_current(s, task, seed, "rollback", "tests", reason="test teardown")


def _job(server, body: dict) -> dict:
    c, admin = server["client"], server["keys"]["admin"]
    r = c.post("/v1/jobs/train", json=body, headers=admin)
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    seen = []

    def finished():
        st = c.get(f"/v1/jobs/{job_id}", headers=admin).json()
        seen.append(st.get("progress"))
        return st if st["status"] in ("done", "failed") else None

    status = _wait(finished, 120, "the training job", every=0.3)
    assert status["status"] == "done", status
    rows = [json.loads(line) for line in c.get(f"/v1/jobs/{job_id}/results", headers=admin).text.splitlines()]
    return {"status": status, "result": rows[0]["result"], "progress": [p for p in seen if p]}


@pytest.fixture(scope="module")
def sentiment_candidates(server):
    """>= 200 corrections posted by the helpdesk, a snapshot with them and one without, a training job each."""
    c, keys = server["client"], server["keys"]
    corrections = messages(240, seed=1, numbers=range(2, 60))
    t0 = time.monotonic()
    answers = []
    for m in corrections[:40]:  # one at a time, as a helpdesk tool does from its correction button ...
        r = c.post("/v1/sentiment/feedback", json={"text": m["text"], "label": m["label"],
                                                   "comment": "revisado por el equipo de soporte"},
                   headers=keys["helpdesk"])
        assert r.status_code == 201, r.text
        answers.append(r.json())
    for i in range(40, len(corrections), 100):  # ... and in batches, as an import of a review session does
        r = c.post("/v1/sentiment/feedback", headers=keys["helpdesk"], json={"corrections": [
            {"text": m["text"], "label": m["label"]} for m in corrections[i:i + 100]]})
        assert r.status_code == 201, r.text
        answers += r.json()["corrections"]
    posting_s = time.monotonic() - t0
    snap = c.post("/v1/data/snapshots", json={"task": "sentiment"}, headers=keys["admin"])
    assert snap.status_code == 201, snap.text
    base_only = c.post("/v1/data/snapshots", json={"task": "sentiment", "corrections": False}, headers=keys["admin"])
    assert base_only.status_code == 201, base_only.text
    better = _job(server, {"task": "sentiment", "snapshot": snap.json()["id"]})
    worse = _job(server, {"task": "sentiment", "snapshot": base_only.json()["id"]})
    return {"corrections": corrections, "answers": answers, "posting_s": posting_s, "snapshot": snap.json(),
            "base_only": base_only.json(), "better": better, "worse": worse}


def _sentiment_version(server) -> str:
    r = server["client"].post("/v1/sentiment", json={"text": "¿Me pueden enviar la factura de marzo?"},
                              headers=server["keys"]["helpdesk"])
    assert r.status_code == 200, r.text
    return r.json()["model_version"]


def _criterion_corrections(server) -> tuple[int, int]:
    """Score the labelled tune transcripts through jobs; analysts correct every criterion the scorer got wrong
    (reviews, or a dispute decided ``reject`` for a few) and confirm a few right ones (disputes decided
    ``accept``). Returns (criterion corrections, disputes)."""
    from training.export_sets import rubric_sets

    c, analyst = server["client"], server["keys"]["analyst"]
    tune = rubric_sets()[0][1]  # the blind set's tune split (the report split is the gate)
    gold = {r["id"]: r["labels"] for r in tune}
    jobs = []
    for rubric in ("default-es", "default-en"):
        job = c.post("/v1/jobs/score", headers=analyst, json={
            "rubric": rubric, "source": "loop-test",
            "transcripts": [{k: v for k, v in r.items() if k not in ("rubric", "labels", "evidence")}
                            for r in tune if r["rubric"] == rubric]})
        assert job.status_code == 202, job.text
        jobs.append(job.json()["job_id"])
    for job_id in jobs:
        _wait(lambda: c.get(f"/v1/jobs/{job_id}", headers=analyst).json()["status"] == "done", 120, "a score job")
    scores = c.get("/v1/scores", params={"source": "loop-test", "limit": 100}, headers=analyst).json()
    n_corr = n_disp = 0
    for sc in scores:
        result = c.get(f"/v1/scores/{sc['score_id']}", headers=analyst).json()["result"]
        labels = gold[sc["transcript_id"]]
        wrong = [(x["id"], labels[x["id"]]) for x in result["criteria"] if x["result"] != labels[x["id"]]]
        right = [x["id"] for x in result["criteria"] if x["result"] == labels[x["id"]]]
        if wrong[1:] and n_disp < 4:  # one wrong criterion disputed (reject), the rest corrected in a review
            crit, label = wrong.pop()
            r = c.post(f"/v1/scores/{sc['score_id']}/disputes", headers=analyst,
                       json={"criterion": crit, "decision": "reject", "result": label,
                             "comment": "La agente Laura no lo hizo; llame al 612 345 678"})
            assert r.status_code == 201, r.text
            notes = [x["note"] for x in c.get(f"/v1/scores/{sc['score_id']}", headers=analyst).json()["reviews"]
                     if x["kind"] == "dispute"]
            assert notes and "612 345 678" not in notes[-1] and "<TELEFONO>" in notes[-1], notes
            n_disp += 1
            n_corr += 1
        r = c.post(f"/v1/scores/{sc['score_id']}/reviews", headers=analyst,
                   json={"corrections": [{"criterion": k, "result": v, "note": "corregido"} for k, v in wrong]})
        assert r.status_code == 201, r.text
        n_corr += len(wrong)
        if right and n_disp < 6:
            r = c.post(f"/v1/scores/{sc['score_id']}/disputes", headers=analyst,
                       json={"criterion": right[0], "decision": "accept", "comment": "correcto"})
            assert r.status_code == 201, r.text
            n_disp += 1
    return n_corr, n_disp


def test_the_model_loop_end_to_end(server, sentiment_candidates):
    c, keys = server["client"], server["keys"]
    admin = keys["admin"]
    cand = sentiment_candidates
    # 1. Corrections: every one stored with what the model said and its version.
    assert len(cand["answers"]) >= 200
    assert {a["model_version"] for a in cand["answers"]} == {SEED_VERSION}
    assert sum(a["predicted"] != m["label"] for a, m in zip(cand["answers"], cand["corrections"])) > 0
    # 2. The snapshot: corrections + the base set, gate texts left out (the gate was written from the same
    #    templates, so some corrections repeat a gate text), labels counted, licences listed.
    snap = cand["snapshot"]
    assert snap["sources"][-1]["name"] == "corrections" and snap["sources"][-1]["rows"] >= 180
    assert snap["excluded"].get("in a gate set", 0) > 0
    assert snap["rows"] == sum(snap["label_counts"].values()) == sum(s["rows"] for s in snap["sources"])
    assert {s["licence"] for s in snap["sources"]} >= {"Amazon: academic research only"}
    assert snap["id"].startswith("sentiment-") and snap["sha256"].startswith("sha256:")
    listed = c.get("/v1/data/snapshots", headers=admin).json()
    assert {snap["id"], cand["base_only"]["id"]} <= {m["id"] for m in listed}
    # 3. Training jobs: progress reported, candidates written into the data directory, registered.
    better, worse = cand["better"]["result"]["version"], cand["worse"]["result"]["version"]
    assert {p["stage"] for p in cand["better"]["progress"]} & {"embedding", "fitting", "saving", "done"}
    assert Path(cand["better"]["result"]["path"]).is_relative_to(server["root"] / "data" / "models")
    # 4. Criterion corrections and disputes (>= 20), a rubric snapshot and a calibration candidate.
    n_corr, n_disp = _criterion_corrections(server)
    assert n_corr >= 20 and n_disp >= 2
    rsnap = c.post("/v1/data/snapshots", json={"task": "rubric"}, headers=admin)
    assert rsnap.status_code == 201, rsnap.text
    assert rsnap.json()["sources"][-1]["rows"] >= 10
    rubric_job = _job(server, {"task": "rubric", "rubric": "default-es", "snapshot": rsnap.json()["id"]})
    rubric_version = rubric_job["result"]["version"]
    # 5. Compare on the gate sets, per language, with intervals; the report page is served.
    bad = c.post("/v1/models/sentiment/compare", json={"candidate": worse}, headers=admin)
    assert bad.status_code == 200, bad.text
    assert bad.json()["gate"]["decision"] == "fail" and {"es", "en"} <= set(bad.json()["groups"])
    good = c.post("/v1/models/sentiment/compare", json={"candidate": better}, headers=admin).json()
    assert good["gate"]["decision"] == "pass", good["gate"]
    es = good["groups"]["es"]["diff"]["macro_f1"]
    assert es["ci"][0] <= es["value"] <= es["ci"][1]
    page = c.get(good["report_url"], headers=admin)
    assert page.status_code == 200 and "Plotly" in page.text and better in page.text
    # 6. The gate refuses the deliberately worse candidate ...
    refused = c.post("/v1/models/sentiment/promote", json={"version": worse}, headers=admin)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "gate_refused" and "macro_f1" in refused.text
    assert _sentiment_version(server) == SEED_VERSION
    # ... and accepts the better one; the running server swaps to it within seconds, no restart.
    t0 = time.monotonic()
    promoted = c.post("/v1/models/sentiment/promote", json={"version": better}, headers=admin)
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["previous_version"] == SEED_VERSION and promoted.json()["gate"]["decision"] == "pass"
    _wait(lambda: _sentiment_version(server) == better, 10, "the promoted model to be served")
    swap_s = time.monotonic() - t0
    ready = c.get("/readyz").json()
    assert ready["models"]["sentiment"] == better
    # 7. Roll back: the old version answers again.
    back = c.post("/v1/models/sentiment/rollback", json={"reason": "test"}, headers=admin)
    assert back.status_code == 200 and back.json()["version"] == SEED_VERSION, back.text
    _wait(lambda: _sentiment_version(server) == SEED_VERSION, 10, "the rolled-back model to be served")
    # 8. The rubric calibration goes through the same gate; forced with a reason when it fails.
    rc = c.post("/v1/models/rubric:default-es/compare", json={"candidate": rubric_version}, headers=admin).json()
    body = {"version": rubric_version} if rc["gate"]["decision"] == "pass" else \
        {"version": rubric_version, "force": True, "reason": "calibration from this team's corrections"}
    assert c.post("/v1/models/rubric:default-es/promote", json=body, headers=admin).status_code == 200
    transcript = {"id": "t1", "turns": [{"speaker": "agent", "text": "Buenos días, le atiende Laura."},
                                        {"speaker": "customer", "text": "Quiero saber el estado de mi pedido."}]}
    _wait(lambda: c.post("/v1/score", json={"rubric": "default-es", "transcript": transcript},
                         headers=keys["analyst"]).json()["model_versions"].get("rubric:default-es") == rubric_version,
          10, "the promoted calibration")
    assert c.post("/v1/models/rubric:default-es/rollback", headers=admin).json()["version"] == _rubric_seed()
    # 9. The registry says who did what and when.
    reg = {t["task"]: t for t in c.get("/v1/models", headers=admin).json()}
    hist = reg["sentiment"]["history"]
    assert [h["action"] for h in hist[:2]] == ["rollback", "promote"] and hist[1]["version"] == better
    assert hist[1]["actor"] and hist[1]["actor"] == hist[0]["actor"] and hist[1]["gate"]["decision"] == "pass"
    assert reg["sentiment"]["current"] == SEED_VERSION
    versions = {v["version"]: v for v in reg["sentiment"]["versions"]}
    assert versions[better]["origin"] == "candidate" and versions[better]["snapshot"] == snap["id"]
    assert versions[worse]["comparison"]["decision"] == "fail"
    print(f"\ncorrections posted in {cand['posting_s']:.1f} s; promotion served after {swap_s:.2f} s")


def test_hot_swap_under_load_fails_no_request(server, sentiment_candidates):
    """Four clients send requests without pause while the model is promoted and rolled back twice: every request
    succeeds, and both versions answered."""
    c, keys = server["client"], server["keys"]
    better = sentiment_candidates["better"]["result"]["version"]
    base = c.base_url
    stop = threading.Event()
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def client_loop(i: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as cl:
            while not stop.is_set():
                body = {"text": f"Llevo {i} días esperando la devolución"} if i % 2 else \
                    {"texts": ["¿Me pueden enviar la factura?", "Gracias por la ayuda"]}
                try:
                    r = cl.post("/v1/sentiment", json=body, headers=keys["helpdesk"])
                    data = r.json()
                    version = data.get("model_version") or (data.get("results") or [{}])[0].get("model_version")
                    out = (r.status_code, version)
                except httpx.HTTPError as exc:
                    out = (0, type(exc).__name__)
                with lock:
                    results.append(out)

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        for _ in range(2):
            time.sleep(1.0)
            r = c.post("/v1/models/sentiment/promote", json={"version": better}, headers=keys["admin"])
            assert r.status_code == 200, r.text
            _wait(lambda: results and results[-1][1] == better, 10, "the promotion under load")
            time.sleep(0.5)
            assert c.post("/v1/models/sentiment/rollback", headers=keys["admin"]).status_code == 200
            _wait(lambda: results and results[-1][1] == SEED_VERSION, 10, "the rollback under load")
    finally:
        stop.set()
        for t in threads:
            t.join()
    failed = [r for r in results if r[0] != 200]
    assert not failed, failed[:5]
    assert len(results) >= 20
    assert {v for _, v in results} == {SEED_VERSION, better}
    print(f"\n{len(results)} requests during 2 promotions and 2 rollbacks, none failed")
