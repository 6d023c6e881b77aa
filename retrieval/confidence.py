"""Whether the KB answers a question at all.

A high cosine alone does not separate near-domain questions the KB does not cover ("Wie
installiere ich WordPress?") from covered ones: e5 similarities of any two German support
questions are high. So the article's cosines (section, sentence, whole) are compared with
how much the question resembles background questions that must not be answered (generic
ones plus the KB's own ``out_of_scope.yml``): a cohort normalisation. The gap to the closest
background question is measured in standard deviations of the question's cosines to all
background questions: how similar a question is to everything varies with its length,
wording and language, and the spread of its background cosines is that question's own scale.
In 5-fold cross-validation within the first dev split (``bench/tune.py --cv``) a threshold on
it refused 0.986 of the held-out off-topic questions and answered 0.968 of the covered ones;
on the raw gap: 0.952 and 0.977. On the grown dev split, whose off-topic questions are mostly
near-domain, the two are close (answered 0.956 and 0.952, refused 0.819 and 0.818). Thresholds
are tuned on the dev split of ``bench/data/kb_questions*.yml`` by ``bench/tune.py`` and
reported on the test split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from retrieval.ranking import ArticleHit, Mode


@dataclass(frozen=True)
class Thresholds:
    contrast_min: float = -0.5615  # tuned: see contrast()
    dense_min: float = 0.75  # a floor, not tuned: below it even an empty background refuses
    dense_alone: float = 0.8532  # dense-only mode (benchmark comparison), tuned alike
    lexical_min: float = 0.1848  # lexical-only mode (benchmark comparison), tuned alike


DEFAULT_THRESHOLDS = Thresholds()
# With fewer than two background questions there is no spread to measure: a tiny floor keeps
# the sign of the gap (no background at all: the gap is the article's cosine, answered).
MIN_SPREAD = 1e-3
CONTRAST_SCALE = 0.7  # contrast units per step of confidence(): about 0.02 of cosine


def gap(hit: ArticleHit) -> float:
    """The article's mean cosine (section, sentence, whole) minus the closest background
    question's."""
    return (hit.dense + hit.sentence + hit.whole) / 3 - hit.background


def contrast(hit: ArticleHit) -> float:
    """How much better the article fits than the closest question not to answer, in
    standard deviations of the question's cosines to the background questions."""
    return gap(hit) / max(hit.background_spread, MIN_SPREAD)


def answerable(
    hit: ArticleHit | None, mode: Mode = "hybrid", t: Thresholds = DEFAULT_THRESHOLDS
) -> bool:
    if hit is None:
        return False
    if mode == "dense":
        return hit.dense >= t.dense_alone
    if mode == "lexical":
        return max(hit.coverage, hit.gram_coverage) >= t.lexical_min
    return contrast(hit) >= t.contrast_min and hit.dense >= t.dense_min


def confidence(hit: ArticleHit | None, t: Thresholds = DEFAULT_THRESHOLDS) -> float:
    """A 0..1 figure for people (agents, logs): 0.5 sits on the decision boundary."""
    if hit is None:
        return 0.0
    margin = min(
        (contrast(hit) - t.contrast_min) / CONTRAST_SCALE, (hit.dense - t.dense_min) / 0.02
    )
    return round(1 / (1 + math.exp(-margin)), 3)
