"""The KB editors' "uncovered questions" loop: what search says now about stored questions,
what a draft article would change before it is published, and the out-of-scope list
reloaded without a restart (served by actions/kb_routes.py).

Verdicts come from the same code as :meth:`Retriever.search` (ranking, evidence, decision),
run on an index passed in: the live one, or a private copy with the draft in it. The copy
takes every vector it can from the live index, so only the draft's own units are encoded,
and nothing of it is saved or shared: the live index and the files on disk stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from kb.article import Article
from retrieval import confidence as conf
from retrieval.chunking import chunk_article
from retrieval.clusters import cluster_questions, generic_center
from retrieval.corpus import ArticleInfo, scope_topics
from retrieval.index_store import SearchIndex, build_index, vector_cache
from retrieval.ranking import AnalyzedQuery, rank
from retrieval.retriever import CANDIDATES_FOR_CHOICES, QueryError, Retriever, prepare_query
from retrieval.units import make_units
from retrieval.verdict import ANSWER, NOT_COVERED, Verdict

# A draft that has no id yet is previewed under this one (real ids start at 1).
DRAFT_ID = 0


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict = NOT_COVERED
    article_id: int | None = None  # the answering guide (verdict "answer" only)
    title: str = ""
    choices: list[int] = field(default_factory=list)
    confidence: float = 0.0

    def brief(self) -> dict:
        return {"verdict": self.verdict, "article_id": self.article_id}


# Questions are encoded in slices: a list of 2,000 at once would hold all their tokens.
ENCODE_SLICE = 256


@lru_cache(maxsize=8)
def topics_of(retriever: Retriever, questions: tuple[str, ...]) -> list[dict]:
    """The questions grouped by topic (``retrieval.clusters``) as JSON-ready dicts.

    Kept for the last few lists: the analytics page and its CSV export ask for the same
    period's questions again and again, and encoding 1,000 of them takes seconds."""
    limit = retriever.settings.max_query_chars
    texts = [prepare_query(q, limit) for q in questions]
    vectors = np.concatenate(
        [
            retriever.embedder.encode_queries(texts[start : start + ENCODE_SLICE])
            for start in range(0, len(texts), ENCODE_SLICE)
        ]
    )
    center = generic_center(retriever.index)
    return [c.to_dict() for c in cluster_questions(vectors, list(questions), center=center)]


def rescore(retriever: Retriever, queries: list[str]) -> list[dict]:
    """Search's verdict now for each question: ``{"query", "verdict", "article_id", "title",
    "choices", "confidence"}``; an empty or invalid question is "not_covered"."""
    index = retriever.index
    results = []
    for query in queries:
        found = _outcome(retriever, index, *_prepared(retriever, query))
        results.append(
            {
                "query": _shown(query),
                "verdict": found.verdict,
                "article_id": found.article_id,
                "title": found.title,
                "choices": list(found.choices),
                "confidence": round(found.confidence, 4),
            }
        )
    return results


def blocking_topics(retriever: Retriever, index: SearchIndex, article_id: int) -> list[str]:
    """The editors' out-of-scope topics whose closest guide in ``index`` is ``article_id``.

    Such a topic keeps the article from answering questions on it (a question as close to
    a topic not to answer as to the guide is not covered): once the article is published,
    the topic belongs off the list."""
    background = index.units.texts[index.units.n_searchable :]
    position = {text: i for i, text in enumerate(background)}
    found = []
    for topic in scope_topics(retriever.store):
        if topic not in position:
            continue  # not in this index yet (the list changed since it was built)
        analyzed = AnalyzedQuery.of(topic, retriever.synonyms)
        hits = rank(index, analyzed, index.background[position[topic]], 1)
        if hits and hits[0].article_id == article_id:
            found.append(topic)
    return found


