"""An optional stronger sentence encoder (the "judge") that re-scores the top candidate guides.

The index and the first ranking stay with the small, fast embedding model; a larger model
(e.g. EmbeddingGemma-300M, ../shared/RUNTIME.md) costs ~110 ms per query, too much for the whole
KB but affordable for the few guides the ranking already put on top (``HELPDESK_JUDGE_TOP``).
Its scores, and the gap between the best two (:func:`judge_gap`), inform the answer/refuse
decision. Off unless ``HELPDESK_JUDGE_MODEL`` names a model.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.settings import Settings

# Prompt names tried for documents when the model has no ``encode_document``; the same order as
# sentence-transformers' own ``encode_document``.
_DOCUMENT_PROMPTS = ("document", "passage", "corpus")


class JudgeUnavailable(RuntimeError):
    """The judge model cannot be loaded; the message names the setting to fix."""


class Judge:
    """Max cosine between a question and each candidate guide's texts, by a stronger model."""

    def __init__(self, name_or_path: str) -> None:
        self.name_or_path = name_or_path
        self.model = _load_model(name_or_path)
        prompts = dict(getattr(self.model, "prompts", {}) or {})
        # sentence-transformers >= 5 picks the model's own query/document prompts (and routes
        # asymmetric models) in encode_query/encode_document; older versions need them by name.
        self._native = hasattr(self.model, "encode_query") and hasattr(
            self.model, "encode_document"
        )
        self._query_prompt = "query" if "query" in prompts else None
        self._document_prompt = next((p for p in _DOCUMENT_PROMPTS if p in prompts), None)

    def scores(self, query: str, passages: list[list[str]]) -> list[float]:
        """One score per guide: the best cosine between ``query`` and any of the guide's texts
        (its title and best sections or sentences). A guide without texts scores -1, the lowest
        cosine, so that it never wins."""
        flat = [text for guide in passages for text in guide]
        if not flat:
            return [-1.0] * len(passages)
        query_vector = self._encode([query], query=True)[0]
        # All texts of all guides in one batch: one forward pass instead of one per guide.
        similarities = self._encode(flat, query=False) @ query_vector
        # Rounding can take a normalised dot product a hair past 1; cosines live in [-1, 1].
        similarities = np.clip(similarities, -1.0, 1.0)
        result: list[float] = []
        start = 0
        for guide in passages:
            end = start + len(guide)
            result.append(float(similarities[start:end].max()) if end > start else -1.0)
            start = end
        return result

    def _encode(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        options = {
            "batch_size": max(1, len(texts)),  # one batch per call
            "normalize_embeddings": True,
            "convert_to_numpy": True,
            "show_progress_bar": False,
        }
        if self._native:
            method = self.model.encode_query if query else self.model.encode_document
            vectors = method(list(texts), **options)
        else:
            prompt = self._query_prompt if query else self._document_prompt
            vectors = self.model.encode(list(texts), prompt_name=prompt, **options)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)
        # Normalised once more: a model's own Normalize module, or its absence, must not matter.
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)


def judge_gap(scores: list[float]) -> float:
    """How far the judge's best guide is ahead of the second; 0 with fewer than two guides."""
    if len(scores) < 2:
        return 0.0
    first, second = sorted(scores, reverse=True)[:2]
    return float(first - second)


_LOAD_LOCK = threading.Lock()


def load_judge(settings: Settings) -> Judge | None:
    """The configured judge, loaded once per process; None when ``judge_model`` is empty."""
    name = settings.judge_model.strip()
    if not name:
        return None
    # The lock keeps two threads from loading a 1 GB model twice; the cache keeps it loaded.
    with _LOAD_LOCK:
        return _judge_for(name)


@functools.cache
def _judge_for(name_or_path: str) -> Judge:
    return Judge(name_or_path)


def _load_model(name_or_path: str):
    # Progress bars and load reports belong to a notebook, not to a CLI's JSON output.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from sentence_transformers import SentenceTransformer  # deferred: seconds to import

    # No machine of this project can download from the hub, and a start-up must never wait on
    # it: local_files_only makes a name that is neither a folder nor in the local Hugging Face
    # cache fail at once. HF_HUB_OFFLINE is not set here: it is global and would also bind the
    # embedding model, which a user with hub access may name (HELPDESK_EMBEDDING_MODEL).
    try:
        return SentenceTransformer(name_or_path, device="cpu", local_files_only=True)
    except Exception as exc:  # sentence-transformers raises many types for a bad model
        where = "folder" if Path(name_or_path).is_dir() else "folder or locally cached model"
        raise JudgeUnavailable(
            f"HELPDESK_JUDGE_MODEL={name_or_path!r}: no loadable sentence-transformers {where} "
            f"(nothing is downloaded; set it to a local model folder, or leave it empty to turn "
            f"the judge off): {type(exc).__name__}: {exc}"
        ) from exc
