"""multilingual-e5-small (or any sentence-transformers model) through sentence-transformers."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from qa_service.bundles import files_sha256
from qa_service.encoders._base import l2_normalise
from qa_service.errors import ModelLoadError


class SentenceTransformerEncoder:
    """Wraps a sentence-transformers model from a local directory or a hub id.

    Args:
        model: local directory or hub model id (hub ids need the files in the local HF cache when offline).
        name: the name recorded in manifests.
        prefix: text prepended to every input; e5 expects ``"query: "``.
        max_seq_length: truncation length in tokens.
        threads: torch CPU threads.
        fingerprint: the weights' checksum when the caller has already computed it (saves hashing twice).
    """

    def __init__(self, model: str | Path, name: str | None = None, prefix: str = "",
                 max_seq_length: int = 256, threads: int = 2, fingerprint: str | None = None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self.name = name or str(model)
        self.prefix = prefix
        self._path = Path(model) if Path(model).exists() else None
        self._fingerprint = fingerprint
        try:
            self._model = SentenceTransformer(str(model), device="cpu")
        except Exception as exc:  # noqa: BLE001 - surface any loader failure as one clear error
            raise ModelLoadError(f"cannot load sentence-transformers model {model!r}: {exc}", path=str(model)) from exc
        self._model.max_seq_length = max_seq_length
        self.dim = int(self._model.get_embedding_dimension())

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        texts = [self.prefix + t for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._model.encode(texts, batch_size=batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)
        return l2_normalise(out)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            if self._path is None:
                self._fingerprint = "hub:" + self.name
            else:
                weights = sorted(self._path.glob("*.safetensors")) or sorted(self._path.glob("*.bin"))
                self._fingerprint = files_sha256(weights)
        return self._fingerprint
