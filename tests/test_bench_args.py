"""Benchmarks refuse bad arguments in one line before running anything, and say so when data is missing."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("module, argv, why", [
    ("bench.onnx_ops", ["--texts", "3"], "--texts must be at least twice --rounds"),
    ("bench.onnx_ops", ["--rounds", "0"], "--rounds at least 1"),
    ("bench.cli_memory", ["--rows", "0"], "--rows must be at least 1"),
    ("bench.load", ["--users", "0"], "--users, --seconds and --transcripts must be at least 1"),
    ("bench.sentiment", ["--batch", "0"], "--batch must be at least 1"),
])
def test_bad_counts_are_refused_in_one_line(module, argv, why, capsys):
    import importlib

    with pytest.raises(SystemExit) as exc:
        importlib.import_module(module).main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and why in err and "Traceback" not in err


@pytest.mark.parametrize("module", ["bench.onnx_ops", "bench.cli_memory", "bench.load"])
def test_an_output_path_that_is_a_directory_is_refused(module, tmp_path, capsys):
    import importlib

    with pytest.raises(SystemExit) as exc:
        importlib.import_module(module).main(["--out", str(tmp_path)])
    assert exc.value.code == 2 and "is a directory" in capsys.readouterr().err


def test_onnx_ops_without_validation_tweets_stops_in_one_line_before_timing(monkeypatch):
    from bench import onnx_ops
    from eval import datasets as ds

    def missing(name):
        raise FileNotFoundError(f"../shared/data/{name}")

    monkeypatch.setattr(ds, "get", missing)
    monkeypatch.setattr(onnx_ops, "kernels", lambda: pytest.fail("timed before the inputs were checked"))
    with pytest.raises(SystemExit) as exc:
        onnx_ops.main(["--out", "/tmp/never-written.json"])
    assert "validation tweets are not readable" in str(exc.value.code)
