"""BM25 over sparse matrices (scipy), one index per analyzer.

Written here rather than taken from a BM25 package because search needs two analyzers
(stems and character n-grams) and a coverage figure for the confidence decision, and must
stay fast at 50,000 chunks: scoring is a sparse column slice and one matrix-vector product.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

K1 = 1.2
B = 0.75


@dataclass
class BM25Index:
    vocabulary: dict[str, int]
    weights: sparse.csc_matrix  # docs x terms, BM25 term weight (without idf)
    idf: np.ndarray  # per term
    n_docs: int

    @classmethod
    def build(cls, documents: Sequence[Sequence[str]]) -> BM25Index:
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        lengths = np.zeros(len(documents), dtype=np.float32)
        for row, tokens in enumerate(documents):
            lengths[row] = len(tokens)
            for term, count in Counter(tokens).items():
                rows.append(row)
                cols.append(vocabulary.setdefault(term, len(vocabulary)))
                counts.append(count)
        n_docs = len(documents)
        shape = (n_docs, max(len(vocabulary), 1))
        tf = sparse.csr_matrix(
            (np.asarray(counts, dtype=np.float32), (rows, cols)), shape=shape, dtype=np.float32
        )
        avg = float(lengths.mean()) if n_docs and lengths.mean() > 0 else 1.0
        norm = K1 * (1 - B + B * lengths / avg)
        # Saturated term frequency, row by row: tf*(k1+1)/(tf+norm_doc).
        tf_data = tf.data
        doc_norm = np.repeat(norm, np.diff(tf.indptr))
        weighted = tf.copy()
        weighted.data = tf_data * (K1 + 1) / (tf_data + doc_norm)
        df = np.bincount(tf.indices, minlength=shape[1]).astype(np.float32)
        idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        return cls(vocabulary, weighted.tocsc(), idf, n_docs)

    def unknown_idf(self) -> float:
        """The idf a term never seen would have: it makes unknown query words count."""
        return math.log(1 + (self.n_docs + 0.5) / 0.5)

    def _query_terms(self, tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray, float]:
        counts = Counter(tokens)
        cols = [self.vocabulary[t] for t in counts if t in self.vocabulary]
        qtf = np.asarray([counts[t] for t in counts if t in self.vocabulary], dtype=np.float32)
        unknown = sum(1 for t in counts if t not in self.vocabulary)
        total_idf = float((self.idf[cols] * 1.0).sum()) + unknown * self.unknown_idf()
        return np.asarray(cols, dtype=np.int64), qtf, total_idf

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query tokens."""
        if self.n_docs == 0:
            return np.zeros(0, dtype=np.float32)
        cols, qtf, _ = self._query_terms(tokens)
        if cols.size == 0:
            return np.zeros(self.n_docs, dtype=np.float32)
        sub = self.weights[:, cols]
        return np.asarray(sub @ (self.idf[cols] * qtf)).ravel()

    def coverage(self, tokens: Sequence[str], docs: Sequence[int]) -> np.ndarray:
        """Share of the query's idf mass that each given document contains (0..1)."""
        cols, _, total_idf = self._query_terms(tokens)
        if cols.size == 0 or total_idf <= 0 or len(docs) == 0:
            return np.zeros(len(docs), dtype=np.float32)
        present = self.weights[np.asarray(docs)][:, cols] > 0
        return np.asarray(present @ self.idf[cols]).ravel() / total_idf

    def coverage_union(self, tokens: Sequence[str], docs: Sequence[int]) -> float:
        """Share of the query's idf mass found anywhere in the given documents together."""
        cols, _, total_idf = self._query_terms(tokens)
        if cols.size == 0 or total_idf <= 0 or len(docs) == 0:
            return 0.0
        present = (self.weights[np.asarray(docs)][:, cols] > 0).max(axis=0)
        return float(present.toarray().ravel() @ self.idf[cols]) / total_idf
