"""The on-disk embedding cache: same vectors, each text embedded once across instances (processes), no raw text on
disk, small calls untouched, bounded size."""

from __future__ import annotations

import hashlib

import numpy as np

from qa_service.encoders import l2_normalise
from qa_service.encoders.cache import CachedEncoder


class Tiny:
    """A deterministic encoder that records what it was asked to embed."""

    name = "tiny"
    dim = 16

    def __init__(self, fingerprint: str = "sha256:tiny") -> None:
        self.seen: list[str] = []
        self._fp = fingerprint

    def encode(self, texts, batch_size: int = 64) -> np.ndarray:
        self.seen += list(texts)
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[:16], dtype=np.uint8).astype(np.float32)
                for t in texts]
        return l2_normalise(np.vstack(rows)) if rows else np.zeros((0, 16), np.float32)

    def fingerprint(self) -> str:
        return self._fp


TEXTS = [f"comentario número {i}: la habitación estaba sucia" for i in range(40)]


def test_each_text_is_embedded_once_and_vectors_are_identical(tmp_path):
    inner = Tiny()
    enc = CachedEncoder(inner, tmp_path)
    first = enc.encode(TEXTS + TEXTS[:5])  # duplicates inside a batch: embedded once
    assert len(inner.seen) == 40 and np.array_equal(first[:40], Tiny().encode(TEXTS))
    again = enc.encode(TEXTS[10:] + ["uno nuevo que no estaba antes en la caché"] * 20)
    assert inner.seen[40:] == ["uno nuevo que no estaba antes en la caché"]
    assert np.array_equal(again[:30], first[10:40]) and again.dtype == np.float32
    # Another instance on the same directory (the next run, another process) reads what this one wrote.
    other = Tiny()
    assert np.array_equal(CachedEncoder(other, tmp_path).encode(TEXTS), first[:40]) and other.seen == []
    # Another model never reads these vectors.
    different = Tiny("sha256:other")
    CachedEncoder(different, tmp_path).encode(TEXTS)
    assert len(different.seen) == 40


def test_small_calls_bypass_the_cache_and_no_text_is_stored(tmp_path):
    inner = Tiny()
    enc = CachedEncoder(inner, tmp_path, min_batch=16)
    enc.encode(["una sola frase"])
    enc.encode(["una sola frase"])
    assert inner.seen == ["una sola frase"] * 2  # the live path: straight to the encoder, nothing written
    enc.encode(TEXTS)
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"habitaci" not in blob and "habitación".encode() not in blob


def test_the_file_is_bounded(tmp_path):
    enc = CachedEncoder(Tiny(), tmp_path, max_mb=1)
    for k in range(60):
        enc.encode([f"lote {k} texto {i} " + "x" * 50 for i in range(100)])
    db = next(tmp_path.glob("*.sqlite"))
    assert db.stat().st_size <= 1.2 * 1024 * 1024
