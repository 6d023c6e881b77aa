"""A deterministic stand-in for the embedding model: hashed character trigrams.

Fast tests use it to exercise indexing, persistence and the API without loading torch; the
real model is covered by the tests marked ``slow``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from retrieval.text import fold_for_index


class FakeEmbedder:
    model_id = "fake-trigram-v1"
    dimension = 64

    def __init__(self) -> None:
        self.passages_encoded = 0
        self.queries_encoded = 0

    @property
    def encoded(self) -> int:
        return self.passages_encoded + self.queries_encoded

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        folded = f"  {fold_for_index(text)}  "
        for i in range(len(folded) - 2):
            bucket = int.from_bytes(hashlib.md5(folded[i : i + 3].encode()).digest()[:4], "little")
            vector[bucket % self.dimension] += 1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.queries_encoded += len(texts)
        return (
            np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dimension))
        )

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passages_encoded += len(texts)
        return (
            np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dimension))
        )
