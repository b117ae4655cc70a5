"""The model loop from the command line and the use cases, on a database and data directory of its own: seed
versions, snapshots (immutable, hashed, kept apart from the gate sets), training, comparison, the gate, forced
promotion, rollback, and the runtime swapping models when the registry's current alias changes."""

from __future__ import annotations

import json
import os
import stat

import pytest
from typer.testing import CliRunner

from qa_service.bundles import current_version
from qa_service.config import Settings
from tests.conftest import needs_shared_data
from tests.loop_data import messages, write_datasets

pytestmark = needs_shared_data()
runner = CliRunner()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """QA_* settings of this module (its own SQLite database and data directory), for the CLI and the use cases."""
    from qa_service.config import get_settings
    from qa_service.runtime import get_runtime

    root = tmp_path_factory.mktemp("registry")
    write_datasets(root / "datasets")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QA_DATA_DIR", str(root / "data"))
        mp.setenv("QA_DATASETS_DIR", str(root / "datasets"))
        mp.setenv("QA_DATABASE_URL", f"sqlite:///{root / 'data' / 'registry.db'}")
        mp.setenv("QA_BOOTSTRAP_SAMPLES", "200")
        get_settings.cache_clear()
        rt = get_runtime(get_settings())
        yield {"root": root, "rt": rt}
    get_settings.cache_clear()


def _cli(*args: str):
    from qa_service.cli import app

    res = runner.invoke(app, list(args))
    return res


def test_seed_versions_and_current(env):
    res = _cli("models", "list")
    assert res.exit_code == 0, res.output
    shipped = (env["rt"].settings.models_dir / "sentiment" / "CURRENT").read_text().strip()  # 2.0.0
    assert f"sentiment: current {shipped}, rollback to -" in res.stdout
    assert "rubric:default-es: current 1.3.0" in res.stdout and "rubric:default-en: current 1.3.0" in res.stdout


def test_snapshots_are_immutable_hashed_and_keep_the_gate_sets_out(env):
    from qa_service.usecases.corrections import CorrectionInput, correct_many
    from qa_service.usecases.datasets import snapshot

    rt = env["rt"]
    gate_es = [json.loads(x) for x in open(env["root"] / "datasets" / "gate-es.jsonl", encoding="utf-8")]
    items = [CorrectionInput(m["label"], f"{m['text']} Ref. {i}.")
             for i, m in enumerate(messages(30, seed=9, numbers=range(700, 900)))]
    items.append(CorrectionInput(gate_es[0]["label"], gate_es[0]["text"].upper()))  # a gate text, other case
    correct_many(rt, items)
    res = _cli("data", "snapshot", "sentiment")
    assert res.exit_code == 0, res.output
    sid = res.stdout.strip().splitlines()[-1]
    assert "1 in a gate set" in res.stderr and "Amazon: academic research only" in res.stderr
    meta = json.loads((rt.settings.snapshots_dir / sid / "snapshot.json").read_text())
    assert meta["rows"] == 80 + 30 and meta["excluded"] == {"in a gate set": 1}
    assert [s["name"] for s in meta["sources"]] == ["amazon_es/sample", "corrections"]
    assert sum(meta["label_counts"].values()) == meta["rows"]
    assert {g["name"] for g in meta["gate_sets"]} == {"messages/gate-es", "messages/gate-en"}
    rows = (rt.settings.snapshots_dir / sid / "rows.jsonl")
    assert not os.stat(rows).st_mode & stat.S_IWUSR  # written once, read-only
    assert snapshot(rt, "sentiment")["id"] == sid  # the same data: the same snapshot
    assert sid in _cli("data", "list").stdout
    # a changed snapshot is refused, naming it
    os.chmod(rows, 0o644)
    original = rows.read_bytes()
    rows.write_bytes(original.replace(b"neutral", b"positive", 1))
    res = _cli("train", "sentiment", "--snapshot", sid)
    assert res.exit_code == 2 and "changed after the snapshot was taken" in res.stderr
    rows.write_bytes(original)
    os.chmod(rows, 0o444)


