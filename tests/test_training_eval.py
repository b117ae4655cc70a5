"""Each training script and the evaluation command, run on a tiny subset of the real data (not a training run)."""

from __future__ import annotations

import json
import math

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
    from eval import datasets as ds

    assert {d["name"] for d in m["training_data"]} >= {"amazon_es/train", "tass2019/train", "tweeteval/train",
                                                       "tass2019/val", "twcs/val"}
    assert all(d["licence"] for d in m["training_data"])
    assert set(m["metrics"]) == {s.name for s in ds.report_sets()}
    assert m["evaluation_protocol"]["report_only"] == [s.name for s in ds.report_sets()]
    assert m["calibration"]["method"] == "per-language" and set(m["calibration"]["languages"]) == {"es", "en"}
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


def test_finetune_and_export_write_a_servable_int8_bundle(tmp_path):
    import numpy as np
    import torch

    from qa_service.bundles import read_manifest
    from qa_service.config import get_settings
    from qa_service.pipelines.sentiment import load_sentiment
    from qa_service.pipelines.sentiment_onnx import OnnxSentimentPipeline, build, rebuild_torch
    from qa_service.text.normalize import normalise_for_sentiment
    from training.export_sentiment import main as export
    from training.finetune_sentiment import main as finetune

    settings = get_settings()
    out = tmp_path / "ft"
    assert finetune(["--limit", "16", "--max-steps", "1", "--batch-size", "8", "--warm-examples", "40",
                     "--version", "ft-tiny", "--out", str(out)]) == 0
    m = read_manifest(out, task="sentiment")
    assert m["kind"] == "transformer-onnx" and set(m["artifacts"]) == {"layers.safetensors", "head.npz"}
    assert m["training"]["head_init"].startswith("logistic regression")
    # The bundle carries no word embeddings: they come back from the base checkpoint.
    assert (out / "layers.safetensors").stat().st_size < 60_000_000

    assert export([str(out), "--limit", "20"]) == 0
    m = read_manifest(out, task="sentiment")
    assert m["calibration"]["method"] == "per-language"
    q = m["quantization"]
    assert q["served"] == "model.int8.onnx" and 0.5 <= q["validation_agreement"]["twcs/val"]["label_agreement"] <= 1
    assert q["speed"]["int8"]["single_p50_ms"] > 0

    # The exported fp32 graph computes what the torch model computes.
    d = build(out, settings.e5_converted_dir, settings.cache_dir)
    fp32 = OnnxSentimentPipeline(d / "model.onnx", settings.e5_converted_dir, detect_language=False)
    texts = ["Pésimo servicio, me cobraron dos veces", "Gracias, todo perfecto", "What time do you open?"]
    model = rebuild_torch(out, settings.e5_converted_dir)
    tok = fp32.tokenizer_
    with torch.no_grad():
        for t, z in zip(texts, fp32.logits(texts)):
            ids = torch.tensor([tok.encode("query: " + normalise_for_sentiment(t)).ids])
            ref = model(ids, torch.ones_like(ids)).numpy()[0]
            assert np.abs(ref - z).max() < 1e-3

    pipe = load_sentiment(out, base_dir=settings.e5_converted_dir, cache_dir=settings.cache_dir)
    r = pipe.predict("Gracias por todo, excelente atención")
    assert abs(sum(r.probabilities.model_dump().values()) - 1) < 1e-3 and r.language == "es"


