"""Hybrid ranking: dense (FAISS) and lexical (BM25) scores fused per chunk, then per article."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from retrieval.index_store import SearchIndex
from retrieval.synonyms import SynonymIndex
from retrieval.text import char_ngrams, fold, stems

Mode = Literal["hybrid", "dense", "lexical"]
CANDIDATES = 100


@dataclass(frozen=True)
class Weights:
    """Tuned on the dev split (bench/tune.py). Lexical scores are scaled to 0..1 per query,
    cosines of e5 vary in a narrow band, hence the small lexical weights."""

    dense: float = 1.0
    words: float = 0.06
    grams: float = 0.06


@dataclass(frozen=True)
class AnalyzedQuery:
    text: str
    words: list[str]
    grams: list[str]

    @classmethod
    def of(cls, text: str, synonyms: SynonymIndex) -> AnalyzedQuery:
        folded = fold(text)
        return cls(text, stems(folded) + synonyms.tokens(folded), char_ngrams(folded))


@dataclass
class ArticleHit:
    article_id: int
    score: float
    dense: float  # best cosine among the article's chunks
    rows: list[int] = field(default_factory=list)  # chunk rows, best first
    row_scores: list[float] = field(default_factory=list)
    coverage: float = 0.0  # share of the query's stem idf found in the article
    gram_coverage: float = 0.0


def _scaled(scores: np.ndarray) -> np.ndarray:
    top = float(scores.max()) if scores.size else 0.0
    return scores / top if top > 0 else np.zeros_like(scores)


def rank(
    index: SearchIndex,
    query: AnalyzedQuery,
    vector: np.ndarray | None,
    k: int,
    *,
    mode: Mode = "hybrid",
    weights: Weights = Weights(),
) -> list[ArticleHit]:
    n_rows = len(index.chunks)
    if n_rows == 0 or k <= 0:
        return []
    lex = index.lexical
    words = np.zeros(n_rows, np.float32)
    grams = np.zeros(n_rows, np.float32)
    if mode != "dense":
        words = _scaled(lex.words.scores(query.words))
        grams = _scaled(lex.grams.scores(query.grams))
    candidates: set[int] = set()
    if mode != "lexical" and vector is not None:
        _, rows = index.dense.search(vector, CANDIDATES)
        candidates.update(int(r) for r in rows)
    if mode != "dense":
        lexical = words + grams
        top = np.argpartition(-lexical, min(CANDIDATES, n_rows - 1))[:CANDIDATES]
        candidates.update(int(r) for r in top if lexical[r] > 0)
    if not candidates:
        return []
    rows = np.fromiter(candidates, dtype=np.int64)
    cosine = index.vectors[rows] @ vector if vector is not None else np.zeros(len(rows), np.float32)
    if mode == "dense":
        scores = cosine
    elif mode == "lexical":
        scores = words[rows] + grams[rows]
    else:
        scores = weights.dense * cosine + weights.words * words[rows] + weights.grams * grams[rows]
    hits: dict[int, ArticleHit] = {}
    for row, score, cos in sorted(
        zip(rows.tolist(), scores.tolist(), cosine.tolist(), strict=True), key=lambda t: -t[1]
    ):
        article_id = index.chunks[row].article_id
        hit = hits.setdefault(article_id, ArticleHit(article_id, score, cos))
        hit.dense = max(hit.dense, cos)
        hit.rows.append(row)
        hit.row_scores.append(score)
    ranked = sorted(hits.values(), key=lambda h: -h.score)[:k]
    _add_coverage(index, query, ranked)
    return ranked


def _add_coverage(index: SearchIndex, query: AnalyzedQuery, hits: list[ArticleHit]) -> None:
    for hit in hits:
        rows = index.article_rows(hit.article_id)
        hit.coverage = index.lexical.words.coverage_union(query.words, rows)
        hit.gram_coverage = index.lexical.grams.coverage_union(query.grams, rows)
