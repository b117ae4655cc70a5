"""Embeddings kept on disk by text hash, so a text is embedded once across runs and across pipelines.

:class:`CachedEncoder` wraps any :class:`~qa_service.encoders.Encoder`: a batch is looked up by a keyed hash of
each text (HMAC-SHA256 with a secret made once per cache directory, so the file cannot be used to confirm a
guessed text), only the misses are encoded, and they are written back. One SQLite file per encoder fingerprint
(a different model never reads another's vectors). Vectors are stored as the encoder returned them (float32), so
a cached vector is bit-identical to a fresh one.

Small calls (fewer than ``min_batch`` texts: the live sentiment path, one request at a time) go straight to the
encoder: a disk round trip would cost more than it saves and would fill the cache with one-off texts. The file
is bounded (``max_mb``): the oldest rows go first. The topic fit and the sentiment of the same comments share
the cache, so a comment is embedded once per fit (and not again on the next fit of an overlapping period).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from qa_service.encoders._base import Encoder

_LOOKUP_CHUNK = 500


class CachedEncoder:
    """An encoder whose batch results are cached on disk by keyed text hash.

    Args:
        encoder: the encoder to wrap.
        directory: where the cache files live (one per encoder fingerprint) and the hashing key.
        max_mb: largest cache file; beyond it the oldest tenth of the rows is deleted.
        min_batch: calls with fewer texts are not cached.
    """

    def __init__(self, encoder: Encoder, directory: Path, max_mb: int = 2048, min_batch: int = 16) -> None:
        self.inner = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self.directory = Path(directory)
        self.max_mb = max_mb
        self.min_batch = min_batch
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._key: bytes | None = None
        self.hits = 0
        self.misses = 0

    def fingerprint(self) -> str:
        return self.inner.fingerprint()

    # ------------------------------------------------------------------ storage
    def _open(self) -> sqlite3.Connection:
        with self._lock:
            if self._path is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                key_file = self.directory / ".key"
                if not key_file.exists():
                    tmp = key_file.with_name(f".key.{os.getpid()}.tmp")
                    tmp.write_bytes(secrets.token_bytes(32))
                    os.chmod(tmp, 0o600)
                    tmp.replace(key_file)  # atomic: a concurrent process keeps whichever key won
                self._key = key_file.read_bytes()
                fp = self.fingerprint().split(":")[-1][:16]
                self._path = self.directory / f"{self.name.replace('/', '_')}-{fp}.sqlite"
        con = sqlite3.connect(self._path, timeout=30)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL, added REAL NOT NULL)")
        return con

    def _hash(self, text: str) -> bytes:
        assert self._key is not None
        return hmac.new(self._key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()[:20]

    # ------------------------------------------------------------------ encoding
    def encode(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Embed ``texts`` (rows L2-normalised, float32), reading known texts from the cache."""
        texts = list(texts)
        if len(texts) < self.min_batch:
            return self.inner.encode(texts)
        con = self._open()
        try:
            keys = [self._hash(t) for t in texts]
            found: dict[bytes, np.ndarray] = {}
            unique = list(dict.fromkeys(keys))
            for i in range(0, len(unique), _LOOKUP_CHUNK):
                part = unique[i:i + _LOOKUP_CHUNK]
                rows = con.execute(f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
                for k, v in rows:
                    vec = np.frombuffer(v, dtype=np.float32)
                    if vec.shape[0] == self.dim:
                        found[k] = vec
            todo, queued = [], set()  # first position of each text not in the cache
            for i, k in enumerate(keys):
                if k not in found and k not in queued:
                    queued.add(k)
                    todo.append(i)
            if todo:
                fresh = np.asarray(self.inner.encode([texts[i] for i in todo]), dtype=np.float32)
                now = time.time()
                rows_out = []
                for i, vec in zip(todo, fresh):
                    found[keys[i]] = vec
                    rows_out.append((keys[i], vec.tobytes(), now))
                with con:
                    con.executemany("INSERT OR IGNORE INTO vectors (key, vec, added) VALUES (?, ?, ?)", rows_out)
                self._prune(con)
            self.hits += len(texts) - len(todo)
            self.misses += len(todo)
            return np.vstack([found[k] for k in keys]).astype(np.float32, copy=False)
        finally:
            con.close()

    def _prune(self, con: sqlite3.Connection) -> None:
        assert self._path is not None
        size = self._path.stat().st_size + (self._path.with_name(self._path.name + "-wal").stat().st_size
                                            if self._path.with_name(self._path.name + "-wal").exists() else 0)
        if size <= self.max_mb * 1024 * 1024:
            return
        with con:
            n = con.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
            con.execute("DELETE FROM vectors WHERE key IN (SELECT key FROM vectors ORDER BY added LIMIT ?)",
                        (max(1, n // 10),))
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("VACUUM")