def preview(retriever: Retriever, draft: dict, queries: list[str]) -> dict:
    """What would change if ``draft`` were published: ``{"results": [{"query", "before":
    {"verdict", "article_id"}, "after": {…}, "changed"}], "scope_topics": [str]}``, the
    latter being the out-of-scope topics that would keep the draft from answering.

    ``draft``: ``{"id": int | None, "title", "markdown" (the body), "lang"}``; with the id of
    an existing article it replaces that article, without one it is added as DRAFT_ID."""
    live = retriever.index
    article = draft_article(draft, live)
    trial = index_with_draft(retriever, live, article)
    results = []
    for query in queries:
        prepared, vector = _prepared(retriever, query)
        before = _outcome(retriever, live, prepared, vector)
        after = _outcome(retriever, trial, prepared, vector)
        results.append(
            {
                "query": _shown(query),
                "before": before.brief(),
                "after": after.brief(),
                "changed": before.brief() != after.brief(),
            }
        )
    return {"results": results, "scope_topics": blocking_topics(retriever, trial, article.id)}


def draft_article(draft: dict, live: SearchIndex) -> Article:
    """The draft as a published article; an existing article's category carries over."""
    raw_id = draft.get("id")
    article_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else DRAFT_ID
    known = live.articles.get(article_id)
    return Article(
        id=article_id,
        title=str(draft.get("title") or "").strip(),
        lang=str(draft.get("lang") or "de"),
        category=known.category if known else "",
        body=str(draft.get("markdown") or ""),
        status="published",
    )


def index_with_draft(retriever: Retriever, live: SearchIndex, draft: Article) -> SearchIndex:
    """A private index: the live one with ``draft`` added or in place of its namesake."""
    chunks = [c for c in live.chunks if c.article_id != draft.id]
    chunks.extend(chunk_article(draft))
    chunks.sort(key=lambda c: (c.article_id, c.position))
    infos = {i: info for i, info in live.articles.items() if i != draft.id}
    known = live.articles.get(draft.id)
    infos[draft.id] = ArticleInfo(
        draft.id, draft.title, known.path if known else "", draft.lang, draft.category
    )
    # The live index's own background, whatever the list says by now.
    background = live.units.texts[live.units.n_searchable :]
    units = make_units(chunks, background)
    return build_index(
        chunks,
        units,
        dict(sorted(infos.items())),
        retriever.embedder,
        retriever.synonyms,
        f"preview:{live.fingerprint}",
        cache=vector_cache(live),
        previous=live,
        changed={draft.id},
        ann_threshold=retriever.settings.ann_threshold,
    )


def reload_scope(retriever: Retriever) -> int:
    """Read the out-of-scope list again and rebuild the index with it (only new topics are
    encoded); returns the number of topics. A broken file changes nothing (ScopeError)."""
    topics = scope_topics(retriever.store)
    retriever.reload_background()
    return len(topics)


# -- verdicts on a given index ---------------------------------------------------------------


def _shown(query: object) -> str:
    """The question as received (lone surrogates replaced), "" for a non-text."""
    if not isinstance(query, str):
        return ""
    return query.encode("utf-8", errors="replace").decode("utf-8")


def _prepared(retriever: Retriever, query: object) -> tuple[str | None, np.ndarray | None]:
    """The cleaned question and its vector, as search encodes it; (None, None) if invalid."""
    if not isinstance(query, str):
        return None, None
    try:
        prepared = prepare_query(query, retriever.settings.max_query_chars)
    except QueryError:
        return None, None
    vector = retriever.embedder.encode_queries([retriever.synonyms.expanded(prepared)])[0]
    return prepared, vector


def _outcome(
    retriever: Retriever, index: SearchIndex, query: str | None, vector: np.ndarray | None
) -> Outcome:
    """Retriever.search's verdict for a prepared question, on ``index``."""
    if query is None or vector is None:
        return Outcome()
    analyzed = AnalyzedQuery.of(query, retriever.synonyms)
    hits = rank(index, analyzed, vector, CANDIDATES_FOR_CHOICES)
    decision = retriever.verdict_for(index, query, hits)
    top = hits[0] if hits else None
    answered = decision.verdict == ANSWER and top is not None
    return Outcome(
        verdict=decision.verdict,
        article_id=top.article_id if answered else None,
        title=index.articles[top.article_id].title if answered else "",
        choices=list(decision.choices),
        confidence=conf.confidence(top, retriever.thresholds),
    )
