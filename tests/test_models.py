"""Bundles: manifests, checksums, versions, promotion; a corrupted artefact fails loudly, naming the file."""

from __future__ import annotations

import json

import pytest

from qa_service.errors import ModelLoadError
from qa_service.models import current_version, list_versions, read_manifest, resolve_bundle, set_current
from qa_service.pipelines.sentiment import load_sentiment


def test_shipped_manifest_is_complete(settings):
    bundle = resolve_bundle(settings.models_dir, "sentiment", "latest")
    m = read_manifest(bundle, task="sentiment")
    assert m["labels"] == ["negative", "neutral", "positive"]
    assert m["encoder"]["fingerprint"].startswith("sha256:")
    assert all(d["licence"] and d["sha256"].startswith("sha256:") for d in m["training_data"])
    assert m["metrics"], "held-out metrics must be recorded in the manifest"
    for name, r in m["metrics"].items():
        assert 0 <= r["macro_f1"] <= 1, name
    assert "torch" in m["library_versions"] or "numpy" in m["library_versions"]


def test_corrupted_head_names_the_file(bundle_copy):
    v = current_version(bundle_copy, "sentiment")
    head = bundle_copy / "sentiment" / v / "head.npz"
    data = bytearray(head.read_bytes())
    data[len(data) // 2] ^= 0xFF
    head.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError) as exc:
        load_sentiment(bundle_copy / "sentiment" / v)
    assert "head.npz" in str(exc.value)
    assert "checksum" in str(exc.value)


def test_missing_artefact_and_bad_manifest(bundle_copy):
    v = current_version(bundle_copy, "sentiment")
    b = bundle_copy / "sentiment" / v
    (b / "head.npz").unlink()
    with pytest.raises(ModelLoadError, match="head.npz"):
        read_manifest(b)
    (b / "manifest.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="manifest.json"):
        read_manifest(b)


def test_wrong_encoder_fingerprint_is_refused(bundle_copy):
    v = current_version(bundle_copy, "sentiment")
    b = bundle_copy / "sentiment" / v
    m = json.loads((b / "manifest.json").read_text())
    m["encoder"]["fingerprint"] = "sha256:0000"
    (b / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ModelLoadError, match="fingerprint"):
        load_sentiment(b)


def test_promote_and_rollback(bundle_copy):
    import shutil

    v = current_version(bundle_copy, "sentiment")
    shutil.copytree(bundle_copy / "sentiment" / v, bundle_copy / "sentiment" / "0.0.1")
    assert "0.0.1" in list_versions(bundle_copy, "sentiment")
    set_current(bundle_copy, "sentiment", "0.0.1")
    assert resolve_bundle(bundle_copy, "sentiment", "latest").name == "0.0.1"
    set_current(bundle_copy, "sentiment", v)
    assert resolve_bundle(bundle_copy, "sentiment", "latest").name == v
    with pytest.raises(ModelLoadError):
        set_current(bundle_copy, "sentiment", "9.9.9")
    with pytest.raises(ModelLoadError, match="not found"):
        resolve_bundle(bundle_copy, "sentiment", "9.9.9")
