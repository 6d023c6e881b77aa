"""FAISS vector search: exact inner product for small KBs, HNSW above a configurable size."""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np

HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
# An HNSW graph cannot forget vectors: replaced ones stay as tombstones until they are this
# share of the graph, then the graph is rebuilt.
MAX_TOMBSTONE_SHARE = 0.2

# One thread: searches are tiny and OpenMP start-up on two cores only adds jitter.
faiss.omp_set_num_threads(1)


class VectorIndex:
    """Vectors are L2-normalised (inner product = cosine). ``rows`` maps FAISS ids to unit
    rows of the search index, -1 for vectors replaced since the graph was built."""

    def __init__(self, index: faiss.Index, rows: np.ndarray | None = None) -> None:
        self.index = index
        self.rows = np.arange(index.ntotal, dtype=np.int64) if rows is None else rows
        self._tombstones: int | None = None  # counted once: rows never change in place

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
        built.rows = np.arange(built.size, dtype=np.int64)
        return built

    @property
    def approximate(self) -> bool:
        return isinstance(self.index, faiss.IndexHNSW)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def tombstones(self) -> int:
        if self._tombstones is None:
            self._tombstones = int((self.rows < 0).sum())
        return self._tombstones

    def updated(
        self, row_map: np.ndarray, new_rows: np.ndarray, new_vectors: np.ndarray
    ) -> VectorIndex | None:
        """An HNSW index with old unit rows renumbered by ``row_map`` (-1: replaced) and the
        new vectors added, without rebuilding the graph; None when a rebuild is due."""
        if not self.approximate:
            return None
        rows = np.where(self.rows >= 0, row_map[np.maximum(self.rows, 0)], -1)
        rows = np.concatenate([rows, new_rows.astype(np.int64)])
        if (rows < 0).sum() > MAX_TOMBSTONE_SHARE * len(rows):
            return None
        # A copy: searches of other threads keep using the current graph meanwhile.
        updated = VectorIndex(faiss.clone_index(self.index), rows)
        updated.index.hnsw.efSearch = HNSW_EF_SEARCH
        updated.add(new_vectors)
        return updated

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
        """(scores, unit rows) of the k nearest live vectors, best first."""
        if self.size == 0 or k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        wanted = min(k + self.tombstones, self.size)
        scores, ids = self.index.search(
            np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), wanted
        )
        ids = ids[0]
        rows = np.where(ids >= 0, self.rows[np.maximum(ids, 0)], -1)
        keep = rows >= 0
        return scores[0][keep][:k], rows[keep][:k]

    def serialize(self) -> bytes:
        return faiss.serialize_index(self.index).tobytes()

    @classmethod
    def load(cls, path: Path, rows: np.ndarray) -> VectorIndex:
        index = faiss.read_index(str(path))
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = HNSW_EF_SEARCH
        if len(rows) != index.ntotal:
            raise ValueError("row map does not match the FAISS index")
        return cls(index, rows)
