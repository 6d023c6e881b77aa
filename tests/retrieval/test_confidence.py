"""The answer/refuse statistic: the gap to the background in units of its spread."""

from __future__ import annotations

import numpy as np
import pytest

from core.settings import Settings
from retrieval import confidence as conf
from retrieval.ranking import ArticleHit
from retrieval.retriever import Retriever
from tests.fakes import FakeEmbedder


def _hit(mean: float, background: float, spread: float, dense: float | None = None):
    return ArticleHit(
        1,
        1.0,
        dense=mean if dense is None else dense,
        sentence=mean,
        whole=mean,
        background=background,
        background_spread=spread,
    )


def test_contrast_is_the_gap_in_background_standard_deviations() -> None:
    assert conf.contrast(_hit(0.86, 0.88, 0.02)) == pytest.approx(-1.0)
    assert conf.contrast(_hit(0.90, 0.88, 0.04)) == pytest.approx(0.5)
    # The same gap counts for more when the question's background cosines are tight.
    assert conf.contrast(_hit(0.86, 0.88, 0.01)) < conf.contrast(_hit(0.86, 0.88, 0.04))


def test_decision_sits_at_the_tuned_threshold() -> None:
    t = conf.DEFAULT_THRESHOLDS
    spread = 0.03
    on = _hit(0.85 + t.contrast_min * spread + 1e-6, 0.85, spread)
    below = _hit(0.85 + t.contrast_min * spread - 1e-4, 0.85, spread)
    assert conf.answerable(on) and not conf.answerable(below)
    assert conf.confidence(on) == pytest.approx(0.5, abs=0.01)
    assert conf.confidence(below) < 0.5 < conf.confidence(_hit(0.95, 0.85, spread))
    # The floor on the section cosine refuses whatever the background says.
    assert not conf.answerable(_hit(0.74, 0.0, spread, dense=0.74))


def test_without_background_the_gap_keeps_its_sign() -> None:
    assert conf.answerable(_hit(0.80, 0.0, 0.0))  # no background: the cosine floor decides
    assert not conf.answerable(_hit(0.80, 0.82, 0.0))  # one background question, closer


def test_ranking_reports_the_background_spread(settings: Settings) -> None:
    retriever = Retriever(settings, embedder=FakeEmbedder())
    query = "Wie wird das Wetter morgen?"
    hits = retriever._ranked(query, 3, "hybrid")[1]
    index = retriever.index
    cosines = index.background @ retriever.embedder.encode_queries([query])[0]
    assert len(cosines) >= 20  # background.txt and kb/out_of_scope.yml
    for hit in hits:
        assert hit.background == pytest.approx(float(cosines.max()))
        assert hit.background_spread == pytest.approx(float(np.std(cosines)))
