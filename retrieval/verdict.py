"""The three-way decision: answer, ask which guide is meant, or say the KB does not cover it.

A single threshold cannot tell "the guide's topic" from "the guide's answer": "Kann ich mit
PayPal bezahlen?" is as close to the payment-profile guide as a covered paraphrase is. So an
answer needs more than closeness (see :mod:`retrieval.evidence`): the question's salient
words must be found in the guide, its action must not be the opposite of the guide's, and
the best guide must stand clearly above the next one. Where it is close but not clearly the
answer, the customer is asked which guide is meant (a wrong guide offered as a choice costs a
click; a wrong guide given as *the* answer costs trust). Far from everything: not covered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from retrieval.evidence import Evidence

Verdict = Literal["answer", "clarify", "not_covered"]
ANSWER: Verdict = "answer"
CLARIFY: Verdict = "clarify"
NOT_COVERED: Verdict = "not_covered"
MAX_CHOICES = 3


@dataclass(frozen=True)
class Policy:
    """Thresholds of the decision, tuned on the dev split by ``bench/verdicts.py --tune``."""

    answer_confidence: float = 0.6  # confidence() at or above: may be an answer
    clarify_confidence: float = 0.1  # below: not covered, whatever else
    min_coverage: float = 0.4  # share of the question's salient words found in the guide
    min_margin: float = 0.01  # top article's score minus the second's
    choice_gap: float = 0.06  # a further guide is offered if its score is this close
    choice_confidence: float = 0.05  # … and its own confidence at least this
    # With a judge model: its best guide must be the ranking's, by at least this cosine.
    judge_min_gap: float = 0.0


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    choices: list[int] = field(default_factory=list)  # article ids offered, for clarify
    reasons: tuple[str, ...] = ()  # why not an answer (for logs, the console, the benchmark)

    @property
    def answerable(self) -> bool:
        return self.verdict == ANSWER


def decide(evidence: list[Evidence], policy: Policy = DEFAULT_POLICY) -> Decision:
    """The verdict for a question from the evidence about its ranked candidate articles."""
    if not evidence:
        return Decision(NOT_COVERED, reasons=("no candidate",))
    top = evidence[0]
    if top.confidence < policy.clarify_confidence:
        return Decision(NOT_COVERED, reasons=("far from every guide",))
    reasons = []
    if top.confidence < policy.answer_confidence:
        reasons.append("low confidence")
    if top.coverage < policy.min_coverage:
        reasons.append("salient words missing: " + ", ".join(top.missing))
    if top.action_conflict:
        reasons.append("opposite action: " + top.action_conflict)
    elif top.action_mismatch:
        reasons.append("another action: " + top.action_mismatch)
    if top.margin < policy.min_margin:
        reasons.append("second guide as close")
    judged = [e for e in evidence if e.judge is not None]
    if judged and top.judge is not None:
        rivals = [e.judge for e in judged if e is not top]
        if rivals and top.judge - max(rivals) <= policy.judge_min_gap:
            reasons.append("the judge model prefers another guide or none clearly")
    if not reasons:
        return Decision(ANSWER)
    if top.content <= 0:
        # "????" or "Guten Morgen": nothing to ask the customer about a guide for.
        return Decision(NOT_COVERED, reasons=(*reasons, "no content words"))
    choices = [
        e.article_id
        for e in evidence
        if e is top
        or (
            top.score - e.score <= policy.choice_gap
            and e.confidence >= policy.choice_confidence
            and not e.action_conflict
        )
    ][:MAX_CHOICES]
    return Decision(CLARIFY, choices, tuple(reasons))
