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
    tf: sparse.csr_matrix  # docs x terms, raw counts: kept so that updates re-use rows
    weights: sparse.csc_matrix  # docs x terms, BM25 term weight (without idf)
    idf: np.ndarray  # per term
    n_docs: int

    @classmethod
    def build(cls, documents: Sequence[Sequence[str]]) -> BM25Index:
        vocabulary: dict[str, int] = {}
        return cls.from_counts(vocabulary, _count_rows(documents, vocabulary, len(documents)))

    def updated(self, reuse: Sequence[int], documents: Sequence[Sequence[str] | None]) -> BM25Index:
        """A new index whose row i is old row ``reuse[i]``, or the analysis of
        ``documents[i]`` where ``reuse[i]`` is -1: only changed documents are tokenised."""
        vocabulary = dict(self.vocabulary)
        fresh = [i for i, old in enumerate(reuse) if old < 0]
        counted = _count_rows([documents[i] or [] for i in fresh], vocabulary, len(fresh))
        width = max(len(vocabulary), 1)
        old = self.tf.copy()
        old.resize((self.tf.shape[0], width))
        counted.resize((len(fresh), width))
        stacked = sparse.vstack([old, counted], format="csr")
        position = {row: self.tf.shape[0] + k for k, row in enumerate(fresh)}
        order = [position[i] if old_row < 0 else old_row for i, old_row in enumerate(reuse)]
        return self.from_counts(
            vocabulary, stacked[np.asarray(order, dtype=np.int64)] if order else stacked[:0]
        )

    @classmethod
    def from_counts(cls, vocabulary: dict[str, int], tf: sparse.csr_matrix) -> BM25Index:
        n_docs = tf.shape[0]
        lengths = np.asarray(tf.sum(axis=1)).ravel().astype(np.float32)
        avg = float(lengths.mean()) if n_docs and lengths.mean() > 0 else 1.0
        norm = K1 * (1 - B + B * lengths / avg)
        # Saturated term frequency, row by row: tf*(k1+1)/(tf+norm_doc).
        doc_norm = np.repeat(norm, np.diff(tf.indptr))
        weighted = tf.copy()
        weighted.data = tf.data * (K1 + 1) / (tf.data + doc_norm)
        df = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.float32)
        idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        return cls(vocabulary, tf, weighted.tocsc(), idf, n_docs)

    def unknown_idf(self) -> float:
        """The idf a term never seen would have: it makes unknown query words count."""
        return math.log(1 + (self.n_docs + 0.5) / 0.5)

    def query(self, tokens: Sequence[str]) -> QueryTerms:
        """The query's known terms as columns, shared by scoring and coverage."""
        counts = Counter(tokens)
        known = [t for t in counts if t in self.vocabulary]
        cols = np.asarray([self.vocabulary[t] for t in known], dtype=np.int64)
        idf = self.idf[cols] if cols.size else np.zeros(0, np.float32)
        unknown = len(counts) - len(known)
        qtf = np.asarray([counts[t] for t in known], dtype=np.float32)
        total = float(idf.sum()) + unknown * self.unknown_idf()
        return QueryTerms(cols, idf, idf * qtf, total)

    def scores(self, terms: QueryTerms) -> np.ndarray:
        """BM25 score of every document."""
        if not terms.cols.size or not self.n_docs:
            return np.zeros(self.n_docs, dtype=np.float32)
        # A column slice of the CSC matrix times the query weights, without converting the
        # slice to CSR: common character 4-grams have postings in most of 50,000 sections,
        # and that conversion cost several times the product itself.
        return np.asarray(self.weights[:, terms.cols] @ terms.weights).ravel()

    def coverage_union(self, terms: QueryTerms, docs: Sequence[int]) -> float:
        """Share of the query's idf mass found anywhere in the given documents together."""
        if not terms.cols.size or terms.total_idf <= 0 or len(docs) == 0:
            return 0.0
        # The documents' own rows of raw counts: a handful of rows, whatever the KB's size.
        rows = self.tf[np.asarray(docs)]
        present = np.isin(terms.cols, rows.indices[rows.data > 0])
        return float(present @ terms.idf) / terms.total_idf


def _count_rows(
    documents: Sequence[Sequence[str]], vocabulary: dict[str, int], n_rows: int
) -> sparse.csr_matrix:
    """Term counts of the documents; new terms are added to ``vocabulary``."""
    rows: list[int] = []
    cols: list[int] = []
    counts: list[int] = []
    for row, tokens in enumerate(documents):
        for term, count in Counter(tokens).items():
            rows.append(row)
            cols.append(vocabulary.setdefault(term, len(vocabulary)))
            counts.append(count)
    shape = (n_rows, max(len(vocabulary), 1))
    return sparse.csr_matrix(
        (np.asarray(counts, dtype=np.float32), (rows, cols)), shape=shape, dtype=np.float32
    )


@dataclass
class QueryTerms:
    cols: np.ndarray  # the query's known terms, as column numbers of the index
    idf: np.ndarray  # of the query's known terms
    weights: np.ndarray  # idf x query term frequency
    total_idf: float  # known and unknown terms
