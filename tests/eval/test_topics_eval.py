"""eval.topics: a tune-grid name that does not exist is refused, not silently skipped (a documented command that
names a renamed entry would otherwise drop that configuration from the comparison without a word)."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from eval.topics import TUNE_GRID, main


def test_unknown_tune_entry_is_refused_in_one_line(tmp_path):
    app = typer.Typer()
    app.command()(main)
    result = CliRunner().invoke(app, ["--tune", "--only", "default", "--only", "n_components=42",
                                      "--out", str(tmp_path / "t")])
    assert result.exit_code == 2
    assert "'n_components=42' is not a tune grid entry" in result.output
    result = CliRunner().invoke(app, ["--control", "lexical_weight=9", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "'lexical_weight=9' is not a tune grid entry" in result.output
    assert not list(tmp_path.iterdir())  # nothing run, nothing written
    assert "default" in TUNE_GRID and "n_components=5 (before)" in TUNE_GRID


def test_tagging_measure_on_planted_themes():
    """eval.topic_tagging on three themes told apart by their words (and, here, by their embeddings too): a fitted
    comment is tagged to its own topic and new comments are tagged into the right themes."""
    import numpy as np

    from eval.topic_tagging import measure
    from tests.pipelines.test_topic_lexical import _planted

    texts, x, gold = _planted(120)
    x = x + 4.0 * np.eye(3, x.shape[1], dtype=np.float32)[gold]  # embeddings that carry the themes as well
    for weight in (0.0, 0.5):
        m = measure(texts, [str(g) for g in gold], x, weight)
        assert m["again_same"] > 0.9 and m["nmi_tags_new"] > 0.8, (weight, m)
