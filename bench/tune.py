"""Tune ranking weights and answerability thresholds on the dev split; report the test split.

    .venv/bin/python -m bench.tune

Prints the chosen values; they are then written into retrieval/ranking.py (Weights) and
retrieval/confidence.py (Thresholds) by hand, so that a tuning run never silently changes
the product.
"""

from __future__ import annotations

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
FEATURES = {
    "hybrid": ("contrast_min", contrast),
    "dense": ("dense_alone", lambda hit: hit.dense),
    "lexical": ("lexical_min", lambda hit: max(hit.coverage, hit.gram_coverage)),
}


def tune_threshold(hits, questions, mode: str) -> float:
    """Most refusals on dev with at least ANSWER_RATE_FLOOR answered; of the equally good
    thresholds, the middle one (the widest margin on both sides)."""
    _, feature = FEATURES[mode]
    values = sorted({round(feature(h[0]), 4) for h in hits if h})
    covered_values = np.array(
        [feature(h[0]) if h else -1.0 for h, q in zip(hits, questions, strict=True) if q.expected]
    )
    offtopic_values = np.array(
        [
            feature(h[0]) if h else -1.0
            for h, q in zip(hits, questions, strict=True)
            if not q.expected
        ]
    )
    results = []
    for threshold in values:
        answered = float((covered_values >= threshold).mean())
        if answered >= ANSWER_RATE_FLOOR:
            results.append(((float((offtopic_values < threshold).mean()), answered), threshold))
    best = max(key for key, _ in results)
    tied = [t for key, t in results if key == best]
    # Between the last threshold of the plateau and the next value that changes the outcome.
    upper = next((v for v in values if v > max(tied)), max(tied))
    return round((min(tied) + upper) / 2 if len(tied) == 1 else float(np.median(tied)), 4)


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
