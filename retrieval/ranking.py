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
from retrieval.text import char_ngrams, fold_for_index, stems
from retrieval.units import ARTICLE, SECTION, SENTENCE

Mode = Literal["hybrid", "dense", "lexical"]
CANDIDATE_UNITS = 200  # nearest vectors asked from FAISS
CANDIDATE_CHUNKS = 50  # best lexical sections
MAX_CANDIDATE_ARTICLES = 60


@dataclass(frozen=True)
class Weights:
    # Equal say for the three granularities: on the dev split no other mix was as good
    # (bench/tune.py prints the comparison).
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
        folded = fold_for_index(text)
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
    background_spread: float = 0.0  # standard deviation of its cosines to all those questions


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
        found.update(dict.fromkeys(index.chunk_articles[top[np.argsort(-lexical[top])]].tolist()))
    return list(found)[:MAX_CANDIDATE_ARTICLES]


def rank(
    index: SearchIndex,
    query: AnalyzedQuery,
    vector: np.ndarray | None,
    k: int,
    *,
    mode: Mode = "hybrid",
    weights: Weights = DEFAULT_WEIGHTS,
    only: list[int] | None = None,
) -> list[ArticleHit]:
    """The k best articles for the query; with ``only``, those articles ranked alone."""
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
    articles = (
        list(only)
        if only is not None
        else _candidates(index, lexical, vector if mode != "lexical" else None)
    )
    # An article without rows would give reduceat an empty run (it then reads the next
    # article's value); candidates come from rows, so this only guards a stale index.
    articles = [a for a in articles if len(index.article_rows(a))]
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
        cosines = index.background @ vector
        background, spread = float(cosines.max()), float(cosines.std())
        for hit in ranked:
            hit.background = background
            hit.background_spread = spread
    return ranked


@dataclass
class _Cosines:
    """The candidate articles' chunk rows, article after article, with each row's section
    cosine and its best sentence's (at least the section's); per article: whole."""

    rows: np.ndarray
    section: np.ndarray
    sentence: np.ndarray
    starts: np.ndarray  # where each candidate article's rows begin
    span: dict[int, slice]
    whole: dict[int, float]


def _cosines(index: SearchIndex, articles: list[int], vector: np.ndarray) -> _Cosines:
    # Per candidate article only: at 50,000 sections, arrays over all chunks cost more
    # than the cosines themselves.
    units = np.concatenate([index.article_units(a) for a in articles])
    cosine = index.vectors[units] @ vector
    kinds = index.units.kinds[units]
    per_article = [index.article_rows(a) for a in articles]
    sizes = np.fromiter((len(r) for r in per_article), np.int64, len(articles))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rows = np.concatenate(per_article)
    # A unit's position among those rows: rows are unique, so sort once and search.
    order = np.argsort(rows, kind="stable")
    position = order[np.searchsorted(rows[order], index.units.chunk_rows[units])]
    section = np.zeros(len(rows), np.float32)
    sentence = np.zeros(len(rows), np.float32)
    is_section = kinds == SECTION
    section[position[is_section]] = cosine[is_section]
    is_sentence = kinds == SENTENCE
    np.maximum.at(sentence, position[is_sentence], cosine[is_sentence])
    np.maximum(sentence, section, out=sentence)  # a section without sentences
    is_whole = kinds == ARTICLE
    whole = dict(
        zip(index.units.articles[units][is_whole].tolist(), cosine[is_whole].tolist(), strict=True)
    )
    span = {
        a: slice(b, b + n)
        for a, b, n in zip(articles, starts.tolist(), sizes.tolist(), strict=True)
    }
    return _Cosines(rows, section, sentence, starts, span, whole)


def _score_articles(
    index: SearchIndex,
    articles: list[int],
    lexical: np.ndarray,
    cos: _Cosines | None,
    weights: Weights,
) -> list[ArticleHit]:
    if cos is None:
        return [ArticleHit(a, float(lexical[index.article_rows(a)].max())) for a in articles]
    # Per article maxima over its run of rows, all articles in one call each.
    dense = np.maximum.reduceat(cos.section, cos.starts).tolist()
    sentence = np.maximum.reduceat(cos.sentence, cos.starts).tolist()
    best = np.maximum.reduceat(cos.section + lexical[cos.rows], cos.starts).tolist()
    hits = []
    for article_id, d, s, b in zip(articles, dense, sentence, best, strict=True):
        hit = ArticleHit(article_id, 0.0, dense=d, sentence=s)
        hit.whole = cos.whole.get(article_id, 0.0)
        hit.score = b + weights.article * hit.whole + weights.sentence * hit.sentence
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
        span = cos.span[hit.article_id]
        scores = cos.section[span] + lexical[rows] + weights.sentence * cos.sentence[span]
    order = np.argsort(-scores, kind="stable")
    hit.rows = rows[order].tolist()
    hit.row_scores = scores[order].tolist()