def test_bad_snapshot_requests(env, tmp_path):
    assert _cli("data", "snapshot", "topics").exit_code == 2
    res = _cli("data", "snapshot", "sentiment", "--no-corrections", "--no-base")
    assert res.exit_code == 2 and "needs the corrections, the base sets, or both" in res.stderr
    res = _cli("train", "sentiment", "--snapshot", "../etc")
    assert res.exit_code == 2 and "not a snapshot id" in res.stderr


SERVED = current_version(Settings().models_dir, "sentiment")  # the shipped default: the registry's seed current


def test_train_compare_gate_force_and_rollback(env):
    from qa_service.errors import GateRefusedError, InvalidInputError
    from qa_service.usecases.models import promote, rollback

    rt = env["rt"]
    served = rt.sentiment()
    assert served.version == SERVED
    sid = _cli("data", "snapshot", "sentiment", "--no-corrections").stdout.strip().splitlines()[-1]
    res = _cli("train", "sentiment", "--snapshot", sid)
    assert res.exit_code == 0, res.output
    worse = res.stdout.strip().splitlines()[-1]
    bundle = rt.settings.candidates_dir / "sentiment" / worse
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["snapshot"]["id"] == sid and manifest["parent"]["version"] == SERVED
    assert manifest["training_data"][0]["licence"] == "Amazon: academic research only"
    assert manifest["encoder"]["name"] == "use-multilingual"
    res = _cli("models", "compare", worse)
    assert res.exit_code == 0, res.output
    assert "gate: fail" in res.stderr
    report = rt.settings.reports_dir / f"compare-sentiment-{worse}-vs-{SERVED}"
    md = (report / "report.md").read_text()
    assert "| es | 80 | macro_f1 |" in md and "| en | 80 | macro_f1 |" in md and "**fails**" in md
    comparison = json.loads((report / "comparison.json").read_text())
    for g in comparison["groups"].values():
        for d in g["diff"].values():
            assert d["ci"][0] <= d["value"] <= d["ci"][1]
    # refused, one line, exit code 1; forcing needs a reason
    res = _cli("models", "promote", "sentiment", worse)
    assert res.exit_code == 1 and f"worse than {SERVED} beyond the tolerance" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    with pytest.raises(GateRefusedError):
        promote(rt, "sentiment", worse)
    with pytest.raises(InvalidInputError, match="--force needs --reason"):
        promote(rt, "sentiment", worse, force=True)
    event = promote(rt, "sentiment", worse, force=True, reason="a drill")
    assert event["forced"] and event["reason"] == "a drill" and event["previous_version"] == SERVED
    assert event["actor"].startswith("cli")
    # the runtime swaps on its next registry check; the object a request already holds keeps working
    assert rt.refresh_models() == {"sentiment": worse}
    assert rt.sentiment().version == worse and rt.sentiment().predict("hola").model_version == worse
    assert served.predict("hola").model_version == SERVED
    assert rt.refresh_models() == {}
    res = _cli("models", "rollback", "sentiment", "--reason", "drill over")
    assert res.exit_code == 0 and f"now {SERVED}" in res.stderr
    assert rt.refresh_models() == {"sentiment": SERVED} and rt.sentiment() is served
    with pytest.raises(InvalidInputError, match="no earlier version"):
        rollback(rt, "sentiment")
    listed = _cli("models", "list", "sentiment").stdout
    assert f"{worse}" in listed and f"gate fail vs {SERVED}" in listed


