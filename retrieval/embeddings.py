"""Dense sentence embeddings through sentence-transformers, loaded once per process."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from core.settings import Settings
from retrieval import encoder_checks as checks
from retrieval.lean_encoder import PROBES, LeanQueryEncoder, native_bf16

# Questions are short (the KB question set: at most 35 tokens), but a pasted e-mail of
# HELPDESK_MAX_QUERY_CHARS would cost the model ~0.3 s. Its first 128 tokens (about 90 German
# words) say what it is about, and they bound a search's encoding time.
QUERY_MAX_TOKENS = 128
QUERY_CACHE_SIZE = 2048


class ModelUnavailable(RuntimeError):
    """The embedding model cannot be loaded; the message says what to do."""


class Embedder(Protocol):
    model_id: str
    dimension: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """L2-normalised vectors; e5-style models get their ``query:``/``passage:`` prompts.

    With ``check_file``, a model folder whose lean query encoder once passed its check against
    sentence-transformers is read by the lean encoder alone (``check_file`` records the
    reference vectors): sentence-transformers is then loaded only when passages or batches
    need encoding, which a process serving a built index never does."""

    def __init__(
        self,
        name_or_path: str,
        *,
        threads: int = 1,
        batch_size: int = 32,
        lean_bf16: bool | None = None,
        check_file: Path | None = None,
    ) -> None:
        """``lean_bf16``: the matrix products of single queries (retrieval/lean_encoder.py)
        in bfloat16; None: where the CPU computes them natively."""
        import torch  # deferred: importing torch costs seconds that tests without a model skip

        torch.set_num_threads(max(1, threads))
        self.name_or_path = name_or_path
        self.batch_size = batch_size
        local = Path(name_or_path).is_dir()
        self.model_id = _model_id(name_or_path, local)
        self._bf16 = native_bf16() if lean_bf16 is None else lean_bf16
        self._model_lock = threading.Lock()
        self._model = None
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.lean: LeanQueryEncoder | None = None
        record = checks.read(check_file, name_or_path) if check_file and local else None
        if record is not None:
            self._prompts, self.dimension = record.prompts, record.dimension
            self.lean = LeanQueryEncoder.from_folder(
                Path(name_or_path),
                self._prompts.get("query", ""),
                QUERY_MAX_TOKENS,
                record.references,
                bf16=self._bf16,
            )
        if self.lean is None:
            self._use_model(check_file if local else None)
        self._query_prompt = "query" if "query" in self._prompts else None
        self._passage_prompt = "passage" if "passage" in self._prompts else None

    @property
    def model(self):
        """The sentence-transformers model, loaded on first use."""
        with self._model_lock:
            if self._model is None:
                self._model = _load_model(self.name_or_path)
                if self.lean is not None:  # share the model's tensors instead of a second copy
                    self.lean = LeanQueryEncoder(self._model, QUERY_MAX_TOKENS, bf16=self._bf16)
            return self._model

    def preload(self) -> None:
        """Load the model on a background thread, so that the first edited article is
        re-encoded at once; a long-lived server calls this after its start-up."""
        if self._model is None:
            threading.Thread(target=lambda: self.model, name="model-preload", daemon=True).start()

    def _use_model(self, check_file: Path | None) -> None:
        """Load the model now; single queries go through its weights directly when it is one
        the lean encoder reproduces, and then ``check_file`` records that for later starts."""
        model = self.model
        self._prompts = dict(getattr(model, "prompts", {}) or {})
        self.dimension = int(model.get_embedding_dimension() or 0)
        prompt = self._prompts.get("query", "")
        references = self._encode([prompt + text for text in PROBES], None, QUERY_MAX_TOKENS)
        self.lean = LeanQueryEncoder.for_model(
            model, prompt, QUERY_MAX_TOKENS, references, bf16=self._bf16
        )
        if self.lean is not None and check_file is not None:
            checks.write(check_file, self.name_or_path, self._prompts, self.dimension, references)

    def _encode(
        self, texts: Sequence[str], prompt_name: str | None, max_tokens: int | None = None
    ) -> np.ndarray:
        vectors = self.model.encode(
            list(texts),
            prompt_name=prompt_name,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
            **_processing(max_tokens),
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def _encode_one(self, text: str, prompt_name: str | None) -> np.ndarray:
        """One query: the lean encoder (retrieval/lean_encoder.py) when the model allows."""
        if self.lean is not None:
            prompt = self._prompts[prompt_name] if prompt_name else ""
            return self.lean.encode(prompt + text)
        return self._encode_one_reference(text, prompt_name)

    def _encode_one_reference(self, text: str, prompt_name: str | None) -> np.ndarray:
        """One query through the model's own modules (tokenizer, transformer, pooling,
        normalisation) as ``encode`` runs them, minus its per-call set-up: ``encode`` checks
        the device of every parameter and re-applies ``eval()`` to every module. The vector
        is the same as ``encode``'s, bit for bit (tests/retrieval/test_lean_encoder.py)."""
        import torch

        prompt = self.model.prompts[prompt_name] if prompt_name else None
        with torch.inference_mode():
            features = self.model.preprocess([text], prompt=prompt, **_processing(QUERY_MAX_TOKENS))
            embedding = self.model(features)["sentence_embedding"]
            # encode(normalize_embeddings=True) normalises once more after the model's own
            # Normalize module; doing the same keeps the vectors equal.
            embedding = torch.nn.functional.normalize(embedding, p=2, dim=1)
        return embedding[0].numpy().astype(np.float32, copy=False)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        # Batches of passages (index builds) use every core; single queries stay on the
        # configured threads, where more threads only add jitter.
        threads = torch.get_num_threads()
        torch.set_num_threads(max(threads, os.cpu_count() or 1))
        try:
            # Where the CPU has native bfloat16 (see native_bf16), its matrix products: 2.4
            # times faster on the AMD machine, cosine >= 0.99998 to float32 over the KB's
            # units (autocast keeps norms and softmax in float32).
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._bf16):
                vectors = self._encode(texts, self._passage_prompt)
        finally:
            torch.set_num_threads(threads)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        # Customers repeat questions; a small cache spares the model for those.
        missing = [t for t in dict.fromkeys(texts) if t not in self._query_cache]
        if len(missing) == 1:
            self._remember(missing[0], self._encode_one(missing[0], self._query_prompt))
        elif missing:
            vectors = self._encode(missing, self._query_prompt, QUERY_MAX_TOKENS)
            for text, vector in zip(missing, vectors, strict=True):
                self._remember(text, vector)
        if len(texts) == 1:
            return self._query_cache[texts[0]][None, :]  # a view; np.stack would copy
        return (
            np.stack([self._query_cache[t] for t in texts])
            if texts
            else np.zeros((0, self.dimension), np.float32)
        )

    def _remember(self, text: str, vector: np.ndarray) -> None:
        vector.flags.writeable = False  # callers get views of cached vectors, never copies
        self._query_cache[text] = vector
        if len(self._query_cache) > QUERY_CACHE_SIZE:
            self._query_cache.popitem(last=False)


