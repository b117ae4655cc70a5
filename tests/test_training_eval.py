"""Each training script and the evaluation command, run on a tiny subset of the real data (not a training run)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import needs_shared_data

pytestmark = needs_shared_data()


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    from training.sentiment import main

    out = tmp_path_factory.mktemp("bundles") / "tiny"
    assert main(["--limit", "60", "--head", "logreg", "--version", "tiny", "--out", str(out)]) == 0
    return out


def test_training_script_writes_a_verified_bundle(tiny_bundle):
    from qa_service.bundles import read_manifest
    from qa_service.pipelines.sentiment import load_sentiment

    m = read_manifest(tiny_bundle, task="sentiment")
    assert m["version"] == "tiny"
    assert {d["name"] for d in m["training_data"]} >= {"amazon_es/train", "tass2019/train"}
    assert all(d["licence"] for d in m["training_data"])
    assert set(m["metrics"]) == {"amazon_es/test", "tass2019/test", "cuba_hotels/test", "restmex/test", "cfpb/test"}
    pipe = load_sentiment(tiny_bundle)
    assert pipe.predict("Excelente servicio, muchas gracias").label in ("positive", "neutral", "negative")


def test_eval_command_writes_reports(tiny_bundle, tmp_path):
    from eval.sentiment import main

    assert main(["--model", str(tiny_bundle), "--limit", "40", "--out", str(tmp_path)]) == 0
    rep = json.loads((tmp_path / "sentiment-tiny-limit40.json").read_text())
    r = rep["sets"]["tass2019/test"]
    assert r["n"] == 40 and 0 <= r["macro_f1"] <= 1 and 0 <= r["ece"] <= 1
    assert len(r["confusion"]["matrix"]) == 3
    assert (tmp_path / "sentiment-tiny-limit40.md").read_text().startswith("# Sentiment evaluation")


def test_eval_command_reports_a_missing_model(tmp_path):
    from eval.sentiment import main

    assert main(["--model", str(tmp_path / "nothing"), "--limit", "5", "--out", str(tmp_path)]) == 3


def test_finetune_script_runs_and_writes_a_servable_bundle(tmp_path):
    from qa_service.bundles import read_manifest
    from qa_service.pipelines.sentiment import load_sentiment
    from training.finetune_sentiment import main

    out = tmp_path / "ft"
    assert main(["--limit", "16", "--max-train", "16", "--max-steps", "1", "--batch-size", "8", "--no-eval",
                 "--version", "ft-tiny", "--out", str(out)]) == 0
    m = read_manifest(out, task="sentiment")
    assert m["kind"] == "embedding-head" and "encoder/model.safetensors" in m["artifacts"]
    assert m["encoder"]["path"] == "encoder" and m["encoder"]["prefix"] == "query: "
    assert m["training"]["head_init"].startswith("logistic regression")
    pipe = load_sentiment(out)
    r = pipe.predict("Gracias por todo, excelente atención")
    assert abs(sum(r.probabilities.model_dump().values()) - 1) < 1e-3
    # One step from a warm-started head: it already behaves like the e5 + LR model on a clear case.
    assert pipe.predict("Pésimo servicio, me cobraron dos veces y nadie responde").label == "negative"