def test_a_broken_candidate_never_becomes_current_and_never_stops_serving(env):
    from qa_service.errors import ModelLoadError
    from qa_service.store import models as registry
    from qa_service.usecases.models import promote

    rt = env["rt"]
    sid = _cli("data", "snapshot", "sentiment", "--no-corrections").stdout.strip().splitlines()[-1]
    version = _cli("train", "sentiment", "--snapshot", sid, "--head", "mlp").stdout.strip().splitlines()[-1]
    (rt.settings.candidates_dir / "sentiment" / version / "head.npz").write_bytes(b"broken")
    with pytest.raises(ModelLoadError, match="head.npz"):
        promote(rt, "sentiment", version, force=True, reason="test")
    with rt.session() as s:  # pointed at it behind the service's back: the runtime keeps what it serves
        registry.set_current(s, "sentiment", version, "promote", "test")
    assert rt.refresh_models() == {} and rt.sentiment().version == SERVED
    with rt.session() as s:
        registry.set_current(s, "sentiment", SERVED, "rollback", "test")


def test_compare_refuses_a_snapshot_that_holds_a_gate_text(env):
    from qa_service.io.labelled import read_rows, write_catalog
    from qa_service.usecases.models import compare

    rt = env["rt"]
    sid = _cli("data", "snapshot", "sentiment", "--no-corrections").stdout.strip().splitlines()[-1]
    version = _cli("train", "sentiment", "--snapshot", sid).stdout.strip().splitlines()[-1]
    d = env["root"] / "datasets"
    catalog = json.loads((d / "catalog.json").read_text())["sets"]
    original = (d / "gate-es.jsonl").read_text()
    trained_on = read_rows(rt.settings.snapshots_dir / sid / "rows.jsonl")[0]
    try:  # the gate set grows to include a text the candidate was trained on
        with open(d / "gate-es.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"text": trained_on["text"], "label": trained_on["label"], "language": "es"}) + "\n")
        write_catalog(d, [{k: v for k, v in e.items() if k != "sha256"} for e in catalog])
        with pytest.raises(Exception, match="holds 1 row"):
            compare(rt, "sentiment", version)
    finally:
        (d / "gate-es.jsonl").write_text(original)
        write_catalog(d, [{k: v for k, v in e.items() if k != "sha256"} for e in catalog])


def test_rubric_calibration_from_disputes_and_reviews(env):
    """A rubric snapshot (base transcripts), a refit calibration, compared per criterion."""
    from qa_service.usecases.models import compare

    rt = env["rt"]
    sid = _cli("data", "snapshot", "rubric").stdout.strip().splitlines()[-1]
    from eval.blind import load_split
    from qa_service.usecases.datasets import gate_overlap, load_snapshot

    _meta, rows = load_snapshot(rt, sid)
    report = set(load_split()["report"])  # the rubric gate set: the blind set's report split
    assert rows and not any(r["id"] in report for r in rows) and gate_overlap(rt, "rubric", rows) == 0
    assert {r["id"] for r in rows} <= set(load_split()["tune"])  # the base set is its tune split
    res = _cli("train", "rubric", "default-en", "--snapshot", sid)
    assert res.exit_code == 0, res.output
    version = res.stdout.strip().splitlines()[-1]
    cal = json.loads((rt.settings.candidates_dir / "rubric-default-en" / version / "calibration.json").read_text())
    assert cal["rubric"] == {"id": "default-en", "version": "1.3.0"} and cal["kappa"]
    # what the shipped calibration holds is refitted: review thresholds and the criterion classifiers
    assert set(cal["review_below"]) == set(cal["kappa"]) and cal["classifiers"]
    bundle = rt.settings.candidates_dir / "rubric-default-en" / version
    served = rt.scorer(rt.rubric("default-en"), calibration=(version, rt.load_calibration("rubric:default-en", version)))
    assert set(served.classifiers) == set(cal["classifiers"]) and served.review_below == cal["review_below"]
    assert served.classifiers is not rt.rubric_classifiers()  # the candidate's own, from its bundle
    assert (bundle / "classifiers" / "manifest.json").exists()
    c = compare(rt, "rubric:default-en", version)
    # the gate set is the blind set's report split (30 English transcripts), never in a snapshot
    assert set(c["groups"]) == {"en"} and c["groups"]["en"]["n"] == 30
    assert set(c["groups"]["en"]["a"]["criteria"]) == set(cal["kappa"])
    assert c["gate"]["decision"] in ("pass", "fail")
