"""Shared pieces of the benchmarks: labelled questions, metrics, the real retriever."""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from core.settings import REPO_ROOT

# The first set; the fresh one written blind later, which grows both splits; the earlier
# probe, dev only (each file's header says how it was made).
QUESTION_FILES = tuple(
    Path(__file__).parent / "data" / name
    for name in ("kb_questions.yml", "kb_questions_fresh.yml", "kb_questions_probe.yml")
)
# Near-domain questions no guide answers, and covered ones easy to confuse with them (issue 13).
NEAR_FILE = Path(__file__).parent / "data" / "kb_questions_near.yml"
XQUAD = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "xquad-de" / "xquad.de.json"
)


@dataclass(frozen=True)
class Question:
    text: str
    expected: frozenset[int]  # empty: off-topic, must be refused
    split: str
    lang: str
    # "covered"; "near" (hosting questions no guide answers: asking which guide is meant is
    # fine, a wrong guide as *the* answer is not); "offtopic" (unrelated, small talk).
    kind: str = "covered"


# How the older files mark the kind of an off-topic question: a section comment
# "# --- (b) near-domain …" or an inline "# near" / "# far" / "# chat".
_SECTION = re.compile(r"^\s*# --- \(([abc])\)")
_ITEM = re.compile(r'^\s*- q: "(.*)"\s*(?:#\s*(\w+))?')
_SECTION_KIND = {"a": "offtopic", "b": "near", "c": "offtopic"}
_INLINE_KIND = {"near": "near", "far": "offtopic", "chat": "offtopic"}


def _offtopic_kinds(text: str) -> dict[str, str]:
    """Kind of each marked off-topic question; unmarked ones are near-domain (the probe)."""
    kinds: dict[str, str] = {}
    section = None
    for line in text.splitlines():
        if match := _SECTION.match(line):
            section = _SECTION_KIND[match.group(1)]
        elif match := _ITEM.match(line):
            kind = _INLINE_KIND.get(match.group(2) or "") or section
            if kind:
                kinds[match.group(1).replace('\\"', '"')] = kind
    return kinds


def load_questions(paths: Sequence[Path] = QUESTION_FILES) -> list[Question]:
    questions = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        kinds = _offtopic_kinds(text)
        questions += [
            Question(q["q"], frozenset(q["expected"]), q["split"], q.get("lang", "de"))
            for q in data["questions"]
        ]
        questions += [
            Question(q["q"], frozenset(), q["split"], q.get("lang", "de"), "near")
            for q in data.get("near") or []
        ]
        questions += [
            Question(
                q["q"], frozenset(), q["split"], q.get("lang", "de"), kinds.get(q["q"], "near")
            )
            for q in data.get("offtopic") or []
        ]
    return questions


def load_xquad(path: Path = XQUAD) -> tuple[list[tuple[str, str]], list[tuple[str, int]]]:
    """(paragraphs as (title, text), questions as (text, paragraph index))."""
    data = json.loads(path.read_text(encoding="utf-8"))
    paragraphs: list[tuple[str, str]] = []
    questions: list[tuple[str, int]] = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            paragraphs.append((article["title"].replace("_", " "), paragraph["context"]))
            questions.extend((qa["question"], len(paragraphs) - 1) for qa in paragraph["qas"])
    return paragraphs, questions


@dataclass
class Scores:
    recall_at_1: float
    recall_at_3: float
    mrr_at_10: float
    answered: float  # share of covered questions the system answered
    refused: float  # share of off-topic questions refused
    n_covered: int
    n_offtopic: int


def score(
    ranked: Sequence[Sequence[int]], answerable: Sequence[bool], questions: Sequence[Question]
) -> Scores:
    covered = [
        (r, a, q) for r, a, q in zip(ranked, answerable, questions, strict=True) if q.expected
    ]
    offtopic = [a for a, q in zip(answerable, questions, strict=True) if not q.expected]

    def rank_of(ids: Sequence[int], expected: frozenset[int]) -> int | None:
        return next((i for i, article in enumerate(ids[:10], 1) if article in expected), None)

    ranks = [rank_of(r, q.expected) for r, _, q in covered]
    n = max(len(covered), 1)
    return Scores(
        recall_at_1=sum(1 for r in ranks if r == 1) / n,
        recall_at_3=sum(1 for r in ranks if r is not None and r <= 3) / n,
        mrr_at_10=sum(1 / r for r in ranks if r is not None) / n,
        answered=sum(1 for _, a, _ in covered if a) / n,
        refused=(sum(1 for a in offtopic if not a) / len(offtopic)) if offtopic else float("nan"),
        n_covered=len(covered),
        n_offtopic=len(offtopic),
    )


def percentile(values: Sequence[float], pct: float) -> float:
    return float(np.percentile(np.asarray(values), pct)) if values else float("nan")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, so figures can be pasted into the README as printed."""

    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


__all__ = ["REPO_ROOT"]
