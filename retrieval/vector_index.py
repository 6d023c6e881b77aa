"""FAISS vector search: exact inner product for small KBs, HNSW above a configurable size."""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np

HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128

# One thread: searches are tiny and OpenMP start-up on two cores only adds jitter.
faiss.omp_set_num_threads(1)


class VectorIndex:
    """Rows are positions in the chunk table; vectors are L2-normalised (inner product = cosine)."""

    def __init__(self, index: faiss.Index) -> None:
        self.index = index

    @classmethod
    def build(cls, vectors: np.ndarray, *, approximate: bool) -> VectorIndex:
        dimension = vectors.shape[1]
        if approximate:
            index = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            index = faiss.IndexFlatIP(dimension)
        built = cls(index)
        built.add(vectors)
        return built

    @property
    def approximate(self) -> bool:
        return isinstance(self.index, faiss.IndexHNSW)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        if not len(vectors):
            return
        # Building a graph is worth every core; searching is not (see the module setting).
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        finally:
            faiss.omp_set_num_threads(1)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the k nearest rows, best first; rows of -1 are padding."""
        if self.size == 0 or k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores, rows = self.index.search(
            np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), min(k, self.size)
        )
        keep = rows[0] >= 0
        return scores[0][keep], rows[0][keep]

    def serialize(self) -> bytes:
        return faiss.serialize_index(self.index).tobytes()

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        index = faiss.deserialize_index(np.fromfile(path, dtype=np.uint8))
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index)
