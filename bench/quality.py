"""Retrieval quality: BM25 alone, dense alone and the hybrid, side by side.

    .venv/bin/python -m bench.quality [--no-xquad]

KB set: ``bench/data/kb_questions*.yml`` (dev and test split, off-topic questions included;
``--questions FILE …`` reads only those files, e.g. the first set alone).
XQuAD-de: 240 Wikipedia paragraphs, 1,190 questions, read from ``../shared/data/xquad-de``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import verdicts
from bench.common import (
    QUESTION_FILES,
    XQUAD,
    Question,
    Scores,
    load_questions,
    load_xquad,
    score,
    table,
)
from retrieval.chunking import Chunk
from retrieval.confidence import DEFAULT_THRESHOLDS, Thresholds, answerable
from retrieval.corpus import ArticleInfo
from retrieval.embeddings import Embedder
from retrieval.index_store import SearchIndex, build_index
from retrieval.ranking import DEFAULT_WEIGHTS, AnalyzedQuery, ArticleHit, Mode, Weights, rank
from retrieval.retriever import get_retriever
from retrieval.synonyms import SynonymIndex
from retrieval.units import make_units

MODES: tuple[Mode, ...] = ("lexical", "dense", "hybrid")
LABELS = {
    "lexical": "BM25 (stems + 4-grams)",
    "dense": "dense (e5-small, 3 granularities)",
    "hybrid": "hybrid",
}


@dataclass
class Prepared:
    """Questions analysed and encoded once, for any number of ranking variants."""

    questions: list[Question]
    analyzed: list[AnalyzedQuery]
    vectors: np.ndarray


def prepare(
    questions: Sequence[str | Question],
    embedder: Embedder,
    synonyms: SynonymIndex,
    expand: bool = True,
) -> Prepared:
    texts = [q.text if isinstance(q, Question) else q for q in questions]
    encoded = [synonyms.expanded(t) if expand else t for t in texts]
    # One question at a time, as a search encodes it (the lean path, bfloat16 where the CPU
    # has it, the synonyms' words added): the figures are those of the vectors the product
    # uses, not of a batch.
    vectors = (
        np.concatenate([embedder.encode_queries([t]) for t in encoded])
        if texts
        else embedder.encode_queries([])
    )
    analyzed = [AnalyzedQuery.of(t, synonyms) for t in texts]
    return Prepared(list(questions), analyzed, vectors)  # type: ignore[arg-type]


def run_mode(
    index: SearchIndex, prepared: Prepared, mode: Mode, weights: Weights = DEFAULT_WEIGHTS
) -> list[list[ArticleHit]]:
    return [
        rank(index, analyzed, vector, 10, mode=mode, weights=weights)
        for analyzed, vector in zip(prepared.analyzed, prepared.vectors, strict=True)
    ]


def evaluate(
    hits: list[list[ArticleHit]],
    questions: Sequence[Question],
    mode: Mode,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Scores:
    ranked = [[h.article_id for h in hs] for hs in hits]
    decided = [answerable(hs[0] if hs else None, mode, thresholds) for hs in hits]
    return score(ranked, decided, questions)


def kb_report(question_files: Sequence[Path] = QUESTION_FILES) -> str:
    retriever = get_retriever()
    index = retriever.index
    questions = load_questions(question_files)
    prepared = prepare(questions, retriever.embedder, retriever.synonyms)
    rows = []
    for split in ("dev", "test"):
        picked = [i for i, q in enumerate(questions) if q.split == split]
        subset = Prepared(
            [questions[i] for i in picked],
            [prepared.analyzed[i] for i in picked],
            prepared.vectors[picked],
        )
        for mode in MODES:
            s = evaluate(run_mode(index, subset, mode), subset.questions, mode)
            rows.append(
                [
                    split,
                    LABELS[mode],
                    s.recall_at_1,
                    s.recall_at_3,
                    s.mrr_at_10,
                    s.answered,
                    s.refused,
                ]
            )
    n_in = sum(1 for q in questions if q.expected)
    header = [
        "split",
        "method",
        "R@1",
        "R@3",
        "MRR@10",
        "answered (covered)",
        "refused (off-topic)",
    ]
    return f"KB questions: {n_in} covered, {len(questions) - n_in} off-topic\n" + table(
        header, rows
    )


def xquad_index(embedder: Embedder, synonyms: SynonymIndex) -> SearchIndex:
    paragraphs, _ = load_xquad()
    chunks = [Chunk(i, title, "", text, 0) for i, (title, text) in enumerate(paragraphs)]
    infos = {i: ArticleInfo(i, title, "", "de", "") for i, (title, _) in enumerate(paragraphs)}
    units = make_units(chunks, [])
    return build_index(chunks, units, infos, embedder, synonyms, "xquad", ann_threshold=10**9)


def xquad_report() -> str:
    if not XQUAD.exists():
        return f"XQuAD-de skipped: {XQUAD} not found"
    retriever = get_retriever()
    started = time.perf_counter()
    index = xquad_index(retriever.embedder, SynonymIndex.from_groups(()))
    built = time.perf_counter() - started
    _, pairs = load_xquad()
    questions = [Question(text, frozenset([p]), "all", "de") for text, p in pairs]
    prepared = prepare(questions, retriever.embedder, SynonymIndex.from_groups(()))
    rows = []
    for mode in MODES:
        s = evaluate(run_mode(index, prepared, mode), questions, mode)
        rows.append([LABELS[mode], s.recall_at_1, s.recall_at_3, s.mrr_at_10])
    return (
        f"XQuAD-de: {len(index.chunks)} paragraphs (indexed in {built:.1f} s), "
        f"{len(questions)} questions\n" + table(["method", "R@1", "R@3", "MRR@10"], rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-xquad", action="store_true")
    parser.add_argument("--questions", nargs="+", type=Path, default=list(QUESTION_FILES))
    args = parser.parse_args()
    print(kb_report(args.questions), flush=True)
    print()
    print("Answer, clarify or not covered (issue 13 targets: see bench/verdicts.py)")
    print(verdicts.full_report("test"), flush=True)
    if not args.no_xquad:
        print()
        print(xquad_report())


if __name__ == "__main__":
    main()
