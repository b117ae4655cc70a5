"""The encoder contract: texts in, one L2-normalised float32 row per text out."""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    """A sentence encoder.

    Attributes:
        name: the registry name or model id it was built from (goes into manifests).
        dim: embedding width.
    """

    name: str
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed ``texts``; returns an array of shape (len(texts), dim), float32, rows L2-normalised."""
        ...

    def fingerprint(self) -> str:
        """A checksum of the weights, so a bundle can verify it runs on the encoder it was trained on."""
        ...


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation that leaves all-zero rows at zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms
