"""The retrieval API used by the CLI, the bot's actions and the web app.

One :class:`Retriever` per process holds the model and the index (see :func:`get_retriever`);
``search``, ``answer`` and ``reindex`` below are its shortcuts.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache

from core.settings import Settings, load_settings
from kb.article import Article, ArticleError, read_article
from kb.store import ArticleStore
from retrieval import answer as answers
from retrieval import confidence as conf
from retrieval import corpus_cache
from retrieval import evidence as evidences
from retrieval.chunking import Chunk, chunk_article
from retrieval.corpus import (
    ArticleInfo,
    article_info,
    fingerprint,
    load_background,
    load_corpus,
    searchable,
)
from retrieval.embeddings import Embedder, load_embedder
from retrieval.index_store import (
    IndexUnusable,
    SearchIndex,
    build_index,
    cached_vectors,
    load_index,
    save_index,
    vector_cache,
)
from retrieval.judge import Judge, load_judge
from retrieval.ranking import AnalyzedQuery, ArticleHit, Mode, rank
from retrieval.synonyms import SynonymIndex
from retrieval.text import clean
from retrieval.units import make_units
from retrieval.verdict import ANSWER, NOT_COVERED, Decision, Verdict, decide

log = logging.getLogger(__name__)
SNIPPET_CHARS = 220
# Guides ranked for an answer: the best, and those a "clarify" may offer beside it.
CANDIDATES_FOR_CHOICES = 5


class QueryError(ValueError):
    """The query cannot be searched; the message is meant for the user."""


@dataclass
class Result:
    article_id: int
    title: str
    section: str
    score: float
    path: str
    snippet: str

    def to_dict(self) -> dict:
        return {
            "article_id": self.article_id,
            "title": self.title,
            "section": self.section,
            "score": round(self.score, 4),
            "path": self.path,
            "snippet": self.snippet,
        }


@dataclass
class SearchResponse:
    query: str
    answerable: bool
    took_ms: float
    results: list[Result] = field(default_factory=list)
    confidence: float = 0.0
    # Per result, the same 0..1 figure as ``confidence`` (which is the first's); kept out of
    # to_dict(), whose shape is the CLI's JSON contract.
    confidences: list[float] = field(default_factory=list)
    verdict: Verdict = NOT_COVERED
    choices: list[int] = field(default_factory=list)  # article ids, for "clarify"
    reasons: tuple[str, ...] = ()  # why it is not an answer (kept out of to_dict())

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "answerable": self.answerable,
            "verdict": self.verdict,
            "choices": list(self.choices),
            "took_ms": round(self.took_ms, 2),
            "results": [r.to_dict() for r in self.results],
        }


@dataclass(frozen=True)
class IndexReport:
    chunks: int
    articles: int
    encoded: int
    took_ms: float
    loaded_from_disk: bool


def prepare_query(text: str, max_chars: int) -> str:
    """Clean a raw query; an over-long one is cut at a word boundary, not rejected."""
    query = re.sub(r"\s+", " ", clean(text)).strip()
    if not query:
        raise QueryError("Bitte geben Sie eine Frage ein.")
    if len(query) > max_chars:
        query = query[:max_chars].rsplit(" ", 1)[0] or query[:max_chars]
    return query


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def _printable(text: str) -> str:
    """The query as received, minus lone surrogates that no encoder could write out."""
    return text.encode("utf-8", errors="replace").decode("utf-8")


class Retriever:
    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        thresholds: conf.Thresholds = conf.DEFAULT_THRESHOLDS,
    ) -> None:
        self.settings = settings
        self.thresholds = thresholds
        self.store = ArticleStore(settings.kb_dir)
        self._embedder = embedder
        self._index: SearchIndex | None = None
        self._lock = threading.RLock()
        self.synonyms = SynonymIndex.load(settings.kb_dir / "synonyms.yml")
        self.background = load_background(self.store)
        self.last_report: IndexReport | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self.settings)
        return self._embedder

    # -- index -----------------------------------------------------------------------------

    @property
    def index(self) -> SearchIndex:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = self._load_or_build()
        return self._index

    def _load_or_build(self, *, force: bool = False) -> SearchIndex:
        started = time.perf_counter()
        model_id = self.embedder.model_id
        # Stamped before the files are read: an edit while parsing shows at the next start.
        stamp = corpus_cache.stamp(self.store.paths(), (self.background, self.synonyms.digest))
        stored = None if force else corpus_cache.read(self.settings.index_dir, stamp, model_id)
        corpus = stored or self._corpus(*load_corpus(self.store))
        index = None
        if not force:
            try:
                index = load_index(
                    self.settings.index_dir,
                    corpus.chunks,
                    corpus.units,
                    corpus.infos,
                    corpus.fingerprint,
                    model_id,
                )
                self._report(index, started, loaded=True)
            except IndexUnusable as reason:
                log.info("rebuilding the search index: %s", reason)
        if index is None:
            cache = cached_vectors(self.settings.index_dir, model_id)
            index = self._build(corpus, cache, started)
        if stored is None:
            corpus_cache.write(self.settings.index_dir, stamp, model_id, corpus)
        return index

    def _corpus(self, chunks: list[Chunk], infos: dict[int, ArticleInfo]) -> corpus_cache.Corpus:
        """Chunks and infos with what is derived from them: units and the fingerprint."""
        units = make_units(chunks, self.background)
        digest = fingerprint(chunks, units, infos, self.embedder.model_id, self.synonyms.digest)
        return corpus_cache.Corpus(chunks, infos, units, digest)

    def _build(
        self,
        corpus: corpus_cache.Corpus,
        cache: dict,
        started: float,
        previous: SearchIndex | None = None,
        changed: set[int] | None = None,
    ) -> SearchIndex:
        index = build_index(
            corpus.chunks,
            corpus.units,
            corpus.infos,
            self.embedder,
            self.synonyms,
            corpus.fingerprint,
            cache=cache,
            previous=previous,
            changed=changed,
            ann_threshold=self.settings.ann_threshold,
        )
        save_index(index, self.settings.index_dir)
        self._index = index
        self._report(index, started, loaded=False)
        return index

    def _report(self, index: SearchIndex, started: float, *, loaded: bool) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        self.last_report = IndexReport(
            len(index.chunks), len(index.articles), index.encoded, elapsed, loaded
        )

    def load(self) -> IndexReport:
        """Load the model and the index now (from disk if current), not at the first query."""
        _ = self.index
        evidences.warm_up()
        assert self.last_report is not None
        return self.last_report

    def preload_for_edits(self) -> None:
        """Start loading what re-indexing needs beyond searching (the passage encoder) in the
        background: the first published change is then searchable within a second."""
        preload = getattr(self.embedder, "preload", None)
        if preload is not None:
            preload()

    def reload_background(self) -> IndexReport:
        """Read the questions not to answer again (the editors' ``out_of_scope.yml``) and
        rebuild with them: only new ones are encoded. A failed rebuild keeps the old list."""
        with self._lock:
            previous = self.background
            self.background = load_background(self.store)
            try:
                return self.rebuild()
            except Exception:
                self.background = previous
                raise

    def rebuild(self) -> IndexReport:
        """Build from the KB files, reusing stored vectors of unchanged chunks."""
        with self._lock:
            self._index = self._load_or_build(force=True)
            assert self.last_report is not None
            return self.last_report

    def reindex(self, article_ids: list[int]) -> IndexReport:
        """Bring the given articles up to date (new, changed, unpublished or deleted)."""
        with self._lock:
            started = time.perf_counter()
            current = self.index
            wanted = set(article_ids)
            fresh = {a.id: a for a in self._read_articles(current, wanted) if searchable(a)}
            infos = {i: info for i, info in current.articles.items() if i not in wanted}
            chunks = [c for c in current.chunks if c.article_id not in wanted]
            for article in fresh.values():
                infos[article.id] = article_info(self.store, article)
                chunks.extend(chunk_article(article))
            chunks.sort(key=lambda c: (c.article_id, c.position))
            infos = dict(sorted(infos.items()))
            corpus = self._corpus(chunks, infos)
            self._build(corpus, vector_cache(current), started, current, set(article_ids))
            assert self.last_report is not None
            return self.last_report

    def _read_articles(self, current: SearchIndex, wanted: set[int]) -> list[Article]:
        """The current files of the wanted articles; known paths first, a scan for the rest."""
        found = []
        for article_id in wanted:
            info = current.articles.get(article_id)
            path = self.store.kb_dir.parent / info.path if info else None
            try:
                article = read_article(path) if path and path.exists() else None
            except (ArticleError, UnicodeDecodeError):
                article = None
            if article is not None and article.id == article_id:
                found.append(article)
                wanted = wanted - {article_id}
        if wanted:
            found.extend(a for a in self.store.articles() if a.id in wanted)
        return found

    # -- queries ---------------------------------------------------------------------------

    def _ranked(self, query: str, k: int, mode: Mode, only: list[int] | None = None):
        index = self.index
        analyzed = AnalyzedQuery.of(query, self.synonyms)
        vector = (
            self.embedder.encode_queries([self.synonyms.expanded(query)])[0]
            if mode != "lexical"
            else None
        )
        return index, rank(index, analyzed, vector, k, mode=mode, only=only)

    def search(self, raw_query: str, k: int = 5, mode: Mode = "hybrid") -> SearchResponse:
        query = prepare_query(raw_query, self.settings.max_query_chars)
        k = max(1, min(int(k), 50))
        _ = self.index  # loading the model and index is not part of a search's time
        started = time.perf_counter()
        index, hits = self._ranked(query, k, mode)
        top = hits[0] if hits else None
        results = []
        for hit in hits:
            chunk = index.chunks[hit.rows[0]]
            info = index.articles[hit.article_id]
            snippet = _shorten(chunk.text.split("\n", 1)[-1], SNIPPET_CHARS)
            results.append(
                Result(hit.article_id, info.title, chunk.section, hit.score, info.path, snippet)
            )
        if mode == "hybrid":
            decision = self.verdict_for(index, query, hits)
        else:  # the single-method modes exist for the benchmark: a two-way decision
            ok = conf.answerable(top, mode, self.thresholds)
            decision = Decision(ANSWER if ok else NOT_COVERED)
        return SearchResponse(
            query=_printable(raw_query),
            answerable=decision.answerable,
            took_ms=(time.perf_counter() - started) * 1000,
            results=results,
            confidence=conf.confidence(top, self.thresholds),
            confidences=[conf.confidence(hit, self.thresholds) for hit in hits],
            verdict=decision.verdict,
            choices=decision.choices,
            reasons=decision.reasons,
        )

    @cached_property
    def judge(self) -> Judge | None:
        """The optional stronger model (``HELPDESK_JUDGE_MODEL``); None when not set."""
        return load_judge(self.settings)

    def evidence(
        self, index: SearchIndex, query: str, hits: list[ArticleHit]
    ) -> list[evidences.Evidence]:
        found = evidences.gather(index, query, hits, self.synonyms, self.thresholds)
        if self.judge is None or not found:
            return found
        top = hits[: max(1, self.settings.judge_top)]
        scores = self.judge.scores(query, [evidences.guide_texts(index, h) for h in top])
        return [replace(e, judge=scores[i]) if i < len(scores) else e for i, e in enumerate(found)]

    def verdict_for(self, index: SearchIndex, query: str, hits: list[ArticleHit]) -> Decision:
        return decide(self.evidence(index, query, hits))

    def answer(self, raw_query: str, article_id: int | None = None) -> answers.Answer:
        """The answer to a question; with ``article_id``, from that guide (the customer
        chose it among the guides offered), whatever the decision would have been."""
        query = prepare_query(raw_query, self.settings.max_query_chars)
        if article_id is not None:
            return self._answer_from(query, _printable(raw_query), article_id)
        index, hits = self._ranked(query, CANDIDATES_FOR_CHOICES, "hybrid")
        top = hits[0] if hits else None
        confidence = conf.confidence(top, self.thresholds)
        decision = self.verdict_for(index, query, hits)
        if top is None or not decision.answerable:
            titles = [answers.Choice(i, index.articles[i].title) for i in decision.choices]
            return answers.Answer(
                _printable(raw_query),
                answerable=False,
                confidence=confidence,
                verdict=decision.verdict,
                choices=titles,
            )
        return answers.compose(_printable(raw_query), index, top, confidence)

    def _answer_from(self, query: str, shown: str, article_id: int) -> answers.Answer:
        if article_id not in self.index.articles:
            raise QueryError("Diese Anleitung gibt es nicht (mehr).")
        index, [hit] = self._ranked(query, 1, "hybrid", only=[article_id])
        return answers.compose(shown, index, hit, conf.confidence(hit, self.thresholds))


@lru_cache(maxsize=1)
def get_retriever() -> Retriever:
    """The process-wide retriever: the model is loaded once."""
    return Retriever(load_settings())


def search(query: str, k: int = 5) -> SearchResponse:
    return get_retriever().search(query, k)


def answer(query: str, article_id: int | None = None) -> answers.Answer:
    return get_retriever().answer(query, article_id)


def reindex(article_ids: list[int]) -> IndexReport:
    return get_retriever().reindex(article_ids)
