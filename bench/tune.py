"""Tune ranking weights and answerability thresholds on the dev split; report the test split.

    .venv/bin/python -m bench.tune

Prints the chosen values; they are then written into retrieval/ranking.py (Weights) and
retrieval/confidence.py (Thresholds) by hand, so that a tuning run never silently changes
the product.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from bench.common import load_questions
from bench.quality import Prepared, evaluate, prepare, run_mode
from retrieval.confidence import DEFAULT_THRESHOLDS, contrast
from retrieval.ranking import DEFAULT_WEIGHTS, Weights
from retrieval.service import get_retriever

ANSWER_RATE_FLOOR = 0.95  # of covered dev questions; refusal is maximised above it


def split(prepared: Prepared, name: str) -> Prepared:
    picked = [i for i, q in enumerate(prepared.questions) if q.split == name]
    return Prepared(
        [prepared.questions[i] for i in picked],
        [prepared.analyzed[i] for i in picked],
        prepared.vectors[picked],
    )


def covered(prepared: Prepared) -> Prepared:
    picked = [i for i, q in enumerate(prepared.questions) if q.expected]
    return Prepared(
        [prepared.questions[i] for i in picked],
        [prepared.analyzed[i] for i in picked],
        prepared.vectors[picked],
    )


CANDIDATES = {
    "sections only": Weights(0.01, 0.01, 0.0, 0.0),
    "sections + article": Weights(0.01, 0.01, 1.0, 0.0),
    "all three, equal (default)": Weights(0.01, 0.01, 1.0, 1.0),
    "all three, no lexical": Weights(0.0, 0.0, 1.0, 1.0),
    "all three, lexical x2": Weights(0.02, 0.02, 1.0, 1.0),
}


def compare_weights(index, dev: Prepared) -> None:
    """A handful of principled mixes, not a fine grid: with ~90 dev questions a fine grid
    picks noise (one question is 0.011 of R@1)."""
    for name, weights in CANDIDATES.items():
        s = evaluate(run_mode(index, dev, "hybrid", weights), dev.questions, "hybrid")
        print(f"  {name:28} dev R@1 {s.recall_at_1:.3f} MRR {s.mrr_at_10:.3f}")


# The one figure each method's answer/refuse decision rests on (see retrieval/confidence.py).
# The hybrid's floor on the section cosine refuses on its own; the tuner must count that.
FEATURES = {
    "hybrid": (
        "contrast_min",
        lambda hit: contrast(hit) if hit.dense >= DEFAULT_THRESHOLDS.dense_min else -math.inf,
    ),
    "dense": ("dense_alone", lambda hit: hit.dense),
    "lexical": ("lexical_min", lambda hit: max(hit.coverage, hit.gram_coverage)),
}


def tune_threshold(hits, questions, mode: str) -> float:
    """Most refusals on dev with at least ANSWER_RATE_FLOOR answered; the threshold is the
    middle of the gap between the two questions that bound that outcome (the widest margin
    on both sides), not a question's own value: a threshold on a value decides that question
    by rounding."""
    _, feature = FEATURES[mode]
    values = np.array([feature(h[0]) if h else -math.inf for h in hits])
    expected = np.array([bool(q.expected) for q in questions])
    finite = np.unique(values[np.isfinite(values)])
    # One candidate per gap between neighbouring values, plus one beyond each end.
    candidates = np.concatenate(
        [[finite[0] - 1e-3], (finite[:-1] + finite[1:]) / 2, [finite[-1] + 1e-3]]
    )
    results = []
    for threshold in candidates:
        answered = float((values[expected] >= threshold).mean())
        refused = float((values[~expected] < threshold).mean())
        if answered >= ANSWER_RATE_FLOOR:
            results.append(((refused, answered), float(threshold)))
    best = max(key for key, _ in results)
    # Equal outcomes in several gaps only when questions without a figure lie between them.
    threshold = float(np.median([t for key, t in results if key == best]))
    below = finite[finite < threshold].max(initial=-math.inf)
    above = finite[finite >= threshold].min(initial=math.inf)
    rounded = round(threshold, 4)  # printed and pasted by hand: four digits, same outcome
    return rounded if below < rounded <= above else threshold


def main() -> None:
    retriever = get_retriever()
    index = retriever.index
    prepared = prepare(load_questions(), retriever.embedder, retriever.synonyms)
    dev, test = split(prepared, "dev"), split(prepared, "test")
    print("ranking weights (dev, covered questions):")
    compare_weights(index, covered(dev))
    weights = DEFAULT_WEIGHTS
    tuned = {}
    for mode in ("lexical", "dense", "hybrid"):
        hits = run_mode(index, dev, mode, weights)
        field, _ = FEATURES[mode]
        tuned[field] = tune_threshold(hits, dev.questions, mode)
    thresholds = replace(DEFAULT_THRESHOLDS, **tuned)
    print(f"tuned: {thresholds}")
    for mode in ("lexical", "dense", "hybrid"):
        for name, part in (("dev", dev), ("test", test)):
            s = evaluate(run_mode(index, part, mode, weights), part.questions, mode, thresholds)
            print(
                f"{mode:8} {name:4}: R@1 {s.recall_at_1:.3f} R@3 {s.recall_at_3:.3f} "
                f"MRR {s.mrr_at_10:.3f} answered {s.answered:.3f} refused {s.refused:.3f}"
            )


if __name__ == "__main__":
    main()