def test_decision_script_writes_a_version_with_a_validation_chosen_operating_point(tmp_path):
    import shutil

    import numpy as np

    from qa_service.bundles import read_manifest
    from qa_service.config import get_settings
    from qa_service.pipelines.sentiment import load_sentiment
    from training.sentiment_decision import main as decision

    settings = get_settings()
    src = tmp_path / "2.0.0"
    shutil.copytree(settings.models_dir / "sentiment" / "2.0.0", src)
    # A target every threshold meets: the highest grid threshold is chosen (the smallest move from argmax).
    assert decision([str(src), "--version", "x", "--limit", "30", "--min-recall", "0", "--min-precision", "0"]) == 0
    m = read_manifest(tmp_path / "x", task="sentiment")
    rule = m["decision"]
    assert rule["method"] == "negative-threshold" and rule["thresholds"] == {"en": 0.5}
    assert rule["chosen_on"] == ["twcs/val"] and m["metrics"] == {} and m["parent"] == "2.0.0"
    assert set(rule["validation_effect"]) >= {"tass2019/val", "twcs/val"}
    assert (tmp_path / "x" / "layers.safetensors").is_symlink()  # the weights are held once
    # A target nothing meets is refused, with a reason, and writes nothing.
    assert decision([str(src), "--version", "y", "--limit", "30", "--min-recall", "1.01"]) == 3
    assert not (tmp_path / "y").exists()
    # The served labels follow the rule; QA_SENTIMENT_DECISION=argmax gives the most probable label.
    pipe = load_sentiment(tmp_path / "x", base_dir=settings.e5_converted_dir, cache_dir=settings.cache_dir)
    plain = load_sentiment(tmp_path / "x", base_dir=settings.e5_converted_dir, cache_dir=settings.cache_dir,
                           decision="argmax")
    assert pipe.decision_ == rule and plain.decision_ is None
    p = np.array([[0.3, 0.6, 0.1], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7]])
    assert pipe.decide(p, ["en"] * 3).tolist() == [1, 0, 2] and plain.decide(p, ["en"] * 3).tolist() == [1, 0, 2]

    # --rule offsets: per language, chosen on that language's validation messages (tweets and customer messages,
    # not reviews); with no target to meet, every language with such sets gets offsets and English a threshold.
    assert decision([str(src), "--version", "z", "--rule", "offsets", "--limit", "30", "--min-recall", "0",
                     "--min-precision", "0"]) == 0
    rule = read_manifest(tmp_path / "z", task="sentiment")["decision"]
    assert rule["method"] == "offsets" and set(rule["offsets"]) == {"es", "en"}
    assert all(len(o) == 3 and o[0] == 0 for o in rule["offsets"].values()) and set(rule["thresholds"]) <= {"en"}
    assert "twcs/val" in rule["chosen_on"] and "tass2019/val" in rule["chosen_on"]
    assert "amazon_es/val" not in rule["chosen_on"] and "amazon_es/val" in rule["validation_effect"]
    assert set(rule["cross_fit"]["languages"]) == {"es", "en"}
    assert all("unseen_half" in c and "optimism" in c for c in rule["cross_fit"]["languages"].values())
    assert decision([str(src), "--version", "w", "--rule", "offsets", "--limit", "30", "--min-recall", "1.01"]) == 3
    assert not (tmp_path / "w").exists()


def test_decision_rule_moves_labels_not_probabilities():
    import numpy as np

    from qa_service.pipelines.sentiment_core import decide

    p = np.array([[0.24, 0.70, 0.06], [0.20, 0.75, 0.05], [0.30, 0.20, 0.50], [0.10, 0.10, 0.80]])
    rule = {"method": "negative-threshold", "thresholds": {"en": 0.225}}
    assert decide(p, rule, ["en"] * 4).tolist() == [0, 1, 0, 2]
    # A language without a threshold (or an unknown one) keeps the most probable label.
    assert decide(p, rule, ["es"] * 4).tolist() == [1, 1, 2, 2] == decide(p, rule).tolist()
    assert decide(p, rule, ["en", "es", "es", "en"]).tolist() == [0, 1, 2, 2]
    assert decide(p, None).tolist() == [1, 1, 2, 2] == decide(p, {"method": "argmax"}).tolist()
    # Offsets per language move the most probable label; the threshold applies after them; other languages keep argmax.
    off = {"method": "offsets", "offsets": {"es": [0.0, 0.0, -0.5]}, "thresholds": {"en": 0.225}}
    q = np.array([[0.30, 0.25, 0.45], [0.10, 0.30, 0.60], [0.20, 0.35, 0.45]])
    assert decide(q, off, ["es"] * 3).tolist() == [0, 2, 1]  # log .45 - .5 < log .30 and < log .35; log .6 - .5 > log .3
    assert decide(q, off, ["en"] * 3).tolist() == [0, 2, 2] and decide(q, off, ["xx"] * 3).tolist() == [2, 2, 2]
    assert decide(q, off).tolist() == [2, 2, 2]


