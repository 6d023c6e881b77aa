"""One query vector straight from the transformer's weights: the search's hot path.

``SentenceTransformer.encode`` (and even its modules called one by one) spends a fifth of a
query's encoding on generic machinery: feature dicts, attention-mask arithmetic, padding
logic, per-call checks. A single query needs none of it: no padding, so no mask; one
sequence, so plain 2-D matrices. :class:`LeanQueryEncoder` runs the same computation on the
model's own weight tensors (shared, not copied): tokenizer, embeddings, 12 post-LN encoder
layers, mean pooling over all tokens (prompt included, as the model's Pooling module is
configured), L2 normalisation.

What is left is the matrix products, and on this machine they wait for memory: every query
reads all 85 MB of float32 layer weights (a one-token query already takes 10 ms). With
``bf16`` the products read bfloat16 copies of the weights (half the bytes) and run on the
CPU's bfloat16 instructions (AMX or AVX512-BF16) with float32 accumulation (the default only
where the CPU has them, see :func:`native_bf16`); layer norms, attention softmax, GELU,
residuals and pooling stay float32. Vectors then differ from float32 ones by cosine 1e-5
(worst over the KB set: 0.999993).
One query on the shared 2-core machine, p50/p95 (bench/speed.py prints it): through
sentence-transformers 30/35 ms, lean float32 25/29 ms, lean bfloat16 20/24 ms.

It only takes models it can reproduce: a BERT or XLM-RoBERTa encoder (absolute positions,
GELU) under sentence-transformers' Transformer → mean Pooling → (Normalize) stack, and it
checks itself against the reference path's vectors of a few probe texts at load time;
anything else keeps the reference path. Once a model folder has passed that check, later
processes read the encoder straight from the folder's files (:meth:`from_folder`) and check
it against the recorded reference vectors: a search process with a built index then never
imports transformers or sentence-transformers, which took 8 of 13 s of start-up.
tests/retrieval/test_lean_encoder.py holds both precisions and both sources to cosine
≥ 0.9999 against sentence-transformers.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# The lean path must reproduce the reference path; measured over the KB set: 0.9999999
# (float32), 0.999993 (bfloat16).
MIN_SELF_CHECK_COSINE = 0.9999
# Texts the lean path must reproduce: plain German, another language, casing and symbols the
# tokenizer's normaliser handles, and one beyond QUERY_MAX_TOKENS (truncation).
PROBES = (
    "Wie ändere ich meine Rechnungsadresse?",
    "Comment désactiver la double authentification ?",
    "ZWEI-FAKTOR-Authentifizierung weg!!! 2fa, Straße & Co. 😀",
    " ".join(["Mahnung"] * 40 + ["Rechnung"] * 120),
)
_ENCODERS = {"BertModel": 0, "XLMRobertaModel": None}  # position offset (None: padding_idx+1)


@dataclass(frozen=True)
class _Layer:
    q: tuple
    k: tuple
    v: tuple
    attention_out: tuple
    attention_norm: tuple
    intermediate: tuple
    output: tuple
    output_norm: tuple


class LeanQueryEncoder:
    """``encode(text)`` == the model's normalised sentence embedding of ``text`` (prompt
    already prepended), for one text at a time."""

    def __init__(self, st_model, max_tokens: int, *, bf16: bool = False) -> None:
        """The encoder over a loaded sentence-transformers model's own tensors (shared, not
        copied); use :meth:`for_model`, which checks that the model fits. ``bf16``: the
        matrix products in bfloat16 (see module doc), everything else in float32."""
        transformer = st_model[0]
        bert = transformer.auto_model
        # The model's own fast (Rust) tokenizer, read-only: its truncation and padding are
        # state that sentence-transformers sets before each batch, so this path never changes
        # them (a private copy would cost 0.8 s of start-up) and truncates by itself.
        self._setup(
            bert.state_dict(),
            {**bert.config.to_dict(), "architectures": [type(bert).__name__]},
            transformer.tokenizer.backend_tokenizer,
            min(int(max_tokens), int(transformer.max_seq_length)),
            bf16,
        )

    @classmethod
    def from_folder(
        cls, folder: Path, prompt: str, max_tokens: int, references: np.ndarray, *, bf16: bool
    ) -> LeanQueryEncoder | None:
        """The encoder straight from a saved model's files, without importing transformers
        or sentence-transformers (seconds of start-up), or None unless it reproduces
        ``references``: sentence-transformers' vectors of :data:`PROBES` for this very folder,
        recorded when that model last passed :meth:`for_model` (retrieval/embeddings.py)."""
        try:
            from safetensors.torch import load_file
            from tokenizers import Tokenizer

            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            st_config = json.loads((folder / "sentence_bert_config.json").read_text("utf-8"))
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            encoder = cls.__new__(cls)
            encoder._setup(
                load_file(str(folder / "model.safetensors")),
                config,
                tokenizer,
                min(int(max_tokens), int(st_config["max_seq_length"])),
                bf16,
            )
            cosine = encoder.agreement(prompt, references)
        except Exception as exc:  # missing files, foreign layouts: the caller loads the model
            log.info("query encoder not read from %s: %s: %s", folder, type(exc).__name__, exc)
            return None
        if cosine < MIN_SELF_CHECK_COSINE:
            log.info("query encoder from %s disagrees (cosine %.6f)", folder, cosine)
            return None
        return encoder

    def _setup(self, state: dict, config: dict, tokenizer, max_tokens: int, bf16: bool) -> None:
        """``state``: the encoder's tensors by their Hugging Face names (``embeddings.…``,
        ``encoder.layer.N.…``), as ``state_dict()`` and ``model.safetensors`` hold them."""
        import torch.nn.functional as F

        architecture = (config.get("architectures") or [""])[0]
        if architecture not in _ENCODERS:
            raise ValueError(f"transformer {architecture}")
        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        self.tokenizer = tokenizer
        probe = self.tokenizer.encode("x", add_special_tokens=True)
        special = probe.special_tokens_mask
        first, last = special.index(0), len(special) - special[::-1].index(0)
        self.prefix, self.suffix = probe.ids[:first], probe.ids[last:]
        self.max_tokens = max_tokens
        self.max_content = self.max_tokens - len(self.prefix) - len(self.suffix)
        self.word = state["embeddings.word_embeddings.weight"]
        self.position = state["embeddings.position_embeddings.weight"]
        offset = _ENCODERS[architecture]
        self.position_offset = int(config["pad_token_id"]) + 1 if offset is None else offset
        self.token_type = state["embeddings.token_type_embeddings.weight"][0]
        eps = float(config["layer_norm_eps"])

        def linear(name: str) -> tuple:
            return (state[f"{name}.weight"], state[f"{name}.bias"])

        def norm(name: str) -> tuple:
            return (state[f"{name}.weight"], state[f"{name}.bias"], eps)

        self.embedding_norm = norm("embeddings.LayerNorm")
        self.layers = [
            _Layer(
                linear(f"encoder.layer.{i}.attention.self.query"),
                linear(f"encoder.layer.{i}.attention.self.key"),
                linear(f"encoder.layer.{i}.attention.self.value"),
                linear(f"encoder.layer.{i}.attention.output.dense"),
                norm(f"encoder.layer.{i}.attention.output.LayerNorm"),
                linear(f"encoder.layer.{i}.intermediate.dense"),
                linear(f"encoder.layer.{i}.output.dense"),
                norm(f"encoder.layer.{i}.output.LayerNorm"),
            )
            for i in range(int(config["num_hidden_layers"]))
        ]
        self.bf16 = bf16
        self._linear = F.linear
        if bf16:
            # Copies of the layer weights (21 M values, 42 MB); embeddings stay shared.
            self.layers = [
                _Layer(*(_to_bf16(getattr(layer, f.name)) for f in fields(_Layer)))
                for layer in self.layers
            ]
            self._linear = _linear_bf16

    @classmethod
    def for_model(
        cls,
        st_model,
        prompt: str,
        max_tokens: int,
        references: np.ndarray,
        *,
        bf16: bool = False,
    ) -> LeanQueryEncoder | None:
        """The lean encoder of a sentence-transformers model, or None when the model is not
        one it reproduces (then the reference path stays in use). ``references``: the
        model's own vectors of ``prompt`` + each of :data:`PROBES`."""
        reason = _unsupported(st_model)
        if reason is None:
            try:
                encoder = cls(st_model, max_tokens, bf16=bf16)
                cosine = encoder.agreement(prompt, references)
            except Exception as exc:  # any surprise in a foreign model: keep the reference
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if cosine >= MIN_SELF_CHECK_COSINE:
                    log.info(
                        "lean query encoder (%s, self-check cosine %.6f)",
                        "bfloat16" if bf16 else "float32",
                        cosine,
                    )
                    return encoder
                reason = f"self-check cosine {cosine:.6f} < {MIN_SELF_CHECK_COSINE}"
        log.info("lean query encoder not used: %s", reason)
        return None

    def agreement(self, prompt: str, references: np.ndarray) -> float:
        """The lowest cosine between this encoder's vectors of :data:`PROBES` and
        sentence-transformers' own (``references``, one row per probe)."""
        if len(references) != len(PROBES):
            return -1.0
        return min(
            float(np.dot(self.encode(prompt + text), reference))
            for text, reference in zip(PROBES, references, strict=True)
        )

    def token_ids(self, text: str) -> list[int]:
        """As the model's tokenizer gives them: special tokens around the text's first
        ``max_tokens`` tokens (right truncation)."""
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        ids = encoding.ids
        if 0 in encoding.attention_mask:  # padding left on by a batch call: not ours
            ids = [i for i, keep in zip(ids, encoding.attention_mask, strict=True) if keep]
        return self.prefix + ids[: self.max_content] + self.suffix

    def encode(self, text: str) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        ids = self.token_ids(text)
        linear = self._linear
        n, hidden, heads = len(ids), self.hidden, self.heads
        width = hidden // heads
        with torch.inference_mode():
            start = self.position_offset
            x = self.word[torch.tensor(ids)] + self.position[start : start + n] + self.token_type
            x = F.layer_norm(x, (hidden,), *self.embedding_norm[:2], self.embedding_norm[2])
            for layer in self.layers:
                # (n, hidden) -> (heads, n, width); one sequence without padding: no mask.
                q, k, v = (
                    linear(x, *weights).view(n, heads, width).transpose(0, 1)
                    for weights in (layer.q, layer.k, layer.v)
                )
                context = F.scaled_dot_product_attention(q, k, v).transpose(0, 1).reshape(n, hidden)
                w, b, eps = layer.attention_norm
                x = F.layer_norm(linear(context, *layer.attention_out) + x, (hidden,), w, b, eps)
                inner = F.gelu(linear(x, *layer.intermediate))
                w, b, eps = layer.output_norm
                x = F.layer_norm(linear(inner, *layer.output) + x, (hidden,), w, b, eps)
            vector = F.normalize(x.mean(dim=0), p=2, dim=0)
        return vector.numpy().astype(np.float32, copy=False)


