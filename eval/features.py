"""Embedding cache for offline work: each (encoder, text list) is embedded once and kept on disk."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from qa_service.config import get_settings
from qa_service.encoders import Encoder


def _key(texts: Sequence[str]) -> str:
    h = hashlib.sha1()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def embed_cached(encoder: Encoder, texts: Sequence[str], tag: str, chunk: int = 512) -> np.ndarray:
    """Embeddings of ``texts`` by ``encoder``, read from / written to the cache directory."""
    from tqdm import tqdm

    d = get_settings().cache_dir / "embeddings" / encoder.name.replace("/", "_")
    d.mkdir(parents=True, exist_ok=True)
    f = d / f"{tag.replace('/', '_')}-{_key(texts)}.npy"
    if f.exists():
        return np.load(f)
    parts = []
    for i in tqdm(range(0, len(texts), chunk), desc=f"{encoder.name}:{tag}", file=sys.stderr, unit="chunk"):
        parts.append(encoder.encode(list(texts[i : i + chunk])))
    arr = np.vstack(parts) if parts else np.zeros((0, encoder.dim), np.float32)
    tmp = Path(str(f) + ".tmp.npy")
    np.save(tmp, arr)
    tmp.replace(f)
    return arr