def test_offsets_are_chosen_on_validation_messages_within_the_target():
    import numpy as np

    from eval.metrics import macro_f1_from_pred
    from training.sentiment_decision import OFFSETS, choose_offsets, cross_fit

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    # A model that reads a third of the neutral texts as positive: a negative offset on positive earns macro-F1.
    p = np.full((600, 3), 0.15)
    p[np.arange(600), y] = 0.7
    moved = (y == 1) & (rng.random(600) < 0.35)
    p[moved] = [0.15, 0.40, 0.45]
    best, _ = choose_offsets([("tweets/val", "tweets", p, y)], 0.8, 0.7)
    assert best["threshold"] is None and best["offsets"][2] < 0 <= best["offsets"][1]
    assert best["mean_macro_f1"] > macro_f1_from_pred(y, p.argmax(1)) + 0.05 and set(best["offsets"]) <= set(OFFSETS)
    # A customer-message set adds the negative target (its negatives read as neutral): the choice meets it.
    cm = p.copy()
    cm[y == 0] = [0.3, 0.6, 0.1]
    best, _ = choose_offsets([("tweets/val", "tweets", p, y), ("cm/val", "customer-messages", cm, y)], 0.8, 0.7)
    assert best["negative_target"]["cm/val"]["negative_recall"] >= 0.8
    assert (best["threshold"] or 1) <= 0.3 or best["offsets"][1] <= -0.75
    assert choose_offsets([("cm/val", "customer-messages", cm, y)], 1.01, 0.7)[0] is None
    # Cross-fit (chosen on one half, scored on the other): a systematic bias is corrected on unseen messages too;
    # on probabilities unrelated to the labels the choice flatters the half that chose it and gains nothing unseen.
    honest = cross_fit([("tweets/val", "tweets", p, y)], 0.8, 0.7)
    assert honest["unseen_half"] > honest["unseen_half_argmax"] + 0.05 and len(honest["folds"]) == 2
    noise = cross_fit([("tweets/val", "tweets", rng.dirichlet([1, 1, 1], 600), y)], 0.8, 0.7)
    assert noise["optimism"] > 0 and noise["unseen_half"] < noise["unseen_half_argmax"] + 0.01


def test_served_labels_follow_the_decision_rule_of_the_language(sentiment):
    from qa_service.pipelines.sentiment_core import LABELS

    rule = sentiment.decision_
    if not rule:
        pytest.skip("the served model has no decision rule")
    texts = ["My package still hasn't arrived, can you check where it is?",
             "Mi paquete todavía no ha llegado, ¿pueden revisar dónde está?", "I was charged twice this month",
             "Me han cobrado dos veces este mes", "Thanks, all sorted now", "Gracias, ya está todo resuelto"]
    results = sentiment.predict(texts)
    for r in results:
        p = [r.probabilities.negative, r.probabilities.neutral, r.probabilities.positive]
        t = rule["thresholds"].get(r.language)
        off = (rule.get("offsets") or {}).get(r.language, [0, 0, 0]) if rule["method"] == "offsets" else [0, 0, 0]
        moved = [math.log(max(x, 1e-12)) + o for x, o in zip(p, off)]
        expected = "negative" if t is not None and p[0] >= t else LABELS[max(range(3), key=moved.__getitem__)]
        assert r.label == expected, (r, t, off)