def _to_bf16(part: tuple) -> tuple:
    """A linear layer's (weight, bias) with the weight in bfloat16; norms stay as they are."""
    import torch

    if len(part) == 2:
        return (part[0].to(torch.bfloat16), part[1])
    return part


def _linear_bf16(x, weight, bias):
    """x @ weight.T in bfloat16 (float32 accumulation inside oneDNN), plus the float32 bias."""
    import torch
    import torch.nn.functional as F

    return F.linear(x.to(torch.bfloat16), weight).float() + bias


def native_bf16() -> bool:
    """The CPU computes bfloat16 products natively (AVX512-BF16, which every CPU with AMX
    also has); elsewhere they are emulated and slower. Measured per query on an AMD EPYC of
    2024 (Zen 5, AVX512-BF16, no AMX): 8 instead of 18 ms at 16 tokens, 29 instead of 76 at
    128; on an Intel Sapphire Rapids (AMX) 14 instead of 21 ms p50, and there, with oneDNN
    limited to AVX512-BF16, no slower than float32."""
    import torch

    bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    try:
        return bool(bf16 and bf16())
    except Exception:  # private torch helpers: absent or failing means no
        return False


def _unsupported(st_model) -> str | None:
    """Why the lean encoder cannot reproduce this model, or None if it can."""
    modules = [type(m).__name__ for m in st_model]
    if modules not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
        return f"modules {modules}"
    transformer, pooling = st_model[0], st_model[1]
    bert = getattr(transformer, "auto_model", None)
    if type(bert).__name__ not in _ENCODERS:
        return f"transformer {type(bert).__name__}"
    config = bert.config
    if getattr(transformer, "do_lower_case", False):
        return "lower-casing tokenizer"
    if not hasattr(getattr(transformer, "tokenizer", None), "backend_tokenizer"):
        return "no fast tokenizer"
    if config.hidden_act != "gelu":
        return f"activation {config.hidden_act}"
    if getattr(config, "position_embedding_type", None) not in (None, "absolute"):
        return f"position embeddings {config.position_embedding_type}"
    if getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False):
        return "decoder"
    pooling_config = pooling.get_config_dict()
    if pooling_config.get("pooling_mode") != "mean" or not pooling_config.get("include_prompt"):
        return f"pooling {pooling_config}"
    import torch

    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in bert.parameters()):
        return "weights not float32 on the CPU"
    return None
