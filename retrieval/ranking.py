"""Hybrid ranking of articles.

Per candidate article: the best section (dense cosine plus lexical BM25 of that section), plus
the whole-article cosine and the best single sentence (see retrieval/units.py). Lexical scores
are scaled to 0..1 per query; e5 cosines vary in a narrow band, hence the small lexical
weights. All weights are tuned on the dev split by bench/tune.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from retrieval.index_store import SearchIndex
from retrieval.lexical import QueryTerms
from retrieval.synonyms import SynonymIndex
from retrieval.text import char_ngrams, fold, stems
from retrieval.units import ARTICLE, SECTION, SENTENCE

Mode = Literal["hybrid", "dense", "lexical"]
CANDIDATE_UNITS = 200  # nearest vectors asked from FAISS
CANDIDATE_CHUNKS = 50  # best lexical sections
MAX_CANDIDATE_ARTICLES = 60


@dataclass(frozen=True)
class Weights:
    # Equal say for the three granularities: on the dev split no other mix was better by more
    # than one question (bench/tune.py prints the comparison).
    words: float = 0.01
    grams: float = 0.01
    article: float = 1.0
    sentence: float = 1.0


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class AnalyzedQuery:
    text: str
    words: list[str]
    grams: list[str]

    @classmethod
    def of(cls, text: str, synonyms: SynonymIndex) -> AnalyzedQuery:
        folded = fold(text)
        return cls(text, stems(folded) + synonyms.tokens(folded), char_ngrams(folded))

    def terms(self, index: SearchIndex) -> tuple[QueryTerms, QueryTerms]:
        return index.lexical.words.query(self.words), index.lexical.grams.query(self.grams)


@dataclass
class ArticleHit:
    article_id: int
    score: float
    dense: float = 0.0  # best section cosine
    sentence: float = 0.0  # best sentence cosine
    whole: float = 0.0  # cosine of the whole article
    rows: list[int] = field(default_factory=list)  # its chunk rows, best first
    row_scores: list[float] = field(default_factory=list)
    coverage: float = 0.0  # share of the query's stem idf found in the article
    gram_coverage: float = 0.0
    background: float = 0.0  # cosine of the query to the closest question not to answer


def _scaled(scores: np.ndarray) -> np.ndarray:
    top = float(scores.max()) if scores.size else 0.0
    return scores / top if top > 0 else np.zeros_like(scores)


def _candidates(index: SearchIndex, lexical: np.ndarray, vector: np.ndarray | None) -> list[int]:
    found: dict[int, None] = {}
    if vector is not None:
        _, rows = index.dense.search(vector, CANDIDATE_UNITS)
        found.update(dict.fromkeys(index.units.articles[rows].tolist()))
    if lexical.any():
        n = min(CANDIDATE_CHUNKS, len(lexical))
        top = np.argpartition(-lexical, n - 1)[:n]
        top = top[lexical[top] > 0]
        found.update(
            dict.fromkeys(index.chunks[r].article_id for r in top[np.argsort(-lexical[top])])
        )
    return list(found)[:MAX_CANDIDATE_ARTICLES]


def rank(
    index: SearchIndex,
    query: AnalyzedQuery,
    vector: np.ndarray | None,
    k: int,
    *,
    mode: Mode = "hybrid",
    weights: Weights = DEFAULT_WEIGHTS,
) -> list[ArticleHit]:
    if not index.chunks or k <= 0:
        return []
    words, grams = query.terms(index)
    lexical = np.zeros(len(index.chunks), np.float32)
    if mode != "dense":
        word_scores = _scaled(index.lexical.words.scores(words))
        gram_scores = _scaled(index.lexical.grams.scores(grams))
        if mode == "lexical":
            lexical = word_scores + gram_scores
        else:
            lexical = weights.words * word_scores + weights.grams * gram_scores
    articles = _candidates(index, lexical, vector if mode != "lexical" else None)
    if not articles:
        return []
    cos = _cosines(index, articles, vector) if vector is not None and mode != "lexical" else None
    hits = _score_articles(index, articles, lexical, cos, weights)
    ranked = sorted(hits, key=lambda h: -h.score)[:k]
    for hit in ranked:
        _order_sections(index, hit, lexical, cos, weights)
    for hit in ranked[:1]:  # only the top hit's coverage is ever consulted
        rows = index.article_rows(hit.article_id)
        hit.coverage = index.lexical.words.coverage_union(words, rows)
        hit.gram_coverage = index.lexical.grams.coverage_union(grams, rows)
    if vector is not None and len(index.background):
        background = float((index.background @ vector).max())
        for hit in ranked:
            hit.background = background
    return ranked


@dataclass
class _Cosines:
    """Per chunk row: its section's cosine and its best sentence's; per article: whole."""

    section: np.ndarray
    sentence: np.ndarray
    whole: dict[int, float]


def _cosines(index: SearchIndex, articles: list[int], vector: np.ndarray) -> _Cosines:
    units = np.concatenate([index.article_units(a) for a in articles])
    cosine = index.vectors[units] @ vector
    kinds = index.units.kinds[units]
    rows = index.units.chunk_rows[units]
    section = np.zeros(len(index.chunks), np.float32)
    sentence = np.zeros(len(index.chunks), np.float32)
    is_section = kinds == SECTION
    section[rows[is_section]] = cosine[is_section]
    is_sentence = kinds == SENTENCE
    np.maximum.at(sentence, rows[is_sentence], cosine[is_sentence])
    np.maximum(sentence, section, out=sentence)  # a section without sentences
    is_whole = kinds == ARTICLE
    whole = dict(
        zip(index.units.articles[units][is_whole].tolist(), cosine[is_whole].tolist(), strict=True)
    )
    return _Cosines(section, sentence, whole)


def _score_articles(
    index: SearchIndex,
    articles: list[int],
    lexical: np.ndarray,
    cos: _Cosines | None,
    weights: Weights,
) -> list[ArticleHit]:
    hits = []
    for article_id in articles:
        rows = index.article_rows(article_id)
        hit = ArticleHit(article_id, 0.0)
        if cos is None:
            hit.score = float(lexical[rows].max())
        else:
            hit.dense = float(cos.section[rows].max())
            hit.sentence = float(cos.sentence[rows].max())
            hit.whole = cos.whole.get(article_id, 0.0)
            best_section = float((cos.section[rows] + lexical[rows]).max())
            hit.score = best_section + weights.article * hit.whole + weights.sentence * hit.sentence
        hits.append(hit)
    return hits


def _order_sections(
    index: SearchIndex,
    hit: ArticleHit,
    lexical: np.ndarray,
    cos: _Cosines | None,
    weights: Weights,
) -> None:
    """The article's sections, best first: the answer quotes the top ones."""
    rows = index.article_rows(hit.article_id)
    if cos is None:
        scores = lexical[rows]
    else:
        scores = cos.section[rows] + lexical[rows] + weights.sentence * cos.sentence[rows]
    order = np.argsort(-scores, kind="stable")
    hit.rows = rows[order].tolist()
    hit.row_scores = scores[order].tolist()