def test_distilled_student_keeps_n_layers_and_is_servable(tmp_path, monkeypatch):
    import numpy as np
    import torch

    from eval import datasets as ds
    from qa_service.bundles import read_manifest
    from qa_service.config import get_settings
    from qa_service.pipelines.sentiment import load_sentiment
    from qa_service.pipelines.sentiment_onnx import FUSED_GRAPH, LEAN_GRAPH, OnnxSentimentPipeline, build, rebuild_torch
    from qa_service.text.normalize import normalise_for_sentiment
    from training.distill_sentiment import main as distil, unlabelled_customer_messages
    from training.export_sentiment import main as export

    settings = get_settings()
    out = tmp_path / "st"
    assert distil(["--limit", "16", "--max-steps", "2", "--batch-size", "8", "--warm-examples", "40",
                   "--layers", "2", "--version", "st-tiny", "--out", str(out)]) == 0
    m = read_manifest(out, task="sentiment")
    assert m["architecture"] == {"num_hidden_layers": 2}
    assert m["distillation"]["teacher"]["version"] == "2.0.0" and m["training"]["steps"] == 2
    assert any(d["name"] == "twcs_head/unlabelled-inbound" and d["licence"] for d in m["training_data"])
    model = rebuild_torch(out, settings.e5_converted_dir)
    assert len(model.encoder.encoder.layer) == 2

    # The student's fp32 graph computes what its torch model computes, and it serves through the same contract.
    d = build(out, settings.e5_converted_dir, settings.cache_dir)
    fp32 = OnnxSentimentPipeline(d / "model.onnx", settings.e5_converted_dir, detect_language=False)
    texts = ["Pésimo servicio, me cobraron dos veces", "Thanks, all sorted now"]
    with torch.no_grad():
        for t, z in zip(texts, fp32.logits(texts)):
            ids = torch.tensor([fp32.tokenizer_.encode("query: " + normalise_for_sentiment(t)).ids])
            assert np.abs(model(ids, torch.ones_like(ids)).numpy()[0] - z).max() < 1e-3
    r = load_sentiment(out, base_dir=settings.e5_converted_dir, cache_dir=settings.cache_dir).predict(texts[0])
    assert abs(sum(r.probabilities.model_dump().values()) - 1) < 1e-3

    # The fused graph (--graph fused --version): a new sibling version whose int8 graph ONNX Runtime fused, checked
    # against the export at build; it runs one text per run, so a text's result is the same alone or in a batch.
    assert export([str(out), "--limit", "12", "--graph", "fused", "--version", "st-fused"]) == 0
    fused = tmp_path / "st-fused"
    fm = read_manifest(fused, task="sentiment")
    assert fm["onnx"] == FUSED_GRAPH and fm["quantization"]["graph"] == FUSED_GRAPH and fm["parent"] == "st-tiny"
    assert (fused / "layers.safetensors").is_symlink() and "onnx" not in read_manifest(out, task="sentiment")
    d = build(fused, settings.e5_converted_dir, settings.cache_dir)
    assert d != build(out, settings.e5_converted_dir, settings.cache_dir) and d.name.endswith("-eager-bert")
    pipe = load_sentiment(fused, base_dir=settings.e5_converted_dir, cache_dir=settings.cache_dir)
    assert pipe.per_text
    batch = ds.get("tweeteval/val").texts[:9] + ds.get("tass2019/val").texts[:9]
    together = pipe.logits(batch)
    assert np.array_equal(together, np.vstack([pipe.logits([t]) for t in batch]))
    # ... and its fp32 graph (eager attention) still computes the torch model's logits.
    fp32 = OnnxSentimentPipeline(d / "model.onnx", settings.e5_converted_dir, detect_language=False)
    with torch.no_grad():
        ids = torch.tensor([fp32.tokenizer_.encode("query: " + normalise_for_sentiment(texts[1])).ids])
        assert np.abs(model(ids, torch.ones_like(ids)).numpy()[0] - fp32.logits([texts[1]])[0]).max() < 1e-3
    # int8 on the fused graph stays close to fp32 (same labels on most texts).
    assert (together.argmax(1) == fp32.logits(batch).argmax(1)).mean() >= 0.8

    # The lean graph (--graph lean): no fused layer norm or attention kernel is left in either graph; its fp32
    # graph (the one int8 quantises) still computes the torch model's logits, padded batches included.
    import onnx

    from qa_service.errors import ModelLoadError
    from qa_service.pipelines import sentiment_onnx

    assert export([str(out), "--limit", "12", "--graph", "lean", "--version", "st-lean"]) == 0
    lean = tmp_path / "st-lean"
    assert read_manifest(lean, task="sentiment")["quantization"]["graph"] == LEAN_GRAPH
    # Built afresh here (the shared cache would keep a graph from an earlier run): a failed rewrite leaves nothing
    # behind, then the real one builds.
    cache = tmp_path / "cache"

    def broken(*_, **__):
        raise ModelLoadError("cannot rewrite Attention node 'x'", "x")

    with monkeypatch.context() as mp:
        mp.setattr(sentiment_onnx, "lean_ops", broken)
        with pytest.raises(ModelLoadError):
            build(lean, settings.e5_converted_dir, cache)
    assert not list((cache / "sentiment-onnx").iterdir())
    d = build(lean, settings.e5_converted_dir, cache)
    assert d.name.endswith("-eager-bert-lean") and [p.name for p in d.parent.iterdir()] == [d.name]
    for f in ("model.onnx", "model.int8.onnx"):
        ops = {n.op_type for n in onnx.load(str(d / f), load_external_data=False).graph.node}
        assert {"MeanVarianceNormalization", "MultiHeadAttention"} <= ops, f
        assert not {"LayerNormalization", "SkipLayerNormalization", "Attention", "QAttention"} & ops, f
    fp32 = OnnxSentimentPipeline(d / "model.onnx", settings.e5_converted_dir, detect_language=False)
    with torch.no_grad():
        enc = [fp32.tokenizer_.encode("query: " + normalise_for_sentiment(t)).ids for t in texts]
        ids = torch.ones((2, max(map(len, enc))), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, e in enumerate(enc):
            ids[i, : len(e)], mask[i, : len(e)] = torch.tensor(e), 1
        assert np.abs(model(ids, mask).numpy() - fp32.logits(texts)).max() < 1e-3
    pipe = load_sentiment(lean, base_dir=settings.e5_converted_dir, cache_dir=cache)
    assert pipe.per_text and (pipe.logits(batch).argmax(1) == fp32.logits(batch).argmax(1)).mean() >= 0.8

    # The unlabelled customer messages share no near-duplicate key with any validation or report text.
    extra, desc = unlabelled_customer_messages()
    held = {ds.dedup_key(t) for s in ds.all_sets() if s.role in ("val", "report") for t in s.texts}
    assert len(extra) > 500 and not {ds.dedup_key(t) for t in extra} & held
    assert desc["left_out"]["labelled"] > 0 and desc["left_out"]["brand"] > 0


def test_distillation_refuses_bad_arguments_in_one_line(tmp_path, capsys):
    from training.distill_sentiment import main as distil

    assert distil(["--teacher", str(tmp_path / "nothing"), "--out", str(tmp_path / "st")]) == 4
    assert distil(["--layers", "0", "--out", str(tmp_path / "st")]) == 2
    assert distil(["--epochs", "0", "--out", str(tmp_path / "st")]) == 2
    assert distil(["--customer-repeat", "0", "--out", str(tmp_path / "st")]) == 2
    assert distil(["--customer-repeat", "3", "--out", str(tmp_path / "st")]) == 2  # nothing to repeat
    assert distil(["--customer-prior-shift", "--out", str(tmp_path / "st")]) == 2  # nothing to fit it to
    err = capsys.readouterr().err
    assert "cannot read the teacher" in err and "Traceback" not in err and not (tmp_path / "st").exists()


def test_comparison_measures_each_report_set_once_per_candidate_with_int8_fp32_agreement(tmp_path):
    from eval import compare_sentiment
    from eval import datasets as ds
    from qa_service.config import get_settings

    calls: dict[str, int] = {}
    real = compare_sentiment.bundle_candidates

    def counting(path, precisions):
        out = []
        for name, predict, details, decider in real(path, precisions):
            def counted(s, p=predict, n=name):
                calls[f"{n} {s.name}"] = calls.get(f"{n} {s.name}", 0) + 1
                return p(s)
            out.append((name, counted, details, decider))
        return out

    compare_sentiment.bundle_candidates = counting
    try:
        bundle = get_settings().models_dir / "sentiment" / "3.3.0"
        assert compare_sentiment.main(["--candidates", "", "--bundle", str(bundle), "--precision", "int8,fp32",
                                       "--limit", "15", "--out", str(tmp_path), "--name", "cmp"]) == 0
    finally:
        compare_sentiment.bundle_candidates = real
    report = json.loads((tmp_path / "cmp.json").read_text())
    names = {s.name for s in ds.report_sets()}
    assert set(report["candidates"]) == {"3.3.0-int8", "3.3.0-fp32"}
    assert all(set(c["report"]) == names for c in report["candidates"].values())
    assert set(report["agreement"]) == names and all(0 <= a["label_agreement"] <= 1 for a in report["agreement"].values())
    # Every set predicted once per candidate: the agreement reads what the measurement predicted.
    assert calls and set(calls.values()) == {1}
    assert report["candidates"]["3.3.0-int8"]["details"]["decision"]["method"] == "offsets"


def test_customer_training_labels_are_real_twcs_messages_apart_from_validation_and_report(tmp_path):
    """The TWCS messages labelled by reading for training (training/labels/) are inbound messages of
    ../shared/data, none of them a labelled validation/report message or a near-duplicate of any validation or
    report text; a file that names one of those is refused."""
    import csv
    from pathlib import Path

    from eval import datasets as ds
    from training.distill_sentiment import labelled_customer_messages

    path = Path(__file__).resolve().parents[1] / "training" / "labels" / "twcs-train-labels.csv"
    gold, desc = labelled_customer_messages(path)
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    left = desc["left_out"]
    assert len(rows) == 1000 and len(gold) + left["skip"] + left["author_of_a_validation_or_report_message"] == 1000
    assert len(gold) > 500 and desc["rows"] == len(gold) == sum(desc["label_counts"].values())
    assert min(desc["label_counts"].values()) > 50
    held = {ds.dedup_key(t) for s in ds.all_sets() if s.role in ("val", "report") for t in s.texts}
    assert not {ds.dedup_key(t) for t in gold} & held
    # No customer who wrote a labelled validation/report message has a message among the training rows.
    with (ds.data_root() / "twcs_head" / "twcs_head.csv").open(encoding="utf-8", newline="") as fh:
        twcs = {r["tweet_id"]: r for r in csv.DictReader(fh)}
    held_authors = {twcs[i]["author_id"] for i in ds.twcs_labels() if i in twcs}
    gold_authors = {twcs[r["tweet_id"]]["author_id"] for r in rows if " ".join(twcs[r["tweet_id"]]["text"].split()) in gold}
    assert gold_authors and not gold_authors & held_authors
    bad = tmp_path / "bad.csv"
    val_id = next(iter(ds.twcs_labels()))
    bad.write_text(f"tweet_id,label\n{rows[0]['tweet_id']},{rows[0]['label']}\n{val_id},negative\n")
    with pytest.raises(ValueError, match=val_id):
        labelled_customer_messages(bad)
    bad.write_text(f"tweet_id,label\n{rows[0]['tweet_id']},angry\n")
    with pytest.raises(ValueError, match="angry"):
        labelled_customer_messages(bad)

    # The distillation reads them as gold rows and says so in the manifest; a bad file is one line and exit 2.
    from qa_service.bundles import read_manifest
    from training.distill_sentiment import main as distil

    out = tmp_path / "st"
    assert distil(["--limit", "8", "--max-steps", "1", "--batch-size", "8", "--warm-examples", "24", "--layers", "1",
                   "--customer-labels", str(path), "--customer-repeat", "2", "--customer-prior-shift",
                   "--version", "st-gold", "--out", str(out)]) == 0
    m = read_manifest(out, task="sentiment")
    assert m["distillation"]["customer_labelled_rows"] == 8 and m["distillation"]["customer_alpha"] == 0.3
    assert m["distillation"]["customer_repeat"] == 2
    biases = m["distillation"]["customer_prior_shift"]["biases"]
    assert len(biases) == 3 and biases[1] == 0 and biases != [0, 0, 0]
    assert any(d["name"] == "twcs/train-labelled" and d["rows"] == 8 for d in m["training_data"])
    assert distil(["--limit", "8", "--customer-labels", str(bad), "--out", str(tmp_path / "st2")]) == 2
    assert not (tmp_path / "st2").exists()


def test_soup_averages_students_from_the_same_start_and_refuses_others(tmp_path, capsys):
    import numpy as np
    from safetensors.numpy import load_file

    from qa_service.bundles import read_manifest
    from qa_service.config import get_settings
    from training.soup_sentiment import main as soup

    d = get_settings().models_dir / "sentiment"
    a, b = d / "3.0.0", d / "3.8.0"
    assert soup([str(a), str(b), "--out", str(tmp_path / "s"), "--weights", "3", "1", "--version", "s"]) == 0
    la, lb, ls = (load_file(str(x / "layers.safetensors")) for x in (a, b, tmp_path / "s"))
    k = "encoder.layer.5.output.dense.weight"
    want = 0.75 * la[k].astype(np.float32) + 0.25 * lb[k].astype(np.float32)
    assert np.abs(ls[k].astype(np.float32) - want).max() < 2e-3 and not np.array_equal(ls[k], la[k])
    m = read_manifest(tmp_path / "s", task="sentiment")
    assert [i["weight"] for i in m["soup"]["of"]] == [0.75, 0.25] and m["architecture"] == {"num_hidden_layers": 6}
    assert {t["name"] for t in m["training_data"]} >= {"tass2019/train", "twcs/train-labelled"} and m["metrics"] == {}
    # A 12-layer bundle is not from the same start: refused in one line, nothing written.
    assert soup([str(a), str(d / "2.0.0"), "--out", str(tmp_path / "t")]) == 2
    assert "architecture differs" in capsys.readouterr().err and not (tmp_path / "t").exists()


def test_export_that_cannot_build_says_so_in_one_line_and_leaves_the_bundle_as_it_was(tmp_path, monkeypatch, capsys):
    from qa_service.bundles import link_copy, read_manifest
    from qa_service.config import get_settings
    from qa_service.errors import ModelLoadError
    from qa_service.pipelines import sentiment_onnx
    from training.export_sentiment import main as export

    src = tmp_path / "3.1.0"
    link_copy(get_settings().models_dir / "sentiment" / "3.1.0", src)
    before = (src / "manifest.json").read_text()

    def fail(*_, **__):
        raise ModelLoadError("the fused graph disagrees with the export (max |diff| 0.5)", "x")

    monkeypatch.setattr(sentiment_onnx, "build", fail)
    assert export([str(src), "--graph", "fused"]) == 3
    assert (src / "manifest.json").read_text() == before and "onnx" not in read_manifest(src, task="sentiment")
    assert export([str(src), "--graph", "fused", "--version", "x"]) == 3 and not (tmp_path / "x").exists()
    err = capsys.readouterr().err
    assert "cannot build the ONNX graph" in err and "disagrees" in err and "Traceback" not in err


def test_prior_shift_recovers_the_bias_between_a_model_and_a_domain():
    """Labels drawn from softmax(z + b): the fitted biases come back close to b (neutral's fixed at 0)."""
    import numpy as np

    from training.distill_sentiment import prior_shift

    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, (4000, 3))
    b = np.array([1.5, 0.0, -0.7])
    a = np.exp(z + b)
    p = a / a.sum(1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in p])
    got = prior_shift(z, y)
    assert got[1] == 0 and np.abs(got - b).max() < 0.15
    assert np.abs(prior_shift(z, np.array([rng.choice(3, p=r) for r in np.exp(z) / np.exp(z).sum(1, keepdims=True)]))).max() < 0.15
