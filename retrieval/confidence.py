"""Whether the KB answers a question at all.

The dense cosine alone does not separate near-domain questions the KB does not cover
("Wie installiere ich WordPress?") from covered ones, so the decision also asks how much of
the question's vocabulary the article contains. Thresholds are tuned on the dev split of
``bench/data/kb_questions.yml`` by ``bench/tune.py`` and reported on the test split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from retrieval.ranking import ArticleHit, Mode


@dataclass(frozen=True)
class Thresholds:
    dense_alone: float = 0.86  # cosine at which the meaning alone is convincing
    dense_min: float = 0.80  # below this cosine nothing is answered
    coverage_min: float = 0.45  # in between: share of the question's word weight in the article
    lexical_min: float = 0.55  # lexical-only mode: coverage needed


DEFAULT_THRESHOLDS = Thresholds()


def answerable(
    hit: ArticleHit | None, mode: Mode = "hybrid", t: Thresholds = DEFAULT_THRESHOLDS
) -> bool:
    if hit is None:
        return False
    if mode == "dense":
        return hit.dense >= t.dense_alone
    if mode == "lexical":
        return max(hit.coverage, hit.gram_coverage) >= t.lexical_min
    if hit.dense >= t.dense_alone:
        return True
    return hit.dense >= t.dense_min and max(hit.coverage, hit.gram_coverage) >= t.coverage_min


def confidence(hit: ArticleHit | None, t: Thresholds = DEFAULT_THRESHOLDS) -> float:
    """A 0..1 figure for people (agents, logs): 0.5 sits on the decision boundary."""
    if hit is None:
        return 0.0
    lexical = max(hit.coverage, hit.gram_coverage)
    margin = max(
        (hit.dense - t.dense_alone) / 0.03,
        min((hit.dense - t.dense_min) / 0.03, (lexical - t.coverage_min) / 0.15),
    )
    return round(1 / (1 + math.exp(-margin)), 3)
