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
CPU's AMX units with float32 accumulation (the default only where the CPU has AMX, see
:func:`native_bf16`); layer norms, attention softmax, GELU, residuals and pooling stay
float32. Vectors then differ from float32 ones by cosine 1e-5 (worst over the KB set:
0.999993); the index's passage vectors are float32 either way.
One query on the shared 2-core machine, p50/p95 (bench/speed.py prints it): through
sentence-transformers 30/35 ms, lean float32 25/29 ms, lean bfloat16 20/24 ms.

It only takes models it can reproduce: a BERT or XLM-RoBERTa encoder (absolute positions,
GELU) under sentence-transformers' Transformer → mean Pooling → (Normalize) stack, and it
checks itself against the reference path once at load time; anything else keeps the
reference path. tests/retrieval/test_lean_encoder.py holds both precisions to cosine
≥ 0.9999 against sentence-transformers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

import numpy as np

log = logging.getLogger(__name__)

# The lean path must reproduce the reference path; measured over the KB set: 0.9999999
# (float32), 0.999993 (bfloat16).
MIN_SELF_CHECK_COSINE = 0.9999
SELF_CHECK_QUERY = "Wie ändere ich meine Rechnungsadresse?"
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


def _linear(module) -> tuple:
    return (module.weight, module.bias)


def _norm(module) -> tuple:
    return (module.weight, module.bias, float(module.eps))


class LeanQueryEncoder:
    """``encode(text)`` == the model's normalised sentence embedding of ``text`` (prompt
    already prepended), for one text at a time."""

    def __init__(self, st_model, max_tokens: int, *, bf16: bool = False) -> None:
        """Use :meth:`for_model`, which checks that the model fits. ``bf16``: the matrix
        products in bfloat16 (see module doc), everything else in float32."""
        import torch.nn.functional as F

        transformer = st_model[0]
        bert = transformer.auto_model
        config = bert.config
        self.heads = int(config.num_attention_heads)
        self.hidden = int(config.hidden_size)
        # The model's own fast (Rust) tokenizer, read-only: its truncation and padding are
        # state that sentence-transformers sets before each batch, so this path never changes
        # them (a private copy would cost 0.8 s of start-up) and truncates by itself.
        self.tokenizer = transformer.tokenizer.backend_tokenizer
        probe = self.tokenizer.encode("x", add_special_tokens=True)
        special = probe.special_tokens_mask
        first, last = special.index(0), len(special) - special[::-1].index(0)
        self.prefix, self.suffix = probe.ids[:first], probe.ids[last:]
        self.max_tokens = min(int(max_tokens), int(transformer.max_seq_length))
        self.max_content = self.max_tokens - len(self.prefix) - len(self.suffix)
        embeddings = bert.embeddings
        self.word = embeddings.word_embeddings.weight
        self.position = embeddings.position_embeddings.weight
        offset = _ENCODERS[type(bert).__name__]
        self.position_offset = int(config.pad_token_id) + 1 if offset is None else offset
        self.token_type = embeddings.token_type_embeddings.weight[0]
        self.embedding_norm = _norm(embeddings.LayerNorm)
        self.layers = [
            _Layer(
                _linear(layer.attention.self.query),
                _linear(layer.attention.self.key),
                _linear(layer.attention.self.value),
                _linear(layer.attention.output.dense),
                _norm(layer.attention.output.LayerNorm),
                _linear(layer.intermediate.dense),
                _linear(layer.output.dense),
                _norm(layer.output.LayerNorm),
            )
            for layer in bert.encoder.layer
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
        cls, st_model, prompt: str, max_tokens: int, *, bf16: bool = False
    ) -> LeanQueryEncoder | None:
        """The lean encoder of a sentence-transformers model, or None when the model is not
        one it reproduces (then the reference path stays in use)."""
        reason = _unsupported(st_model)
        if reason is None:
            try:
                encoder = cls(st_model, max_tokens, bf16=bf16)
                cosine = encoder.self_check(st_model, prompt)
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

    def self_check(self, st_model, prompt: str) -> float:
        """Cosine of this encoder's vector and sentence-transformers' own for one query."""
        reference = st_model.encode(
            [SELF_CHECK_QUERY],
            prompt=prompt,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )[0]
        return float(np.dot(self.encode(prompt + SELF_CHECK_QUERY), reference))

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
    """The CPU has AMX tiles for bfloat16 products (Intel Sapphire Rapids and later). With
    AVX512-BF16 alone, measured here by limiting oneDNN to it, bfloat16 was no faster than
    float32 (24 ms p50 both), and elsewhere it is emulated and slower."""
    import torch

    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    try:
        return bool(amx and amx() and bf16 and bf16())
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