def _load_model(name_or_path: str):
    # Progress bars and load reports belong to a notebook, not to a CLI's JSON output.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from sentence_transformers import SentenceTransformer

    if Path(name_or_path).is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder must never hit the hub
    try:
        return SentenceTransformer(name_or_path, device="cpu")
    except Exception as exc:  # sentence-transformers raises many types for a bad model
        raise ModelUnavailable(
            f"Embedding-Modell '{name_or_path}' lässt sich nicht laden: {exc}"
        ) from exc


def _processing(max_tokens: int | None) -> dict:
    """Keyword arguments that cut the tokenised text at ``max_tokens``."""
    return {"processing_kwargs": {"text": {"max_length": max_tokens}}} if max_tokens else {}


def _model_id(name_or_path: str, local: bool) -> str:
    """Identifies the weights, so an index built with other weights is never served."""
    if not local:
        return name_or_path
    info = Path(name_or_path) / "BUILD_INFO.json"
    if info.exists():
        digest = hashlib.sha256(info.read_bytes()).hexdigest()[:16]
        return f"{Path(name_or_path).name}@{digest}"
    weights = sorted(Path(name_or_path).glob("*.safetensors")) or sorted(
        Path(name_or_path).glob("*.bin")
    )
    stamp = json.dumps([(p.name, p.stat().st_size) for p in weights])
    return f"{Path(name_or_path).name}@{hashlib.sha256(stamp.encode()).hexdigest()[:16]}"


def resolve_model(settings: Settings) -> str:
    """The configured model, or the multilingual-e5-small folder (built on first use)."""
    if settings.embedding_model:
        return settings.embedding_model
    target = settings.default_model_dir
    if not (target / "BUILD_INFO.json").exists():
        try:
            from retrieval.model_build import build_model
        except ImportError as exc:  # pragma: no cover - only without the package
            raise ModelUnavailable("Das Embedding-Modell fehlt: bitte 'make' ausführen.") from exc
        build_model(target)
    return str(target)


QUERY_PRECISIONS = {"auto": None, "float32": False, "bfloat16": True}


def load_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    if settings.query_precision not in QUERY_PRECISIONS:
        raise ModelUnavailable(
            f"HELPDESK_QUERY_PRECISION={settings.query_precision!r} ist ungültig; "
            f"erlaubt: {', '.join(QUERY_PRECISIONS)}."
        )
    model = resolve_model(settings)
    # Beside the folder it vouches for, so that every data folder using it shares one record.
    folder = Path(model)
    records = folder.parent if folder.is_dir() else settings.models_dir
    return SentenceTransformerEmbedder(
        model,
        threads=settings.torch_threads,
        lean_bf16=QUERY_PRECISIONS[settings.query_precision],
        check_file=records / checks.FILE_NAME,
    )
